//! The `gatehouse` binary itself: settings errors, `createsuperuser`, `check`, `migrate`, and
//! serving from an arbitrary working directory.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

pub(crate) fn gatehouse(data_dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_DATA_DIR", data_dir)
        .env("GATEHOUSE_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Ok(url) = std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
        // The CLI tests share one throwaway database per run; each uses unique emails.
        cmd.env("GATEHOUSE_DATABASE_URL", url);
    }
    cmd
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("GATEHOUSE_BIND", "not-an-address"),
        ("GATEHOUSE_SMTP_TLS", "sometimes"),
        ("GATEHOUSE_ACCESS_TOKEN_TTL", "soon"),
        ("GATEHOUSE_LOG", "gatehouse=loud"),
    ] {
        let output = gatehouse(dir.path())
            .env("GATEHOUSE_SMTP_HOST", "localhost")
            .env(var, value)
            .arg("check")
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(var), "{var} not named in: {stderr}");
    }
}

#[tokio::test]
async fn createsuperuser_without_input_then_serve_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let email = format!("root-{}@example.com", uuid::Uuid::new_v4().simple());
    let created = gatehouse(dir.path())
        .args(["createsuperuser", "--email", &email, "--password", "a long admin passphrase", "--username"])
        .arg(format!("root{}", &uuid::Uuid::new_v4().simple().to_string()[..8]))
        .arg("--no-input")
        .output()
        .await
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(dir.path().join("secret_key").exists(), "secret key generated into the data dir");

    let missing = gatehouse(dir.path()).args(["createsuperuser", "--no-input"]).output().await.unwrap();
    assert!(!missing.status.success(), "--no-input without --email fails");

    let port = free_port();
    let mut server =
        gatehouse(dir.path()).env("GATEHOUSE_BIND", format!("127.0.0.1:{port}")).arg("serve").spawn().unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not come up");
    let login = client
        .post(format!("{base}/api/v1/auth/token/"))
        .json(&serde_json::json!({ "email": email, "password": "a long admin passphrase" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "the superuser is verified and can log in");
    let access = login.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string();
    let me: Value =
        client.get(format!("{base}/api/v1/account/")).bearer_auth(access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["is_superuser"], true);
    assert_eq!(me["is_staff"], true);
    let home = client.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("_bg.wasm") && home.contains("/pkg/gatehouse."), "the hashed bundle is linked");
    server.kill().await.unwrap();
}

#[tokio::test]
async fn check_and_migrate_succeed_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let migrate = gatehouse(dir.path()).arg("migrate").output().await.unwrap();
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let check = gatehouse(dir.path()).arg("check").output().await.unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains("database: ok") && stdout.contains("mail: console and outbox"), "{stdout}");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
