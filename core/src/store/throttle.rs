//! Failed-login counters (tables `login_throttle` and `login_address_failures`). Times are
//! Unix milliseconds passed in by the caller, so the rules can be tested with any clock.

use sqlx::AnyPool;

use crate::error::CoreError;

/// Milliseconds until the latest `blocked_until` among `keys` (0 when none is blocked).
pub async fn millis_blocked(pool: &AnyPool, keys: &[&str], now: i64) -> Result<i64, CoreError> {
    let mut longest = 0;
    for key in keys {
        let until: Option<i64> = sqlx::query_scalar("SELECT blocked_until FROM login_throttle WHERE key = $1")
            .bind(*key)
            .fetch_optional(pool)
            .await?;
        longest = longest.max(until.unwrap_or(0) - now);
    }
    Ok(longest)
}

/// Counts one more failure for `key` (starting afresh when the last one is older than
/// `forget_after`) and returns the new count.
pub async fn record_failure(pool: &AnyPool, key: &str, now: i64, forget_after: i64) -> Result<i64, CoreError> {
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           last_failure_at = $2 \
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(now - forget_after)
    .fetch_one(pool)
    .await?;
    Ok(failures)
}

/// Notes that `account` failed from `address`, and returns how many different accounts failed
/// from it since `now - forget_after`.
pub async fn record_address_failure(
    pool: &AnyPool,
    address: &str,
    account: &str,
    now: i64,
    forget_after: i64,
) -> Result<i64, CoreError> {
    sqlx::query("DELETE FROM login_address_failures WHERE address = $1 AND last_failure_at < $2")
        .bind(address)
        .bind(now - forget_after)
        .execute(pool)
        .await?;
    sqlx::query(
        "INSERT INTO login_address_failures (address, account, last_failure_at) VALUES ($1, $2, $3) \
         ON CONFLICT (address, account) DO UPDATE SET last_failure_at = $3",
    )
    .bind(address)
    .bind(account)
    .bind(now)
    .execute(pool)
    .await?;
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM login_address_failures WHERE address = $1")
        .bind(address)
        .fetch_one(pool)
        .await?;
    Ok(accounts)
}

/// Blocks `key` until `until` (creating its row if it has none: address keys count their
/// failures in `login_address_failures`).
pub async fn block_until(pool: &AnyPool, key: &str, until: i64) -> Result<(), CoreError> {
    sqlx::query(
        "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 0, $2, $2) \
         ON CONFLICT (key) DO UPDATE SET blocked_until = $2",
    )
    .bind(key)
    .bind(until)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn clear(pool: &AnyPool, key: &str) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(pool).await?;
    Ok(())
}
