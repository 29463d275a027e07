//! Live principals by session id, so that an authenticated request does not go to the
//! database for its session and its user.
//!
//! Exact within one process: an entry is used only while the database handle's write count
//! (`Database::changes`, which the session and user stores move after every write but the
//! once-a-minute `last_used_at` touch) stands where it stood before the entry was read. So a
//! logout, a revoked session, logout-all, a password change or reset, a step-up, a profile,
//! flag or password change by an admin, a deactivation or a deletion makes every entry stale
//! at once, in the process that made it. Other processes on the same database see the change
//! when their entries expire: within `GATEHOUSE_PRINCIPAL_CACHE_TTL` (1 s by default; 0 turns
//! the cache off).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Principal;

/// How many sessions the cache holds at most (the least used go first).
const CAPACITY: u64 = 100_000;

pub struct PrincipalCache {
    entries: Option<moka::sync::Cache<String, Arc<Entry>>>,
}

struct Entry {
    principal: Principal,
    /// `Database::changes` when the principal was read.
    changes: u64,
}

impl PrincipalCache {
    pub fn new(ttl: Duration) -> Self {
        let entries =
            (!ttl.is_zero()).then(|| moka::sync::Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build());
        Self { entries }
    }

    /// The principal of `session_id` if it was read while the write count was `changes` (no
    /// session or user has been written since) and the session has not expired by `now`.
    pub fn get(&self, session_id: &str, changes: u64, now: i64) -> Option<Principal> {
        let entry = self.entries.as_ref()?.get(session_id)?;
        (entry.changes == changes && entry.principal.session.expires_at > now).then(|| entry.principal.clone())
    }

    /// Keeps `principal`, read from the database when the write count was `changes` (taken
    /// before the reads, so a write that raced them leaves the entry stale).
    pub fn put(&self, principal: &Principal, changes: u64) {
        if let Some(entries) = &self.entries {
            let entry = Entry { principal: principal.clone(), changes };
            entries.insert(principal.session.id.clone(), Arc::new(entry));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;
    use crate::store::sessions::{Session, SessionKind};
    use crate::store::users::User;

    fn principal(expires_at: i64) -> Principal {
        let user = User {
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
        };
        let session = Session {
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
        };
        Principal { user, session }
    }

    #[test]
    fn an_entry_serves_only_until_the_next_write_or_its_session_expires() {
        let cache = PrincipalCache::new(Duration::from_secs(60));
        cache.put(&principal(1000), 5);
        assert!(cache.get("s1", 5, 999).is_some());
        assert!(cache.get("s1", 6, 999).is_none(), "a session or user was written since");
        assert!(cache.get("s1", 5, 1000).is_none(), "expired");
        assert!(cache.get("s2", 5, 999).is_none());
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = PrincipalCache::new(Duration::ZERO);
        cache.put(&principal(1000), 5);
        assert!(cache.get("s1", 5, 999).is_none());
    }
}
