//! Accounts: registration, email verification, and the account's own view.

use crate::auth::Principal;
use crate::budgets::{ClientRequest, MailKind};
use crate::context::RequestContext;
use crate::domain::{Email, NewPassword, PasswordAttempt, PasswordPolicy, UserId, Username};
use crate::error::{CoreError, FieldErrorsBuilder};
use crate::links::LinkPage;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::Purpose;
use crate::store::users::{self, NewUser, User};
use crate::Gatehouse;

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

impl Gatehouse {
    /// Creates the account and, when verification is required, emails the confirmation link.
    pub async fn register(&self, registration: Registration, context: &RequestContext) -> Result<User, CoreError> {
        self.register_linking(registration, context, LinkPage::Own).await
    }

    /// The same, the confirmation link opening `page` (see [`Gatehouse::link_page`]).
    // No email in the span: every line logged inside it would carry the address.
    #[tracing::instrument(skip_all)]
    pub async fn register_linking(
        &self,
        registration: Registration,
        context: &RequestContext,
        page: LinkPage,
    ) -> Result<User, CoreError> {
        self.take_client_budget(ClientRequest::SignUp, context).await?;
        let user =
            self.create_user(&registration, Privileges::default(), !self.settings().require_email_verification).await?;
        audit::record(self.database(), Some(user.id), EventKind::Registered, context, "").await?;
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
        if let Some(conflict) = users::already_taken(self.pool(), email, username).await? {
            return Err(conflict);
        }
        let hash = self.0.hasher.hash(registration.password.expose()).await?;
        users::insert(
            self.database(),
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
        if !self.mail_budget_allows(MailKind::Verification, &user.email).await? {
            return Ok(());
        }
        let ttl = self.settings().verification_token_ttl;
        let link = self.issue_link(user, Purpose::VerifyEmail, ttl).await?;
        let url = page.url(&self.settings().public_url(), "/verify-email", &link);
        self.send_link_mail(user, "verify_email", "Confirm your email address", &url, ttl)?;
        audit::record(self.database(), Some(user.id), EventKind::VerificationSent, context, "").await?;
        Ok(())
    }

    /// Renders the `template` mail with a link and queues it.
    pub(crate) fn send_link_mail(
        &self,
        user: &User,
        template: &str,
        subject: &str,
        url: &str,
        valid_for: std::time::Duration,
    ) -> Result<(), CoreError> {
        self.send_link_mail_to(&user.email, user, template, subject, url, valid_for)
    }

    /// The same, to an address that is not (yet) the account's.
    pub(crate) fn send_link_mail_to(
        &self,
        to: &str,
        user: &User,
        template: &str,
        subject: &str,
        url: &str,
        valid_for: std::time::Duration,
    ) -> Result<(), CoreError> {
        let mail = self
            .mailer()
            .render(
                template,
                to,
                subject,
                serde_json::json!({
                    "name": user.display_username(),
                    "link": url,
                    "valid_for": humantime::format_duration(valid_for).to_string(),
                }),
            )
            .map_err(|e| CoreError::internal("rendering a mail", e))?;
        self.mailer().send(mail);
        Ok(())
    }

    /// Renders the `template` notice to the account's address (its `name` plus `extra`) and
    /// queues it: mail that tells the owner what happened to the account.
    pub(crate) fn send_notice(
        &self,
        user: &User,
        template: &str,
        subject: &str,
        extra: serde_json::Value,
    ) -> Result<(), CoreError> {
        let mut context = serde_json::json!({ "name": user.display_username() });
        if let (Some(context), serde_json::Value::Object(extra)) = (context.as_object_mut(), extra) {
            context.extend(extra);
        }
        let mail = self
            .mailer()
            .render(template, &user.email, subject, context)
            .map_err(|e| CoreError::internal("rendering a mail", e))?;
        self.mailer().send(mail);
        Ok(())
    }

    /// Confirms the address if `token` is the live one for `uid`. Single use.
    pub async fn verify_email(&self, uid: &str, token: &str, context: &RequestContext) -> Result<User, CoreError> {
        let (user_id, stored) = self.find_link(uid, token, Purpose::VerifyEmail).await?;
        self.consume_link(&stored).await?;
        let user = users::find(self.pool(), user_id).await?.ok_or(CoreError::InvalidLink)?;
        if user.email != stored.email {
            // The address changed since the link was sent; confirming the old one means nothing.
            return Err(CoreError::InvalidLink);
        }
        users::mark_verified(self.database(), user_id).await?;
        audit::record(self.database(), Some(user_id), EventKind::EmailVerified, context, &user.email).await?;
        Ok(User { is_verified: true, ..user })
    }

    /// Sends a fresh link if the address belongs to an unconfirmed account. Answers the same
    /// either way, so it cannot be used to probe which addresses have accounts.
    pub async fn resend_verification(&self, email: &Email, context: &RequestContext) -> Result<(), CoreError> {
        self.resend_verification_linking(email, context, LinkPage::Own).await
    }

    /// The same, the link opening `page` (see [`Gatehouse::link_page`]).
    pub async fn resend_verification_linking(
        &self,
        email: &Email,
        context: &RequestContext,
        page: LinkPage,
    ) -> Result<(), CoreError> {
        self.take_client_budget(ClientRequest::Mail, context).await?;
        let (email, context) = (email.clone(), context.clone());
        self.in_background("resending a verification link", move |core| async move {
            if let Some(user) = users::find_by_email(core.pool(), &email).await? {
                if !user.is_verified && user.is_active {
                    core.send_verification(&user, &context, &page).await?;
                }
            }
            Ok(())
        });
        Ok(())
    }

    /// Runs work whose outcome the caller must not learn, even from the response time (answers
    /// that would otherwise tell whether an address has an account). Failures are logged.
    pub(crate) fn in_background<F, Fut>(&self, what: &'static str, work: F)
    where
        F: FnOnce(Gatehouse) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), CoreError>> + Send + 'static,
    {
        use tracing::Instrument;
        let core = self.clone();
        let task = async move {
            if let Err(error) = work(core).await {
                tracing::error!(%error, "{what} failed");
            }
        };
        // Tracked, so shutdown waits for it: a request answered 202 has its mail sent.
        self.0.background.spawn(task.instrument(tracing::Span::current()));
    }

    /// Deletes the caller's account after checking their password. Sessions, links and (later)
    /// devices go with it; audit rows keep the user id.
    pub async fn delete_account(
        &self,
        principal: &Principal,
        current_password: &PasswordAttempt,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        self.check_current_password(&principal.user, current_password).await?;
        users::delete(self.database(), principal.user.id).await?;
        audit::record(
            self.database(),
            Some(principal.user.id),
            EventKind::AccountDeleted,
            context,
            &principal.user.email,
        )
        .await?;
        Ok(())
    }

    pub async fn user(&self, id: UserId) -> Result<User, CoreError> {
        users::find(self.pool(), id).await?.ok_or(CoreError::NotFound)
    }
}
