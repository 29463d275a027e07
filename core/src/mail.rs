//! Outgoing mail: SMTP through lettre when configured, otherwise the console plus an outbox
//! folder of `.eml` files. Sending happens in the background with retries, so a slow or
//! failing mail server never fails (or times) the request that asked for the mail.

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
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
const MAIL_TEMPLATES: [(&str, &str); 16] = [
    ("verify_email.html", include_str!("../templates/mail/verify_email.html")),
    ("verify_email.txt", include_str!("../templates/mail/verify_email.txt")),
    ("reset_password.html", include_str!("../templates/mail/reset_password.html")),
    ("reset_password.txt", include_str!("../templates/mail/reset_password.txt")),
    ("change_email.html", include_str!("../templates/mail/change_email.html")),
    ("change_email.txt", include_str!("../templates/mail/change_email.txt")),
    ("email_change_notice.html", include_str!("../templates/mail/email_change_notice.html")),
    ("email_change_notice.txt", include_str!("../templates/mail/email_change_notice.txt")),
    ("email_changed.html", include_str!("../templates/mail/email_changed.html")),
    ("email_changed.txt", include_str!("../templates/mail/email_changed.txt")),
    ("password_changed.html", include_str!("../templates/mail/password_changed.html")),
    ("password_changed.txt", include_str!("../templates/mail/password_changed.txt")),
    ("second_factor_locked.html", include_str!("../templates/mail/second_factor_locked.html")),
    ("second_factor_locked.txt", include_str!("../templates/mail/second_factor_locked.txt")),
    ("login_attempts.html", include_str!("../templates/mail/login_attempts.html")),
    ("login_attempts.txt", include_str!("../templates/mail/login_attempts.txt")),
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
            write_eml(dir, &raw, false).await?;
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
        // Locked while this run tries it, so that another process starting on the same folder
        // (a restart beside this one) leaves it alone; released when it is sent or given up.
        let (pending, _held) = write_eml(&self.pending_dir, &raw, true).await?;
        self.send_pending(&pending, message.envelope(), &raw, &mail.subject).await
    }

    /// At start, before serving: delivers in the background, one after another, what an
    /// earlier run accepted and had not delivered when it stopped (`outbox/pending/`). Only the
    /// messages there now are taken (never one this run sends), and none that a live process
    /// is still trying (it holds a lock on the file). Returns how many were found; without
    /// SMTP they wait.
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
        // Oldest first (the names start with the time they were written).
        left.sort();
        let found = left.len();
        let mailer = self.clone();
        self.deliveries.spawn(async move {
            for path in left {
                if let Err(error) = mailer.resend(&path).await {
                    tracing::error!(%error, file = %path.display(), "mail left by an earlier run not delivered");
                }
            }
        });
        Ok(found)
    }

    async fn resend(&self, left: &Path) -> Result<(), MailError> {
        let path = left.to_path_buf();
        let taken = blocking_io(move || take_left_message(&path)).await?;
        let Some((raw, _held)) = taken else { return Ok(()) };
        let name = left.file_name().unwrap_or_default().to_string_lossy().into_owned();
        match envelope_of(&raw, &self.from) {
            Ok(envelope) => self.send_pending(left, &envelope, &raw, &name).await,
            Err(error) => {
                self.give_up(left).await?;
                Err(error)
            }
        }
    }

    /// Sends the message written at `pending`, retrying with growing pauses; removes the file
    /// once sent, moves it to `outbox/failed/` when every attempt failed. `what` names it in
    /// the log (never the recipient: addresses stay out of the log).
    async fn send_pending(&self, pending: &Path, envelope: &Envelope, raw: &[u8], what: &str) -> Result<(), MailError> {
        let Some(smtp) = &self.smtp else { return Ok(()) };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=SMTP_ATTEMPTS {
            match smtp.send_raw(envelope, raw).await {
                Ok(_) => {
                    tracing::info!(mail = %what, "mail sent");
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

    async fn give_up(&self, pending: &Path) -> Result<(), MailError> {
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
    let unreadable = |why: &dyn std::fmt::Display| MailError::Unreadable(why.to_string());
    let (headers, _) = mailparse::parse_headers(raw).map_err(|e| unreadable(&e))?;
    let to = headers.get_first_header("To").ok_or_else(|| unreadable(&"no To header"))?;
    let list = mailparse::addrparse_header(to).map_err(|e| unreadable(&e))?;
    let mut recipients = Vec::new();
    for entry in list.iter() {
        let singles = match entry {
            MailAddr::Single(single) => std::slice::from_ref(single),
            MailAddr::Group(group) => &group.addrs[..],
        };
        for single in singles {
            recipients.push(single.addr.parse::<Address>().map_err(|e| unreadable(&e))?);
        }
    }
    if recipients.is_empty() {
        return Err(unreadable(&"no address in the To header"));
    }
    Ok(Envelope::new(Some(from.email.clone()), recipients)?)
}

fn eml_name() -> String {
    format!("{}-{}.eml", time::OffsetDateTime::now_utc().unix_timestamp_nanos(), uuid::Uuid::new_v4().simple())
}

/// A message left in `outbox/pending/`, with the lock that makes it this process's to send;
/// `None` if a live process holds it or it is gone (sent or given up meanwhile).
fn take_left_message(path: &Path) -> Result<Option<(Vec<u8>, File)>, std::io::Error> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(error)) => return Err(error),
    }
    // Its owner may have sent it and let go between our open and our lock.
    if !path.try_exists()? {
        return Ok(None);
    }
    let mut raw = Vec::new();
    file.read_to_end(&mut raw)?;
    Ok(Some((raw, file)))
}

/// Writes `raw` as a new message in `dir` (readable by the server's user only: messages carry
/// link secrets); with `hold`, the file comes back locked, the lock taken before the message
/// shows under its name.
async fn write_eml(dir: &Path, raw: &[u8], hold: bool) -> Result<(PathBuf, Option<File>), std::io::Error> {
    let (dir, raw) = (dir.to_path_buf(), raw.to_vec());
    blocking_io(move || {
        std::fs::create_dir_all(&dir)?;
        let name = eml_name();
        // Written under a dot name, then renamed: a reader polling the folder never sees half
        // a message.
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file = File::create_new(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(&raw)?;
        let held = if hold {
            file.try_lock().map_err(std::io::Error::from)?;
            Some(file)
        } else {
            None
        };
        let path = dir.join(name);
        std::fs::rename(&tmp, &path)?;
        Ok((path, held))
    })
    .await
}

/// Runs file work (locks, small writes) off the async workers.
async fn blocking_io<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, std::io::Error> + Send + 'static,
) -> Result<T, std::io::Error> {
    tokio::task::spawn_blocking(work).await.map_err(std::io::Error::other)?
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

    #[tokio::test]
    async fn a_message_a_live_sender_holds_is_not_taken_and_is_once_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let (path, held) = write_eml(dir.path(), b"To: ann@example.com\r\n\r\nhi\r\n", true).await.unwrap();
        assert!(take_left_message(&path).unwrap().is_none(), "locked by the run trying it");
        drop(held);
        let (raw, _taken) = take_left_message(&path).unwrap().expect("its sender is gone");
        assert_eq!(raw, b"To: ann@example.com\r\n\r\nhi\r\n");
        assert!(take_left_message(&path).unwrap().is_none(), "taken by one process at a time");
        std::fs::remove_file(&path).unwrap();
        assert!(take_left_message(&path).unwrap().is_none(), "sent meanwhile");
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
