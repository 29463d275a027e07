//! The real `gatehouse` process as an operator runs it: settings from the environment and
//! from a TOML file take effect; the JSON log of a whole login / refresh / reset flow names
//! each request's id and holds none of the secrets used; SIGTERM stops it cleanly.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;

use crate::cli::{free_port, gatehouse};
use crate::support::{first_link, link_params, parse_message};

pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
    /// Reads the process's log as it is written: a pipe nobody reads fills up (64 KiB) and
    /// then blocks the server at its next log line.
    log: tokio::task::JoinHandle<String>,
}

async fn start(mut command: tokio::process::Command) -> Server {
    // A database of its own: throttle counters must not carry over from another server.
    if let Some(url) = crate::support::fresh_postgres_database().await {
        command.env("GATEHOUSE_DATABASE_URL", url);
    }
    serve(command).await
}

/// Starts `gatehouse serve` on a free port with the database `command` names, and waits
/// until it answers.
pub(crate) async fn serve(mut command: tokio::process::Command) -> Server {
    let port = free_port();
    let mut child = command
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            let log = tokio::spawn(async move {
                let mut log = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    log.push_str(&line);
                    log.push('\n');
                }
                log
            });
            return Server { child, base, log };
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
            panic!("the server exited ({status}): {stderr}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        let client = reqwest::Client::new();
        client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap()
    }

    /// Stops the process with SIGTERM and returns everything it logged.
    pub(crate) async fn stop(mut self) -> String {
        let pid = self.child.id().expect("running").to_string();
        let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let log = self.log.await.unwrap();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "SIGTERM ends the process cleanly: {status}\n{log}");
        log
    }
}

/// 25 failed logins for different accounts from one address: with the default per-address
/// budget (20 accounts) the last ones are throttled, so an answer of 401 to all of them shows
/// the configured value was read.
async fn failures_all_answered_401(server: &Server) -> bool {
    let mut all_401 = true;
    for n in 0..25 {
        let body = json!({ "email": format!("nobody{n}@example.com"), "password": "wrong password" });
        all_401 &= server.post("/api/v1/auth/token/", body).await.status() == 401;
    }
    all_401
}

#[tokio::test]
async fn a_documented_setting_is_read_from_the_environment_and_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(gatehouse(dir.path())).await;
    assert!(!failures_all_answered_401(&server).await, "the default budget throttles the 21st account");
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut command = gatehouse(dir.path());
    command.env("GATEHOUSE_LOGIN_FREE_ATTEMPTS_PER_IP", "1000");
    let server = start(command).await;
    assert!(failures_all_answered_401(&server).await, "GATEHOUSE_LOGIN_FREE_ATTEMPTS_PER_IP=1000 took effect");
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(&file, "login_free_attempts_per_ip = 1000\nsite_name = \"From the file\"\n").unwrap();
    let mut command = gatehouse(dir.path());
    command.env("GATEHOUSE_CONFIG", &file);
    let server = start(command).await;
    assert!(failures_all_answered_401(&server).await, "login_free_attempts_per_ip in the TOML file took effect");
    server.stop().await;
}

#[tokio::test]
async fn the_log_of_a_whole_flow_names_requests_and_holds_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = gatehouse(dir.path());
    command
        .env("GATEHOUSE_LOG", "debug")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("GATEHOUSE_REQUIRE_EMAIL_VERIFICATION", "false");
    let server = start(command).await;
    let email = format!("logged-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "a secret passphrase 1";
    let new_password = "another secret passphrase 2";
    let mut secrets = vec![password.to_string(), new_password.to_string()];

    let registered = server.post("/api/v1/auth/register/", json!({ "email": email, "password": password })).await;
    assert_eq!(registered.status(), 201);
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/v1/auth/token/", server.base))
        .header("X-Request-Id", "log-test-request-1")
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["x-request-id"], "log-test-request-1");
    let device_cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    secrets.push(device_cookie.split('=').nth(1).unwrap().to_string());
    let pair: Value = login.json().await.unwrap();
    let refreshed: Value =
        server.post("/api/v1/auth/token/refresh/", json!({ "refresh": pair["refresh"] })).await.json().await.unwrap();
    let me = client.get(format!("{}/api/v1/account/", server.base)).bearer_auth(refreshed["access"].as_str().unwrap());
    assert_eq!(me.send().await.unwrap().status(), 200);
    for token in [&pair["access"], &pair["refresh"], &refreshed["access"], &refreshed["refresh"]] {
        secrets.push(token.as_str().unwrap().to_string());
    }

    assert_eq!(server.post("/api/v1/auth/password/reset/", json!({ "email": email })).await.status(), 202);
    let outbox = dir.path().join("outbox");
    let mut link = None;
    for _ in 0..200 {
        let mails = std::fs::read_dir(&outbox).into_iter().flatten().filter_map(|e| std::fs::read(e.ok()?.path()).ok());
        link = mails
            .filter_map(|raw| parse_message(&raw))
            .find(|(to, body)| to.contains(&email) && body.contains("reset-password"))
            .and_then(|(_, body)| first_link(&body));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (uid, token) = link_params(&link.expect("a reset mail"));
    secrets.push(token.clone());
    let confirm = json!({ "uid": uid, "token": token, "new_password": new_password });
    assert_eq!(server.post("/api/v1/auth/password/reset/confirm/", confirm).await.status(), 204);
    let again = server.post("/api/v1/auth/token/", json!({ "email": email, "password": new_password })).await;
    let access = again.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string();
    secrets.push(access.clone());
    // Every surface's sign-up, login, reset and the email change: no address reaches the log.
    let other = |n: u32| email.replace("logged-", &format!("logged{n}-"));
    let (djoser, seed002, seed003, changed) = (other(2), other(3), other(4), other(5));
    secrets.extend([email.clone(), djoser.clone(), seed002.clone(), seed003.clone(), changed.clone()]);
    let calls = [
        ("/api/users/create/", json!({ "email": djoser, "password": new_password })),
        ("/api/jwt/create/", json!({ "email": djoser, "password": new_password })),
        ("/api/user/password/reset/", json!({ "email": djoser })),
        ("/auth/signup", json!({ "email": seed002, "email_as_name": true, "password": new_password })),
        ("/auth/signin", json!({ "username": seed002, "password": new_password })),
        ("/auth/restore", json!({ "email": seed002 })),
        (
            "/accounts/api/registration/",
            json!({ "username": "loggedseed3", "email": seed003, "password": new_password, "confirm_password": new_password }),
        ),
        ("/accounts/api/login/", json!({ "email": seed003, "password": "a wrong one" })),
        ("/accounts/api/forget/password/", json!({ "email": seed003 })),
    ];
    for (path, body) in calls {
        let status = server.post(path, body).await.status();
        assert!(status.as_u16() < 500, "{path}: {status}");
    }
    let change = client
        .patch(format!("{}/api/v1/account/", server.base))
        .bearer_auth(&access)
        .json(&json!({ "email": changed, "current_password": new_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 202);

    let log = server.stop().await;
    assert!(log.lines().count() > 20, "a debug log was written:\n{log}");
    for line in log.lines() {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
    assert!(
        log.lines().any(|line| line.contains("\"request_id\":\"log-test-request-1\"")),
        "the request's lines carry its id:\n{log}"
    );
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret reached the log: {secret}");
    }
}
