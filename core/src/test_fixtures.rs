//! A user and a session for unit tests that need a principal but no database.

use crate::domain::UserId;
use crate::store::sessions::{Session, SessionKind};
use crate::store::users::User;

/// User 7, active and verified, no flags.
pub fn user() -> User {
    User {
        id: UserId(7),
        email: "a@example.com".into(),
        username: None,
        first_name: String::new(),
        last_name: String::new(),
        country: String::new(),
        profession: String::new(),
        bio: String::new(),
        thoughts: String::new(),
        profile_img: String::new(),
        is_active: true,
        is_verified: true,
        is_staff: false,
        is_superuser: false,
        date_joined: 0,
        last_login: None,
    }
}

/// Session `s1` of user 7: an aal1 API session that expires at `expires_at`.
pub fn session(expires_at: i64) -> Session {
    Session {
        id: "s1".into(),
        user_id: UserId(7),
        kind: SessionKind::Api,
        aal: "aal1".into(),
        amr: vec!["pwd".into()],
        otp_device_id: None,
        second_factor_pending: false,
        ip: String::new(),
        user_agent: String::new(),
        created_at: 0,
        last_used_at: 0,
        expires_at,
        refresh_generation: 0,
        rotated_at: None,
    }
}
