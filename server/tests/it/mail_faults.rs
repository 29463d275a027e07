//! No mail lost (issue 19, item 4): an outbox that cannot be written does not stop the mail;
//! SMTP that stays down is retried from `outbox/pending/` on a schedule that survives
//! restarts, until `GATEHOUSE_MAIL_RETRY_WINDOW` is spent; `gatehouse mail retry` sends what
//! was given up again; `/metrics` shows what waits. Due times follow the app's manual clock:
//! the tests move it and run the due pass themselves.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::observability::sample;
use crate::smtp::{eml_files, smtp_sink_switched};
use crate::support::{parse_message, spawn_app_with, TestApp};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// A test SMTP server that can be taken down and brought back.
struct Sink {
    port: u16,
    up: Arc<AtomicBool>,
    inbox: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Sink {
    async fn new(up: bool) -> Self {
        let switch = Arc::new(AtomicBool::new(up));
        let (port, inbox) = smtp_sink_switched(switch.clone()).await;
        Sink { port, up: switch, inbox }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// The next message it receives (within 30 s), as (To header, raw).
    async fn next(&mut self) -> (String, Vec<u8>) {
        let raw = tokio::time::timeout(Duration::from_secs(30), self.inbox.recv())
            .await
            .expect("a message reaches the SMTP server within 30 s")
            .unwrap();
        (parse_message(&raw).unwrap().0, raw)
    }
}

async fn app_with_sink(sink: &Sink, data_dir: Option<&Path>) -> TestApp {
    spawn_app_with(|s| {
        s.set("smtp_host", "127.0.0.1");
        s.set("smtp_port", sink.port.to_string());
        s.set("smtp_tls", "none");
        s.set("shutdown_timeout", "1s");
        if let Some(dir) = data_dir {
            s.set("data_dir", dir.display().to_string());
        }
    })
    .await
}

/// Polls `probe` (up to 30 s) until it gives something.
async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(found) = probe() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("waited 30 s for {what}");
}

/// The one message in `outbox/pending/` once its name shows `attempts` attempts made.
async fn pending_after(data_dir: &Path, attempts: u32) -> PathBuf {
    let mark = format!(".a{attempts}.");
    wait_for(&format!("one message in outbox/pending after {attempts} attempts"), || {
        let files = eml_files(data_dir, "pending");
        (files.len() == 1 && file_name(&files[0]).contains(&mark)).then(|| files[0].clone())
    })
    .await
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// (first attempt, next attempt due), Unix ms, from a pending message's name.
fn schedule_of(path: &Path) -> (i64, i64) {
    let name = file_name(path);
    let field = |prefix: &str| -> i64 {
        name.split('.').find_map(|part| part.strip_prefix(prefix)?.parse().ok()).expect("a schedule in the name")
    };
    (field("f"), field("d"))
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The data dir full or broken: the write to `outbox/` fails (here `outbox` is a file, since
/// the tests run as root and permissions would not stop them). The verification mail is still
/// sent, from memory, and the failure is counted.
#[tokio::test]
async fn mail_still_goes_out_when_the_outbox_cannot_be_written() {
    let mut sink = Sink::new(true).await;
    let app = app_with_sink(&sink, None).await;
    std::fs::write(app.data_dir.path().join("outbox"), b"not a folder").unwrap();
    let failures = |page: &str| sample(page, "gatehouse_mail_outbox_write_failures_total", &[]);
    let before = failures(&scrape(&app).await);
    assert_eq!(app.register("unwritable@example.com", None).await.status(), 201);
    let (to, _) = sink.next().await;
    assert!(to.contains("unwritable@example.com"));
    assert!(failures(&scrape(&app).await) > before, "the failed write is counted");
}

/// Without SMTP, a mail whose outbox file cannot be written is still printed to stdout (the
/// console delivery), by the real process.
#[tokio::test]
async fn without_smtp_the_console_still_gets_the_mail_when_the_outbox_cannot_be_written() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("outbox"), b"not a folder").unwrap();
    let port = crate::cli::free_port();
    let mut child = crate::cli::gatehouse(dir.path())
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not come up");
    let email = format!("console-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = client
        .post(format!("{base}/api/v1/auth/register/"))
        .json(&serde_json::json!({ "email": email, "password": crate::support::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("---- mail to") && line.contains(&email) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(printed.unwrap_or(false), "the mail was printed to stdout");
    child.kill().await.unwrap();
}

/// SMTP down: after the quick attempts the message waits in `outbox/pending/` (not
/// `failed/`), due a minute later; once that time comes (and SMTP is back) the due pass
/// sends it, and not before.
#[tokio::test]
async fn mail_waits_in_pending_after_the_quick_attempts_and_goes_when_due() {
    let mut sink = Sink::new(false).await;
    let app = app_with_sink(&sink, None).await;
    assert_eq!(app.register("later@example.com", None).await.status(), 201);
    let pending = pending_after(app.data_dir.path(), 3).await;
    assert!(eml_files(app.data_dir.path(), "failed").is_empty(), "not given up");
    let (first, due) = schedule_of(&pending);
    assert_eq!(due - first, 60_000, "next attempt a minute after the quick ones");

    sink.set_up(true);
    assert_eq!(app.core.mailer().deliver_due().await.unwrap(), 0, "not due yet");
    assert_eq!(eml_files(app.data_dir.path(), "pending"), std::slice::from_ref(&pending));

    app.clock.advance(MINUTE);
    app.core.mailer().deliver_due().await.unwrap();
    let (to, _) = sink.next().await;
    assert!(to.contains("later@example.com"));
    wait_for("outbox/pending emptied", || eml_files(app.data_dir.path(), "pending").is_empty().then_some(())).await;
    assert!(eml_files(app.data_dir.path(), "failed").is_empty());
}

/// Tried on the schedule until the window (24 h by default) since the first attempt is
/// spent; only then the message goes to `outbox/failed/`.
#[tokio::test]
async fn mail_goes_to_failed_only_once_the_retry_window_is_spent() {
    let sink = Sink::new(false).await;
    let app = app_with_sink(&sink, None).await;
    assert_eq!(app.register("never@example.com", None).await.status(), 201);
    let pending = pending_after(app.data_dir.path(), 3).await;
    let (first, _) = schedule_of(&pending);

    app.clock.advance(MINUTE);
    app.core.mailer().deliver_due().await.unwrap();
    let pending = pending_after(app.data_dir.path(), 4).await;
    let (still_first, due) = schedule_of(&pending);
    assert_eq!(still_first, first);
    assert_eq!(due - first, 6 * 60_000, "then five minutes later");
    assert!(eml_files(app.data_dir.path(), "failed").is_empty());

    // 23 h 31 min after the first attempt: the fifth, then 30 min pause, cut to the window's end.
    app.clock.advance(23 * HOUR + 30 * MINUTE);
    app.core.mailer().deliver_due().await.unwrap();
    let pending = pending_after(app.data_dir.path(), 5).await;
    assert_eq!(schedule_of(&pending).1, first + 24 * 3_600_000, "the last attempt when the window ends");
    assert!(eml_files(app.data_dir.path(), "failed").is_empty(), "within the window");

    app.clock.advance(HOUR);
    app.core.mailer().deliver_due().await.unwrap();
    let failed = wait_for("the message in outbox/failed", || {
        let failed = eml_files(app.data_dir.path(), "failed");
        (failed.len() == 1).then(|| failed[0].clone())
    })
    .await;
    assert!(eml_files(app.data_dir.path(), "pending").is_empty());
    let (to, _) = parse_message(&std::fs::read(failed).unwrap()).unwrap();
    assert!(to.contains("never@example.com"));
}

/// A new process on the same data dir continues the schedule: nothing before the persisted
/// due time, then the next attempt counts on from the persisted number and the first attempt
/// stays the first.
#[tokio::test]
async fn a_restart_continues_the_retry_schedule() {
    let mut sink = Sink::new(false).await;
    let first_run = app_with_sink(&sink, None).await;
    assert_eq!(first_run.register("restart@example.com", None).await.status(), 201);
    let pending = pending_after(first_run.data_dir.path(), 3).await;
    let (first, due) = schedule_of(&pending);
    first_run.shutdown.trigger();
    let stopped = tokio::time::timeout(Duration::from_secs(30), first_run.server).await;
    assert!(stopped.expect("the first run stopped").unwrap().is_ok());
    let data_dir = first_run.data_dir;

    let next = app_with_sink(&sink, Some(data_dir.path())).await;
    assert!(next.clock.now_millis() < due, "the next run starts before the message is due");
    assert_eq!(next.core.mailer().deliver_due().await.unwrap(), 0);
    assert_eq!(eml_files(data_dir.path(), "pending"), std::slice::from_ref(&pending), "not tried before it is due");

    next.clock.advance(Duration::from_millis((due - next.clock.now_millis()) as u64));
    next.core.mailer().deliver_due().await.unwrap();
    let pending = pending_after(data_dir.path(), 4).await;
    let (still_first, due) = schedule_of(&pending);
    assert_eq!(still_first, first, "the first attempt is kept");
    assert_eq!(due - next.clock.now_millis(), 5 * 60_000, "the fourth attempt is followed by the 5-minute pause");

    sink.set_up(true);
    next.clock.advance(5 * MINUTE);
    next.core.mailer().deliver_due().await.unwrap();
    let (to, _) = sink.next().await;
    assert!(to.contains("restart@example.com"));
    wait_for("outbox/pending emptied", || eml_files(data_dir.path(), "pending").is_empty().then_some(())).await;
}

/// Gives the app's one pending message up: past the whole window.
async fn give_up_the_pending_message(app: &TestApp) -> PathBuf {
    pending_after(app.data_dir.path(), 3).await;
    app.clock.advance(25 * HOUR);
    app.core.mailer().deliver_due().await.unwrap();
    wait_for("the message in outbox/failed", || {
        let failed = eml_files(app.data_dir.path(), "failed");
        (failed.len() == 1).then(|| failed[0].clone())
    })
    .await
}

/// `gatehouse mail retry` (the real binary) moves what was given up back to
/// `outbox/pending/`, due at once, and the running server's next pass sends it.
#[tokio::test]
async fn mail_retry_requeues_failed_mail_which_is_then_delivered() {
    let mut sink = Sink::new(false).await;
    let app = app_with_sink(&sink, None).await;
    assert_eq!(app.register("again@example.com", None).await.status(), 201);
    give_up_the_pending_message(&app).await;

    let retried = crate::cli::gatehouse(app.data_dir.path()).args(["mail", "retry"]).output().await.unwrap();
    assert!(retried.status.success(), "{}", String::from_utf8_lossy(&retried.stderr));
    let stdout = String::from_utf8_lossy(&retried.stdout);
    assert!(stdout.starts_with("1 messages moved"), "{stdout}");
    assert!(eml_files(app.data_dir.path(), "failed").is_empty());
    let pending = eml_files(app.data_dir.path(), "pending");
    assert_eq!(pending.len(), 1);
    assert!(file_name(&pending[0]).contains(".a0."), "a fresh schedule: {}", file_name(&pending[0]));

    sink.set_up(true);
    app.core.mailer().deliver_due().await.unwrap();
    let (to, _) = sink.next().await;
    assert!(to.contains("again@example.com"));
    wait_for("outbox/pending emptied", || eml_files(app.data_dir.path(), "pending").is_empty().then_some(())).await;

    let nothing = crate::cli::gatehouse(app.data_dir.path()).args(["mail", "retry"]).output().await.unwrap();
    assert!(nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stdout).starts_with("0 messages moved"));
}

/// `/metrics` shows the messages waiting in `outbox/pending/` and given up in
/// `outbox/failed/`, counted when scraped.
#[tokio::test]
async fn metrics_show_pending_and_failed_mail() {
    let sink = Sink::new(false).await;
    let app = app_with_sink(&sink, None).await;
    assert_eq!(app.register("gauges@example.com", None).await.status(), 201);
    pending_after(app.data_dir.path(), 3).await;
    // The recorder is shared by every app of the test process: poll until a scrape of this
    // app is read back undisturbed.
    let counts = |page: &str| (sample(page, "gatehouse_mail_pending", &[]), sample(page, "gatehouse_mail_failed", &[]));
    let mut seen = (f64::NAN, f64::NAN);
    for _ in 0..100 {
        seen = counts(&scrape(&app).await);
        if seen == (1.0, 0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, (1.0, 0.0), "one pending, none failed");
    give_up_the_pending_message(&app).await;
    for _ in 0..100 {
        seen = counts(&scrape(&app).await);
        if seen == (0.0, 1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, (0.0, 1.0), "none pending, one failed");
}
