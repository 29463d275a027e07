//! Serving HTTPS directly (`GATEHOUSE_TLS_CERT` / `GATEHOUSE_TLS_KEY`).

use crate::support::{spawn_app_with, PASSWORD};

/// A self-signed certificate for 127.0.0.1, written as PEM files into `dir`.
fn self_signed(dir: &std::path::Path) -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (cert_path.display().to_string(), key_path.display().to_string())
}

#[tokio::test]
async fn serves_https_with_secure_cookies_and_https_links() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let app = spawn_app_with(|s| {
        s.set("tls_cert", cert);
        s.set("tls_key", key);
    })
    .await;
    assert!(app.base.starts_with("https://"));
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let hsts = health.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.contains("max-age=31536000"), "HSTS when serving TLS: {hsts}");

    app.register("tls@example.com", None).await;
    let link = app.outbox().wait_for_link("tls@example.com").await;
    assert!(link.starts_with(&format!("{}/verify-email", app.base)), "links use https: {link}");

    app.verified_user("secure@example.com", None).await;
    let response = app
        .client
        .post(app.url("/_fn/login"))
        .header("Accept", "text/html")
        .header("Referer", app.url("/login"))
        .form(&[("username", "secure@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn an_unusable_certificate_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let mut raw = gatehouse_core::config::RawSettings::default();
    raw.set("bind", "127.0.0.1:0");
    raw.set("data_dir", dir.path().display().to_string());
    raw.set("tls_cert", dir.path().join("cert.pem").display().to_string());
    raw.set("tls_key", dir.path().join("key.pem").display().to_string());
    let settings = gatehouse_core::Settings::from_raw(raw).unwrap();
    let error = gatehouse_server::startup::Application::build(settings).await.err().expect("refused");
    assert!(error.to_string().contains("GATEHOUSE_TLS_CERT"), "{error}");
}
