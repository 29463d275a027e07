//! The person's own profile: editing it, and changing the email address, which takes effect
//! only when a link mailed to the new address is used (the old address is told at once).

use crate::auth::Principal;
use crate::context::RequestContext;
use crate::domain::{Email, PasswordAttempt, ProfileChanges};
use crate::error::CoreError;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::{self, Purpose};
use crate::store::users::{self, User, UserUpdate};
use crate::Gatehouse;

impl Gatehouse {
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
        let user =
            users::update(self.database(), principal.user.id, &update).await?.ok_or(CoreError::Unauthenticated)?;
        let detail = changes.field_names().join(", ");
        audit::record(self.database(), Some(user.id), EventKind::ProfileUpdated, context, &detail).await?;
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
        self.check_current_password(user, current_password).await?;
        if users::find_by_email(self.pool(), new_email).await?.is_some() {
            return Err(CoreError::Conflict {
                message: "A user with that email already exists.".into(),
                fields: [("email".to_string(), vec!["A user with that email already exists.".to_string()])].into(),
            });
        }
        let ttl = self.settings().verification_token_ttl;
        let link = self.issue_link_for(user, new_email.as_str(), Purpose::ChangeEmail, ttl).await?;
        let url = format!("{}/confirm-email?uid={}&token={}", self.settings().public_url(), link.uid, link.token);
        self.send_link_mail_to(new_email.as_str(), user, "change_email", "Confirm your new email address", &url, ttl)?;
        self.send_change_notice(user, new_email)?;
        audit::record(self.database(), Some(user.id), EventKind::EmailChangeRequested, context, new_email.as_str())
            .await?;
        Ok(())
    }

    fn send_change_notice(&self, user: &User, new_email: &Email) -> Result<(), CoreError> {
        let mail = self
            .mailer()
            .render(
                "email_change_notice",
                &user.email,
                "Your email address is being changed",
                serde_json::json!({
                    "name": user.display_username(),
                    "new_email": new_email.as_str(),
                    "link": format!("{}/security", self.settings().public_url()),
                }),
            )
            .map_err(|e| CoreError::internal("rendering a mail", e))?;
        self.mailer().send(mail);
        Ok(())
    }

    /// Uses the link from the new address: the account's email becomes that address (and
    /// counts as confirmed: the link reached it). Single use.
    pub async fn confirm_email_change(
        &self,
        uid: &str,
        token: &str,
        context: &RequestContext,
    ) -> Result<User, CoreError> {
        let (user_id, stored) = self.find_link(uid, token, Purpose::ChangeEmail).await?;
        let new_email = Email::parse(&stored.email).map_err(|_| CoreError::InvalidLink)?;
        self.consume_link(&stored).await?;
        let update = UserUpdate { email: Some(&new_email), is_verified: Some(true), ..Default::default() };
        let before = users::find(self.pool(), user_id).await?.ok_or(CoreError::InvalidLink)?;
        let user = users::update(self.database(), user_id, &update).await?.ok_or(CoreError::InvalidLink)?;
        // Links sent to the old address (verification, reset) are not the account's any more.
        email_tokens::retire_all(self.database(), user_id, Purpose::ResetPassword).await?;
        email_tokens::retire_all(self.database(), user_id, Purpose::VerifyEmail).await?;
        let detail = format!("{} -> {}", before.email, user.email);
        audit::record(self.database(), Some(user_id), EventKind::EmailChanged, context, &detail).await?;
        Ok(user)
    }

    /// The address waiting for its confirmation link, if an email change is under way.
    pub async fn pending_email(&self, user: &User) -> Result<Option<String>, CoreError> {
        // Taken before the read, as for principals (see `crate::principal_cache`).
        let changes = self.database().changes();
        let now = self.clock().now_secs();
        if let Some(cached) = self.0.principals.pending_email(user.id, changes, now) {
            return Ok(cached);
        }
        let live = email_tokens::live_tokens(self.pool(), user.id, Purpose::ChangeEmail, now).await?;
        let pending = live.into_iter().next().map(|t| (t.email, t.expires_at));
        self.0.principals.put_pending_email(user.id, pending.clone(), changes);
        Ok(pending.map(|(email, _)| email))
    }
}
