//! What operators see: Prometheus metrics, request ids, security headers, readiness and
//! graceful shutdown.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{spawn_app, spawn_app_with, PASSWORD};

/// The value of the sample `name{labels}` in a Prometheus text page (0 when absent).
pub(crate) fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .filter(|line| line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_move_with_logins_refreshes_and_failures() {
    let app = spawn_app().await;
    app.verified_user("metrics@example.com", None).await;
    let before = scrape(&app.base).await;
    let login: Value = app.login("metrics@example.com", PASSWORD).await.json().await.unwrap();
    let refreshed = app.post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": login["refresh"] })).await;
    assert_eq!(refreshed.status(), 200);
    assert_eq!(app.login("metrics@example.com", "wrong password").await.status(), 401);
    let after = scrape(&app.base).await;

    // Other tests in this process share the registry, so counters only ever move up.
    let moved =
        |name: &str, labels: &[(&str, &str)]| sample(&after, name, labels) >= sample(&before, name, labels) + 1.0;
    assert!(moved("gatehouse_logins_total", &[("outcome", "success")]), "{after}");
    assert!(moved("gatehouse_logins_total", &[("outcome", "invalid_credentials")]));
    assert!(moved("gatehouse_refreshes_total", &[("outcome", "rotated")]));
    assert!(moved("gatehouse_http_requests_total", &[("route", "/api/v1/auth/token"), ("status", "401")]));
    assert!(moved("gatehouse_http_request_duration_seconds_count", &[("route", "/api/v1/auth/token/refresh")]));
    assert!(moved("gatehouse_password_hash_seconds_count", &[("operation", "verify")]));
    for gauge in ["gatehouse_sessions_alive", "gatehouse_db_pool_connections", "gatehouse_password_hash_queue"] {
        assert!(after.contains(gauge), "{gauge} missing");
    }
}

#[tokio::test]
async fn metrics_can_move_to_their_own_address_or_be_turned_off() {
    let separate = spawn_app_with(|s| s.set("metrics_bind", "127.0.0.1:0")).await;
    let response = separate.client.get(separate.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404, "not on the main address");
    let metrics_base = format!("http://{}", separate.metrics_addr.expect("a metrics address"));
    assert!(scrape(&metrics_base).await.contains("gatehouse_"));

    let off = spawn_app_with(|s| s.set("metrics", "false")).await;
    assert_eq!(off.client.get(off.url("/metrics")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn request_ids_are_kept_or_made_and_returned() {
    let app = spawn_app().await;
    let given = app.client.get(app.url("/healthz")).header("X-Request-Id", "trace-abc-123").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-abc-123");
    let made = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let garbage = app
        .client
        .get(app.url("/healthz"))
        .header("X-Request-Id", "a\u{7f}b x".repeat(3).as_str().replace('\u{7f}', ""))
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(garbage.headers()["x-request-id"].to_str().unwrap()).is_ok(), "odd ids are replaced");
}

#[tokio::test]
async fn pages_and_api_answers_carry_security_headers() {
    let app = spawn_app().await;
    let page = app.get_page("/login").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert!(page.headers().contains_key("referrer-policy"));
    assert!(!page.headers().contains_key("strict-transport-security"), "no HSTS over plain HTTP");
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the page's script carries the CSP nonce");

    app.verified_user("headers@example.com", None).await;
    let login = app.login("headers@example.com", PASSWORD).await;
    assert_eq!(login.headers()["cache-control"], "no-store", "token responses are never cached");
}

#[tokio::test]
async fn shutdown_turns_readiness_off_and_lets_requests_in_flight_finish() {
    let app = spawn_app().await;
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    let address = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = json!({ "email": "inflight@example.com", "password": "wrong password" }).to_string();
    let head = format!(
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // `100 Continue` arrives once the handler is reading the body: the request is in flight.
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).await.unwrap();
    assert!(String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"));

    app.shutdown.trigger();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.contains("401"), "the request in flight got its answer: {answer}");
    let stopped = tokio::time::timeout(Duration::from_secs(30), app.server).await;
    assert!(stopped.expect("the server stopped").unwrap().is_ok());
    assert!(tokio::net::TcpStream::connect(&address).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn readiness_is_off_once_shutdown_begins() {
    use tower::ServiceExt;
    let app = spawn_app().await;
    let state = gatehouse_server::state::AppState::new(app.core.clone(), None);
    let readyz = || axum::http::Request::get("/readyz").body(axum::body::Body::empty()).unwrap();
    let router = gatehouse_server::startup::router(state.clone());
    assert_eq!(router.clone().oneshot(readyz()).await.unwrap().status(), 200);
    state.readiness.shutting_down();
    assert_eq!(router.oneshot(readyz()).await.unwrap().status(), 503, "load balancers are told to stop");
}

/// Without anyone scraping `/metrics`, the recorder's histograms are still drained (its held
/// samples would otherwise grow with every request, for ever).
#[tokio::test]
async fn the_recorder_is_drained_without_a_scrape() {
    let app = spawn_app().await;
    let before = gatehouse_server::metrics::upkeeps();
    for _ in 0..2100 {
        assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    }
    assert!(gatehouse_server::metrics::upkeeps() >= before + 2, "drained at least every 1024 requests");
}
