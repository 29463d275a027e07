//! Two-factor authentication through the API. Codes are computed here from the secret the
//! server showed, at the time of the server's (manual) clock — never by a server-side helper.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use totp_rs::Totp;

use crate::support::{spawn_app, spawn_app_with, TestApp, PASSWORD};

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.get_with_token(path, "Bearer", token).await
}

fn claims(access: &str) -> Value {
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The code of the authenticator app `offset_steps` steps from the server's clock.
fn code(totp: &Totp, app: &TestApp, offset_steps: i64) -> String {
    let time = app.clock.now_secs() + offset_steps * 30;
    totp.generate(time as u64).to_string()
}

async fn login(app: &TestApp, email: &str) -> Value {
    let response = app.login(email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A verified user with a confirmed TOTP device; returns the authenticator and aal2 tokens.
async fn user_with_totp(app: &TestApp, email: &str) -> (Totp, Value) {
    let token = app.verified_user(email, None).await;
    let enrolment: Value = post(app, "/api/v1/mfa/totp/", &token, json!({})).await.json().await.unwrap();
    let totp = Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    let confirmed = post(app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code(&totp, app, 0) })).await;
    assert_eq!(confirmed.status(), 200);
    (totp, confirmed.json().await.unwrap())
}

#[tokio::test]
async fn enrolment_shows_a_usable_secret_and_a_first_code_makes_the_session_aal2() {
    let app = spawn_app().await;
    let token = app.verified_user("enrol@example.com", None).await;
    let response = post(&app, "/api/v1/mfa/totp/", &token, json!({})).await;
    assert_eq!(response.status(), 200);
    let enrolment: Value = response.json().await.unwrap();
    let url = enrolment["otpauth_url"].as_str().unwrap();
    let totp = Totp::from_url(url).unwrap();
    assert_eq!(totp.secret().to_base32(), enrolment["secret"].as_str().unwrap());
    assert!(
        url.starts_with("otpauth://totp/Gatehouse:enrol%40example.com?") || url.contains("enrol%40example.com"),
        "{url}"
    );
    assert!(url.contains("issuer=Gatehouse"), "{url}");
    let svg = enrolment["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"), "an SVG document");
    let status: Value = get(&app, "/api/v1/mfa/", &token).await.json().await.unwrap();
    assert_eq!((status["totp_enabled"].clone(), status["totp_pending"].clone()), (json!(false), json!(true)));

    let wrong = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": "000000" })).await;
    assert_eq!(wrong.status(), 400);
    let confirmed = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code(&totp, &app, 0) })).await;
    assert_eq!(confirmed.status(), 200);
    let pair: Value = confirmed.json().await.unwrap();
    assert_eq!(pair["aal"], "aal2");
    let claims = claims(pair["access"].as_str().unwrap());
    assert_eq!(claims["aal"], "aal2");
    assert!(claims["amr"].as_array().unwrap().contains(&json!("otp")));
    assert!(claims["otp_device_id"].is_i64());
    let sessions: Value =
        get(&app, "/api/v1/account/sessions/", pair["access"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "the same session, upgraded");
    assert_eq!(sessions[0]["aal"], "aal2");
    let status: Value = get(&app, "/api/v1/mfa/", pair["access"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(status["totp_enabled"], true);
}

#[tokio::test]
async fn a_password_login_owes_the_second_factor_until_it_steps_up() {
    let app = spawn_app().await;
    let (totp, _) = user_with_totp(&app, "aal@example.com").await;
    let first = login(&app, "aal@example.com").await;
    assert_eq!((first["aal"].clone(), first["mfa_required"].clone()), (json!("aal1"), json!(true)));
    let access = first["access"].as_str().unwrap();
    let refused = get(&app, "/api/v1/account/", access).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"]["code"], "mfa_required");
    let codes = post(&app, "/api/v1/mfa/recovery-codes/", access, json!({})).await;
    assert_eq!(codes.status(), 403);
    let refreshed: Value = app
        .post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": first["refresh"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["aal"], "aal1", "a refresh keeps aal1");

    app.clock.advance(Duration::from_secs(30));
    let access = refreshed["access"].as_str().unwrap();
    let stepped = post(&app, "/api/v1/mfa/totp/verify/", access, json!({ "code": code(&totp, &app, 0) })).await;
    assert_eq!(stepped.status(), 200);
    let stepped: Value = stepped.json().await.unwrap();
    assert_eq!(get(&app, "/api/v1/account/", stepped["access"].as_str().unwrap()).await.status(), 200);
    let refreshed: Value = app
        .post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": stepped["refresh"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["aal"], "aal2", "a refresh keeps aal2");
    assert!(claims(refreshed["access"].as_str().unwrap())["otp_device_id"].is_i64());
}

#[tokio::test]
async fn a_code_works_once_within_one_step_of_drift() {
    let app = spawn_app().await;
    let (totp, _) = user_with_totp(&app, "drift@example.com").await;
    let verify = |access: String, code: String| {
        let app = &app;
        async move { post(app, "/api/v1/mfa/totp/verify/", &access, json!({ "code": code })).await.status() }
    };
    app.clock.advance(Duration::from_secs(60));
    let session = login(&app, "drift@example.com").await["access"].as_str().unwrap().to_string();
    assert_eq!(verify(session.clone(), code(&totp, &app, -1)).await, 200, "one step behind");
    let session = login(&app, "drift@example.com").await["access"].as_str().unwrap().to_string();
    assert_eq!(verify(session.clone(), code(&totp, &app, -1)).await, 400, "the same code again: replay");
    assert_eq!(verify(session.clone(), code(&totp, &app, 2)).await, 400, "two steps ahead");
    assert_eq!(verify(session.clone(), code(&totp, &app, 1)).await, 200, "one step ahead");
    let session = login(&app, "drift@example.com").await["access"].as_str().unwrap().to_string();
    assert_eq!(verify(session, code(&totp, &app, 0)).await, 400, "an earlier step than one accepted");
}

#[tokio::test]
async fn wrong_codes_are_throttled() {
    let app = spawn_app_with(|s| s.set("login_free_attempts_per_account", "3")).await;
    let (totp, _) = user_with_totp(&app, "slowcode@example.com").await;
    app.clock.advance(Duration::from_secs(30));
    let access = login(&app, "slowcode@example.com").await["access"].as_str().unwrap().to_string();
    for _ in 0..4 {
        assert_eq!(post(&app, "/api/v1/mfa/totp/verify/", &access, json!({ "code": "000000" })).await.status(), 400);
    }
    let blocked = post(&app, "/api/v1/mfa/totp/verify/", &access, json!({ "code": code(&totp, &app, 0) })).await;
    assert_eq!(blocked.status(), 429);
    assert_eq!(blocked.headers()["retry-after"], "1");
    app.clock.advance(Duration::from_secs(1));
    let allowed = post(&app, "/api/v1/mfa/totp/verify/", &access, json!({ "code": code(&totp, &app, 0) })).await;
    assert_eq!(allowed.status(), 200);
}

#[tokio::test]
async fn recovery_codes_work_once_and_a_new_set_retires_the_old() {
    let app = spawn_app().await;
    let (_, aal2) = user_with_totp(&app, "rescue@example.com").await;
    let aal2 = aal2["access"].as_str().unwrap().to_string();
    let codes: Value = post(&app, "/api/v1/mfa/recovery-codes/", &aal2, json!({})).await.json().await.unwrap();
    let codes: Vec<String> =
        codes["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 8 && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())));

    let recover = |code: String| {
        let app = &app;
        async move {
            let access = login(app, "rescue@example.com").await["access"].as_str().unwrap().to_string();
            post(app, "/api/v1/mfa/recovery/", &access, json!({ "code": code })).await
        }
    };
    let typed = format!("{}-{}", codes[0][..4].to_uppercase(), &codes[0][4..]);
    let used = recover(typed).await;
    assert_eq!(used.status(), 200, "case and dashes do not matter");
    let used: Value = used.json().await.unwrap();
    assert_eq!(used["aal"], "aal2");
    assert_eq!(recover(codes[0].clone()).await.status(), 400, "each code works once");
    let status: Value = get(&app, "/api/v1/mfa/", used["access"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(status["recovery_codes_left"], 9);

    let fresh: Value = post(&app, "/api/v1/mfa/recovery-codes/", &aal2, json!({})).await.json().await.unwrap();
    assert_eq!(recover(codes[1].clone()).await.status(), 400, "a new set retires every earlier code");
    assert_eq!(recover(fresh["codes"][0].as_str().unwrap().to_string()).await.status(), 200);
}

#[tokio::test]
async fn removal_needs_aal2_and_then_a_password_is_enough_again() {
    let app = spawn_app().await;
    let (_, aal2) = user_with_totp(&app, "remove@example.com").await;
    let aal1 = login(&app, "remove@example.com").await["access"].as_str().unwrap().to_string();
    let refused = app.client.delete(app.url("/api/v1/mfa/totp/")).bearer_auth(&aal1).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let removed = app
        .client
        .delete(app.url("/api/v1/mfa/totp/"))
        .bearer_auth(aal2["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let again = login(&app, "remove@example.com").await;
    assert_eq!(again["mfa_required"], false);
}

#[tokio::test]
async fn a_confirmed_device_cannot_be_replaced_from_an_aal1_session_and_nothing_is_stored_in_clear() {
    let app = spawn_app().await;
    let (totp, _) = user_with_totp(&app, "clear@example.com").await;
    let rows: Vec<String> = sqlx::query_scalar("SELECT secret_encrypted FROM totp_devices")
        .fetch_all(&app.core.database().pool)
        .await
        .unwrap();
    let secret = totp.secret().to_base32();
    assert!(!rows.is_empty());
    for row in rows {
        assert!(!row.contains(&secret) && !row.contains(&secret.to_lowercase()), "the secret is sealed");
    }
    let aal1 = login(&app, "clear@example.com").await["access"].as_str().unwrap().to_string();
    assert_eq!(post(&app, "/api/v1/mfa/totp/", &aal1, json!({})).await.status(), 403);
}

#[tokio::test]
async fn turning_it_on_binds_every_session_and_the_password_step_grants_nothing_else() {
    let app = spawn_app().await;
    let token = app.verified_user("bind@example.com", None).await;
    let other = login(&app, "bind@example.com").await;
    let other_access = other["access"].as_str().unwrap();
    // The owner turns 2FA on from the first session...
    let enrolment: Value = post(&app, "/api/v1/mfa/totp/", &token, json!({})).await.json().await.unwrap();
    let totp = Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    let first = post(&app, "/api/v1/mfa/totp/verify/", &token, json!({ "code": code(&totp, &app, 0) })).await;
    let first: Value = first.json().await.unwrap();
    // ...and every other session now owes the second factor.
    assert_eq!(get(&app, "/api/v1/account/", other_access).await.status(), 403, "an older session is bound too");
    assert_eq!(
        get(&app, "/api/v1/account/", &token).await.status(),
        401,
        "the aal1 token of the upgraded session is retired"
    );
    let old_refresh = app.post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": first["refresh"] })).await;
    assert_eq!(old_refresh.status(), 200, "the new refresh token works");

    let pending = login(&app, "bind@example.com").await;
    let access = pending["access"].as_str().unwrap();
    let verify = app.post_json("/api/v1/auth/token/verify/", &json!({ "token": access })).await;
    assert_eq!(verify.status(), 403, "a password-step token is not a login yet");
    let everywhere = app.client.post(app.url("/api/v1/auth/logout_all/")).bearer_auth(access).send().await.unwrap();
    assert_eq!(everywhere.status(), 403, "the password alone cannot end the owner's sessions");
    let own = app.client.post(app.url("/api/v1/auth/logout/")).bearer_auth(access).send().await.unwrap();
    assert_eq!(own.status(), 200, "but it can end its own");
}

/// (expires_at - created_at) of every live session of the user, and how many owe a second factor.
async fn session_lifetimes(app: &TestApp, email: &str) -> Vec<(i64, bool)> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT s.expires_at, s.created_at, CASE WHEN s.second_factor_pending THEN 1 ELSE 0 END \
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 AND s.revoked_at IS NULL",
    )
    .bind(email)
    .fetch_all(&app.core.database().pool)
    .await
    .unwrap();
    rows.into_iter().map(|(expires, created, pending)| (expires - created, pending == 1)).collect()
}

#[tokio::test]
async fn a_password_alone_holds_a_session_open_only_for_the_second_step_window() {
    let app = spawn_app().await;
    let (totp, _) = user_with_totp(&app, "window@example.com").await;
    let full = 14 * 86400; // GATEHOUSE_REFRESH_TOKEN_TTL's default
    let pair = login(&app, "window@example.com").await;
    let pending: Vec<i64> =
        session_lifetimes(&app, "window@example.com").await.into_iter().filter(|(_, p)| *p).map(|(l, _)| l).collect();
    assert_eq!(pending, vec![600], "ten minutes to complete the second step");
    let verified = post(
        &app,
        "/api/v1/mfa/totp/verify/",
        pair["access"].as_str().unwrap(),
        json!({ "code": code(&totp, &app, 1) }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    let lifetimes = session_lifetimes(&app, "window@example.com").await;
    assert!(lifetimes.iter().all(|(l, p)| *l == full && !p), "completed sessions get the full lifetime: {lifetimes:?}");

    // Turning two-factor on gives the user's other sessions the same window to prove it.
    app.verified_user("elsewhere@example.com", None).await;
    let second_login = login(&app, "elsewhere@example.com").await;
    let enrolment: Value = post(&app, "/api/v1/mfa/totp/", second_login["access"].as_str().unwrap(), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let totp = Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    let confirmed = post(
        &app,
        "/api/v1/mfa/totp/verify/",
        second_login["access"].as_str().unwrap(),
        json!({ "code": code(&totp, &app, 0) }),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let lifetimes = session_lifetimes(&app, "elsewhere@example.com").await;
    let owing: Vec<&(i64, bool)> = lifetimes.iter().filter(|(_, p)| *p).collect();
    assert_eq!(owing.len(), 1, "the first login now owes the second factor: {lifetimes:?}");
    assert!(owing[0].0 < full, "and no longer has its full lifetime: {lifetimes:?}");
}

#[tokio::test]
async fn every_two_factor_step_is_in_the_history_with_address_and_user_agent() {
    let app = spawn_app().await;
    let agent = reqwest::Client::builder().user_agent("history-check/1.0").build().unwrap();
    let send = |path: &'static str, token: String, body: Value| {
        let (app, agent) = (&app, &agent);
        async move { agent.post(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    let token = app.verified_user("history2fa@example.com", None).await;
    let enrolment: Value = send("/api/v1/mfa/totp/", token.clone(), json!({})).await.json().await.unwrap();
    let first = Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    assert_eq!(send("/api/v1/mfa/totp/verify/", token.clone(), json!({ "code": "000000" })).await.status(), 400);
    let confirmed = send("/api/v1/mfa/totp/verify/", token, json!({ "code": code(&first, &app, 0) })).await;
    let aal2: Value = confirmed.json().await.unwrap();
    let aal2 = aal2["access"].as_str().unwrap().to_string();
    let codes: Value = send("/api/v1/mfa/recovery-codes/", aal2.clone(), json!({})).await.json().await.unwrap();
    let partial = login(&app, "history2fa@example.com").await["access"].as_str().unwrap().to_string();
    let rescued = send("/api/v1/mfa/recovery/", partial, json!({ "code": codes["codes"][0] })).await;
    assert_eq!(rescued.status(), 200);
    // A new authenticator set up from the aal2 session replaces the first one.
    let enrolment: Value = send("/api/v1/mfa/totp/", aal2.clone(), json!({})).await.json().await.unwrap();
    let second = Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    app.clock.advance(Duration::from_secs(30));
    let replaced = send("/api/v1/mfa/totp/verify/", aal2.clone(), json!({ "code": code(&second, &app, 0) })).await;
    let aal2: Value = replaced.json().await.unwrap();
    let aal2 = aal2["access"].as_str().unwrap().to_string();
    let removed = agent.delete(app.url("/api/v1/mfa/totp/")).bearer_auth(&aal2).send().await.unwrap();
    assert_eq!(removed.status(), 204);

    let history: Value =
        app.call("GET", "/api/v1/account/history/?page_size=100", &aal2, None).await.json().await.unwrap();
    let mut steps: Vec<&Value> =
        history["results"].as_array().unwrap().iter().filter(|e| e["user_agent"] == "history-check/1.0").collect();
    steps.reverse();
    let kinds: Vec<(&str, &str)> =
        steps.iter().map(|e| (e["kind"].as_str().unwrap(), e["detail"].as_str().unwrap())).collect();
    assert_eq!(
        kinds,
        [
            ("mfa_enrolled", "totp"),
            ("mfa_failed", "totp"),
            ("mfa_confirmed", "totp"),
            ("recovery_codes_generated", "10 codes"),
            ("recovery_code_used", ""),
            ("mfa_enrolled", "totp"),
            ("mfa_removed", "totp (replaced)"),
            ("mfa_confirmed", "totp"),
            ("mfa_removed", "totp"),
        ]
    );
    assert!(steps.iter().all(|e| e["ip"] == "127.0.0.1" && e["created_at"].is_string()), "{steps:?}");
}
