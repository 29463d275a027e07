use sqlx::AnyPool;

use crate::context::RequestContext;
use crate::db::now;
use crate::domain::UserId;
use crate::error::CoreError;

/// The security events of SPEC §7, by their stored names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    LoginSucceeded,
    LoginFailed,
    Logout,
    EmailVerified,
    VerificationSent,
    LogoutAll,
    RefreshReuseDetected,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    AccountDeleted,
    MfaEnrolled,
    MfaConfirmed,
    MfaRemoved,
    MfaFailed,
    RecoveryCodesGenerated,
    RecoveryCodeUsed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Registered => "registered",
            EventKind::LoginSucceeded => "login_succeeded",
            EventKind::LoginFailed => "login_failed",
            EventKind::Logout => "logout",
            EventKind::EmailVerified => "email_verified",
            EventKind::VerificationSent => "verification_sent",
            EventKind::LogoutAll => "logout_all",
            EventKind::RefreshReuseDetected => "refresh_reuse_detected",
            EventKind::PasswordChanged => "password_changed",
            EventKind::PasswordResetRequested => "password_reset_requested",
            EventKind::PasswordReset => "password_reset",
            EventKind::AccountDeleted => "account_deleted",
            EventKind::MfaEnrolled => "mfa_enrolled",
            EventKind::MfaConfirmed => "mfa_confirmed",
            EventKind::MfaRemoved => "mfa_removed",
            EventKind::MfaFailed => "mfa_failed",
            EventKind::RecoveryCodesGenerated => "recovery_codes_generated",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
        }
    }
}

pub async fn record(
    pool: &AnyPool,
    user_id: Option<UserId>,
    kind: EventKind,
    context: &RequestContext,
    detail: &str,
) -> Result<(), CoreError> {
    sqlx::query(
        "INSERT INTO audit_events (user_id, kind, ip, user_agent, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id.map(|u| u.0))
    .bind(kind.as_str())
    .bind(&context.ip)
    .bind(&context.user_agent)
    .bind(detail)
    .bind(now())
    .execute(pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub user_id: Option<i64>,
    pub kind: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    pub created_at: i64,
}

pub async fn for_user(pool: &AnyPool, user_id: UserId, limit: i64) -> Result<Vec<AuditEvent>, CoreError> {
    Ok(sqlx::query_as::<_, AuditEvent>(
        "SELECT id, user_id, kind, ip, user_agent, detail, created_at FROM audit_events \
         WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id.0)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
