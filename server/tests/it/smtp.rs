//! Mail through a real SMTP conversation (`GATEHOUSE_SMTP_TLS=none`) to a listener in the test.

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::support::{first_link, link_params, parse_message, spawn_app_with, TestApp, PASSWORD};

/// Accepts SMTP sessions and hands each received message (raw RFC 822) to the channel.
pub(crate) async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<Vec<u8>>) {
    smtp_sink_switched(Arc::new(AtomicBool::new(true))).await
}

/// Like [`smtp_sink`], down (every connection closed at once) while `up` is false.
pub(crate) async fn smtp_sink_switched(up: Arc<AtomicBool>) -> (u16, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            if !up.load(Ordering::SeqCst) {
                drop(stream);
                continue;
            }
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.to_ascii_uppercase();
                    let reply: &[u8] = if command.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if command.starts_with("DATA") {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut message = Vec::new();
                        loop {
                            line.clear();
                            lines.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            message.extend_from_slice(line.strip_prefix('.').unwrap_or(&line).as_bytes());
                        }
                        tx.send(message).unwrap();
                        b"250 queued\r\n"
                    } else if command.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn verification_mail_goes_through_smtp_and_its_link_works() {
    let (port, mut inbox) = smtp_sink().await;
    let app = spawn_app_with(|s| {
        s.set("smtp_host", "127.0.0.1");
        s.set("smtp_port", port.to_string());
        s.set("smtp_tls", "none");
        s.set("mail_from", "Gatehouse Test <auth@example.com>");
    })
    .await;
    assert_eq!(app.register("smtp.user@example.com", None).await.status(), 201);
    let raw = tokio::time::timeout(std::time::Duration::from_secs(10), inbox.recv())
        .await
        .expect("mail within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("multipart/alternative"), "text and HTML parts");
    assert!(text.contains("auth@example.com"));
    let (to, body) = parse_message(&raw).unwrap();
    assert!(to.contains("smtp.user@example.com"));
    let (uid, token) = link_params(&first_link(&body).unwrap());
    let verified = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
    assert_eq!(verified.status(), 200);
    assert_eq!(app.login("smtp.user@example.com", PASSWORD).await.status(), 200);
    assert!(app.outbox().messages_to("smtp.user@example.com").is_empty(), "with SMTP, the outbox stays off by default");
}

/// A server whose SMTP server never answers (a port nobody listens on), stopping after 1 s;
/// on the given PostgreSQL database if any.
async fn app_with_unreachable_smtp(database_url: Option<&str>) -> TestApp {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    spawn_app_with(|s| {
        s.set("smtp_host", "127.0.0.1");
        s.set("smtp_port", closed_port.to_string());
        s.set("smtp_tls", "none");
        s.set("shutdown_timeout", "1s");
        if let Some(url) = database_url {
            s.set("database_url", url);
        }
    })
    .await
}

/// The messages in `<data dir>/outbox/<folder>/`.
pub(crate) fn eml_files(data_dir: &Path, folder: &str) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("outbox").join(folder))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

/// Registers `email` and stops the server while its verification mail is still being tried.
async fn stop_with_mail_pending(app: TestApp, email: &str) -> tempfile::TempDir {
    assert_eq!(app.register(email, None).await.status(), 201);
    for _ in 0..200 {
        if !eml_files(app.data_dir.path(), "pending").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(eml_files(app.data_dir.path(), "pending").len(), 1, "written before the first attempt");
    app.shutdown.trigger();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(30), app.server).await;
    assert!(stopped.expect("the server stopped").unwrap().is_ok());
    app.data_dir
}

/// Mail accepted but not yet delivered when the server stops is kept in `outbox/pending/`
/// (written before the first attempt; readable by the server's user only), not lost.
#[tokio::test]
async fn mail_not_delivered_by_shutdown_stays_in_the_pending_folder() {
    let data_dir = stop_with_mail_pending(app_with_unreachable_smtp(None).await, "kept@example.com").await;
    let kept = eml_files(data_dir.path(), "pending");
    assert_eq!(kept.len(), 1, "the undelivered message is still there after shutdown");
    let (to, _) = parse_message(&std::fs::read(&kept[0]).unwrap()).unwrap();
    assert!(to.contains("kept@example.com"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kept[0]).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

/// What one run left in `outbox/pending/` the next run delivers when it starts, and the
/// link in it still works. The first run is a real process, stopped with SIGTERM: its lock on
/// the message it was trying ends with it.
#[tokio::test]
async fn mail_left_pending_by_one_run_is_delivered_by_the_next() {
    // Both runs on one database (on SQLite it is in the data dir they share).
    let database_url = crate::support::fresh_postgres_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = crate::cli::gatehouse(data_dir.path());
    command
        .env("GATEHOUSE_SMTP_HOST", "127.0.0.1")
        .env("GATEHOUSE_SMTP_PORT", crate::cli::free_port().to_string())
        .env("GATEHOUSE_SMTP_TLS", "none")
        .env("GATEHOUSE_SHUTDOWN_TIMEOUT", "1s");
    if let Some(url) = &database_url {
        command.env("GATEHOUSE_DATABASE_URL", url);
    }
    let first = crate::process::serve(command).await;
    let registered =
        first.post("/api/v1/auth/register/", json!({ "email": "later@example.com", "password": PASSWORD })).await;
    assert_eq!(registered.status(), 201);
    for _ in 0..200 {
        if !eml_files(data_dir.path(), "pending").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    first.stop().await;
    let pending = eml_files(data_dir.path(), "pending");
    assert_eq!(pending.len(), 1, "the first run stopped with the message undelivered");
    let left = std::fs::read(&pending[0]).unwrap();

    let (port, mut received) = smtp_sink().await;
    let next = spawn_app_with(|s| {
        s.set("data_dir", data_dir.path().display().to_string());
        s.set("smtp_host", "127.0.0.1");
        s.set("smtp_port", port.to_string());
        s.set("smtp_tls", "none");
        if let Some(url) = &database_url {
            s.set("database_url", url.clone());
        }
    })
    .await;
    let message = tokio::time::timeout(std::time::Duration::from_secs(30), received.recv())
        .await
        .expect("the next run delivers the message")
        .unwrap();
    assert_eq!(message.trim_ascii_end(), left.trim_ascii_end(), "delivered as it was written");
    let (to, text) = parse_message(&message).unwrap();
    assert!(to.contains("later@example.com"));
    for _ in 0..200 {
        if eml_files(data_dir.path(), "pending").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(eml_files(data_dir.path(), "pending").is_empty(), "removed once sent");
    assert!(eml_files(data_dir.path(), "failed").is_empty());
    let (uid, token) = link_params(&first_link(&text).unwrap());
    let verified = next.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
    assert_eq!(verified.status(), 200);
}
