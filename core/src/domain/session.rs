//! A login, as the core works with it (no serde: the faces show sessions through their own
//! views; the store reads it from its own row, `store::sessions`).

use super::UserId;

/// Where a session came from: the JSON API (refresh token) or the web app (cookie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Api,
    Browser,
}

/// One login. Access tokens name it in `sid` and die with it.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub user_id: UserId,
    pub kind: SessionKind,
    pub aal: String,
    pub amr: Vec<String>,
    pub otp_device_id: Option<i64>,
    /// A password login of a user with a confirmed device, before the second step: such a
    /// session may only complete the second step, refresh and log out.
    pub second_factor_pending: bool,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    /// The generation of the current refresh token (API sessions).
    pub refresh_generation: i64,
    pub rotated_at: Option<i64>,
}
