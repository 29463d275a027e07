-- Readiness that tells the truth: `/readyz` rewrites this one row (at most every few seconds),
-- so a database that answers reads but cannot write (a full disk) is reported not ready.
CREATE TABLE write_probe (
    id  BIGINT  PRIMARY KEY,
    at  BIGINT  NOT NULL
);
