-- Throttle times are Unix milliseconds from now on (they were seconds, which made the first
-- one-second delay anywhere between 0 and 1 s long). Old rows are dropped rather than converted:
-- they only hold blocks that would have run out within minutes anyway.
DELETE FROM login_throttle;

-- Which accounts failed to log in from which address: an address is slowed down by the number
-- of *different* accounts failing from it, so people sharing a NAT or proxy address do not
-- lock each other out by mistyping their own passwords.
CREATE TABLE login_address_failures (
    address         TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    last_failure_at BIGINT  NOT NULL,
    PRIMARY KEY (address, account)
);
