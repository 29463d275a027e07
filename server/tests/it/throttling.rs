//! Login throttling: growing delays, 429 + Retry-After, no hint in the answer, no hard lockout,
//! no lockout of other people at the same address, a known device keeps its own budget, and
//! forwarding headers believed only from trusted proxies. Time is the core's manual clock:
//! nothing here waits for, or depends on, the real clock.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{spawn_app_with, TestApp, PASSWORD};

/// A client of its own (its own cookie jar: no device cookie unless it logged in itself).
fn new_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(crate::support::REQUEST_TIMEOUT).cookie_store(true).build().unwrap()
}

async fn login_as(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request =
        client.post(app.url("/api/v1/auth/token/")).json(&json!({ "email": email, "password": password }));
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn failures_beyond_the_free_attempts_are_delayed_and_a_right_password_reveals_nothing() {
    let app = spawn_app_with(|s| s.set("login_free_attempts_per_account", "3")).await;
    app.verified_user("thr@example.com", None).await;
    for attempt in 1..=4 {
        assert_eq!(app.login("thr@example.com", "wrong password").await.status(), 401, "attempt {attempt}");
    }
    let blocked_wrong = app.login("thr@example.com", "wrong password").await;
    assert_eq!(blocked_wrong.status(), 429);
    let retry_after: u64 = blocked_wrong.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry_after, 1, "the first delay is one second");
    let wrong_body = blocked_wrong.text().await.unwrap();

    let blocked_right = app.login("THR@example.com", PASSWORD).await;
    assert_eq!(blocked_right.status(), 429, "the right password during a penalty is refused the same way");
    assert_eq!(blocked_right.text().await.unwrap(), wrong_body);
    assert_eq!(serde_json::from_str::<Value>(&wrong_body).unwrap()["error"]["code"], "throttled");

    app.clock.advance(Duration::from_millis(999));
    assert_eq!(app.login("thr@example.com", PASSWORD).await.status(), 429, "a delay lasts its full length");
    app.clock.advance(Duration::from_millis(1));
    assert_eq!(app.login("thr@example.com", PASSWORD).await.status(), 200, "no hard lockout");
    assert_eq!(app.login("thr@example.com", "wrong password").await.status(), 401, "success cleared the count");
}

#[tokio::test]
async fn delays_double_and_stop_at_one_minute() {
    let app = spawn_app_with(|s| s.set("login_free_attempts_per_account", "1")).await;
    let mut seen = Vec::new();
    assert_eq!(app.login("slow@example.com", "guess").await.status(), 401);
    for _ in 0..9 {
        assert_eq!(app.login("slow@example.com", "guess").await.status(), 401);
        let blocked = app.login("slow@example.com", "guess").await;
        assert_eq!(blocked.status(), 429);
        let retry_after: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        seen.push(retry_after);
        app.clock.advance(Duration::from_secs(retry_after));
    }
    assert_eq!(seen, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_slowed_too() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "100");
        s.set("login_free_attempts_per_ip", "3");
    })
    .await;
    for n in 0..4 {
        assert_eq!(app.login(&format!("victim{n}@example.com"), "guess").await.status(), 401);
    }
    assert_eq!(app.login("victim9@example.com", "guess").await.status(), 429);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(app.login("victim9@example.com", "guess").await.status(), 401, "a delay, not a lockout");
}

#[tokio::test]
async fn failures_against_one_account_do_not_stop_others_at_the_same_address() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "3");
        s.set("login_free_attempts_per_ip", "3");
    })
    .await;
    app.verified_user("neighbour@example.com", None).await;
    for _ in 0..20 {
        let status = app.login("target@example.com", "guess").await.status();
        assert!(status == 401 || status == 429, "{status}");
    }
    assert_eq!(app.login("target@example.com", "guess").await.status(), 429, "the attacked account is slowed");
    assert_eq!(app.login("neighbour@example.com", PASSWORD).await.status(), 200, "its neighbour is not");
}

#[tokio::test]
async fn the_owner_on_a_known_device_logs_in_while_a_stranger_is_slowed() {
    let app = spawn_app_with(|s| s.set("login_free_attempts_per_account", "2")).await;
    app.verified_user("owner@example.com", None).await;
    let owner = new_client();
    assert_eq!(
        login_as(&app, &owner, "owner@example.com", PASSWORD, None).await.status(),
        200,
        "the device is now known"
    );

    let stranger = new_client();
    for _ in 0..6 {
        login_as(&app, &stranger, "owner@example.com", "guess", None).await;
    }
    assert_eq!(login_as(&app, &stranger, "owner@example.com", PASSWORD, None).await.status(), 429, "stranger slowed");
    assert_eq!(login_as(&app, &owner, "owner@example.com", PASSWORD, None).await.status(), 200, "owner is not");

    // The known device has a budget of its own, so a stolen cookie is no free pass.
    for _ in 0..3 {
        login_as(&app, &owner, "owner@example.com", "typo", None).await;
    }
    assert_eq!(login_as(&app, &owner, "owner@example.com", PASSWORD, None).await.status(), 429);
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "100");
        s.set("login_free_attempts_per_ip", "2");
    })
    .await;
    let client = new_client();
    for n in 0..3 {
        let spoofed = format!("203.0.113.{n}");
        let status = login_as(&app, &client, &format!("spoof{n}@example.com"), "guess", Some(&spoofed)).await.status();
        assert_eq!(status, 401);
    }
    let status = login_as(&app, &client, "spoof9@example.com", "guess", Some("198.51.100.77")).await.status();
    assert_eq!(status, 429, "every attempt counted against the real peer address");
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "100");
        s.set("login_free_attempts_per_ip", "2");
        s.set("trusted_proxies", "127.0.0.1, ::1");
    })
    .await;
    let client = new_client();
    for n in 0..6 {
        // Each client behind the proxy has its own address, so none reaches the limit.
        let address = format!("203.0.113.{n}");
        let status = login_as(&app, &client, &format!("behind{n}@example.com"), "guess", Some(&address)).await.status();
        assert_eq!(status, 401);
    }
    app.verified_user("proxied@example.com", None).await;
    let login = login_as(&app, &client, "proxied@example.com", PASSWORD, Some("192.0.2.44")).await;
    let access = login.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string();
    let sessions: Value =
        app.get_with_token("/api/v1/account/sessions/", "Bearer", &access).await.json().await.unwrap();
    let current = sessions.as_array().unwrap().iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["ip"], "192.0.2.44", "the session records the client, not the proxy");
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_cost_the_same_work() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "1000");
        s.set("login_free_attempts_per_ip", "1000");
    })
    .await;
    app.verified_user("work@example.com", None).await;
    let runs = app.core.operations().password_hash_runs();
    assert_eq!(app.login("work@example.com", "wrong password").await.status(), 401);
    let after_known = app.core.operations().password_hash_runs();
    assert_eq!(app.login("ghost@example.com", "wrong password").await.status(), 401);
    let after_unknown = app.core.operations().password_hash_runs();
    assert_eq!(app.login("not even an email", "wrong password").await.status(), 401);
    let after_garbage = app.core.operations().password_hash_runs();
    assert_eq!(after_known - runs, 1, "a wrong password: one argon2 verification");
    assert_eq!(after_unknown - after_known, 1, "an unknown account: one verification of the dummy hash");
    assert_eq!(after_garbage - after_unknown, 1, "an unparsable name: the same");
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_no_more_than_the_budget() {
    let app = spawn_app_with(|s| s.set("login_free_attempts_per_account", "2")).await;
    app.verified_user("burst@example.com", None).await;
    let guesses = (0..12).map(|_| {
        let client = new_client();
        let url = app.url("/api/v1/auth/token/");
        async move {
            let body = json!({ "email": "burst@example.com", "password": "guess" });
            client.post(url).json(&body).send().await.unwrap().status().as_u16()
        }
    });
    let statuses = futures_join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, 3, "two free attempts and the one that set the first delay: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 9);
}

/// Runs the futures concurrently on this test's runtime.
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

#[tokio::test]
async fn guessing_the_current_password_with_a_stolen_token_is_throttled_too() {
    let app = spawn_app_with(|s| s.set("login_free_attempts_per_account", "2")).await;
    let token = app.verified_user("stolen@example.com", None).await;
    let change = |current: &'static str| {
        let request = app
            .client
            .post(app.url("/api/v1/auth/password/change/"))
            .bearer_auth(&token)
            .json(&json!({ "current_password": current, "new_password": "a brand new passphrase" }));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(change("guess one").await, 400);
    assert_eq!(change("guess two").await, 400);
    assert_eq!(change("guess three").await, 400, "the attempt that starts the delays is still checked");
    assert_eq!(change(PASSWORD).await, 429, "then even the right password waits");
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(change(PASSWORD).await, 204);
}
