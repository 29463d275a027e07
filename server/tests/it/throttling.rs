//! Login throttling: growing delays, 429 + Retry-After, no hint in the answer, no hard lockout;
//! and identical answers for unknown users and wrong passwords.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{spawn_app_with, PASSWORD};

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
    assert!((1..=60).contains(&retry_after));
    let wrong_body = blocked_wrong.text().await.unwrap();

    let blocked_right = app.login("THR@example.com", PASSWORD).await;
    assert_eq!(blocked_right.status(), 429, "the right password during a penalty is refused the same way");
    assert_eq!(blocked_right.text().await.unwrap(), wrong_body);
    assert_eq!(serde_json::from_str::<Value>(&wrong_body).unwrap()["error"]["code"], "throttled");

    tokio::time::sleep(Duration::from_secs(retry_after) + Duration::from_millis(200)).await;
    assert_eq!(app.login("thr@example.com", PASSWORD).await.status(), 200, "no hard lockout");
    assert_eq!(app.login("thr@example.com", "wrong password").await.status(), 401, "success cleared the count");
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
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_take_the_same_time() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "1000");
        s.set("login_free_attempts_per_ip", "1000");
    })
    .await;
    app.verified_user("timing@example.com", None).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    // Interleaved, so load on the machine affects both series alike.
    for n in 0..25 {
        let started = Instant::now();
        assert_eq!(app.login("timing@example.com", "wrong password").await.status(), 401);
        known.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(app.login(&format!("ghost{n}@example.com"), "wrong password").await.status(), 401);
        unknown.push(started.elapsed());
    }
    let (known, unknown) = (median(known), median(unknown));
    let (slow, fast) = if known > unknown { (known, unknown) } else { (unknown, known) };
    // Both run one full argon2 verification; a missing dummy hash would make unknown users
    // several times faster.
    assert!(slow.as_secs_f64() < fast.as_secs_f64() * 1.5, "known {known:?} vs unknown {unknown:?}");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
