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
//! While the database cannot be reached, an entry no write of this process has made stale
//! serves for up to `GATEHOUSE_PRINCIPAL_CACHE_OUTAGE_GRACE` (60 s by default) past its TTL,
//! whatever other processes' notifications (or their loss) say: callers that already proved
//! who they are keep working through a database restart. The price: a revocation made by
//! another process during that time is not seen here until the database is back.
//!
//! Two session fields move without counting as a change, because no decision is taken on
//! the cached copy of them: the last-used time and the refresh generation (a refresh is a
//! compare-and-set on the row itself).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::Changes;
use crate::domain::UserId;
use crate::principal::Principal;
use crate::store::users::User;

/// How many sessions the cache holds at most (the least used go first).
const CAPACITY: u64 = 100_000;

pub struct PrincipalCache {
    ttl: Duration,
    /// How long past `ttl` an entry serves while the database is unreachable.
    outage_grace: Duration,
    entries: Option<moka::sync::Cache<String, Arc<Entry<Principal>>>>,
    users: Option<moka::sync::Cache<i64, Arc<Entry<User>>>>,
    /// By user id: the new address waiting for its confirmation link, and until when.
    pending_emails: Option<moka::sync::Cache<i64, Arc<Entry<PendingEmail>>>>,
}

/// An email change under way: the new address and when its link expires.
type PendingEmail = Option<(String, i64)>;

struct Entry<T> {
    value: T,
    /// `Database::change_counts` when the value was read.
    changes: Changes,
    read_at: Instant,
}

impl<T> Entry<T> {
    fn new(value: T, changes: Changes) -> Arc<Self> {
        Arc::new(Self { value, changes, read_at: Instant::now() })
    }
}

/// Which entries a lookup may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No write since the read, within the TTL.
    Fresh(Changes),
    /// The database is unreachable: no write of this process since the read, within the TTL
    /// and the outage grace.
    Outage(Changes),
}

impl PrincipalCache {
    pub fn new(ttl: Duration, outage_grace: Duration) -> Self {
        let life = ttl + outage_grace;
        let (entries, users, pending_emails) =
            if ttl.is_zero() { (None, None, None) } else { (cache(life), cache(life), cache(life)) };
        Self { ttl, outage_grace, entries, users, pending_emails }
    }

    fn usable<T>(&self, entry: &Entry<T>, lookup: Lookup) -> bool {
        let age = entry.read_at.elapsed();
        match lookup {
            Lookup::Fresh(changes) => entry.changes.all == changes.all && age < self.ttl,
            Lookup::Outage(changes) => entry.changes.local == changes.local && age < self.ttl + self.outage_grace,
        }
    }

    /// The principal of `session_id` if the lookup may use its entry (see [`Lookup`]) and the
    /// session has not expired by `now`.
    pub fn get(&self, session_id: &str, lookup: Lookup, now: i64) -> Option<Principal> {
        let entry = self.entries.as_ref()?.get(session_id)?;
        (self.usable(&entry, lookup) && entry.value.session.expires_at > now).then(|| entry.value.clone())
    }

    /// Keeps `principal`, read from the database when the write counts were `changes` (taken
    /// before the reads, so a write that raced them leaves the entry stale).
    pub fn put(&self, principal: &Principal, changes: Changes) {
        if let Some(entries) = &self.entries {
            entries.insert(principal.session.id.clone(), Entry::new(principal.clone(), changes));
        }
    }

    /// The user `id` if read while the write counts were `changes`.
    pub fn user(&self, id: UserId, changes: Changes) -> Option<User> {
        let entry = self.users.as_ref()?.get(&id.0)?;
        self.usable(&entry, Lookup::Fresh(changes)).then(|| entry.value.clone())
    }

    /// Keeps `user`, read when the write counts were `changes` (taken before the read).
    pub fn put_user(&self, user: &User, changes: Changes) {
        if let Some(users) = &self.users {
            users.insert(user.id.0, Entry::new(user.clone(), changes));
        }
    }

    /// The user's pending email change (`Some(None)`: none), if the lookup may use its entry
    /// and its link has not expired by `now`.
    pub fn pending_email(&self, user_id: UserId, lookup: Lookup, now: i64) -> Option<Option<String>> {
        let entry = self.pending_emails.as_ref()?.get(&user_id.0)?;
        match &entry.value {
            _ if !self.usable(&entry, lookup) => None,
            Some((email, expires_at)) => (*expires_at > now).then(|| Some(email.clone())),
            None => Some(None),
        }
    }

    /// Keeps the user's pending email change (address and link expiry), read when the write
    /// counts were `changes`.
    pub fn put_pending_email(&self, user_id: UserId, pending: Option<(String, i64)>, changes: Changes) {
        if let Some(pending_emails) = &self.pending_emails {
            pending_emails.insert(user_id.0, Entry::new(pending, changes));
        }
    }
}

/// A cache whose entries live `ttl` at most.
fn cache<K, V>(ttl: Duration) -> Option<moka::sync::Cache<K, V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Some(moka::sync::Cache::builder().max_capacity(CAPACITY).time_to_live(ttl).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(expires_at: i64) -> Principal {
        Principal { user: crate::test_fixtures::user(), session: crate::test_fixtures::session(expires_at) }
    }

    fn counts(all: u64, local: u64) -> Changes {
        Changes { all, local }
    }

    fn fresh(n: u64) -> Lookup {
        Lookup::Fresh(counts(n, n))
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn an_entry_serves_only_until_the_next_write_or_its_session_expires() {
        let cache = PrincipalCache::new(MINUTE, MINUTE);
        cache.put(&principal(1000), counts(5, 5));
        assert!(cache.get("s1", fresh(5), 999).is_some());
        assert!(cache.get("s1", fresh(6), 999).is_none(), "a session or user was written since");
        assert!(cache.get("s1", Lookup::Fresh(counts(6, 5)), 999).is_none(), "another process wrote since");
        assert!(cache.get("s1", fresh(5), 1000).is_none(), "expired");
        assert!(cache.get("s2", fresh(5), 999).is_none());
    }

    #[test]
    fn in_an_outage_an_entry_serves_unless_this_process_wrote_since() {
        let cache = PrincipalCache::new(MINUTE, MINUTE);
        cache.put(&principal(1000), counts(5, 5));
        assert!(cache.get("s1", Lookup::Outage(counts(9, 5)), 999).is_some(), "notifications lost: still served");
        assert!(cache.get("s1", Lookup::Outage(counts(9, 6)), 999).is_none(), "a write here: never");
        assert!(cache.get("s1", Lookup::Outage(counts(9, 5)), 1000).is_none(), "the session expired");
        cache.put_pending_email(UserId(7), None, counts(5, 5));
        assert_eq!(cache.pending_email(UserId(7), Lookup::Outage(counts(9, 5)), 999), Some(None));
        assert_eq!(cache.pending_email(UserId(7), Lookup::Outage(counts(9, 6)), 999), None);
    }

    #[test]
    fn past_its_ttl_and_grace_an_entry_serves_nothing() {
        let tiny = Duration::from_millis(1);
        let cache = PrincipalCache::new(tiny, tiny);
        cache.put(&principal(1000), counts(5, 5));
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get("s1", fresh(5), 999).is_none());
        assert!(cache.get("s1", Lookup::Outage(counts(5, 5)), 999).is_none());
        let no_grace = PrincipalCache::new(MINUTE, Duration::ZERO);
        no_grace.put(&principal(1000), counts(5, 5));
        assert!(no_grace.get("s1", Lookup::Outage(counts(5, 5)), 999).is_some(), "within the TTL still");
    }

    #[test]
    fn a_user_serves_only_until_the_next_write() {
        let cache = PrincipalCache::new(MINUTE, MINUTE);
        let user = crate::test_fixtures::user();
        cache.put_user(&user, counts(5, 5));
        assert_eq!(cache.user(user.id, counts(5, 5)).map(|u| u.email), Some(user.email.clone()));
        assert!(cache.user(user.id, counts(6, 6)).is_none(), "a session or user was written since");
        assert!(cache.user(UserId(user.id.0 + 1), counts(5, 5)).is_none());
    }

    #[test]
    fn a_pending_email_serves_until_the_next_write_or_its_link_expires() {
        let cache = PrincipalCache::new(MINUTE, MINUTE);
        cache.put_pending_email(UserId(7), Some(("new@example.com".into(), 1000)), counts(5, 5));
        assert_eq!(cache.pending_email(UserId(7), fresh(5), 999), Some(Some("new@example.com".into())));
        assert_eq!(cache.pending_email(UserId(7), fresh(5), 1000), None, "the link expired: ask the database");
        assert_eq!(cache.pending_email(UserId(7), fresh(6), 999), None);
        cache.put_pending_email(UserId(8), None, counts(5, 5));
        assert_eq!(cache.pending_email(UserId(8), fresh(5), 999), Some(None));
        assert_eq!(cache.pending_email(UserId(9), fresh(5), 999), None);
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = PrincipalCache::new(Duration::ZERO, MINUTE);
        cache.put(&principal(1000), counts(5, 5));
        assert!(cache.get("s1", fresh(5), 999).is_none());
        assert!(cache.get("s1", Lookup::Outage(counts(5, 5)), 999).is_none());
    }
}
