use sqlx::AnyPool;

use crate::context::RequestContext;
use crate::db::Database;
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
    SessionRevoked,
    ProfileUpdated,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeCancelled,
    AdminUserCreated,
    AdminUserUpdated,
    AdminUserDeleted,
    AdminSessionsEnded,
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
            EventKind::SessionRevoked => "session_revoked",
            EventKind::ProfileUpdated => "profile_updated",
            EventKind::EmailChangeRequested => "email_change_requested",
            EventKind::EmailChanged => "email_changed",
            EventKind::EmailChangeCancelled => "email_change_cancelled",
            EventKind::AdminUserCreated => "admin_user_created",
            EventKind::AdminUserUpdated => "admin_user_updated",
            EventKind::AdminUserDeleted => "admin_user_deleted",
            EventKind::AdminSessionsEnded => "admin_sessions_ended",
        }
    }

    pub const ALL: [EventKind; 27] = [
        EventKind::Registered,
        EventKind::LoginSucceeded,
        EventKind::LoginFailed,
        EventKind::Logout,
        EventKind::EmailVerified,
        EventKind::VerificationSent,
        EventKind::LogoutAll,
        EventKind::RefreshReuseDetected,
        EventKind::PasswordChanged,
        EventKind::PasswordResetRequested,
        EventKind::PasswordReset,
        EventKind::AccountDeleted,
        EventKind::MfaEnrolled,
        EventKind::MfaConfirmed,
        EventKind::MfaRemoved,
        EventKind::MfaFailed,
        EventKind::RecoveryCodesGenerated,
        EventKind::RecoveryCodeUsed,
        EventKind::SessionRevoked,
        EventKind::ProfileUpdated,
        EventKind::EmailChangeRequested,
        EventKind::EmailChanged,
        EventKind::EmailChangeCancelled,
        EventKind::AdminUserCreated,
        EventKind::AdminUserUpdated,
        EventKind::AdminUserDeleted,
        EventKind::AdminSessionsEnded,
    ];

    /// The kind stored under `name`, if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

pub async fn record(
    db: &Database,
    user_id: Option<UserId>,
    kind: EventKind,
    context: &RequestContext,
    detail: &str,
) -> Result<(), CoreError> {
    insert(db, user_id, None, kind, context, detail).await
}

/// An admin action: one event on the target's history and on the actor's.
pub async fn record_admin(
    db: &Database,
    actor: UserId,
    target: UserId,
    kind: EventKind,
    context: &RequestContext,
    detail: &str,
) -> Result<(), CoreError> {
    insert(db, Some(target), Some(actor), kind, context, detail).await
}

async fn insert(
    db: &Database,
    user_id: Option<UserId>,
    actor_id: Option<UserId>,
    kind: EventKind,
    context: &RequestContext,
    detail: &str,
) -> Result<(), CoreError> {
    sqlx::query(
        "INSERT INTO audit_events (user_id, actor_id, kind, ip, user_agent, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user_id.map(|u| u.0))
    .bind(actor_id.map(|u| u.0))
    .bind(kind.as_str())
    .bind(&context.ip)
    .bind(&context.user_agent)
    .bind(detail)
    .bind(db.now())
    .execute(&db.writer)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: i64,
    /// Whose history the event belongs to.
    pub user_id: Option<i64>,
    /// For admin actions: the staff member who acted.
    pub actor_id: Option<i64>,
    pub kind: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    pub created_at: i64,
}

/// Which events to read. `user` matches both the events about the user and their actions as
/// an admin.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub user: Option<UserId>,
    pub kind: Option<EventKind>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
}

impl EventFilter {
    /// The WHERE clause and its parameters, numbered from `$1`.
    fn clause(&self) -> (String, Vec<Param>) {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(user) = self.user {
            params.push(Param::Int(user.0));
            conditions.push(format!("(user_id = ${n} OR actor_id = ${n})", n = params.len()));
        }
        if let Some(kind) = self.kind {
            params.push(Param::Text(kind.as_str()));
            conditions.push(format!("kind = ${}", params.len()));
        }
        if let Some(since) = self.since {
            params.push(Param::Int(since));
            conditions.push(format!("created_at >= ${}", params.len()));
        }
        if let Some(until) = self.until {
            params.push(Param::Int(until));
            conditions.push(format!("created_at < ${}", params.len()));
        }
        let clause = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        (clause, params)
    }
}

enum Param {
    Int(i64),
    Text(&'static str),
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Int(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
            };
        }
        query
    }};
}

/// How many events match.
pub async fn count(pool: &AnyPool, filter: &EventFilter) -> Result<i64, CoreError> {
    let (clause, params) = filter.clause();
    let sql = format!("SELECT COUNT(*) FROM audit_events {clause}");
    Ok(bind_all!(sqlx::query_scalar::<_, i64>(&sql), params).fetch_one(pool).await?)
}

/// One page of the matching events, newest first.
pub async fn page(pool: &AnyPool, filter: &EventFilter, offset: i64, limit: i64) -> Result<Vec<AuditEvent>, CoreError> {
    let (clause, params) = filter.clause();
    let n = params.len();
    let sql = format!(
        "SELECT id, user_id, actor_id, kind, ip, user_agent, detail, created_at FROM audit_events {clause} \
         ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let query = bind_all!(sqlx::query_as::<_, AuditEvent>(&sql), params);
    Ok(query.bind(limit).bind(offset).fetch_all(pool).await?)
}

/// Deletes the events older than `before` (Unix seconds); returns how many went.
pub async fn prune(db: &Database, before: i64) -> Result<u64, CoreError> {
    let result = sqlx::query("DELETE FROM audit_events WHERE created_at < $1").bind(before).execute(&db.writer).await?;
    Ok(result.rows_affected())
}
