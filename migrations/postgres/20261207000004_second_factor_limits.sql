-- Guessing has an end (NIST SP 800-63B §5.2.2). Wrong second-factor codes of a login that waits
-- for its second step, counted per session: at 10 the half-open session is closed. And
-- consecutive wrong codes of an account, on its confirmed device: at 100 its TOTP codes are
-- refused until a recovery code is used or the password is reset.
CREATE TABLE second_factor_attempts (
    session_id  TEXT    PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    failures    BIGINT  NOT NULL
);

ALTER TABLE totp_devices ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;

-- Consecutive failed password logins of an account (any client): at 20 the owner is told
-- someone is trying (at most once a day); a successful login ends the streak.
CREATE TABLE password_failure_streaks (
    user_id     BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures    BIGINT  NOT NULL
);
