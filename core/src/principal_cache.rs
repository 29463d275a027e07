//! Live principals by session id, users by id, and each user's pending email change, so that
//! an authenticated request (`GET /api/v1/account/` included) does not go to the database and
//! a refresh reads nothing but the row it rotates.
//!
//! Exact within one process: an entry is used only while the database handle's write count
//! (`Database::changes`, which the session, user and email-token stores move after every write
//! but the once-a-minute `last_used_at` touch) stands where it stood before the entry was
//! read. So a
//! logout, a revoked session, logout-all, a password change or reset, a step-up, a profile,
//! flag or password change by an admin, a deactivation or a deletion makes every entry stale
//! at once, in the process that made it. Other processes on the same database see the change
//! when their entries expire: within `GATEHOUSE_PRINCIPAL_CACHE_TTL` (1 s by default; 0 turns
//! the cache off). On PostgreSQL every process also listens for the other processes' writes
//! (`crate::db::listen_for_changes`) and moves its write count when one arrives.
//!
//! Two session fields move without counting as a change, because no decision is taken on
//! the cached copy of them: the last-used time and the refresh generation (a refresh is a
//! compare-and-set on the row itself).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Principal;
use crate::domain::UserId;
use crate::store::users::User;

/// How many sessions the cache holds at most (the least used go first).
const CAPACITY: u64 = 100_000;

pub struct PrincipalCache {
    entries: Option<moka::sync::Cache<String, Arc<Entry<Principal>>>>,
    users: Option<moka::sync::Cache<i64, Arc<Entry<User>>>>,
    /// By user id: the new address waiting for its confirmation link, and until when.
    pending_emails: Option<moka::sync::Cache<i64, Arc<Entry<PendingEmail>>>>,
}

/// An email change under way: the new address and when its link expires.
type PendingEmail = Option<(String, i64)>;

struct Entry<T> {
    value: T,
    /// `Database::changes` when the value was read.
    changes: u64,
}

impl PrincipalCache {
    pub fn new(ttl: Duration) -> Self {
        Self { entries: cache(ttl), users: cache(ttl), pending_emails: cache(ttl) }
    }

    /// The principal of `session_id` if it was read while the write count was `changes` (no
    /// session or user has been written since) and the session has not expired by `now`.
    pub fn get(&self, session_id: &str, changes: u64, now: i64) -> Option<Principal> {
        let entry = self.entries.as_ref()?.get(session_id)?;
        (entry.changes == changes && entry.value.session.expires_at > now).then(|| entry.value.clone())
    }

    /// Keeps `principal`, read from the database when the write count was `changes` (taken
    /// before the reads, so a write that raced them leaves the entry stale).
    pub fn put(&self, principal: &Principal, changes: u64) {
        if let Some(entries) = &self.entries {
            let entry = Entry { value: principal.clone(), changes };
            entries.insert(principal.session.id.clone(), Arc::new(entry));
        }
    }

    /// The user `id` if read while the write count was `changes`.
    pub fn user(&self, id: UserId, changes: u64) -> Option<User> {
        let entry = self.users.as_ref()?.get(&id.0)?;
        (entry.changes == changes).then(|| entry.value.clone())
    }

    /// Keeps `user`, read when the write count was `changes` (taken before the read).
    pub fn put_user(&self, user: &User, changes: u64) {
        if let Some(users) = &self.users {
            users.insert(user.id.0, Arc::new(Entry { value: user.clone(), changes }));
        }
    }

    /// The user's pending email change (`Some(None)`: none), if read while the write count
    /// was `changes` and its link has not expired by `now`.
    pub fn pending_email(&self, user_id: UserId, changes: u64, now: i64) -> Option<Option<String>> {
        let entry = self.pending_emails.as_ref()?.get(&user_id.0)?;
        match &entry.value {
            _ if entry.changes != changes => None,
            Some((email, expires_at)) => (*expires_at > now).then(|| Some(email.clone())),
            None => Some(None),
        }
    }

    /// Keeps the user's pending email change (address and link expiry), read when the write
    /// count was `changes`.
    pub fn put_pending_email(&self, user_id: UserId, pending: Option<(String, i64)>, changes: u64) {
        if let Some(pending_emails) = &self.pending_emails {
            pending_emails.insert(user_id.0, Arc::new(Entry { value: pending, changes }));
        }
    }
}

/// A cache whose entries live `ttl`; none when `ttl` is zero.
fn cache<K, V>(ttl: Duration) -> Option<moka::sync::Cache<K, V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    (!ttl.is_zero()).then(|| moka::sync::Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(expires_at: i64) -> Principal {
        Principal { user: crate::test_fixtures::user(), session: crate::test_fixtures::session(expires_at) }
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
    fn a_user_serves_only_until_the_next_write() {
        let cache = PrincipalCache::new(Duration::from_secs(60));
        let user = crate::test_fixtures::user();
        cache.put_user(&user, 5);
        assert_eq!(cache.user(user.id, 5).map(|u| u.email), Some(user.email.clone()));
        assert!(cache.user(user.id, 6).is_none(), "a session or user was written since");
        assert!(cache.user(UserId(user.id.0 + 1), 5).is_none());
    }

    #[test]
    fn a_pending_email_serves_until_the_next_write_or_its_link_expires() {
        let cache = PrincipalCache::new(Duration::from_secs(60));
        cache.put_pending_email(UserId(7), Some(("new@example.com".into(), 1000)), 5);
        assert_eq!(cache.pending_email(UserId(7), 5, 999), Some(Some("new@example.com".into())));
        assert_eq!(cache.pending_email(UserId(7), 5, 1000), None, "the link expired: ask the database");
        assert_eq!(cache.pending_email(UserId(7), 6, 999), None);
        cache.put_pending_email(UserId(8), None, 5);
        assert_eq!(cache.pending_email(UserId(8), 5, 999), Some(None));
        assert_eq!(cache.pending_email(UserId(9), 5, 999), None);
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = PrincipalCache::new(Duration::ZERO);
        cache.put(&principal(1000), 5);
        assert!(cache.get("s1", 5, 999).is_none());
    }
}
