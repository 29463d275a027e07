//! Mail through a real SMTP conversation (`GATEHOUSE_SMTP_TLS=none`) to a listener in the test.

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{first_link, link_params, parse_message, spawn_app_with, PASSWORD};

/// Accepts SMTP sessions and hands each received message (raw RFC 822) to the channel.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
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

/// Mail accepted but not yet delivered when the server stops is kept in `outbox/pending/`
/// (written before the first attempt; readable by the server's user only), not lost.
#[tokio::test]
async fn mail_not_delivered_by_shutdown_stays_in_the_pending_folder() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = spawn_app_with(|s| {
        s.set("smtp_host", "127.0.0.1");
        s.set("smtp_port", closed_port.to_string());
        s.set("smtp_tls", "none");
        s.set("shutdown_timeout", "1s");
    })
    .await;
    assert_eq!(app.register("kept@example.com", None).await.status(), 201);
    let pending = app.data_dir.path().join("outbox").join("pending");
    let eml_files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&pending)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default()
    };
    for _ in 0..200 {
        if !eml_files().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(eml_files().len(), 1, "written before the first attempt");

    app.shutdown.trigger();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(30), app.server).await;
    assert!(stopped.expect("the server stopped").unwrap().is_ok());
    let kept = eml_files();
    assert_eq!(kept.len(), 1, "the undelivered message is still there after shutdown");
    let (to, _) = parse_message(&std::fs::read(&kept[0]).unwrap()).unwrap();
    assert!(to.contains("kept@example.com"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&kept[0]).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
