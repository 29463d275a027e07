//! Sliding-window budgets (table `rate_windows`): at most `limit` events per key within any
//! `window_ms`. Each row keeps the times of its events still inside the window; taking one is
//! a compare-and-set on that list, so a burst of parallel requests cannot overdraw a budget,
//! on SQLite and PostgreSQL and across processes. Times are Unix milliseconds passed in.

use crate::db::Database;
use crate::error::CoreError;

/// What [`take`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    Allowed,
    /// The budget is spent; the oldest event leaves the window in this many milliseconds.
    Refused(i64),
}

/// Takes one event from `key`'s budget of `limit` per `window_ms` at `now`.
pub async fn take(db: &Database, key: &str, limit: usize, window_ms: i64, now: i64) -> Result<Taken, CoreError> {
    for _ in 0..32 {
        let row: Option<String> = sqlx::query_scalar("SELECT stamps FROM rate_windows WHERE key = $1")
            .bind(key)
            .fetch_optional(&db.writer)
            .await?;
        let Some(old) = row else {
            let inserted = sqlx::query(
                "INSERT INTO rate_windows (key, stamps, last_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(now.to_string())
            .bind(now)
            .execute(&db.writer)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(Taken::Allowed);
            }
            continue;
        };
        let mut stamps: Vec<i64> =
            old.split_whitespace().filter_map(|s| s.parse().ok()).filter(|at| *at > now - window_ms).collect();
        if stamps.len() >= limit {
            let oldest = stamps.iter().min().copied().unwrap_or(now);
            return Ok(Taken::Refused((oldest + window_ms - now).max(1)));
        }
        stamps.push(now);
        let new = stamps.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
        let updated = sqlx::query("UPDATE rate_windows SET stamps = $1, last_at = $2 WHERE key = $3 AND stamps = $4")
            .bind(new)
            .bind(now)
            .bind(key)
            .bind(&old)
            .execute(&db.writer)
            .await?;
        if updated.rows_affected() == 1 {
            return Ok(Taken::Allowed);
        }
    }
    // Lost the race 32 times in a row: a flood on this very key, which may as well wait.
    Ok(Taken::Refused(1000))
}

/// Forgets keys with no event inside the window (run periodically).
pub async fn purge(db: &Database, window_ms: i64, now: i64) -> Result<u64, CoreError> {
    let result =
        sqlx::query("DELETE FROM rate_windows WHERE last_at <= $1").bind(now - window_ms).execute(&db.writer).await?;
    Ok(result.rows_affected())
}
