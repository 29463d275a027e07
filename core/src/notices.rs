//! Mail that tells the owner what happened to their account, and mail that carries a link.
//! Each template's context is assembled here, once.

use std::sync::Arc;

use crate::config::Settings;
use crate::domain::Email;
use crate::error::CoreError;
use crate::mail::Mailer;
use crate::store::users::User;

#[derive(Clone)]
pub struct Notices {
    mailer: Mailer,
    settings: Arc<Settings>,
}

impl Notices {
    pub(crate) fn new(mailer: Mailer, settings: Arc<Settings>) -> Self {
        Self { mailer, settings }
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
        let context = serde_json::json!({
            "name": user.display_username(),
            "link": url,
            "valid_for": humantime::format_duration(valid_for).to_string(),
        });
        self.queue(template, to, subject, context)
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
        self.queue(template, &user.email, subject, context)
    }

    fn queue(&self, template: &str, to: &str, subject: &str, context: serde_json::Value) -> Result<(), CoreError> {
        let mail = self
            .mailer
            .render(template, to, subject, context)
            .map_err(|e| CoreError::internal("rendering a mail", e))?;
        self.mailer.send(mail);
        Ok(())
    }

    /// The page to start a password reset from, for notices that say "if this was not you".
    pub(crate) fn forgot_password_link(&self) -> String {
        format!("{}/forgot-password", self.settings.public_url())
    }

    /// Tells the account's address that its password changed (`how`: "changed", "reset …",
    /// "set by an administrator"), with the way back if that was not its owner.
    pub(crate) fn send_password_changed_notice(&self, user: &User, how: &str) -> Result<(), CoreError> {
        let extra = serde_json::json!({ "how": how, "link": self.forgot_password_link() });
        self.send_notice(user, "password_changed", "Your password was changed", extra)
    }

    /// Tells the address an account just left that it left, and where to turn if that was
    /// not its owner (who can no longer reset the password by mail).
    pub(crate) fn send_email_changed_notice(&self, before: &User, new_email: &Email) -> Result<(), CoreError> {
        let extra = serde_json::json!({
            "new_email": masked_address(new_email.as_str()),
            "site_url": self.settings.public_url(),
        });
        self.send_notice(before, "email_changed", "Your email address was changed", extra)
    }
}

/// An address with most of it hidden (`alice@example.com` → `a***e@e***e.com`), for a mail to
/// someone who may not be entitled to learn it: enough to recognise one's own address.
pub fn masked_address(address: &str) -> String {
    fn mask(part: &str) -> String {
        let chars: Vec<char> = part.chars().collect();
        match chars.as_slice() {
            [] => String::new(),
            [only] => format!("{only}***"),
            [first, .., last] => format!("{first}***{last}"),
        }
    }
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let (host, suffix) = domain.rsplit_once('.').map_or((domain, String::new()), |(h, s)| (h, format!(".{s}")));
    format!("{}@{}{suffix}", mask(local), mask(host))
}

#[cfg(test)]
mod tests {
    use super::masked_address;

    #[test]
    fn masked_addresses_keep_only_the_ends_and_the_top_level_domain() {
        assert_eq!(masked_address("alice@example.com"), "a***e@e***e.com");
        assert_eq!(masked_address("x@mail.example.org"), "x***@m***e.org");
        assert_eq!(masked_address("bob@localhost"), "b***b@l***t");
        assert!(!masked_address("mallory@evil.test").contains("mallory"));
    }
}
