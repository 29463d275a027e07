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

use crate::clock::Clock;
use crate::config::{Settings, SmtpTls};

/// Attempts made in process right after a message is accepted: at 0, 0.5 s and 2.5 s.
const QUICK_ATTEMPTS: u32 = 3;
/// The pause after the first quick attempt; each next one is four times longer.
const FIRST_QUICK_PAUSE: Duration = Duration::from_millis(500);
/// Pauses (ms) after the quick attempts: 1 min, 5 min, 30 min, 2 h, then every 2 h, until
/// `GATEHOUSE_MAIL_RETRY_WINDOW` since the first attempt is spent.
const LATER_PAUSES_MS: [i64; 4] = [60_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000];
/// How often a running server looks in `outbox/pending/` for messages that are due.
pub const DUE_PASS_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Mailer {
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    outbox: Option<PathBuf>,
    /// Messages accepted for SMTP and not yet delivered; they survive a shutdown here.
    pending_dir: PathBuf,
    failed_dir: PathBuf,
    /// Tells when a message is due again (tests move a manual clock).
    clock: Clock,
    /// How long after its first attempt a message is still tried (`GATEHOUSE_MAIL_RETRY_WINDOW`).
    retry_window: Duration,
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
    #[error("not sent after {0} attempts within GATEHOUSE_MAIL_RETRY_WINDOW; kept in outbox/failed")]
    GaveUp(u32),
    #[error("not sent, and not kept either: outbox/pending cannot be written: {0}")]
    Lost(std::io::Error),
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
    /// `background` tracks the deliveries, so shutdown can wait for them; `clock` tells when a
    /// message is due again.
    pub fn new(
        settings: &Settings,
        background: tokio_util::task::TaskTracker,
        clock: Clock,
    ) -> Result<Self, MailError> {
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
            clock,
            retry_window: settings.mail_retry_window,
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

    /// Delivers now (used by `send`): the quick attempts, then, if none went through, the
    /// message waits in `outbox/pending/` for [`deliver_due`](Self::deliver_due). A folder
    /// that cannot be written (a full disk) never stops the delivery: the message goes out
    /// from memory, and the failure is logged and counted.
    pub async fn deliver(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.build(mail)?;
        let raw = message.formatted();
        let id = message_id();
        if let Some(dir) = &self.outbox {
            match write_eml(dir, &format!("{id}.eml"), &raw, false).await {
                Ok(_) => tracing::info!(subject = %mail.subject, "mail written to the outbox"),
                Err(error) => outbox_write_failed("outbox", &error),
            }
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
        let schedule = Schedule::fresh(self.clock.now_millis());
        // Locked while this run tries it, so that another process on the same folder (a
        // restart beside this one) leaves it alone; released when it is sent or rescheduled.
        let written = write_eml(&self.pending_dir, &schedule.file_name(&id), &raw, true).await;
        let (pending, _held) = match written {
            Ok((path, held)) => (Some(path), held),
            Err(error) => {
                outbox_write_failed("outbox/pending", &error);
                (None, None)
            }
        };
        let envelope = message.envelope();
        let mut pause = FIRST_QUICK_PAUSE;
        for attempt in 1..=QUICK_ATTEMPTS {
            match self.send_once(envelope, &raw).await {
                Ok(()) => {
                    tracing::info!(mail = %id, subject = %mail.subject, "mail sent");
                    if let Some(pending) = &pending {
                        tokio::fs::remove_file(pending).await?;
                    }
                    return Ok(());
                }
                Err(error) => tracing::warn!(%error, mail = %id, attempt, "SMTP send failed"),
            }
            if attempt < QUICK_ATTEMPTS {
                tokio::time::sleep(pause).await;
                pause *= 4;
            }
        }
        self.after_failure(pending.as_deref(), &id, schedule, QUICK_ATTEMPTS, &raw).await
    }

    /// One pass over `outbox/pending/`: every message whose next attempt is due by the
    /// clock gets one attempt, oldest first, one after another. A message another process
    /// holds (it is trying it) is left alone. A message left by an earlier version, without a
    /// schedule in its name, is due at once. Returns how many were sent; without SMTP none.
    /// The running server calls this every [`DUE_PASS_EVERY`] (first at start); tests call it
    /// after moving the manual clock.
    pub async fn deliver_due(&self) -> Result<usize, MailError> {
        if self.smtp.is_none() {
            return Ok(0);
        }
        let now = self.clock.now_millis();
        let mut due = Vec::new();
        for (path, name) in list_messages(&self.pending_dir).await? {
            let (id, schedule) = parse_name(&name);
            let schedule = schedule.unwrap_or(Schedule::fresh(now));
            if schedule.due_ms <= now {
                due.push((path, id, schedule));
            }
        }
        // Oldest first (the names start with the time they were written).
        due.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sent = 0;
        for (path, id, schedule) in due {
            match self.try_due(&path, &id, schedule).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(error) => tracing::error!(%error, mail = %id, "mail in outbox/pending not delivered"),
            }
        }
        Ok(sent)
    }

    /// One attempt at a due message; `Ok(true)` once sent.
    async fn try_due(&self, path: &Path, id: &str, schedule: Schedule) -> Result<bool, MailError> {
        let owned = path.to_path_buf();
        let taken = blocking_io(move || take_left_message(&owned)).await?;
        let Some((raw, _held)) = taken else { return Ok(false) };
        let envelope = match envelope_of(&raw, &self.from) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.give_up(Some(path), id, &raw).await?;
                return Err(error);
            }
        };
        let attempts = schedule.attempts + 1;
        match self.send_once(&envelope, &raw).await {
            Ok(()) => {
                tracing::info!(mail = %id, attempts, "mail sent");
                tokio::fs::remove_file(path).await?;
                Ok(true)
            }
            Err(error) => {
                tracing::warn!(%error, mail = %id, attempts, "SMTP send failed");
                self.after_failure(Some(path), id, schedule, attempts, &raw).await.map(|()| false)
            }
        }
    }

    async fn send_once(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), lettre::transport::smtp::Error> {
        let Some(smtp) = &self.smtp else { return Ok(()) };
        smtp.send_raw(envelope, raw).await.map(|_| ())
    }

    /// After `attempts` failed: the message (at `pending`, or only in memory when that folder
    /// could not be written) is renamed to carry its next due time, or moved to
    /// `outbox/failed/` once the retry window is spent.
    async fn after_failure(
        &self,
        pending: Option<&Path>,
        id: &str,
        schedule: Schedule,
        attempts: u32,
        raw: &[u8],
    ) -> Result<(), MailError> {
        let now = self.clock.now_millis();
        let Some(next) = schedule.after_failure(attempts, now, self.retry_window) else {
            self.give_up(pending, id, raw).await?;
            return Err(MailError::GaveUp(attempts));
        };
        let name = next.file_name(id);
        match pending {
            // The rename is atomic: the file carries either the old schedule or the new one.
            Some(path) => tokio::fs::rename(path, self.pending_dir.join(&name)).await?,
            None => {
                write_eml(&self.pending_dir, &name, raw, false).await.map_err(MailError::Lost)?;
            }
        }
        tracing::warn!(mail = %id, attempts, retry_in_secs = (next.due_ms - now) / 1000, "mail not sent yet; it waits in outbox/pending");
        Ok(())
    }

    async fn give_up(&self, pending: Option<&Path>, id: &str, raw: &[u8]) -> Result<(), MailError> {
        let name = format!("{id}.eml");
        match pending {
            Some(path) => {
                tokio::fs::create_dir_all(&self.failed_dir).await?;
                tokio::fs::rename(path, self.failed_dir.join(name)).await?;
            }
            None => {
                write_eml(&self.failed_dir, &name, raw, false).await.map_err(MailError::Lost)?;
            }
        }
        Ok(())
    }

    /// `gatehouse mail retry`: moves every message in `outbox/failed/` back to
    /// `outbox/pending/`, due at once with a fresh schedule; returns how many. A running
    /// server sends them at its next pass.
    pub async fn retry_failed(&self) -> Result<usize, MailError> {
        let now = self.clock.now_millis();
        let mut moved = 0;
        for (path, name) in list_messages(&self.failed_dir).await? {
            let (id, _) = parse_name(&name);
            tokio::fs::create_dir_all(&self.pending_dir).await?;
            tokio::fs::rename(&path, self.pending_dir.join(Schedule::fresh(now).file_name(&id))).await?;
            moved += 1;
        }
        Ok(moved)
    }

    /// Messages waiting in `outbox/pending/` and given up in `outbox/failed/` (for the
    /// metrics, read when scraped).
    pub async fn queue_counts(&self) -> (usize, usize) {
        let pending = list_messages(&self.pending_dir).await.map(|m| m.len()).unwrap_or(0);
        let failed = list_messages(&self.failed_dir).await.map(|m| m.len()).unwrap_or(0);
        (pending, failed)
    }

    /// Whether mail goes to an SMTP server (else to the console and the outbox).
    pub fn uses_smtp(&self) -> bool {
        self.smtp.is_some()
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

/// A new message's id: the time it was made, then a random part (names sort oldest first).
fn message_id() -> String {
    format!("{}-{}", time::OffsetDateTime::now_utc().unix_timestamp_nanos(), uuid::Uuid::new_v4().simple())
}

/// Where a message in `outbox/pending/` stands, kept in its file name
/// (`<id>.a<attempts>.f<first attempt>.d<next attempt due>.eml`, times in Unix ms by the core's
/// clock), so that it changes with the one atomic rename that follows each failed attempt and
/// a restart continues the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Schedule {
    attempts: u32,
    first_ms: i64,
    due_ms: i64,
}

impl Schedule {
    /// Not tried yet, due at `now`.
    fn fresh(now: i64) -> Self {
        Self { attempts: 0, first_ms: now, due_ms: now }
    }

    /// After `attempts` failed, the last at `now`: when to try next (1 min after the quick
    /// attempts, then 5 min, 30 min, 2 h, then every 2 h, the last attempt when the window
    /// ends), or `None` once `window` since the first attempt is spent.
    fn after_failure(self, attempts: u32, now: i64, window: Duration) -> Option<Self> {
        let end = self.first_ms.saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
        if now >= end {
            return None;
        }
        let later = attempts.saturating_sub(QUICK_ATTEMPTS) as usize;
        let pause = LATER_PAUSES_MS[later.min(LATER_PAUSES_MS.len() - 1)];
        Some(Self { attempts, first_ms: self.first_ms, due_ms: now.saturating_add(pause).min(end) })
    }

    fn file_name(&self, id: &str) -> String {
        format!("{id}.a{}.f{}.d{}.eml", self.attempts, self.first_ms, self.due_ms)
    }
}

/// A message file's id and schedule; a name without a (readable) schedule has none.
fn parse_name(name: &str) -> (String, Option<Schedule>) {
    let stem = name.strip_suffix(".eml").unwrap_or(name);
    let mut parts = stem.split('.');
    let id = parts.next().unwrap_or_default().to_string();
    let mut field = |prefix: char| parts.next()?.strip_prefix(prefix)?.parse::<i64>().ok();
    let schedule = (|| {
        let attempts = u32::try_from(field('a')?).ok()?;
        Some(Schedule { attempts, first_ms: field('f')?, due_ms: field('d')? })
    })();
    (id, schedule)
}

/// The messages in `dir` (path and file name): `.eml` files, not the dot files of messages
/// still being written; none when the folder does not exist.
async fn list_messages(dir: &Path) -> Result<Vec<(PathBuf, String)>, std::io::Error> {
    let mut found = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".eml") && !name.starts_with('.') {
            found.push((entry.path(), name));
        }
    }
    Ok(found)
}

/// A folder of the outbox could not be written: logged (the error only: never the recipient
/// or the message) and counted; the delivery goes on without it.
fn outbox_write_failed(folder: &'static str, error: &std::io::Error) {
    crate::metrics::mail_outbox_write_failure();
    tracing::error!(%error, folder, "cannot write the mail to the outbox; delivering it without");
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

/// Writes `raw` as the message `name` in `dir` (readable by the server's user only: messages
/// carry link secrets); with `hold`, the file comes back locked, the lock taken before the
/// message shows under its name.
async fn write_eml(dir: &Path, name: &str, raw: &[u8], hold: bool) -> Result<(PathBuf, Option<File>), std::io::Error> {
    let (dir, name, raw) = (dir.to_path_buf(), name.to_string(), raw.to_vec());
    blocking_io(move || {
        std::fs::create_dir_all(&dir)?;
        // Written under a dot name, then renamed: a reader polling the folder never sees half
        // a message.
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut file = File::create_new(&tmp)?;
        let written = (|| {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            file.write_all(&raw)?;
            if hold {
                file.try_lock().map_err(std::io::Error::from)?;
            }
            let path = dir.join(&name);
            std::fs::rename(&tmp, &path)?;
            Ok(path)
        })();
        match written {
            Ok(path) => Ok((path, hold.then_some(file))),
            Err(error) => {
                // A half-written message (a full disk) is not left behind.
                let _ = std::fs::remove_file(&tmp);
                Err(error)
            }
        }
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
        let (path, held) = write_eml(dir.path(), "m.eml", b"To: ann@example.com\r\n\r\nhi\r\n", true).await.unwrap();
        assert!(take_left_message(&path).unwrap().is_none(), "locked by the run trying it");
        drop(held);
        let (raw, _taken) = take_left_message(&path).unwrap().expect("its sender is gone");
        assert_eq!(raw, b"To: ann@example.com\r\n\r\nhi\r\n");
        assert!(take_left_message(&path).unwrap().is_none(), "taken by one process at a time");
        std::fs::remove_file(&path).unwrap();
        assert!(take_left_message(&path).unwrap().is_none(), "sent meanwhile");
    }

    #[test]
    fn the_schedule_backs_off_until_the_window_is_spent() {
        let window = Duration::from_secs(24 * 3600);
        let first = Schedule::fresh(1_000);
        let (min, hour) = (60_000, 3_600_000);
        let mut now = first.first_ms;
        let mut schedule = first;
        let mut pauses = Vec::new();
        for attempts in QUICK_ATTEMPTS.. {
            let Some(next) = schedule.after_failure(attempts, now, window) else { break };
            assert_eq!((next.attempts, next.first_ms), (attempts, first.first_ms));
            pauses.push(next.due_ms - now);
            now = next.due_ms;
            schedule = next;
        }
        assert_eq!(pauses[..6], [min, 5 * min, 30 * min, 2 * hour, 2 * hour, 2 * hour]);
        assert_eq!(now, first.first_ms + 24 * hour, "the last attempt when the window ends");
        assert!(pauses.iter().all(|p| *p <= 2 * hour));
        assert_eq!(pauses.len(), 15);
    }

    #[test]
    fn the_schedule_is_read_back_from_the_file_name() {
        let schedule = Schedule { attempts: 4, first_ms: 1_700_000_000_000, due_ms: 1_700_000_300_000 };
        let name = schedule.file_name("123-abc");
        assert_eq!(name, "123-abc.a4.f1700000000000.d1700000300000.eml");
        assert_eq!(parse_name(&name), ("123-abc".to_string(), Some(schedule)));
        assert_eq!(parse_name("123-abc.eml"), ("123-abc".to_string(), None), "left by an earlier version");
        assert_eq!(parse_name("123-abc.a4.fx.d5.eml").1, None);
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
