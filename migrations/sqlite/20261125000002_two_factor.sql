-- Two-factor authentication: TOTP devices (the secret encrypted with an AEAD key derived from
-- the root key), recovery codes (keyed hashes only), and sessions that still owe a second factor.

CREATE TABLE totp_devices (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_encrypted TEXT    NOT NULL,
    -- NULL while pending: enrolled but not yet proven by a first valid code.
    confirmed_at     BIGINT,
    -- The last TOTP time step accepted: only later steps are accepted (no replay).
    last_used_step   BIGINT  NOT NULL DEFAULT -1,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX totp_devices_user_id ON totp_devices (user_id);

CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX recovery_codes_user_id ON recovery_codes (user_id);

-- A password login of a user with a confirmed device: the session may only complete the
-- second step, refresh or log out until it does.
ALTER TABLE sessions ADD COLUMN second_factor_pending INTEGER NOT NULL DEFAULT 0;

-- At most one pending device per user, even when two enrolments race.
CREATE UNIQUE INDEX totp_devices_one_pending ON totp_devices (user_id) WHERE confirmed_at IS NULL;
