//! Recovery codes (table `recovery_codes`): keyed hashes only, each usable once.

use sqlx::AnyPool;

use crate::db::Database;
use crate::domain::UserId;
use crate::error::CoreError;

/// Replaces every code of the user (used or not) with a new set.
pub async fn replace_all(db: &Database, user: UserId, hashes: &[String], now: i64) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.0).execute(tx.connection()).await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(user.0)
            .bind(hash)
            .bind(now)
            .execute(tx.connection())
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Uses the code with this hash up; `false` when there is no such unused code.
pub async fn use_code(db: &Database, user: UserId, hash: &str, now: i64) -> Result<bool, CoreError> {
    let result =
        sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL")
            .bind(now)
            .bind(user.0)
            .bind(hash)
            .execute(&db.writer)
            .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn count_unused(pool: &AnyPool, user: UserId) -> Result<i64, CoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user.0)
        .fetch_one(pool)
        .await?)
}

pub async fn delete_for_user(db: &Database, user: UserId) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user.0).execute(&db.writer).await?;
    Ok(())
}
