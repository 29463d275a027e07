//! The person's own profile: editing it, and changing the email address, which takes effect
//! only when a link mailed to the new address is used (the old address is told at once).

use std::sync::Arc;

use crate::budgets::{Budgets, ClientRequest, MailKind};
use crate::clock::Clock;
use crate::config::Settings;
use crate::context::RequestContext;
use crate::credentials::Credentials;
use crate::db::Database;
use crate::domain::{Email, PasswordAttempt, ProfileChanges};
use crate::error::CoreError;
use crate::links::Links;
use crate::notices::Notices;
use crate::principal::Principal;
use crate::principal_cache::{Lookup, PrincipalCache};
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::{self, Purpose};
use crate::store::sessions;
use crate::store::users::{self, User, UserUpdate};

/// One's own profile and email address.
#[derive(Clone)]
pub struct Profiles {
    pub(crate) db: Database,
    pub(crate) clock: Clock,
    pub(crate) settings: Arc<Settings>,
    /// Also holds each user's pending email change (see [`crate::principal_cache`]).
    pub(crate) principals: Arc<PrincipalCache>,
    pub(crate) credentials: Credentials,
    pub(crate) budgets: Budgets,
    pub(crate) links: Links,
    pub(crate) notices: Notices,
}

impl Profiles {
    /// Applies the changes to the caller's profile; one history event names the fields.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        changes: &ProfileChanges,
        context: &RequestContext,
    ) -> Result<User, CoreError> {
        if changes.is_empty() {
            return Ok(principal.user.clone());
        }
        let update = UserUpdate { profile: Some(changes), ..Default::default() };
        let user = users::update(&self.db, principal.user.id, &update).await?.ok_or(CoreError::Unauthenticated)?;
        let detail = changes.field_names().join(", ");
        audit::record(&self.db, Some(user.id), EventKind::ProfileUpdated, context, &detail).await?;
        Ok(user)
    }

    /// Starts an email change: checks the current password (throttled like a login), mails a
    /// confirmation link to the new address and a notice to the current one.
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        new_email: &Email,
        current_password: &PasswordAttempt,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        let user = &principal.user;
        if new_email.as_str() == user.email {
            return Err(CoreError::field("email", "This is already your email address."));
        }
        self.budgets.take_client(ClientRequest::Mail, context).await?;
        let verified_hash = self.credentials.check_current_password(user, current_password).await?;
        if users::find_by_email(&self.db.pool, new_email).await?.is_some() {
            return Err(CoreError::Conflict(crate::error::Conflict::Email));
        }
        let ttl = self.settings.verification_token_ttl;
        let link = self.links.issue_for(user, new_email.as_str(), Purpose::ChangeEmail, ttl).await?;
        self.retire_if_credentials_changed(principal, verified_hash.as_deref()).await?;
        // Beyond the address's hourly share the answer is the same, and no mail goes out.
        if self.budgets.mail_allows(MailKind::EmailChange, new_email.as_str()).await? {
            let url = format!("{}/confirm-email?uid={}&token={}", self.settings.public_url(), link.uid, link.token);
            let subject = "Confirm your new email address";
            self.notices.send_link_mail_to(new_email.as_str(), user, "change_email", subject, &url, ttl)?;
            self.send_change_notice(user, new_email)?;
        }
        audit::record(&self.db, Some(user.id), EventKind::EmailChangeRequested, context, new_email.as_str()).await?;
        Ok(())
    }

    /// A password change or "log out everywhere" that ran while this request checked the
    /// password retired the account's links *before* this one was issued: the link would
    /// outlive the credentials it was asked under. Seen now (the hash or the session is not
    /// the one checked), the new link is retired too; a change that comes later retires it
    /// itself.
    async fn retire_if_credentials_changed(
        &self,
        principal: &Principal,
        verified_hash: Option<&str>,
    ) -> Result<(), CoreError> {
        let user = principal.user.id;
        let hash_now = users::password_hash(&self.db.pool, user).await?;
        let session_alive = sessions::find_active(&self.db, &principal.session.id).await?.is_some();
        if hash_now.as_deref() == verified_hash && session_alive {
            return Ok(());
        }
        email_tokens::retire_all(&self.db, user, Purpose::ChangeEmail).await?;
        Err(CoreError::Unauthenticated)
    }

    fn send_change_notice(&self, user: &User, new_email: &Email) -> Result<(), CoreError> {
        let link = format!("{}/security", self.settings.public_url());
        let extra = serde_json::json!({ "new_email": new_email.as_str(), "link": link });
        self.notices.send_notice(user, "email_change_notice", "Your email address is being changed", extra)
    }

    /// Uses the link from the new address: the account's email becomes that address (and
    /// counts as confirmed: the link reached it). Single use.
    pub async fn confirm_email_change(
        &self,
        uid: &str,
        token: &str,
        context: &RequestContext,
    ) -> Result<User, CoreError> {
        let (user_id, stored) = self.links.find(uid, token, Purpose::ChangeEmail).await?;
        let new_email = Email::parse(&stored.email).map_err(|_| CoreError::InvalidLink)?;
        let mut tx = self.db.begin().await?;
        self.links.consume(&mut tx, &stored).await?;
        tx.commit().await?;
        let update = UserUpdate { email: Some(&new_email), is_verified: Some(true), ..Default::default() };
        let before = users::find(&self.db.pool, user_id).await?.ok_or(CoreError::InvalidLink)?;
        let user = users::update(&self.db, user_id, &update).await?.ok_or(CoreError::InvalidLink)?;
        // Links sent to the old address (verification, reset) are not the account's any more.
        let mut tx = self.db.begin().await?;
        email_tokens::retire_every_purpose(&mut tx, user_id).await?;
        tx.commit().await?;
        self.notices.send_email_changed_notice(&before, &new_email)?;
        let detail = format!("{} -> {}", before.email, user.email);
        audit::record(&self.db, Some(user_id), EventKind::EmailChanged, context, &detail).await?;
        Ok(user)
    }

    /// Cancels the caller's pending email change: its link stops working. `NotFound` when
    /// no change is pending.
    pub async fn cancel_email_change(&self, principal: &Principal, context: &RequestContext) -> Result<(), CoreError> {
        let user_id = principal.user.id;
        if !email_tokens::retire_all(&self.db, user_id, Purpose::ChangeEmail).await? {
            return Err(CoreError::NotFound);
        }
        audit::record(&self.db, Some(user_id), EventKind::EmailChangeCancelled, context, "").await?;
        Ok(())
    }

    /// The address waiting for its confirmation link, if an email change is under way.
    pub async fn pending_email(&self, user: &User) -> Result<Option<String>, CoreError> {
        // Taken before the read, as for principals (see `crate::principal_cache`).
        let changes = self.db.change_counts();
        let now = self.clock.now_secs();
        let cached = |lookup| self.principals.pending_email(user.id, lookup, now);
        if self.db.recently_unreachable(crate::sessions::OUTAGE_RECHECK) {
            if let Some(cached) = cached(Lookup::Outage(changes)) {
                return Ok(cached);
            }
        }
        if let Some(cached) = cached(Lookup::Fresh(changes)) {
            return Ok(cached);
        }
        let live = match email_tokens::live_tokens(&self.db.pool, user.id, Purpose::ChangeEmail, now).await {
            Ok(live) => live,
            Err(CoreError::DatabaseUnavailable) => {
                self.db.note_unreachable();
                return cached(Lookup::Outage(changes)).ok_or(CoreError::DatabaseUnavailable);
            }
            Err(error) => return Err(error),
        };
        let pending = live.into_iter().next().map(|t| (t.email, t.expires_at));
        self.principals.put_pending_email(user.id, pending.clone(), changes);
        Ok(pending.map(|(email, _)| email))
    }
}
