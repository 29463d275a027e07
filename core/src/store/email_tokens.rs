use sqlx::{AnyPool, FromRow};

use crate::db::Database;
use crate::domain::UserId;
use crate::error::CoreError;
use crate::store::transaction::Transaction;

/// What an emailed token is for; a token for one purpose never works for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    /// Confirms a new address; the token row's `email` is the new address.
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct StoredToken {
    pub id: i64,
    pub token_hash: String,
    pub email: String,
    pub expires_at: i64,
}

/// Stores a new token and retires the user's earlier ones for the same purpose.
pub async fn replace(
    db: &Database,
    user_id: UserId,
    purpose: Purpose,
    token_hash: &str,
    email: &str,
    lifetime_secs: i64,
    now: i64,
) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
        .bind(now)
        .bind(user_id.0)
        .bind(purpose.as_str())
        .execute(tx.connection())
        .await?;
    sqlx::query("INSERT INTO email_tokens (user_id, purpose, token_hash, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(user_id.0)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(email)
        .bind(now)
        .bind(now + lifetime_secs)
        .execute(tx.connection())
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The user's unused tokens for `purpose` unexpired at `now` (normally at most one).
pub async fn live_tokens(
    pool: &AnyPool,
    user_id: UserId,
    purpose: Purpose,
    now: i64,
) -> Result<Vec<StoredToken>, CoreError> {
    Ok(sqlx::query_as::<_, StoredToken>(
        "SELECT id, token_hash, email, expires_at FROM email_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(user_id.0)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_all(pool)
    .await?)
}

/// Marks a token used; `false` if someone else used it first (a concurrent click).
pub async fn consume(tx: &mut Transaction, id: i64) -> Result<bool, CoreError> {
    let result = sqlx::query("UPDATE email_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(tx.now())
        .bind(id)
        .execute(tx.connection())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// An SQL condition: the user whose id is in `user_id_column` has a live token for `purpose`
/// (one [`retire_all`] would retire), for queries that read it beside other things.
pub(crate) fn live_exists(user_id_column: &'static str, purpose: Purpose) -> String {
    // The purpose is one of our own constant names, never input: safe to write into the text.
    format!(
        "EXISTS (SELECT 1 FROM email_tokens WHERE email_tokens.user_id = {user_id_column} \
         AND email_tokens.purpose = '{}' AND email_tokens.used_at IS NULL)",
        purpose.as_str()
    )
}

/// Retires every live link of the user, whatever it is for: the credentials it was issued
/// under changed (password change or reset, logout everywhere, an admin's change of the
/// address or deactivation). A retired link answers like an expired one.
pub async fn retire_every_purpose(tx: &mut Transaction, user_id: UserId) -> Result<(), CoreError> {
    sqlx::query("UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(tx.now())
        .bind(user_id.0)
        .execute(tx.connection())
        .await?;
    Ok(())
}

/// Retires every live token of the user for `purpose`; `true` if there was one (e.g. reset
/// links once the user logged in, or a pending email change cancelled).
pub async fn retire_all(db: &Database, user_id: UserId, purpose: Purpose) -> Result<bool, CoreError> {
    let mut tx = db.begin().await?;
    let result =
        sqlx::query("UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
            .bind(db.now())
            .bind(user_id.0)
            .bind(purpose.as_str())
            .execute(tx.connection())
            .await?;
    tx.commit().await?;
    Ok(result.rows_affected() > 0)
}
