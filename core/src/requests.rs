//! Request shapes that recur across the faces, each parsed here once into typed values: the
//! JSON API, the compatibility surfaces and the web app's server functions read their own
//! bodies and forms, then call `X::parse(...)` and hand the result to a service. A face keeps
//! only what is its own: its field names (a compat surface renames with
//! [`CoreError::renaming_field`]), its extra checks (`confirm_password`), its wording.
//!
//! Shapes that belong to one service live with it: [`crate::accounts::Registration`],
//! [`crate::credentials::PasswordChange`], [`crate::admin::AccountChanges`],
//! [`crate::domain::ProfileChanges`].

use crate::domain::{Email, LoginIdentifier, PasswordAttempt, RecoveryCode, TotpCode, MAX_PASSWORD_BYTES};
use crate::error::{CoreError, FieldErrorsBuilder};

/// An address alone: asking for a new confirmation link or a password reset link.
#[derive(Clone, Debug)]
pub struct EmailRequest {
    pub email: Email,
}

impl EmailRequest {
    /// Problems are reported under `email`.
    pub fn parse(email: &str) -> Result<Self, CoreError> {
        Ok(Self { email: CoreError::parse_field("email", Email::parse(email))? })
    }
}

/// The caller's current password, typed again for something sensitive (closing the account).
#[derive(Clone, Debug)]
pub struct CurrentPassword {
    pub password: PasswordAttempt,
}

impl CurrentPassword {
    /// Problems are reported under `current_password`.
    pub fn parse(password: &str) -> Result<Self, CoreError> {
        Ok(Self { password: CoreError::parse_field("current_password", PasswordAttempt::parse(password))? })
    }
}

/// A new address for the caller's account, with their current password.
#[derive(Clone, Debug)]
pub struct EmailChange {
    pub email: Email,
    pub current_password: PasswordAttempt,
}

impl EmailChange {
    /// Reports every bad field at once, under `email` and `current_password`.
    pub fn parse(email: &str, current_password: &str) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let email = errors.check("email", Email::parse(email));
        let current_password = errors.check("current_password", PasswordAttempt::parse(current_password));
        errors.finish()?;
        Ok(Self { email: email.unwrap(), current_password: current_password.unwrap() })
    }
}

/// A code from the authenticator app. Problems are reported under `code` (a surface that
/// calls it something else renames the field).
#[derive(Clone, Debug)]
pub struct TotpRequest {
    pub code: TotpCode,
}

impl TotpRequest {
    pub fn parse(code: &str) -> Result<Self, CoreError> {
        Ok(Self { code: CoreError::parse_field("code", TotpCode::parse(code))? })
    }
}

/// One of the recovery codes. Problems are reported under `code`.
#[derive(Clone, Debug)]
pub struct RecoveryRequest {
    pub code: RecoveryCode,
}

impl RecoveryRequest {
    pub fn parse(code: &str) -> Result<Self, CoreError> {
        Ok(Self { code: CoreError::parse_field("code", RecoveryCode::parse(code))? })
    }
}

/// What is wrong with one field, said without words: each face words it in its own way
/// (the API and the Django surfaces as DRF does, the web app in its own words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldProblem {
    /// Empty, or only spaces.
    Blank,
    /// Longer than `max` (bytes for a password).
    TooLong { max: usize },
}

/// A login request that cannot be tried, and why, field by field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InvalidLogin {
    /// The username or email.
    pub identifier: Option<FieldProblem>,
    pub password: Option<FieldProblem>,
}

/// A login attempt. A malformed identifier is kept as `None`: it cannot match an account, and
/// it must be answered exactly like an unknown one.
#[derive(Debug)]
pub struct LoginAttempt {
    pub identifier: Option<LoginIdentifier>,
    /// As typed, for throttling attempts on identifiers that do not parse.
    pub raw_identifier: String,
    pub password: PasswordAttempt,
}

impl LoginAttempt {
    /// Only presence and size are checked: anything else is for the login itself to refuse,
    /// in the same words as a wrong password.
    pub fn parse(identifier: &str, password: &str) -> Result<Self, InvalidLogin> {
        let mut invalid = InvalidLogin::default();
        if identifier.trim().is_empty() {
            invalid.identifier = Some(FieldProblem::Blank);
        }
        if password.is_empty() {
            invalid.password = Some(FieldProblem::Blank);
        } else if password.len() > MAX_PASSWORD_BYTES {
            invalid.password = Some(FieldProblem::TooLong { max: MAX_PASSWORD_BYTES });
        }
        if invalid != InvalidLogin::default() {
            return Err(invalid);
        }
        Ok(Self {
            identifier: LoginIdentifier::parse(identifier).ok(),
            raw_identifier: identifier.chars().take(300).collect(),
            password: PasswordAttempt::parse(password).map_err(|_| invalid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_names_each_missing_field_without_wording_it() {
        let both = LoginAttempt::parse("  ", "").unwrap_err();
        assert_eq!(both.identifier, Some(FieldProblem::Blank));
        assert_eq!(both.password, Some(FieldProblem::Blank));
        let long = LoginAttempt::parse("ada", &"x".repeat(MAX_PASSWORD_BYTES + 1)).unwrap_err();
        assert_eq!(long, InvalidLogin { identifier: None, password: Some(FieldProblem::TooLong { max: 4096 }) });
        let odd = LoginAttempt::parse("not an identifier!!", "secret").unwrap();
        assert!(odd.identifier.is_none() && odd.raw_identifier == "not an identifier!!");
    }

    #[test]
    fn an_email_change_reports_both_fields_at_once() {
        let error = EmailChange::parse("not an email", "").unwrap_err();
        let fields = error.fields().unwrap();
        assert!(fields.contains_key("email") && fields.contains_key("current_password"), "{fields:?}");
    }
}
