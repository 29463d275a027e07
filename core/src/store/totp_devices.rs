//! TOTP devices (table `totp_devices`): at most one confirmed and one pending per user. The
//! secret is stored encrypted (see [`crate::keys::SecretBox`]); this module never sees it in clear.

use sqlx::{AnyPool, FromRow};

use crate::db::Database;
use crate::domain::UserId;
use crate::error::CoreError;
use crate::store::transaction::Transaction;

#[derive(Clone, Debug, FromRow)]
pub struct TotpDevice {
    pub id: i64,
    pub user_id: i64,
    pub secret_encrypted: String,
    pub confirmed_at: Option<i64>,
    pub last_used_step: i64,
    pub created_at: i64,
    /// Consecutive wrong second-factor codes of the account (see `crate::two_factor`).
    pub failures: i64,
}

impl TotpDevice {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

const COLUMNS: &str = "id, user_id, secret_encrypted, confirmed_at, last_used_step, created_at, failures";

/// An SQL condition: the user whose id is `user_id` (a column or a statement parameter of
/// the query it goes into, never input) has a confirmed device (what
/// [`TotpDevice::is_confirmed`] says of one row), for statements that read it beside other things.
pub(crate) fn confirmed_exists(user_id: &'static str) -> String {
    format!("EXISTS (SELECT 1 FROM totp_devices WHERE totp_devices.user_id = {user_id} AND confirmed_at IS NOT NULL)")
}

/// The user's devices: the confirmed one first, then a pending one.
pub async fn for_user(pool: &AnyPool, user: UserId) -> Result<Vec<TotpDevice>, CoreError> {
    let sql = format!("SELECT {COLUMNS} FROM totp_devices WHERE user_id = $1 ORDER BY confirmed_at IS NULL, id DESC");
    Ok(sqlx::query_as::<_, TotpDevice>(&sql).bind(user.0).fetch_all(pool).await?)
}

/// Replaces the user's pending device (if any) with a new one.
pub async fn insert_pending(db: &Database, user: UserId, secret_encrypted: &str, now: i64) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM totp_devices WHERE user_id = $1 AND confirmed_at IS NULL")
        .bind(user.0)
        .execute(tx.connection())
        .await?;
    let inserted = sqlx::query("INSERT INTO totp_devices (user_id, secret_encrypted, created_at) VALUES ($1, $2, $3)")
        .bind(user.0)
        .bind(secret_encrypted)
        .bind(now)
        .execute(tx.connection())
        .await;
    if let Err(error) = &inserted {
        if crate::db::unique_violation(error).is_some() {
            // Another enrolment of the same user won the race (one pending device per user).
            return Err(CoreError::Conflict(crate::error::Conflict::EnrolmentInProgress));
        }
    }
    inserted?;
    tx.commit().await?;
    Ok(())
}

/// Accepts time step `step` for the device if it is later than every step accepted before:
/// a compare-and-set, so a code is accepted once even by two requests racing.
pub async fn accept_step(db: &Database, device: i64, step: i64) -> Result<bool, CoreError> {
    let result = sqlx::query("UPDATE totp_devices SET last_used_step = $1 WHERE id = $2 AND last_used_step < $1")
        .bind(step)
        .bind(device)
        .execute(&db.writer)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Makes a pending device the user's confirmed one (an earlier confirmed device goes).
/// `false`, changing nothing, when the device is no longer pending (replaced meanwhile).
pub async fn confirm(db: &Database, user: UserId, device: i64, now: i64) -> Result<bool, CoreError> {
    let mut tx = db.begin().await?;
    let confirmed = sqlx::query("UPDATE totp_devices SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL")
        .bind(now)
        .bind(device)
        .execute(tx.connection())
        .await?;
    if confirmed.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("DELETE FROM totp_devices WHERE user_id = $1 AND id <> $2 AND confirmed_at IS NOT NULL")
        .bind(user.0)
        .bind(device)
        .execute(tx.connection())
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Counts one more wrong code against the device; returns the consecutive count.
pub async fn count_failure(db: &Database, device: i64) -> Result<i64, CoreError> {
    Ok(sqlx::query_scalar("UPDATE totp_devices SET failures = failures + 1 WHERE id = $1 RETURNING failures")
        .bind(device)
        .fetch_one(&db.writer)
        .await?)
}

/// The user's devices start counting wrong codes afresh (a right code, a recovery code used,
/// the password reset).
pub async fn clear_failures(tx: &mut Transaction, user: UserId) -> Result<(), CoreError> {
    sqlx::query("UPDATE totp_devices SET failures = 0 WHERE user_id = $1 AND failures <> 0")
        .bind(user.0)
        .execute(tx.connection())
        .await?;
    Ok(())
}

/// Counts one more wrong code in the login waiting for its second step; returns the count.
pub async fn count_session_failure(db: &Database, session_id: &str) -> Result<i64, CoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO second_factor_attempts (session_id, failures) VALUES ($1, 1) \
         ON CONFLICT (session_id) DO UPDATE SET failures = second_factor_attempts.failures + 1 RETURNING failures",
    )
    .bind(session_id)
    .fetch_one(&db.writer)
    .await?)
}

pub async fn delete_for_user(db: &Database, user: UserId) -> Result<u64, CoreError> {
    let result = sqlx::query("DELETE FROM totp_devices WHERE user_id = $1").bind(user.0).execute(&db.writer).await?;
    Ok(result.rows_affected())
}
