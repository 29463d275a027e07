//! What `/api/v1` shows of the core's entities: its views, each made from an entity and
//! nothing else, with the schema the OpenAPI document gives it. The core's types carry no
//! serde and no schema, so a field added to an entity (or a column to a row) reaches this API
//! only when a view here says so.
//!
//! The names and doc comments are the document's (schema names and descriptions): changing
//! one changes `server/tests/it/snapshots/openapi.snap`.

use gatehouse_core::time_format::to_rfc3339;
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

/// A user's primary key. Integer, like Django's, so imported users keep their ids and seed
/// clients that read `user_id` as a number keep working.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[schema(value_type = i64, example = 42)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl From<gatehouse_core::domain::UserId> for UserId {
    fn from(id: gatehouse_core::domain::UserId) -> Self {
        UserId(id.0)
    }
}

// The description below is the document's, kept word for word (it predates the views).
/// A user account as every face sees it. The password hash never leaves the store in it.
/// Serialises as the canonical API shows a user (times in RFC 3339).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    #[schema(required = true)]
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    pub profession: String,
    pub bio: String,
    pub thoughts: String,
    pub profile_img: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Stored as Unix seconds; sent as RFC 3339.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub date_joined: i64,
    #[serde(serialize_with = "rfc3339_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_login: Option<i64>,
}

impl From<gatehouse_core::User> for User {
    fn from(user: gatehouse_core::User) -> Self {
        let gatehouse_core::User {
            id,
            email,
            username,
            first_name,
            last_name,
            country,
            profession,
            bio,
            thoughts,
            profile_img,
            is_active,
            is_verified,
            is_staff,
            is_superuser,
            date_joined,
            last_login,
        } = user;
        User {
            id: id.into(),
            email,
            username,
            first_name,
            last_name,
            country,
            profession,
            bio,
            thoughts,
            profile_img,
            is_active,
            is_verified,
            is_staff,
            is_superuser,
            date_joined,
            last_login,
        }
    }
}

fn rfc3339<S: Serializer>(unix: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&to_rfc3339(*unix))
}

fn rfc3339_option<S: Serializer>(unix: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match unix {
        Some(unix) => serializer.serialize_str(&to_rfc3339(*unix)),
        None => serializer.serialize_none(),
    }
}

/// The tokens an API login or refresh hands out.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// A JWT (HS256) to send as `Authorization: Bearer <access>`.
    pub access: String,
    /// Opaque; exchange it at `/api/v1/auth/token/refresh/` (every exchange rotates it).
    pub refresh: String,
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until `access` expires.
    pub expires_in: i64,
    /// `aal1` (password) or `aal2` (second factor verified).
    pub aal: String,
    pub mfa_required: bool,
}

impl From<gatehouse_core::sessions::TokenPair> for TokenPair {
    fn from(tokens: gatehouse_core::sessions::TokenPair) -> Self {
        let gatehouse_core::sessions::TokenPair { access, refresh, token_type, expires_in, aal, mfa_required } = tokens;
        TokenPair { access, refresh, token_type, expires_in, aal, mfa_required }
    }
}

/// What enrolment shows the user: scan the QR code, or type the secret.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// `otpauth://totp/<issuer>:<email>?secret=...&issuer=...`
    pub otpauth_url: String,
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The otpauth URL as a QR code, an SVG document.
    pub qr_svg: String,
}

impl From<gatehouse_core::two_factor::TotpEnrolment> for TotpEnrolment {
    fn from(enrolment: gatehouse_core::two_factor::TotpEnrolment) -> Self {
        let gatehouse_core::two_factor::TotpEnrolment { otpauth_url, secret, qr_svg } = enrolment;
        TotpEnrolment { otpauth_url, secret, qr_svg }
    }
}

/// Whether the second factor is on, since when, and how many recovery codes are left.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MfaStatus {
    pub totp_enabled: bool,
    /// RFC 3339, or null while off.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub totp_enabled_at: Option<String>,
    /// A device enrolled but not yet confirmed by a first code.
    pub totp_pending: bool,
    pub recovery_codes_left: i64,
}

impl From<gatehouse_core::two_factor::MfaStatus> for MfaStatus {
    fn from(status: gatehouse_core::two_factor::MfaStatus) -> Self {
        let gatehouse_core::two_factor::MfaStatus { totp_enabled, totp_enabled_at, totp_pending, recovery_codes_left } =
            status;
        MfaStatus { totp_enabled, totp_enabled_at, totp_pending, recovery_codes_left }
    }
}

/// Where a session came from: the JSON API (refresh token) or the web app (cookie).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    Api,
    Browser,
}

impl From<gatehouse_core::SessionKind> for SessionKind {
    fn from(kind: gatehouse_core::SessionKind) -> Self {
        match kind {
            gatehouse_core::SessionKind::Api => SessionKind::Api,
            gatehouse_core::SessionKind::Browser => SessionKind::Browser,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_shown_with_rfc3339_times_and_no_more_fields_than_the_view_names() {
        let user = gatehouse_core::User {
            id: gatehouse_core::domain::UserId(7),
            email: "ada@example.com".into(),
            username: None,
            first_name: "Ada".into(),
            last_name: String::new(),
            country: String::new(),
            profession: String::new(),
            bio: String::new(),
            thoughts: String::new(),
            profile_img: String::new(),
            is_active: true,
            is_verified: false,
            is_staff: false,
            is_superuser: false,
            date_joined: 0,
            last_login: None,
        };
        let shown = serde_json::to_value(User::from(user)).unwrap();
        assert_eq!(shown["id"], 7);
        assert_eq!(shown["date_joined"], "1970-01-01T00:00:00Z");
        assert!(shown["last_login"].is_null() && shown["username"].is_null());
        assert_eq!(shown.as_object().unwrap().len(), 16);
        assert_eq!(serde_json::to_value(SessionKind::from(gatehouse_core::SessionKind::Browser)).unwrap(), "browser");
    }
}
