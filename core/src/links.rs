//! Single-use links sent by email: `uid` (Django's uidb64 of the user id) plus a random token
//! of which only the SHA-256 is stored. Issuing a link retires the user's earlier links of the
//! same purpose; checking compares in constant time.

use std::time::Duration;

use crate::domain::UserId;
use crate::error::CoreError;
use crate::store::email_tokens::{self, Purpose, StoredToken};
use crate::store::users::User;
use crate::tokens::{constant_time_eq, random_token, token_hash};
use crate::Gatehouse;

pub struct IssuedLink {
    pub uid: String,
    pub token: String,
}

impl Gatehouse {
    pub(crate) async fn issue_link(
        &self,
        user: &User,
        purpose: Purpose,
        ttl: Duration,
    ) -> Result<IssuedLink, CoreError> {
        self.issue_link_for(user, &user.email, purpose, ttl).await
    }

    /// A link about `email`, which need not be the account's address yet (an email change).
    pub(crate) async fn issue_link_for(
        &self,
        user: &User,
        email: &str,
        purpose: Purpose,
        ttl: Duration,
    ) -> Result<IssuedLink, CoreError> {
        let token = random_token();
        let now = self.clock().now_secs();
        email_tokens::replace(self.pool(), user.id, purpose, &token_hash(&token), email, ttl.as_secs() as i64, now)
            .await?;
        Ok(IssuedLink { uid: user.id.to_uidb64(), token })
    }

    /// The live stored token matching `uid` + `token` (not yet consumed).
    pub(crate) async fn find_link(
        &self,
        uid: &str,
        token: &str,
        purpose: Purpose,
    ) -> Result<(UserId, StoredToken), CoreError> {
        let user_id = UserId::from_uidb64(uid).ok_or(CoreError::InvalidLink)?;
        let presented = token_hash(token.trim());
        let live = email_tokens::live_tokens(self.pool(), user_id, purpose, self.clock().now_secs()).await?;
        let found =
            live.into_iter().find(|t| constant_time_eq(&t.token_hash, &presented)).ok_or(CoreError::InvalidLink)?;
        Ok((user_id, found))
    }

    /// Uses the link up; fails if a concurrent request used it first.
    pub(crate) async fn consume_link(&self, stored: &StoredToken) -> Result<(), CoreError> {
        if email_tokens::consume(self.pool(), stored.id).await? {
            Ok(())
        } else {
            Err(CoreError::InvalidLink)
        }
    }
}
