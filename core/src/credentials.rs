//! Passwords after sign-up: change (signed in) and reset (by emailed link).

use std::sync::Arc;

use crate::background::Background;
use crate::budgets::{Budgets, ClientRequest, MailKind};
use crate::config::Settings;
use crate::context::RequestContext;
use crate::db::Database;
use crate::domain::{Email, NewPassword, PasswordAttempt, PasswordPolicy};
use crate::error::{CoreError, FieldErrorsBuilder};
use crate::links::{LinkPage, Links};
use crate::notices::Notices;
use crate::passwords::{PasswordHasher, Verification};
use crate::principal::Principal;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::{self, Purpose, StoredToken};
use crate::store::users::{self, User};
use crate::store::{sessions, totp_devices};
use crate::throttle::Throttle;

/// A signed-in person's password change: the current password (only its size checked here;
/// [`Credentials::change_password`] checks it is right) and the new one, checked against the
/// policy and the person's own details.
#[derive(Debug)]
pub struct PasswordChange {
    pub current: PasswordAttempt,
    pub new_password: NewPassword,
}

impl PasswordChange {
    /// Reports every bad field at once, under `current_password` and `new_password` (a face
    /// whose form names them differently renames them, see [`CoreError::renaming_field`]).
    pub fn parse(user: &User, policy: &PasswordPolicy, current: &str, new_password: &str) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let current = errors.check("current_password", PasswordAttempt::parse(current));
        let new_password = errors.check("new_password", policy.check(new_password, &user.personal_values()));
        errors.finish()?;
        Ok(Self { current: current.unwrap(), new_password: new_password.unwrap() })
    }
}

/// Passwords after sign-up: the policy, the current password checked, a change, a reset.
#[derive(Clone)]
pub struct Credentials {
    pub(crate) db: Database,
    pub(crate) settings: Arc<Settings>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) policy: PasswordPolicy,
    pub(crate) throttle: Throttle,
    pub(crate) budgets: Budgets,
    pub(crate) links: Links,
    pub(crate) notices: Notices,
    pub(crate) background: Background,
}

impl Credentials {
    /// The password rules (for forms that check a password as it is typed).
    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Checks a new password against the policy and the user's own details; errors are
    /// reported under `field`.
    pub fn check_new_password(&self, user: &User, raw: &str, field: &str) -> Result<NewPassword, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let checked = errors.check(field, self.policy.check(raw, &user.personal_values()));
        errors.finish()?;
        Ok(checked.unwrap())
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
        self.throttle.take(&keys).await?;
        let hash = users::password_hash(&self.db.pool, user.id).await?;
        // No legacy bound: the account is the caller's own, its existence no secret.
        match self.hasher.verify(hash.as_deref(), password.expose(), 0).await? {
            Verification::Match { .. } => self.throttle.clear(&keys).await.map(|()| hash),
            Verification::Mismatch => Err(CoreError::field("current_password", "Your current password is incorrect.")),
        }
    }

    /// Sets a new password; this session stays, every other one (and its access tokens) ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        change: &PasswordChange,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        self.check_current_password(&principal.user, &change.current).await?;
        self.store_password(&principal.user, &change.new_password, Some(&principal.session.id), None).await?;
        self.notices.send_password_changed_notice(&principal.user, "changed")?;
        audit::record(&self.db, Some(principal.user.id), EventKind::PasswordChanged, context, "").await?;
        Ok(())
    }

    /// Mails a reset link opening `page` if the address has an active account; answers the
    /// same either way.
    pub async fn request_password_reset(
        &self,
        email: &Email,
        context: &RequestContext,
        page: LinkPage,
    ) -> Result<(), CoreError> {
        self.budgets.take_client(ClientRequest::Mail, context).await?;
        let (this, email, context) = (self.clone(), email.clone(), context.clone());
        self.background.spawn("requesting a password reset", async move {
            let Some(user) = users::find_by_email(&this.db.pool, &email).await?.filter(|u| u.is_active) else {
                return Ok(());
            };
            if !this.budgets.mail_allows(MailKind::Reset, &user.email).await? {
                return Ok(());
            }
            let ttl = this.settings.password_reset_ttl;
            let issued = this.links.issue(&user, Purpose::ResetPassword, ttl).await?;
            let url = page.url(&this.settings.public_url(), "/reset-password", &issued);
            this.notices.send_link_mail(&user, "reset_password", "Reset your password", &url, ttl)?;
            audit::record(&this.db, Some(user.id), EventKind::PasswordResetRequested, &context, "").await?;
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
        let (user_id, stored) = self.links.find(uid, token, Purpose::ResetPassword).await?;
        let user = users::find(&self.db.pool, user_id).await?.filter(|u| u.is_active).ok_or(CoreError::InvalidLink)?;
        // Check the password before using the link up, so a rejected password can be retried.
        let new_password = self.check_new_password(&user, new_password, "new_password")?;
        self.store_password(&user, &new_password, None, Some(&stored)).await?;
        self.notices.send_password_changed_notice(&user, "reset with a link we mailed to this address")?;
        audit::record(&self.db, Some(user.id), EventKind::PasswordReset, context, "").await?;
        Ok(())
    }

    /// Hashes the password, then in one transaction: uses up the reset `link` it came with,
    /// stores it, retires every emailed link (they were issued under the old credentials),
    /// clears the count of wrong second-factor codes, and ends every session but `keep`.
    async fn store_password(
        &self,
        user: &User,
        password: &NewPassword,
        keep: Option<&str>,
        link: Option<&StoredToken>,
    ) -> Result<(), CoreError> {
        let hash = self.hasher.hash(password.expose()).await?;
        let mut tx = self.db.begin().await?;
        if let Some(link) = link {
            self.links.consume(&mut tx, link).await?;
        }
        users::set_password_hash(&mut tx, user.id, &hash).await?;
        email_tokens::retire_every_purpose(&mut tx, user.id).await?;
        // A new password is the way back in after too many wrong second-factor codes.
        totp_devices::clear_failures(&mut tx, user.id).await?;
        sessions::revoke_all_for_user(&mut tx, user.id, keep, "password_changed").await?;
        tx.commit().await
    }
}
