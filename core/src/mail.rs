//! Outgoing mail: SMTP through lettre when configured, otherwise the console plus an outbox
//! folder of `.eml` files. Sending happens in the background with retries, so a slow or
//! failing mail server never fails (or times) the request that asked for the mail.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::Address;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use serde::Serialize;

use crate::config::{Settings, SmtpTls};

/// Attempts per message before it is given up and written to `outbox/failed/`.
const SMTP_ATTEMPTS: u32 = 4;

#[derive(Clone)]
pub struct Mailer {
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    outbox: Option<PathBuf>,
    /// Messages accepted for SMTP and not yet delivered; they survive a shutdown here.
    pending_dir: PathBuf,
    failed_dir: PathBuf,
    /// Background work of the core (deliveries among it), so shutdown can wait for it.
    deliveries: tokio_util::task::TaskTracker,
    from: Mailbox,
    site_name: String,
    templates: std::sync::Arc<Environment<'static>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP settings (GATEHOUSE_SMTP_HOST): {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("invalid GATEHOUSE_MAIL_FROM: {0}")]
    From(#[from] lettre::address::AddressError),
    #[error("mail template error: {0}")]
    Template(#[from] minijinja::Error),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("a message in outbox/pending has no readable recipient: {0}")]
    Unreadable(String),
}

/// A rendered message, ready to deliver.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Every mail, as text and HTML, compiled into the binary.
const MAIL_TEMPLATES: [(&str, &str); 8] = [
    ("verify_email.html", include_str!("../templates/mail/verify_email.html")),
    ("verify_email.txt", include_str!("../templates/mail/verify_email.txt")),
    ("reset_password.html", include_str!("../templates/mail/reset_password.html")),
    ("reset_password.txt", include_str!("../templates/mail/reset_password.txt")),
    ("change_email.html", include_str!("../templates/mail/change_email.html")),
    ("change_email.txt", include_str!("../templates/mail/change_email.txt")),
    ("email_change_notice.html", include_str!("../templates/mail/email_change_notice.html")),
    ("email_change_notice.txt", include_str!("../templates/mail/email_change_notice.txt")),
];

impl Mailer {
    /// `background` tracks the deliveries, so shutdown can wait for them.
    pub fn new(settings: &Settings, background: tokio_util::task::TaskTracker) -> Result<Self, MailError> {
        let smtp = settings.smtp().as_ref().map(build_transport).transpose()?;
        let outbox = (smtp.is_none() || settings.mail_outbox_always).then(|| settings.outbox_dir());
        let mut templates = Environment::new();
        templates.add_template("base.html", include_str!("../templates/mail/base.html"))?;
        for (name, source) in MAIL_TEMPLATES {
            templates.add_template(name, source)?;
        }
        Ok(Self {
            smtp,
            outbox,
            pending_dir: settings.outbox_dir().join("pending"),
            failed_dir: settings.outbox_dir().join("failed"),
            deliveries: background,
            from: settings.mail_from.parse()?,
            site_name: settings.site_name.clone(),
            templates: std::sync::Arc::new(templates),
        })
    }

    /// Renders `<name>.txt` and `<name>.html` with `context` plus `site_name` and `subject`.
    pub fn render(
        &self,
        name: &str,
        to: &str,
        subject: &str,
        context: impl Serialize,
    ) -> Result<OutgoingMail, MailError> {
        let ctx = minijinja::context! { site_name => &self.site_name, subject => subject, ..minijinja::Value::from_serialize(&context) };
        Ok(OutgoingMail {
            to: to.to_string(),
            subject: format!("{} – {subject}", self.site_name),
            text: self.templates.get_template(&format!("{name}.txt"))?.render(&ctx)?,
            html: self.templates.get_template(&format!("{name}.html"))?.render(&ctx)?,
        })
    }

    /// Queues the message: it is delivered in the background, and a failure is logged (and
    /// the message kept in `outbox/failed/`), never lost silently.
    pub fn send(&self, mail: OutgoingMail) {
        use tracing::Instrument;
        let mailer = self.clone();
        let delivery = async move {
            if let Err(error) = mailer.deliver(&mail).await {
                tracing::error!(%error, "mail delivery failed");
            }
        };
        self.deliveries.spawn(delivery.instrument(tracing::Span::current()));
    }

    /// Delivers now (used by `send` and by `gatehouse check`).
    pub async fn deliver(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.build(mail)?;
        let raw = message.formatted();
        if let Some(dir) = &self.outbox {
            write_eml(dir, &raw).await?;
            tracing::info!(subject = %mail.subject, "mail written to the outbox");
        }
        if self.smtp.is_none() {
            // The console is a delivery channel of its own (stdout), not a log line: mails
            // carry link secrets, which must never reach the log.
            println!(
                "---- mail to {} ----\nSubject: {}\n\n{}\n---- end of mail ----",
                mail.to, mail.subject, mail.text
            );
            return Ok(());
        }
        let pending = write_eml(&self.pending_dir, &raw).await?;
        self.send_pending(&pending, message.envelope(), &raw).await
    }

    /// At start, before serving: delivers in the background what an earlier run accepted and
    /// had not delivered when it stopped (`outbox/pending/`). Only the messages there now are
    /// taken, never one this run is sending. Returns how many; none without SMTP (they wait).
    pub async fn resend_pending(&self) -> Result<usize, MailError> {
        let mut left = Vec::new();
        match tokio::fs::read_dir(&self.pending_dir).await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next_entry().await? {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    // Dot files are messages still being written.
                    if name.ends_with(".eml") && !name.starts_with('.') {
                        left.push(entry.path());
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error.into()),
        }
        if self.smtp.is_none() {
            if !left.is_empty() {
                tracing::warn!(messages = left.len(), "mail left in outbox/pending waits for SMTP to be configured");
            }
            return Ok(0);
        }
        left.sort();
        for path in &left {
            let mailer = self.clone();
            let path = path.clone();
            self.deliveries.spawn(async move {
                if let Err(error) = mailer.resend(&path).await {
                    tracing::error!(%error, file = %path.display(), "mail left by an earlier run not delivered");
                }
            });
        }
        Ok(left.len())
    }

    async fn resend(&self, left: &std::path::Path) -> Result<(), MailError> {
        let raw = tokio::fs::read(left).await?;
        // Taken under a new name first: a second process starting on the same folder finds
        // the old name gone and leaves the message to this one.
        let pending = self.pending_dir.join(eml_name());
        match tokio::fs::rename(left, &pending).await {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            taken => taken?,
        }
        match envelope_of(&raw, &self.from) {
            Ok(envelope) => self.send_pending(&pending, &envelope, &raw).await,
            Err(error) => {
                self.give_up(&pending).await?;
                Err(error)
            }
        }
    }

    /// Sends the message written at `pending`, retrying with growing pauses; removes the file
    /// once sent, moves it to `outbox/failed/` when every attempt failed.
    async fn send_pending(&self, pending: &std::path::Path, envelope: &Envelope, raw: &[u8]) -> Result<(), MailError> {
        let Some(smtp) = &self.smtp else { return Ok(()) };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=SMTP_ATTEMPTS {
            match smtp.send_raw(envelope, raw).await {
                Ok(_) => {
                    tracing::info!(to = ?envelope.to(), "mail sent");
                    tokio::fs::remove_file(pending).await?;
                    return Ok(());
                }
                Err(error) if attempt < SMTP_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "SMTP send failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                Err(error) => {
                    self.give_up(pending).await?;
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }

    async fn give_up(&self, pending: &std::path::Path) -> Result<(), MailError> {
        tokio::fs::create_dir_all(&self.failed_dir).await?;
        let name = pending.file_name().expect("written with a name");
        tokio::fs::rename(pending, self.failed_dir.join(name)).await?;
        Ok(())
    }

    /// Whether the SMTP server answers (for `gatehouse check`); `None` without SMTP.
    pub async fn test_connection(&self) -> Option<Result<bool, MailError>> {
        let smtp = self.smtp.as_ref()?;
        Some(smtp.test_connection().await.map_err(MailError::from))
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        Ok(Message::builder()
            .from(self.from.clone())
            .to(mail.to.parse()?)
            .subject(&mail.subject)
            .message_id(None)
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))?)
    }
}

fn build_transport(smtp: &crate::config::SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let builder = match smtp.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
    };
    let mut builder = builder.port(smtp.port).timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Who a message written earlier goes to: its `To` addresses, from `from` (this run's sender).
fn envelope_of(raw: &[u8], from: &Mailbox) -> Result<Envelope, MailError> {
    use mailparse::{MailAddr, MailHeaderMap};
    let unreadable = |why: String| MailError::Unreadable(why);
    let (headers, _) = mailparse::parse_headers(raw).map_err(|e| unreadable(e.to_string()))?;
    let to = headers.get_first_header("To").ok_or_else(|| unreadable("no To header".into()))?;
    let list = mailparse::addrparse_header(to).map_err(|e| unreadable(e.to_string()))?;
    let mut recipients = Vec::new();
    for entry in list.iter() {
        let singles = match entry {
            MailAddr::Single(single) => std::slice::from_ref(single),
            MailAddr::Group(group) => &group.addrs[..],
        };
        for single in singles {
            recipients.push(single.addr.parse::<Address>().map_err(|e| unreadable(e.to_string()))?);
        }
    }
    if recipients.is_empty() {
        return Err(unreadable("no address in the To header".into()));
    }
    Ok(Envelope::new(Some(from.email.clone()), recipients)?)
}

fn eml_name() -> String {
    format!("{}-{}.eml", time::OffsetDateTime::now_utc().unix_timestamp_nanos(), uuid::Uuid::new_v4().simple())
}

async fn write_eml(dir: &std::path::Path, raw: &[u8]) -> Result<PathBuf, std::io::Error> {
    tokio::fs::create_dir_all(dir).await?;
    let name = eml_name();
    // Write then rename, so a reader polling the folder never sees half a message.
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, raw).await?;
    // Messages carry link secrets: readable by the server's user only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).await?;
    }
    let path = dir.join(name);
    tokio::fs::rename(&tmp, &path).await?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> Mailbox {
        "Gatehouse <noreply@example.com>".parse().unwrap()
    }

    #[test]
    fn a_left_message_goes_to_its_to_addresses_from_this_runs_sender() {
        let raw =
            b"From: Old <old@example.com>\r\nTo: Ann <ann@example.com>, bob@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        let envelope = envelope_of(raw, &from()).unwrap();
        let to: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
        assert_eq!(to, ["ann@example.com", "bob@example.com"]);
        assert_eq!(envelope.from().unwrap().to_string(), "noreply@example.com");
    }

    #[test]
    fn a_left_message_without_a_valid_recipient_is_unreadable() {
        for raw in [&b"Subject: hi\r\n\r\nbody\r\n"[..], b"To: not an address\r\n\r\nbody\r\n", b"To: \r\n\r\n"] {
            assert!(
                matches!(envelope_of(raw, &from()), Err(MailError::Unreadable(_))),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
