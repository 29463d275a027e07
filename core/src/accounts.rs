//! Accounts: registration, email verification, and the account's own view.

use std::sync::Arc;

use crate::background::Background;
use crate::budgets::{Budgets, ClientRequest, MailKind};
use crate::config::Settings;
use crate::context::RequestContext;
use crate::credentials::Credentials;
use crate::db::Database;
use crate::domain::{Email, NewPassword, PasswordAttempt, PasswordPolicy, UserId, Username};
use crate::error::{CoreError, FieldErrorsBuilder};
use crate::links::{LinkPage, Links};
use crate::notices::Notices;
use crate::passwords::PasswordHasher;
use crate::principal::Principal;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::Purpose;
use crate::store::users::{self, NewUser, User};

/// A sign-up, every field checked.
#[derive(Debug)]
pub struct Registration {
    pub email: Email,
    pub username: Option<Username>,
    pub password: NewPassword,
}

impl Registration {
    /// Parses the raw form, reporting every bad field at once.
    pub fn parse(
        email: &str,
        username: Option<&str>,
        password: &str,
        policy: &PasswordPolicy,
    ) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let email = errors.check("email", Email::parse(email));
        let username = match username.map(str::trim).filter(|u| !u.is_empty()) {
            Some(raw) => errors.check("username", Username::parse(raw)).map(Some),
            None => Some(None),
        };
        let mut personal: Vec<&str> = Vec::new();
        if let Some(e) = &email {
            personal.extend([e.as_str(), e.local_part()]);
        }
        if let Some(Some(u)) = &username {
            personal.push(u.as_str());
        }
        let password = errors.check("password", policy.check(password, &personal));
        errors.finish()?;
        Ok(Self { email: email.unwrap(), username: username.unwrap(), password: password.unwrap() })
    }
}

/// Who may be made a staff member or superuser (CLI `createsuperuser`, later the admin API).
#[derive(Clone, Copy, Debug, Default)]
pub struct Privileges {
    pub is_staff: bool,
    pub is_superuser: bool,
}

/// Accounts: signing up, confirming the address, closing one's own account.
#[derive(Clone)]
pub struct Accounts {
    pub(crate) db: Database,
    pub(crate) settings: Arc<Settings>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) credentials: Credentials,
    pub(crate) budgets: Budgets,
    pub(crate) links: Links,
    pub(crate) notices: Notices,
    pub(crate) background: Background,
}

impl Accounts {
    /// Creates the account and, when verification is required, emails the confirmation
    /// link, which opens `page` (see [`Links::page`]).
    // No email in the span: every line logged inside it would carry the address.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        registration: Registration,
        context: &RequestContext,
        page: LinkPage,
    ) -> Result<User, CoreError> {
        self.budgets.take_client(ClientRequest::SignUp, context).await?;
        let user =
            self.create_user(&registration, Privileges::default(), !self.settings.require_email_verification).await?;
        audit::record(&self.db, Some(user.id), EventKind::Registered, context, "").await?;
        if !user.is_verified {
            self.send_verification(&user, context, &page).await?;
        }
        Ok(user)
    }

    /// Creates an account directly (no mail): the CLI and, later, the admin pages.
    pub async fn create_user(
        &self,
        registration: &Registration,
        privileges: Privileges,
        verified: bool,
    ) -> Result<User, CoreError> {
        let (email, username) = (&registration.email, registration.username.as_ref());
        if let Some(conflict) = users::already_taken(&self.db.pool, email, username).await? {
            return Err(conflict);
        }
        let hash = self.hasher.hash(registration.password.expose()).await?;
        users::insert(
            &self.db,
            NewUser {
                email: &registration.email,
                username: registration.username.as_ref(),
                password_hash: &hash,
                is_verified: verified,
                is_staff: privileges.is_staff || privileges.is_superuser,
                is_superuser: privileges.is_superuser,
            },
        )
        .await
    }

    /// Issues a new link (retiring earlier ones) and mails it, unless the address had its
    /// hourly share of verification mails (see [`crate::budgets`]).
    async fn send_verification(&self, user: &User, context: &RequestContext, page: &LinkPage) -> Result<(), CoreError> {
        if !self.budgets.mail_allows(MailKind::Verification, &user.email).await? {
            return Ok(());
        }
        let ttl = self.settings.verification_token_ttl;
        let link = self.links.issue(user, Purpose::VerifyEmail, ttl).await?;
        let url = page.url(&self.settings.public_url(), "/verify-email", &link);
        self.notices.send_link_mail(user, "verify_email", "Confirm your email address", &url, ttl)?;
        audit::record(&self.db, Some(user.id), EventKind::VerificationSent, context, "").await?;
        Ok(())
    }

    /// Confirms the address if `token` is the live one for `uid`. Single use.
    pub async fn verify_email(&self, uid: &str, token: &str, context: &RequestContext) -> Result<User, CoreError> {
        let (user_id, stored) = self.links.find(uid, token, Purpose::VerifyEmail).await?;
        let user = users::find(&self.db.pool, user_id).await?.ok_or(CoreError::InvalidLink)?;
        let mut tx = self.db.begin().await?;
        self.links.consume(&mut tx, &stored).await?;
        if user.email != stored.email {
            // The address changed since the link was sent; confirming the old one means nothing.
            tx.commit().await?;
            return Err(CoreError::InvalidLink);
        }
        users::mark_verified(&mut tx, user_id).await?;
        tx.commit().await?;
        audit::record(&self.db, Some(user_id), EventKind::EmailVerified, context, &user.email).await?;
        Ok(User { is_verified: true, ..user })
    }

    /// Sends a fresh link, opening `page`, if the address belongs to an unconfirmed account.
    /// Answers the same either way, so it cannot be used to probe which addresses have
    /// accounts.
    pub async fn resend_verification(
        &self,
        email: &Email,
        context: &RequestContext,
        page: LinkPage,
    ) -> Result<(), CoreError> {
        self.budgets.take_client(ClientRequest::Mail, context).await?;
        let (this, email, context) = (self.clone(), email.clone(), context.clone());
        self.background.spawn("resending a verification link", async move {
            if let Some(user) = users::find_by_email(&this.db.pool, &email).await? {
                if !user.is_verified && user.is_active {
                    this.send_verification(&user, &context, &page).await?;
                }
            }
            Ok(())
        });
        Ok(())
    }

    /// Deletes the caller's account after checking their password. Sessions, links and (later)
    /// devices go with it; audit rows keep the user id.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        current_password: &PasswordAttempt,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        self.credentials.check_current_password(&principal.user, current_password).await?;
        users::delete(&self.db, principal.user.id).await?;
        audit::record(&self.db, Some(principal.user.id), EventKind::AccountDeleted, context, &principal.user.email)
            .await?;
        Ok(())
    }

    pub async fn user(&self, id: UserId) -> Result<User, CoreError> {
        users::find(&self.db.pool, id).await?.ok_or(CoreError::NotFound)
    }
}
