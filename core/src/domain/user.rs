//! The user account, as the core works with it. No serde and no schema: each face sends its
//! own view of it (the JSON API's is `server/src/api/views.rs`), and the store reads it from
//! its own row (`store::users`), so a new column or a new field reaches no answer by accident.

use super::UserId;

/// A user account as every face sees it. The password hash never leaves the store in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
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
    /// Unix seconds.
    pub date_joined: i64,
    /// Unix seconds.
    pub last_login: Option<i64>,
}

impl User {
    /// What a new password must not resemble.
    pub fn personal_values(&self) -> Vec<&str> {
        let local = self.email.split('@').next().unwrap_or_default();
        [
            Some(self.email.as_str()),
            Some(local),
            self.username.as_deref(),
            Some(&self.first_name),
            Some(&self.last_name),
        ]
        .into_iter()
        .flatten()
        .filter(|v| !v.is_empty())
        .collect()
    }

    /// The name to show or put in a token: the username, else the email (Django's
    /// `email_as_username` clients expect exactly that).
    pub fn display_username(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.email)
    }
}
