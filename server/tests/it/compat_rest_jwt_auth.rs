//! Seed 002 (django_rest_jwt_auth), replayed in the document's order: signup, signin,
//! refresh, restore (send, then set), validation, get_user; errors in its shape.

use serde_json::{json, Value};

use crate::support::{link_params, spawn_app_with, TestApp, PASSWORD};

async fn post(app: &TestApp, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn assert_error(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn seed_002_signup_signin_refresh_restore_validation_get_user() {
    let app = spawn_app_with(|s| s.set("require_email_verification", "false")).await;
    // Signup: with a username, or with email_as_name; never without an email.
    let (status, body) = post(&app, "/auth/signup", None, json!({ "username": "nomail", "password": PASSWORD })).await;
    assert_error(status, &body, 400);
    let (status, body) = post(
        &app,
        "/auth/signup",
        None,
        json!({ "email": "named@example.com", "username": "named", "password": PASSWORD }),
    )
    .await;
    assert_eq!((status, body["status"].as_i64()), (200, Some(200)), "{body}");
    assert_eq!(
        (body["user"]["email"].as_str(), body["user"]["username"].as_str()),
        (Some("named@example.com"), Some("named"))
    );
    assert!(body["user"].get("password").is_none());
    let (status, body) = post(
        &app,
        "/auth/signup",
        None,
        json!({ "email": "mail@example.com", "email_as_name": true, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["user"]["username"].is_null());

    // Signin: the username field carries the email for email_as_name users; the same answer
    // for an unknown user and a wrong password.
    let (status, body) =
        post(&app, "/auth/signin", None, json!({ "username": "mail@example.com", "password": PASSWORD })).await;
    assert_eq!((status, body["status"].as_i64()), (200, Some(200)));
    let token = body["token"].as_str().unwrap().to_string();
    let (_, named) = post(&app, "/auth/signin", None, json!({ "username": "named", "password": PASSWORD })).await;
    assert!(named["token"].is_string());
    let (s1, wrong) = post(&app, "/auth/signin", None, json!({ "username": "named", "password": "nope" })).await;
    let (s2, unknown) = post(&app, "/auth/signin", None, json!({ "username": "ghost", "password": "nope" })).await;
    assert_error(s1, &wrong, 401);
    assert_eq!((s1, &wrong), (s2, &unknown), "no user enumeration");

    // Refresh (Bearer): a new token for the same session.
    let (status, body) = post(&app, "/auth/refresh", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let renewed = body["token"].as_str().unwrap().to_string();
    let (status, body) = post(&app, "/auth/refresh", None, json!({})).await;
    assert_error(status, &body, 401);

    // Validation and get_user take the token in the body.
    let (status, body) = post(&app, "/auth/validation", None, json!({ "token": renewed })).await;
    assert_eq!((status, body["status"].as_i64()), (200, Some(200)));
    assert!(body["message"].as_str().unwrap().starts_with("Token will expire"), "{body}");
    let (status, body) = post(&app, "/auth/get_user", None, json!({ "token": renewed })).await;
    assert_eq!((status, body["user"]["email"].as_str()), (200, Some("mail@example.com")));
    let (status, body) = post(&app, "/auth/validation", None, json!({ "token": "garbage" })).await;
    assert_error(status, &body, 401);

    // Restore: send the mail (same answer for unknown addresses), then set the password.
    let (status, sent) = post(&app, "/auth/restore", None, json!({ "email": "mail@example.com" })).await;
    let (_, unknown) = post(&app, "/auth/restore", None, json!({ "email": "nobody@example.com" })).await;
    assert_eq!((status, &sent), (200, &unknown));
    let link = app.outbox().wait_for_link("mail@example.com").await;
    let (uid, reset) = link_params(&link);
    let (status, body) = post(
        &app,
        "/auth/restore",
        None,
        json!({ "token": format!("{uid}.wrong"), "new_password": "a new passphrase here" }),
    )
    .await;
    assert_error(status, &body, 400);
    let (status, body) = post(
        &app,
        "/auth/restore",
        None,
        json!({ "token": format!("{uid}.{reset}"), "new_password": "a new passphrase here" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        &app,
        "/auth/signin",
        None,
        json!({ "username": "mail@example.com", "password": "a new passphrase here" }),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = post(&app, "/auth/get_user", None, json!({ "token": renewed })).await;
    assert_error(status, &body, 401); // the reset ended every session
}

#[tokio::test]
async fn bad_input_and_two_factor_accounts_get_this_shape_and_the_prefix_is_a_setting() {
    let app = spawn_app_with(|s| {
        s.set("require_email_verification", "false");
        s.set("compat_rest_jwt_auth_prefix", "/jwt");
    })
    .await;
    let response = app
        .client
        .post(app.url("/jwt/signin"))
        .body("{oops")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 400);
    let (status, body) = post(&app, "/jwt/signup", None, json!({ "email": 7, "password": [] })).await;
    assert_error(status, &body, 400);
    let (status, body) = post(
        &app,
        "/jwt/signup",
        None,
        json!({ "email": "bad\u{0}@example.com", "username": "x", "password": PASSWORD }),
    )
    .await;
    assert_error(status, &body, 400);
    assert_eq!(app.client.post(app.url("/auth/signin")).json(&json!({})).send().await.unwrap().status(), 404, "moved");

    // An account with two-factor authentication cannot finish signing in here.
    assert_eq!(app.register("twofa@example.com", None).await.status(), 201);
    let login: Value = app.login("twofa@example.com", PASSWORD).await.json().await.unwrap();
    let token = login["access"].as_str().unwrap().to_string();
    let enrolment: Value = app.call("POST", "/api/v1/mfa/totp/", &token, Some(json!({}))).await.json().await.unwrap();
    let totp = totp_rs::Totp::from_url(enrolment["otpauth_url"].as_str().unwrap()).unwrap();
    let code = totp.generate(app.clock.now_secs() as u64).to_string();
    assert_eq!(app.call("POST", "/api/v1/mfa/totp/verify/", &token, Some(json!({ "code": code }))).await.status(), 200);
    let (status, body) =
        post(&app, "/jwt/signin", None, json!({ "username": "twofa@example.com", "password": PASSWORD })).await;
    assert_error(status, &body, 403);

    let off = spawn_app_with(|s| s.set("compat_rest_jwt_auth", "false")).await;
    assert_eq!(off.client.post(off.url("/auth/signin")).json(&json!({})).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn restore_mails_the_clients_own_page_with_the_token_when_configured() {
    let app = spawn_app_with(|s| {
        s.set("require_email_verification", "false");
        s.set("compat_rest_jwt_auth_restore_url", "https://app.example.com/restore?lang=en");
    })
    .await;
    let (status, _) = post(
        &app,
        "/auth/signup",
        None,
        json!({ "email": "own@example.com", "email_as_name": true, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(post(&app, "/auth/restore", None, json!({ "email": "own@example.com" })).await.0, 200);
    let link = app.outbox().wait_for_link("own@example.com").await;
    assert!(link.starts_with("https://app.example.com/restore?lang=en&token="), "{link}");
    let token = url::Url::parse(&link).unwrap().query_pairs().find(|(k, _)| k == "token").unwrap().1.into_owned();
    let (status, body) =
        post(&app, "/auth/restore", None, json!({ "token": token, "new_password": "set on the client page" })).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        &app,
        "/auth/signin",
        None,
        json!({ "username": "own@example.com", "password": "set on the client page" }),
    )
    .await;
    assert_eq!(status, 200);
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn refresh_renews_only_this_surfaces_tokens() {
    let app = spawn_app_with(|s| s.set("require_email_verification", "false")).await;
    let body = json!({ "email": "own@example.com", "email_as_name": true, "password": PASSWORD });
    assert_eq!(post(&app, "/auth/signup", None, body).await.0, 200);
    // A token of /api/v1 and one of the djoser surface, for the same account.
    let api = app.login("own@example.com", PASSWORD).await.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, djoser) =
        post(&app, "/api/jwt/create/", None, json!({ "email": "own@example.com", "password": PASSWORD })).await;
    let djoser = djoser["token"].as_str().expect("a djoser token").to_string();
    for foreign in [&api, &djoser] {
        assert!(claims(foreign).get("orig_iat").is_none());
        let (status, body) = post(&app, "/auth/refresh", Some(foreign), json!({})).await;
        assert_error(status, &body, 401);
    }
    // This surface's own token renews, carrying its sign-in time along.
    let (_, signed_in) =
        post(&app, "/auth/signin", None, json!({ "username": "own@example.com", "password": PASSWORD })).await;
    let token = signed_in["token"].as_str().unwrap().to_string();
    let orig_iat = claims(&token)["orig_iat"].as_i64().expect("the package's orig_iat claim");
    let (status, renewed) = post(&app, "/auth/refresh", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(claims(renewed["token"].as_str().unwrap())["orig_iat"], orig_iat, "kept, not moved forward");
}

#[tokio::test]
async fn refresh_ends_at_the_refresh_limit_after_the_sign_in() {
    for (limit, days) in [(None, 7u64), (Some("2d"), 2)] {
        let app = spawn_app_with(|s| {
            s.set("require_email_verification", "false");
            // Tokens outlive the limit here, so that only the limit can end the renewals.
            s.set("access_token_ttl", "8d");
            if let Some(limit) = limit {
                s.set("compat_rest_jwt_auth_refresh_limit", limit);
            }
        })
        .await;
        let body = json!({ "email": "limit@example.com", "email_as_name": true, "password": PASSWORD });
        assert_eq!(post(&app, "/auth/signup", None, body).await.0, 200);
        let (_, signed_in) =
            post(&app, "/auth/signin", None, json!({ "username": "limit@example.com", "password": PASSWORD })).await;
        let mut token = signed_in["token"].as_str().unwrap().to_string();
        // Renewed along the way...
        app.clock.advance(std::time::Duration::from_secs(days * 86400 - 60));
        let (status, body) = post(&app, "/auth/refresh", Some(&token), json!({})).await;
        assert_eq!(status, 200, "within the limit: {body}");
        token = body["token"].as_str().unwrap().to_string();
        // ...but not past the limit after the sign-in.
        app.clock.advance(std::time::Duration::from_secs(120));
        let (status, body) = post(&app, "/auth/refresh", Some(&token), json!({})).await;
        assert_error(status, &body, 401);
    }
}
