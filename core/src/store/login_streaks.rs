//! Consecutive failed password logins per account (table `password_failure_streaks`), for
//! telling the owner that someone is trying; a successful login ends the streak.

use crate::db::Database;
use crate::domain::UserId;
use crate::error::CoreError;

/// One more failed login of `user`; returns the streak's length.
pub async fn count_failure(db: &Database, user: UserId) -> Result<i64, CoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO password_failure_streaks (user_id, failures) VALUES ($1, 1) \
         ON CONFLICT (user_id) DO UPDATE SET failures = password_failure_streaks.failures + 1 RETURNING failures",
    )
    .bind(user.0)
    .fetch_one(&db.writer)
    .await?)
}

pub async fn clear(db: &Database, user: UserId) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM password_failure_streaks WHERE user_id = $1").bind(user.0).execute(&db.writer).await?;
    Ok(())
}

/// An SQL condition: the user whose id is in `user_id_column` has a streak going, for the
/// login's one read of the account.
pub(crate) fn exists(user_id_column: &'static str) -> String {
    format!("EXISTS (SELECT 1 FROM password_failure_streaks WHERE password_failure_streaks.user_id = {user_id_column})")
}
