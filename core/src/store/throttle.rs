//! Failed-login counters (tables `login_throttle` and `login_address_failures`). Times are
//! Unix milliseconds passed in by the caller, so the rules can be tested with any clock.

use sqlx::AnyPool;

use crate::db::Database;
use crate::error::CoreError;

/// Milliseconds until `key`'s block ends (0 or less when it is not blocked).
pub async fn millis_blocked(pool: &AnyPool, key: &str, now: i64) -> Result<i64, CoreError> {
    let until: Option<i64> = sqlx::query_scalar("SELECT blocked_until FROM login_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(until.unwrap_or(0) - now)
}

/// What [`reserve_attempt`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt may go ahead; it is already counted as a failure.
    Allowed,
    /// The key is blocked for this many more milliseconds.
    Blocked(i64),
}

/// Takes one login attempt for `key`, atomically: refused while the key is blocked; otherwise
/// counted as a failure *before* the password is checked (a success clears the count), and the
/// key blocked for `delay(count)` milliseconds after it. Concurrent attempts therefore each see
/// the ones before them: a burst of parallel guesses gets one through, not all of them. A
/// compare-and-set on the row, so it holds on SQLite and PostgreSQL and across processes.
pub async fn reserve_attempt(
    db: &Database,
    key: &str,
    now: i64,
    forget_after: i64,
    delay: impl Fn(i64) -> i64,
) -> Result<Reservation, CoreError> {
    let block_after = |count: i64| match delay(count) {
        0 => 0,
        millis => now + millis,
    };
    // Most attempts find no row (a success deletes it): the first failure goes in without a
    // look, and only a key that has a row pays for reading it.
    if first_failure(db, key, now, block_after(1)).await? {
        return Ok(Reservation::Allowed);
    }
    for _ in 0..16 {
        let row: Option<(i64, i64, i64)> =
            sqlx::query_as("SELECT failures, last_failure_at, blocked_until FROM login_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(&db.writer)
                .await?;
        let taken = match row {
            None if first_failure(db, key, now, block_after(1)).await? => return Ok(Reservation::Allowed),
            None => continue,
            Some((_, _, blocked_until)) if blocked_until > now => return Ok(Reservation::Blocked(blocked_until - now)),
            Some((failures, last_failure_at, blocked_until)) => {
                let count = if last_failure_at < now - forget_after { 1 } else { failures + 1 };
                sqlx::query(
                    "UPDATE login_throttle SET failures = $1, last_failure_at = $2, blocked_until = $3 \
                     WHERE key = $4 AND failures = $5 AND last_failure_at = $6 AND blocked_until = $7",
                )
                .bind(count)
                .bind(now)
                .bind(block_after(count))
                .bind(key)
                .bind(failures)
                .bind(last_failure_at)
                .bind(blocked_until)
                .execute(&db.writer)
                .await?
            }
        };
        if taken.rows_affected() == 1 {
            return Ok(Reservation::Allowed);
        }
        // Another attempt changed the row first: look again.
    }
    // Sixteen lost races in a row is a storm on this key: slow it down.
    Ok(Reservation::Blocked(1000))
}

/// Counts the first failure of `key` if it has no row yet; false when another attempt's row
/// is there.
async fn first_failure(db: &Database, key: &str, now: i64, blocked_until: i64) -> Result<bool, CoreError> {
    let inserted = sqlx::query(
        "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now)
    .bind(blocked_until)
    .execute(&db.writer)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Notes that `account` failed from `address`, and returns how many different accounts failed
/// from it since `now - forget_after`.
pub async fn record_address_failure(
    db: &Database,
    address: &str,
    account: &str,
    now: i64,
    forget_after: i64,
) -> Result<i64, CoreError> {
    sqlx::query("DELETE FROM login_address_failures WHERE address = $1 AND last_failure_at < $2")
        .bind(address)
        .bind(now - forget_after)
        .execute(&db.writer)
        .await?;
    sqlx::query(
        "INSERT INTO login_address_failures (address, account, last_failure_at) VALUES ($1, $2, $3) \
         ON CONFLICT (address, account) DO UPDATE SET last_failure_at = $3",
    )
    .bind(address)
    .bind(account)
    .bind(now)
    .execute(&db.writer)
    .await?;
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM login_address_failures WHERE address = $1")
        .bind(address)
        .fetch_one(&db.writer)
        .await?;
    Ok(accounts)
}

/// Blocks `key` until `until` unless it is already blocked for longer (creating its row if it
/// has none: address keys count their failures in `login_address_failures`).
pub async fn block_until(db: &Database, key: &str, now: i64, until: i64) -> Result<(), CoreError> {
    sqlx::query(
        "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 0, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET last_failure_at = $2, \
           blocked_until = CASE WHEN login_throttle.blocked_until > $3 THEN login_throttle.blocked_until ELSE $3 END",
    )
    .bind(key)
    .bind(now)
    .bind(until)
    .execute(&db.writer)
    .await?;
    Ok(())
}

pub async fn clear(db: &Database, key: &str) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&db.writer).await?;
    Ok(())
}

/// Forgets `account`'s failure from `address` (its owner just logged in from there).
pub async fn clear_address_failure(db: &Database, address: &str, account: &str) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM login_address_failures WHERE address = $1 AND account = $2")
        .bind(address)
        .bind(account)
        .execute(&db.writer)
        .await?;
    Ok(())
}

/// Drops counters whose last failure is older than `before` and whose block has run out.
pub async fn purge(db: &Database, before: i64, now: i64) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE last_failure_at < $1 AND blocked_until < $2")
        .bind(before)
        .bind(now)
        .execute(&db.writer)
        .await?;
    sqlx::query("DELETE FROM login_address_failures WHERE last_failure_at < $1")
        .bind(before)
        .execute(&db.writer)
        .await?;
    Ok(())
}
