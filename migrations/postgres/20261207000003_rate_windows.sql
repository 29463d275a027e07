-- Sliding one-hour budgets (mail per recipient address, sign-ups and mail requests per client
-- address): the Unix-millisecond times of the events still inside the window, space-separated,
-- so one row update both checks and takes a budget (a compare-and-set on `stamps`).
CREATE TABLE rate_windows (
    key        TEXT    PRIMARY KEY,
    stamps     TEXT    NOT NULL,
    last_at    BIGINT  NOT NULL
);
CREATE INDEX rate_windows_last_at ON rate_windows (last_at);
