//! Guessing has an end (issue 18, item 6; NIST SP 800-63B §5.2.2): a login waiting for its
//! second factor is closed after 10 wrong codes; after 100 wrong codes in a row an account's
//! authenticator codes are refused until a recovery code is used or the password is reset,
//! and the owner is told; 20 failed password logins in a row tell the owner (once a day).

use std::time::Duration;

use serde_json::{json, Value};
use totp_rs::Totp;

use crate::support::*;

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

fn code_at(totp: &Totp, app: &TestApp, steps: i64) -> String {
    totp.generate((app.clock.now_secs() + steps * 30) as u64).to_string()
}

/// A code none of the accepted steps gives.
fn wrong_code(totp: &Totp, app: &TestApp) -> String {
    let accepted: Vec<String> = (-1..=1).map(|s| code_at(totp, app, s)).collect();
    (0..10).map(|d| format!("{d}{d}{d}{d}{d}{d}")).find(|c| !accepted.contains(c)).unwrap()
}

/// A verified user with a confirmed TOTP device and a set of recovery codes.
async fn user_with_totp(app: &TestApp, email: &str) -> (Totp, Vec<String>) {
    let token = app.verified_user(email, None).await;
    let enrolment: Value = post(app, "/api/v1/mfa/totp/", &token, json!({})).await.json().await.unwrap();
    let totp = Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    let confirmed = post(app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code_at(&totp, app, 0) })).await;
    assert_eq!(confirmed.status(), 200);
    let aal2: Value = confirmed.json().await.unwrap();
    let codes: Value = post(app, "/api/v1/mfa/recovery-codes/", aal2["access"].as_str().unwrap(), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let codes = codes["codes"].as_array().expect("recovery codes").iter().map(|c| c.as_str().unwrap().to_string());
    // The codes used here lie in later steps than the one just accepted.
    app.clock.advance(Duration::from_secs(60));
    (totp, codes.collect())
}

/// A login that waits for its second factor: its access token.
async fn half_login(app: &TestApp, email: &str) -> String {
    let login = app.login(email, PASSWORD).await;
    assert_eq!(login.status(), 200);
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["mfa_required"], true);
    body["access"].as_str().unwrap().to_string()
}

/// One wrong TOTP code; the clock moves past the throttle's delay after it.
async fn guess(app: &TestApp, token: &str, code: &str) -> u16 {
    let status = post(app, "/api/v1/mfa/totp/verify/", token, json!({ "code": code })).await.status().as_u16();
    app.clock.advance(Duration::from_secs(61));
    status
}

/// A hundred wrong codes in a row, over ten logins (each closes after ten); their statuses.
async fn hundred_wrong_codes(app: &TestApp, totp: &Totp, email: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let token = half_login(app, email).await;
        for _ in 0..10 {
            statuses.push(guess(app, &token, &wrong_code(totp, app)).await);
        }
    }
    statuses
}

#[tokio::test]
async fn a_login_waiting_for_its_second_factor_is_closed_after_ten_wrong_codes() {
    let app = spawn_app().await;
    let (totp, _) = user_with_totp(&app, "ten@example.com").await;
    let token = half_login(&app, "ten@example.com").await;
    for n in 1..=10 {
        assert_eq!(guess(&app, &token, &wrong_code(&totp, &app)).await, 400, "wrong code {n}");
    }
    let right = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code_at(&totp, &app, 0) })).await;
    assert_eq!(right.status(), 401, "the half-open session is closed: start over with the password");
    let again = half_login(&app, "ten@example.com").await;
    let right = post(&app, "/api/v1/mfa/totp/verify/", &again, json!({ "code": code_at(&totp, &app, 0) })).await;
    assert_eq!(right.status(), 200, "a new login may still finish");
}

#[tokio::test]
async fn a_hundred_wrong_codes_block_the_authenticator_until_a_recovery_code_is_used() {
    let app = spawn_app().await;
    let (totp, recovery) = user_with_totp(&app, "hundred@example.com").await;
    for (n, status) in hundred_wrong_codes(&app, &totp, "hundred@example.com").await.into_iter().enumerate() {
        assert_eq!(status, 400, "wrong code {}", n + 1);
    }
    // The owner is told (this waits for the mail, failing the test if none comes).
    app.outbox().wait_for_message("hundred@example.com", "100 wrong", 0).await;
    let token = half_login(&app, "hundred@example.com").await;
    let right = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code_at(&totp, &app, 0) })).await;
    assert_eq!(right.status(), 400, "even a right code is refused now");
    app.clock.advance(Duration::from_secs(61));
    let recovered = post(&app, "/api/v1/mfa/recovery/", &token, json!({ "code": recovery[0] })).await;
    assert_eq!(recovered.status(), 200, "a recovery code still works");
    let token = half_login(&app, "hundred@example.com").await;
    app.clock.advance(Duration::from_secs(61));
    let right = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code_at(&totp, &app, 0) })).await;
    assert_eq!(right.status(), 200, "and unblocks the authenticator");
}

#[tokio::test]
async fn a_password_reset_unblocks_the_authenticator() {
    let app = spawn_app().await;
    let (totp, _) = user_with_totp(&app, "reset@example.com").await;
    hundred_wrong_codes(&app, &totp, "reset@example.com").await;
    let token = half_login(&app, "reset@example.com").await;
    let right = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code_at(&totp, &app, 0) })).await;
    assert_eq!(right.status(), 400);
    assert_eq!(
        app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "reset@example.com" })).await.status(),
        202
    );
    let mail = app.outbox().wait_for_message("reset@example.com", "/reset-password?", 0).await;
    let (uid, reset) = link_params(&first_link(&mail).expect("a reset link"));
    let body = json!({ "uid": uid, "token": reset, "new_password": "a fresh passphrase" });
    assert_eq!(app.post_json("/api/v1/auth/password/reset/confirm/", &body).await.status(), 204);
    let login = app.login("reset@example.com", "a fresh passphrase").await;
    let token = login.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string();
    app.clock.advance(Duration::from_secs(61));
    let right = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code_at(&totp, &app, 0) })).await;
    assert_eq!(right.status(), 200, "the reset unblocked the authenticator");
}

#[tokio::test]
async fn twenty_failed_logins_in_a_row_tell_the_owner_once_a_day() {
    let app = spawn_app().await;
    app.verified_user("tried@example.com", None).await;
    let notices =
        || app.outbox().messages_to("tried@example.com").into_iter().filter(|m| m.contains("trying to log in")).count();
    let fail = || async {
        let status = app.login("tried@example.com", "not the password").await.status();
        app.clock.advance(Duration::from_secs(61));
        status
    };
    for _ in 0..19 {
        assert_eq!(fail().await, 401);
    }
    // A success in between ends the streak.
    assert_eq!(app.login("tried@example.com", PASSWORD).await.status(), 200);
    for _ in 0..19 {
        fail().await;
    }
    assert!(app.core.operations().drain_background(Duration::from_secs(10)).await);
    assert_eq!(notices(), 0, "19 in a row is not yet 20");
    for _ in 0..5 {
        fail().await;
    }
    app.core.operations().drain_background(Duration::from_secs(10)).await;
    assert_eq!(notices(), 1, "one mail, not one per failure");
    app.clock.advance(Duration::from_secs(86_400));
    fail().await;
    app.core.operations().drain_background(Duration::from_secs(10)).await;
    assert_eq!(notices(), 2, "again the next day");
}
