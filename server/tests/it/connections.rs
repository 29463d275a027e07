//! Connections cannot exhaust the server (issue 19): silent and slow clients are closed after
//! the header timeout, idle keep-alive connections after the idle timeout, connections over
//! the cap are refused at once, and a client still sending a body too big hears its 413.
//! Every wait here is a bound on an event, never a measured duration.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{spawn_app_with, TestApp};

/// Far above every timeout the tests set: reaching it means the server never acted.
const BOUND: Duration = Duration::from_secs(15);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection; panics if it is still open after [`BOUND`].
/// Returns what was read.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server left the connection open: {}", String::from_utf8_lossy(&seen));
    String::from_utf8_lossy(&seen).into_owned()
}

/// Sends one keep-alive request and reads its whole answer (`/healthz` is small and known).
async fn one_request(stream: &mut TcpStream, app: &TestApp) {
    let host = app.base.trim_start_matches("http://");
    stream.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("{\"status\":\"ok\"}") {
        let n = tokio::time::timeout(BOUND, stream.read(&mut buf)).await.unwrap().unwrap();
        assert_ne!(n, 0, "closed before answering");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let app = spawn_app_with(|s| s.set("header_read_timeout", "1s")).await;
    let mut silent = connect(&app).await;
    assert_eq!(read_until_closed(&mut silent).await, "", "closed without an answer");
}

#[tokio::test]
async fn headers_sent_byte_by_byte_too_slowly_are_cut_off_on_a_kept_alive_connection() {
    let app = spawn_app_with(|s| {
        s.set("header_read_timeout", "1s");
        s.set("idle_timeout", "1h");
    })
    .await;
    let mut slow = connect(&app).await;
    one_request(&mut slow, &app).await;
    // A second request's headers begin and never end (slowloris).
    slow.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").await.unwrap();
    read_until_closed(&mut slow).await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| {
        s.set("header_read_timeout", "1h");
        s.set("idle_timeout", "1s");
    })
    .await;
    let mut idle = connect(&app).await;
    // The server sees the connection open before its request: its first deadline is then the
    // (long) header timeout, which the answered request must bring forward to the idle one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    one_request(&mut idle, &app).await;
    read_until_closed(&mut idle).await;
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_at_once_and_served_again_once_others_close() {
    let app = spawn_app_with(|s| {
        s.set("max_connections", "2");
        s.set("header_read_timeout", "1h");
    })
    .await;
    let held = [connect(&app).await, connect(&app).await];
    let mut over = connect(&app).await;
    let answer = read_until_closed(&mut over).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 1"), "{answer}");
    drop(held);
    let healthy = tokio::time::timeout(BOUND, async {
        loop {
            let mut fresh = connect(&app).await;
            let host = app.base.trim_start_matches("http://");
            let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            fresh.write_all(request.as_bytes()).await.unwrap();
            if read_until_closed(&mut fresh).await.starts_with("HTTP/1.1 200") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(healthy.is_ok(), "the freed slots were never taken again");
}

/// The client sends a body far over the limit and keeps sending while the server has
/// already answered 413: it must read that answer, not a reset connection.
#[tokio::test]
async fn a_client_still_sending_a_body_too_big_reads_its_413() {
    let app = spawn_app_with(|_| {}).await;
    for (method, path) in
        [("POST", "/api/v1/auth/register/"), ("PATCH", "/api/v1/account/"), ("POST", "/api/users/create/")]
    {
        let stream = connect(&app).await;
        let (mut reader, mut writer) = stream.into_split();
        let size = 4 * 1024 * 1024;
        let host = app.base.trim_start_matches("http://").to_string();
        let sender = tokio::spawn(async move {
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
            );
            writer.write_all(head.as_bytes()).await?;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..size / chunk.len() {
                writer.write_all(&chunk).await?;
            }
            Ok::<_, std::io::Error>(writer)
        });
        // The whole body goes out before the answer is read: a server that closed the
        // connection with the body unread has reset it by then, and the answer is lost.
        let sent = tokio::time::timeout(BOUND, sender).await.expect("the body was taken within the bound").unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        let read = tokio::time::timeout(BOUND, async {
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match reader.read(&mut buf).await {
                    Ok(0) => return Err("closed before answering".to_string()),
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                    Err(error) => return Err(format!("{error}")),
                }
            }
            Ok(())
        })
        .await
        .expect("an answer within the bound");
        let answer = String::from_utf8_lossy(&answer);
        assert!(sent.is_ok(), "{path}: the server stopped taking the body: {sent:?}");
        assert!(read.is_ok(), "{path}: {read:?} {answer}");
        assert!(answer.starts_with("HTTP/1.1 413") || answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
    }
}
