//! The core's one error type. Every face (web app, JSON API, compatibility surfaces) maps it to
//! its own wire shape in one place; the core never speaks HTTP.

use std::collections::BTreeMap;

/// Messages per input field, e.g. `{"password": ["This password is too common."]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// What a refused write collided with. The store reports it; the faces word it (the JSON API
/// in `server/src/api/error.rs`, the compatibility surfaces in theirs, the web app in
/// `app/src/error.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Another account has this email address.
    Email,
    /// Another account has this username, or one that looks like it.
    Username,
    /// The change would leave no active superuser.
    LastSuperuser,
    /// Another enrolment of a second factor for the same user is under way.
    EnrolmentInProgress,
}

impl Conflict {
    /// The input field the conflict is about, if it is about one.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Conflict::Email => Some("email"),
            Conflict::Username => Some("username"),
            Conflict::LastSuperuser | Conflict::EnrolmentInProgress => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input that parsed but breaks a rule; `fields` says which.
    #[error("{message}")]
    Validation { message: String, fields: FieldErrors },
    /// The write would break a uniqueness rule; which one, each face words in its own way.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// Unknown account or wrong password: deliberately one answer for both.
    #[error("No active account found with the given credentials.")]
    InvalidCredentials,
    #[error(
        "This email address is not confirmed yet. Check your inbox for the confirmation link, or ask for a new one."
    )]
    EmailNotVerified,
    /// A link token (verification, reset) that is unknown, used or expired.
    #[error("This link is invalid or has expired.")]
    InvalidLink,
    /// Missing, malformed, expired or revoked access credentials.
    #[error("Authentication credentials were not provided or are not valid.")]
    Unauthenticated,
    #[error("You do not have permission to perform this action.")]
    Forbidden,
    /// A password login of an account with two-factor authentication, before the second step.
    #[error("A second factor is required: verify a code from your authenticator app or a recovery code first.")]
    SecondFactorRequired,
    /// Changing the second factor needs a session that proved it.
    #[error("This needs a session that verified the second factor (aal2).")]
    Aal2Required,
    #[error("Not found.")]
    NotFound,
    #[error("Too many attempts. Try again in {retry_after_secs} seconds.")]
    Throttled { retry_after_secs: u64 },
    /// The server is too busy to take this on now (password hashes queued past their bound).
    #[error("The server is busy. Try again in {retry_after_secs} seconds.")]
    Overloaded { retry_after_secs: u64 },
    /// The database cannot be reached (down, restarting, or every connection busy past
    /// `GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT`).
    #[error("The service is temporarily unavailable. Try again in a moment.")]
    DatabaseUnavailable,
    /// The database refused a write because its disk is full.
    #[error("The service cannot store anything right now. Try again later.")]
    StorageFull,
    /// Anything unexpected; the detail is logged, never shown.
    #[error("Internal error.")]
    Internal(String),
}

impl CoreError {
    /// A stable machine-readable code, used as `error.code` on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Validation { .. } => "validation_error",
            CoreError::Conflict(_) => "conflict",
            CoreError::InvalidCredentials => "invalid_credentials",
            CoreError::EmailNotVerified => "email_not_verified",
            CoreError::InvalidLink => "invalid_link",
            CoreError::Unauthenticated => "not_authenticated",
            CoreError::Forbidden => "permission_denied",
            CoreError::SecondFactorRequired => "mfa_required",
            CoreError::Aal2Required => "aal2_required",
            CoreError::NotFound => "not_found",
            CoreError::Throttled { .. } => "throttled",
            CoreError::Overloaded { .. } => "overloaded",
            CoreError::DatabaseUnavailable => "database_unavailable",
            CoreError::StorageFull => "storage_full",
            CoreError::Internal(_) => "internal_error",
        }
    }

    /// The messages per field of a validation error. A conflict has none: each face words it
    /// from its [`Conflict`].
    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            CoreError::Validation { fields, .. } => Some(fields),
            _ => None,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![message.into()]);
        CoreError::Validation { message: "Some fields are not valid.".into(), fields }
    }

    /// A value parsed at the edge, its problems reported under `field`.
    pub fn parse_field<T>(field: &str, parsed: Result<T, Vec<String>>) -> Result<T, Self> {
        parsed.map_err(|messages| CoreError::field(field, messages.join(" ")))
    }

    /// The same error with the messages about `from` filed under `to`: for a face whose form
    /// names a field differently (`old_password` for the core's `current_password`).
    pub fn renaming_field(mut self, from: &str, to: &str) -> Self {
        if let CoreError::Validation { fields, .. } = &mut self {
            if let Some(messages) = fields.remove(from) {
                fields.insert(to.to_string(), messages);
            }
        }
        self
    }

    pub fn validation(fields: FieldErrors) -> Self {
        CoreError::Validation { message: "Some fields are not valid.".into(), fields }
    }

    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        CoreError::Internal(format!("{context}: {error}"))
    }
}

/// A database that is down usually comes back within seconds (a restart, a failover).
const DATABASE_RETRY_AFTER_SECS: u64 = 2;
/// A full disk needs someone to act: ask clients to wait longer.
const STORAGE_RETRY_AFTER_SECS: u64 = 30;

impl From<sqlx::Error> for CoreError {
    fn from(error: sqlx::Error) -> Self {
        match crate::db::classify(&error) {
            crate::db::Failure::Unreachable => {
                tracing::warn!(%error, "the database cannot be reached");
                CoreError::DatabaseUnavailable
            }
            crate::db::Failure::DiskFull => {
                tracing::error!(%error, "the database's disk is full: writes fail");
                CoreError::StorageFull
            }
            crate::db::Failure::Other => CoreError::internal("database error", error),
        }
    }
}

/// Collects field errors while parsing a form, so a user sees every problem at once.
#[derive(Debug, Default)]
pub struct FieldErrorsBuilder(FieldErrors);

impl FieldErrorsBuilder {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_default().push(message.into());
    }

    /// Keeps the value, or records the messages of a failed parse under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Vec<String>>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(messages) => {
                for m in messages {
                    self.add(field, m);
                }
                None
            }
        }
    }

    /// Keeps the value, or records the field errors of a parse that reports them as a
    /// [`CoreError`] (another request shape's); any other error is passed on.
    pub fn absorb<T>(&mut self, result: Result<T, CoreError>) -> Result<Option<T>, CoreError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(CoreError::Validation { fields, .. }) => {
                for (field, messages) in fields {
                    self.0.entry(field).or_default().extend(messages);
                }
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn finish(self) -> Result<(), CoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CoreError::validation(self.0))
        }
    }
}

impl CoreError {
    /// Seconds a client should wait before asking again, for the errors that say so
    /// (`Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            CoreError::Throttled { retry_after_secs } | CoreError::Overloaded { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            CoreError::DatabaseUnavailable => Some(DATABASE_RETRY_AFTER_SECS),
            CoreError::StorageFull => Some(STORAGE_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}
