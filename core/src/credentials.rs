//! Passwords after sign-up: change (signed in) and reset (by emailed link).

use crate::auth::Principal;
use crate::budgets::{ClientRequest, MailKind};
use crate::context::RequestContext;
use crate::domain::{Email, NewPassword, PasswordAttempt};
use crate::error::CoreError;
use crate::passwords::Verification;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::{self, Purpose};
use crate::store::users::{self, User};
use crate::store::{sessions, totp_devices};
use crate::Gatehouse;

impl Gatehouse {
    /// Checks a new password against the policy and the user's own details; errors are
    /// reported under `field`.
    pub fn check_new_password(&self, user: &User, raw: &str, field: &str) -> Result<NewPassword, CoreError> {
        self.password_policy().check(raw, &user.personal_values()).map_err(|messages| {
            let mut errors = crate::error::FieldErrorsBuilder::default();
            for m in messages {
                errors.add(field, m);
            }
            errors.finish().unwrap_err()
        })
    }

    /// Re-authentication for sensitive changes; a wrong password is a field error. Throttled
    /// like logins to the same account (see [`crate::throttle`]). Returns the stored hash the
    /// password matched, for a caller that must see it still stored once its change is made.
    pub(crate) async fn check_current_password(
        &self,
        user: &User,
        password: &PasswordAttempt,
    ) -> Result<Option<String>, CoreError> {
        let keys = crate::throttle::AttemptKeys::for_account(user.id);
        self.take_login_attempt(&keys).await?;
        let hash = users::password_hash(self.pool(), user.id).await?;
        // No legacy bound: the account is the caller's own, its existence no secret.
        match self.0.hasher.verify(hash.as_deref(), password.expose(), 0).await? {
            Verification::Match { .. } => self.clear_login_throttle(&keys).await.map(|()| hash),
            Verification::Mismatch => Err(CoreError::field("current_password", "Your current password is incorrect.")),
        }
    }

    /// Sets a new password; this session stays, every other one (and its access tokens) ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &PasswordAttempt,
        new_password: &NewPassword,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        self.check_current_password(&principal.user, current).await?;
        self.store_password(&principal.user, new_password, Some(&principal.session.id)).await?;
        self.send_password_changed_notice(&principal.user, "changed")?;
        audit::record(self.database(), Some(principal.user.id), EventKind::PasswordChanged, context, "").await?;
        Ok(())
    }

    /// Mails a reset link if the address has an active account; answers the same either way.
    pub async fn request_password_reset(&self, email: &Email, context: &RequestContext) -> Result<(), CoreError> {
        let base = self.settings().public_url();
        let link = move |uid: &str, token: &str| format!("{base}/reset-password?uid={uid}&token={token}");
        self.request_password_reset_linking(email, context, link).await
    }

    /// The same, the mail's link made by `link(uid, token)`: a client's own reset page
    /// (django_rest_jwt_auth's `PATH_TO_RESTORE`).
    pub async fn request_password_reset_linking(
        &self,
        email: &Email,
        context: &RequestContext,
        link: impl FnOnce(&str, &str) -> String + Send + 'static,
    ) -> Result<(), CoreError> {
        self.take_client_budget(ClientRequest::Mail, context).await?;
        let (email, context) = (email.clone(), context.clone());
        self.in_background("requesting a password reset", move |core| async move {
            let Some(user) = users::find_by_email(core.pool(), &email).await?.filter(|u| u.is_active) else {
                return Ok(());
            };
            if !core.mail_budget_allows(MailKind::Reset, &user.email).await? {
                return Ok(());
            }
            let ttl = core.settings().password_reset_ttl;
            let issued = core.issue_link(&user, Purpose::ResetPassword, ttl).await?;
            let url = link(&issued.uid, &issued.token);
            core.send_link_mail(&user, "reset_password", "Reset your password", &url, ttl)?;
            audit::record(core.database(), Some(user.id), EventKind::PasswordResetRequested, &context, "").await?;
            Ok(())
        });
        Ok(())
    }

    /// Sets the password from a reset link. The link works once; every session ends.
    pub async fn confirm_password_reset(
        &self,
        uid: &str,
        token: &str,
        new_password: &str,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        let (user_id, stored) = self.find_link(uid, token, Purpose::ResetPassword).await?;
        let user = users::find(self.pool(), user_id).await?.filter(|u| u.is_active).ok_or(CoreError::InvalidLink)?;
        // Check the password before using the link up, so a rejected password can be retried.
        let new_password = self.check_new_password(&user, new_password, "new_password")?;
        self.consume_link(&stored).await?;
        self.store_password(&user, &new_password, None).await?;
        self.send_password_changed_notice(&user, "reset with a link we mailed to this address")?;
        audit::record(self.database(), Some(user.id), EventKind::PasswordReset, context, "").await?;
        Ok(())
    }

    /// Hashes and stores the password, retires every emailed link (they were issued under
    /// the old credentials), and ends every session but `keep`.
    async fn store_password(&self, user: &User, password: &NewPassword, keep: Option<&str>) -> Result<(), CoreError> {
        let hash = self.0.hasher.hash(password.expose()).await?;
        users::set_password_hash(self.database(), user.id, &hash).await?;
        email_tokens::retire_every_purpose(self.database(), user.id).await?;
        // A new password is the way back in after too many wrong second-factor codes.
        totp_devices::clear_failures(self.database(), user.id).await?;
        sessions::revoke_all_for_user(self.database(), user.id, keep, "password_changed").await?;
        Ok(())
    }

    /// Tells the account's address that its password changed (`how`: "changed", "reset …",
    /// "set by an administrator"), with the way back if that was not its owner.
    pub(crate) fn send_password_changed_notice(&self, user: &User, how: &str) -> Result<(), CoreError> {
        let link = format!("{}/forgot-password", self.settings().public_url());
        let extra = serde_json::json!({ "how": how, "link": link });
        self.send_notice(user, "password_changed", "Your password was changed", extra)
    }
}
