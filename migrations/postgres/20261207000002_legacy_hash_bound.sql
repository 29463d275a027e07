-- The legacy work every failed password check does while imported Django hashes are stored:
-- the costliest legacy step among them, in PBKDF2-HMAC-SHA256 iterations (0 with none). One
-- row, read with the account at each login, so that an import by another process counts at
-- once. See core/src/passwords.rs.
CREATE TABLE legacy_hash_bound (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    work BIGINT NOT NULL
);
INSERT INTO legacy_hash_bound (singleton, work) VALUES (1, 0);
