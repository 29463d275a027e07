-- Gatehouse schema, SQLite variant. Timestamps are Unix seconds (BIGINT) so that one set of
-- queries reads them on SQLite and PostgreSQL alike. Flags are INTEGER 0/1 here (sqlx's Any
-- driver cannot map SQLite's BOOLEAN) and BOOLEAN on PostgreSQL; `db::Flag` reads both.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,
    username        TEXT,
    username_key    TEXT    UNIQUE,
    password_hash   TEXT    NOT NULL,
    first_name      TEXT    NOT NULL DEFAULT '',
    last_name       TEXT    NOT NULL DEFAULT '',
    country         TEXT    NOT NULL DEFAULT '',
    profession      TEXT    NOT NULL DEFAULT '',
    bio             TEXT    NOT NULL DEFAULT '',
    thoughts        TEXT    NOT NULL DEFAULT '',
    profile_img     TEXT    NOT NULL DEFAULT '',
    is_active       INTEGER NOT NULL DEFAULT 1,
    is_verified     INTEGER NOT NULL DEFAULT 0,
    is_staff        INTEGER NOT NULL DEFAULT 0,
    is_superuser    INTEGER NOT NULL DEFAULT 0,
    date_joined     BIGINT  NOT NULL,
    last_login      BIGINT
);

-- One row per login, API or browser: the unit that "your sessions" lists and revokes.
CREATE TABLE sessions (
    id                      TEXT    PRIMARY KEY,
    user_id                 BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind                    TEXT    NOT NULL,
    -- API sessions: the generation of the current refresh token (tokens are MACs over
    -- "id:generation", so nothing secret is stored) and when it last rotated.
    refresh_generation      BIGINT  NOT NULL DEFAULT 0,
    rotated_at              BIGINT,
    aal                     TEXT    NOT NULL,
    amr                     TEXT    NOT NULL,
    otp_device_id           BIGINT,
    ip                      TEXT    NOT NULL DEFAULT '',
    user_agent              TEXT    NOT NULL DEFAULT '',
    created_at              BIGINT  NOT NULL,
    last_used_at            BIGINT  NOT NULL,
    expires_at              BIGINT  NOT NULL,
    revoked_at              BIGINT,
    revoked_reason          TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Single-use tokens sent by email (verification, password reset); only their hash is kept.
CREATE TABLE email_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL,
    email       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT
);
CREATE INDEX email_tokens_user_purpose ON email_tokens (user_id, purpose);

-- The cookie-session records of tower-sessions (the web app's login points at sessions.id).
CREATE TABLE web_sessions (
    id          TEXT    PRIMARY KEY,
    data        TEXT    NOT NULL,
    expiry_date BIGINT  NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expiry_date);

-- Security history. No foreign key: rows outlive a deleted account and keep its id.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT,
    kind        TEXT    NOT NULL,
    ip          TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL
);
CREATE INDEX audit_events_user_id ON audit_events (user_id, created_at);

-- Failed-login counters for throttling, per account identifier and per client IP. In the
-- database so that every Gatehouse process behind a load balancer applies the same limits.
CREATE TABLE login_throttle (
    key             TEXT    PRIMARY KEY,
    failures        BIGINT  NOT NULL,
    last_failure_at BIGINT  NOT NULL,
    blocked_until   BIGINT  NOT NULL
);
