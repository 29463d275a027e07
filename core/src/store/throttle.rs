//! Failed-login counters (table `login_throttle`), keyed by account identifier or client IP.

use sqlx::AnyPool;

use crate::db::now;
use crate::error::CoreError;

/// Seconds until the latest `blocked_until` among `keys` (0 when none is blocked).
pub async fn seconds_blocked(pool: &AnyPool, keys: &[String]) -> Result<i64, CoreError> {
    let now = now();
    let mut longest = 0;
    for key in keys {
        let until: Option<i64> = sqlx::query_scalar("SELECT blocked_until FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        longest = longest.max(until.unwrap_or(0) - now);
    }
    Ok(longest)
}

/// Counts one more failure for `key` (starting afresh when the last one is older than
/// `forget_after_secs`) and returns the new count.
pub async fn record_failure(pool: &AnyPool, key: &str, forget_after_secs: i64) -> Result<i64, CoreError> {
    let now = now();
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, last_failure_at, blocked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           last_failure_at = $2 \
         RETURNING failures",
    )
    .bind(key)
    .bind(now)
    .bind(now - forget_after_secs)
    .fetch_one(pool)
    .await?;
    Ok(failures)
}

pub async fn block_until(pool: &AnyPool, key: &str, until: i64) -> Result<(), CoreError> {
    sqlx::query("UPDATE login_throttle SET blocked_until = $1 WHERE key = $2")
        .bind(until)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn clear(pool: &AnyPool, key: &str) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(pool).await?;
    Ok(())
}
