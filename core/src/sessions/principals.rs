//! The principal behind a presented credential (an access token, a browser session), from
//! the principal cache while it is exact, else from the database.

use super::{Sessions, OUTAGE_RECHECK};
use crate::db::Changes;
use crate::domain::UserId;
use crate::error::CoreError;
use crate::principal::Principal;
use crate::principal_cache::Lookup;
use crate::store::sessions;
use crate::store::users::{self, User};

impl Sessions {
    /// The principal behind an access token: valid signature and expiry, AND a session that is
    /// still alive, AND an active user. Checked on every request, so revocation is immediate.
    pub async fn authenticate_access_token(&self, token: &str) -> Result<Principal, CoreError> {
        let claims = self.jwt.verify(token, self.clock.now_secs()).ok_or(CoreError::Unauthenticated)?;
        self.principal_of_claims(&claims).await
    }

    /// The principal behind verified claims: a live session that still has the token's aal.
    pub(super) async fn principal_of_claims(
        &self,
        claims: &crate::tokens::AccessClaims,
    ) -> Result<Principal, CoreError> {
        let principal = self.authenticate_session(&claims.sid).await?;
        // A token issued before the session stepped up (or down) is not the session's any more.
        if principal.user.id.0 != claims.user_id || principal.session.aal != claims.aal {
            return Err(CoreError::Unauthenticated);
        }
        Ok(principal)
    }

    /// The principal behind an access token, and when the token expires (Unix seconds).
    pub async fn inspect_access_token(&self, token: &str) -> Result<(Principal, i64), CoreError> {
        let claims = self.jwt.verify(token, self.clock.now_secs()).ok_or(CoreError::Unauthenticated)?;
        Ok((self.principal_of_claims(&claims).await?, claims.exp))
    }

    /// The principal behind a session id (the web app keeps it in the cookie session).
    /// Answered from the principal cache while no session or user was written since it was
    /// read (see [`crate::principal_cache`]), else from the database.
    pub async fn authenticate_session(&self, session_id: &str) -> Result<Principal, CoreError> {
        // Taken before the reads: a write that races them leaves what they read stale.
        let changes = self.db.change_counts();
        let now = self.clock.now_secs();
        if self.db.recently_unreachable(OUTAGE_RECHECK) {
            // Known down a moment ago: what the cache can answer it answers without a wait.
            if let Some(cached) = self.principals.get(session_id, Lookup::Outage(changes), now) {
                return Ok(cached);
            }
        }
        let mut principal = match self.principals.get(session_id, Lookup::Fresh(changes), now) {
            Some(cached) => cached,
            None => match self.read_principal(session_id, changes).await {
                Ok(principal) => principal,
                Err(CoreError::DatabaseUnavailable) => {
                    self.db.note_unreachable();
                    let cached = self.principals.get(session_id, Lookup::Outage(changes), now);
                    return cached.ok_or(CoreError::DatabaseUnavailable);
                }
                Err(error) => return Err(error),
            },
        };
        match sessions::touch(&self.db, &principal.session).await {
            Ok(Some(touched_at)) => {
                principal.session.last_used_at = touched_at;
                self.principals.put(&principal, changes);
            }
            Ok(None) => {}
            // Bookkeeping only: the caller proved who they are.
            Err(CoreError::DatabaseUnavailable) => self.db.note_unreachable(),
            Err(error) => return Err(error),
        }
        Ok(principal)
    }

    /// The principal of a live session, read from the database (and kept in the cache).
    async fn read_principal(&self, session_id: &str, changes: Changes) -> Result<Principal, CoreError> {
        let session = sessions::find_active(&self.db, session_id).await?.ok_or(CoreError::Unauthenticated)?;
        let user = self.active_user_as_of(session.user_id, changes).await?;
        let principal = Principal { user, session };
        self.principals.put(&principal, changes);
        Ok(principal)
    }

    /// The user if still active, from the principal cache while no user was written since.
    pub(super) async fn active_user(&self, id: UserId) -> Result<User, CoreError> {
        self.active_user_as_of(id, self.db.change_counts()).await
    }

    /// The same with the write count taken by the caller before its own reads.
    async fn active_user_as_of(&self, id: UserId, changes: Changes) -> Result<User, CoreError> {
        let user = match self.principals.user(id, changes) {
            Some(user) => user,
            None => {
                let user = users::find(&self.db.pool, id).await?.ok_or(CoreError::Unauthenticated)?;
                self.principals.put_user(&user, changes);
                user
            }
        };
        if user.is_active {
            Ok(user)
        } else {
            Err(CoreError::Unauthenticated)
        }
    }
}
