//! Seeds 000 + 001 (djoser + djangorestframework-jwt + django-otp SPA back end), replayed in
//! the documents' order with their bodies and `Authorization: JWT` headers. Codes are
//! computed here from the otpauth URL the surface returns.

use base64::Engine;
use serde_json::{json, Value};
use totp_rs::Totp;

use crate::support::{link_params, spawn_app_with, TestApp};

/// (The seed used "helloworld1"; the tests use the suite's usual password.)
const PASSWORD: &str = crate::support::PASSWORD;

/// The seed's clients sign up and log in at once: their back end did not confirm emails.
async fn seed_app() -> TestApp {
    spawn_app_with(|s| s.set("require_email_verification", "false")).await
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    app.json_call(method, path, token.map(|t| format!("JWT {t}")), body).await
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn login(app: &TestApp, path: &str, email: &str) -> String {
    let (status, body) = send(app, "POST", path, None, Some(json!({ "email": email, "password": PASSWORD }))).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// A code of the authenticator `steps` steps after the server's clock.
fn code(totp: &Totp, app: &TestApp, steps: i64) -> String {
    totp.generate((app.clock.now_secs() + steps * 30) as u64).to_string()
}

#[tokio::test]
async fn seed_000_custom_user_jwt_login_logout_all_and_totp() {
    let app = seed_app().await;
    // "Custom user models": the username alone is not enough, the email is.
    let (status, body) =
        send(&app, "POST", "/api/users/create/", None, Some(json!({ "username": "carmeella", "password": PASSWORD })))
            .await;
    assert_eq!((status, body["email"].is_array()), (400, true), "{body}");
    let (status, body) = send(
        &app,
        "POST",
        "/api/users/create/",
        None,
        Some(json!({ "email": "carmeella@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["email"], "carmeella@example.com");
    assert!(body["id"].is_i64() && body.get("password").is_none());

    // "JWT login", "/api/me/".
    let token = login(&app, "/api/jwt/create/", "carmeella@example.com").await;
    let claims = payload(&token);
    assert_eq!(
        (claims["user_id"].clone(), claims["email"].clone()),
        (body["id"].clone(), json!("carmeella@example.com"))
    );
    assert_eq!(claims["username"], "carmeella@example.com", "email-as-username");
    assert!(claims["exp"].is_i64() && claims["otp_device_id"].is_null());
    let (status, me) = send(&app, "GET", "/api/me/", Some(&token), None).await;
    assert_eq!((status, me["email"].as_str()), (200, Some("carmeella@example.com")));

    // "Custom paths".
    let second = login(&app, "/api/user/login/", "carmeella@example.com").await;
    assert_eq!(send(&app, "GET", "/user/view/", Some(&second), None).await.0, 200);
    assert_eq!(send(&app, "GET", "/api/user/view/", Some(&second), None).await.0, 200);

    // "JWT logout": a second user; logging one out everywhere kills all its tokens, not the other's.
    let (status, _) = send(
        &app,
        "POST",
        "/api/user/create/",
        None,
        Some(json!({ "email": "rezinomrah@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 201);
    let other = login(&app, "/api/user/login/", "rezinomrah@example.com").await;
    assert_eq!(send(&app, "POST", "/api/user/logout/all/", Some(&token), None).await.0, 200);
    for dead in [&token, &second] {
        let (status, body) = send(&app, "GET", "/api/me/", Some(dead), None).await;
        assert_eq!(status, 401, "{body}");
        assert!(body["detail"].is_string());
    }
    assert_eq!(send(&app, "GET", "/api/me/", Some(&other), None).await.0, 200);

    // "TOTP": create gives the otpauth URL as a bare string; the first code confirms it.
    let token = login(&app, "/api/user/login/", "carmeella@example.com").await;
    let (status, url) = send(&app, "GET", "/api/totp/create/", Some(&token), None).await;
    assert_eq!(status, 201);
    let url = url.as_str().expect("a bare JSON string").to_string();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    let (_, again) = send(&app, "GET", "/api/totp/create/", Some(&token), None).await;
    assert_eq!(again.as_str(), Some(url.as_str()), "asking again shows the same device");
    let totp = Totp::from_url(&url).unwrap();
    let (status, body) =
        send(&app, "POST", &format!("/api/totp/login/{}/", code(&totp, &app, 0)), Some(&token), None).await;
    assert_eq!(status, 201, "{body}");
    let verified = body["token"].as_str().unwrap().to_string();
    let device = payload(&verified)["otp_device_id"].clone();
    assert!(device.is_i64(), "the payload names the device");

    // "Custom JWT payload" / "Storing an OTP identifier in the JWT": a password-only token now
    // says `otp_device_id: null` and is good only for the second step.
    let password_only = login(&app, "/api/user/login/", "carmeella@example.com").await;
    assert!(payload(&password_only)["otp_device_id"].is_null());
    assert_eq!(send(&app, "GET", "/api/user/view/", Some(&password_only), None).await.0, 200, "as the seed shows");
    let change = json!({ "current_password": PASSWORD, "new_password": "a different passphrase" });
    let (status, body) = send(&app, "POST", "/api/user/password/change/", Some(&password_only), Some(change)).await;
    assert_eq!(status, 403, "but nothing changes without the second step: {body}");
    assert_eq!(send(&app, "GET", "/api/user/logout/all/", Some(&password_only), None).await.0, 403);
    let replay = format!("/api/totp/login/{}/", code(&totp, &app, 0));
    assert_eq!(send(&app, "POST", &replay, Some(&password_only), None).await.0, 400, "a used code is refused");
    let next = format!("/api/totp/login/{}/", code(&totp, &app, 1));
    let (status, body) = send(&app, "POST", &next, Some(&password_only), None).await;
    assert_eq!(status, 201);
    let stepped = body["token"].as_str().unwrap();
    assert_eq!(payload(stepped)["otp_device_id"], device);
    assert_eq!(send(&app, "GET", "/api/user/view/", Some(stepped), None).await.0, 200);
}

#[tokio::test]
async fn seed_001_account_password_and_emergency_codes() {
    let app = seed_app().await;
    let email = "spa@example.com";
    assert_eq!(
        send(&app, "POST", "/api/user/create/", None, Some(json!({ "email": email, "password": PASSWORD }))).await.0,
        201
    );
    let token = login(&app, "/api/user/login/", email).await;
    let (status, view) = send(&app, "GET", "/api/user/view/", Some(&token), None).await;
    assert_eq!((status, view["email"].as_str(), view["id"].is_i64()), (200, Some(email), true));

    // Reset password (mail with uid and token), confirm → 204; change → 204.
    assert_eq!(send(&app, "POST", "/api/user/password/reset/", None, Some(json!({ "email": email }))).await.0, 204);
    assert_eq!(
        send(&app, "POST", "/api/user/password/reset/", None, Some(json!({ "email": "nobody@example.com" }))).await.0,
        204
    );
    let link = app.outbox().wait_for_nth_link(email, 0).await;
    let (uid, reset_token) = link_params(&link);
    let bad = json!({ "uid": uid, "token": "wrong", "new_password": "a new long passphrase" });
    let (status, body) = send(&app, "POST", "/api/user/password/reset/confirm/", None, Some(bad)).await;
    assert_eq!((status, body["token"].is_array()), (400, true), "{body}");
    let confirm = json!({ "uid": uid, "token": reset_token, "new_password": PASSWORD.to_string() + "!" });
    assert_eq!(send(&app, "POST", "/api/user/password/reset/confirm/", None, Some(confirm)).await.0, 204);
    let token = {
        let (status, body) = send(
            &app,
            "POST",
            "/api/user/login/",
            None,
            Some(json!({ "email": email, "password": format!("{PASSWORD}!") })),
        )
        .await;
        assert_eq!(status, 200);
        body["token"].as_str().unwrap().to_string()
    };
    let change = json!({ "current_password": format!("{PASSWORD}!"), "new_password": PASSWORD });
    assert_eq!(send(&app, "POST", "/api/user/password/change/", Some(&token), Some(change)).await.0, 204);
    let wrong = json!({ "current_password": "nope", "new_password": "whatever it is" });
    let (status, body) = send(&app, "POST", "/api/user/password/change/", Some(&token), Some(wrong)).await;
    assert_eq!((status, body["current_password"].is_array()), (400, true), "{body}");

    // TOTP, then emergency codes (need an OTP-verified token).
    let (_, url) = send(&app, "GET", "/api/totp/create/", Some(&token), None).await;
    let totp = Totp::from_url(url.as_str().unwrap()).unwrap();
    assert_eq!(send(&app, "GET", "/api/static/create/", Some(&token), None).await.0, 403, "not OTP-verified yet");
    let (_, body) = send(&app, "POST", &format!("/api/totp/login/{}/", code(&totp, &app, 0)), Some(&token), None).await;
    let verified = body["token"].as_str().unwrap().to_string();
    let (status, codes) = send(&app, "GET", "/api/static/create/", Some(&verified), None).await;
    assert_eq!(status, 201);
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 6);

    // Use an emergency code with a password-only token (GET as the document says).
    let password_only = login(&app, "/api/user/login/", email).await;
    let (status, body) =
        send(&app, "GET", &format!("/api/static/login/{}/", codes[0]), Some(&password_only), None).await;
    assert_eq!(status, 201, "{body}");
    let rescued = body["token"].as_str().unwrap().to_string();
    assert!(payload(&rescued)["otp_device_id"].is_i64());
    let again = login(&app, "/api/user/login/", email).await;
    assert_eq!(
        send(&app, "GET", &format!("/api/static/login/{}/", codes[0]), Some(&again), None).await.0,
        400,
        "single use"
    );

    // Delete the device with the rescued token: a new token, everything else dead, enrol again.
    let (status, body) = send(&app, "POST", "/api/totp/delete/", Some(&rescued), None).await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["token"].as_str().unwrap().to_string();
    assert!(payload(&fresh)["otp_device_id"].is_null());
    for dead in [&rescued, &verified, &again] {
        assert_eq!(send(&app, "GET", "/api/me/", Some(dead), None).await.0, 401);
    }
    assert_eq!(send(&app, "GET", "/api/me/", Some(&fresh), None).await.0, 200);
    let (status, url) = send(&app, "GET", "/api/totp/create/", Some(&fresh), None).await;
    assert_eq!((status, url.is_string()), (201, true), "can enrol again");

    // Delete the account: the current password is required.
    let (status, body) =
        send(&app, "POST", "/api/user/delete/", Some(&fresh), Some(json!({ "current_password": "nope" }))).await;
    assert_eq!((status, body["current_password"].is_array()), (400, true), "{body}");
    assert_eq!(
        send(&app, "POST", "/api/user/delete/", Some(&fresh), Some(json!({ "current_password": PASSWORD }))).await.0,
        204
    );
    let (status, body) =
        send(&app, "POST", "/api/user/login/", None, Some(json!({ "email": email, "password": PASSWORD }))).await;
    assert_eq!((status, body["non_field_errors"].is_array()), (400, true), "{body}");
}

#[tokio::test]
async fn bad_input_answers_in_drf_shapes_and_the_surface_can_be_switched_off() {
    let app = seed_app().await;
    let response = app
        .client
        .post(app.url("/api/user/login/"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
    let (status, body) =
        send(&app, "POST", "/api/user/login/", None, Some(json!({ "email": 5, "password": [] }))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = send(
        &app,
        "POST",
        "/api/user/create/",
        None,
        Some(json!({ "email": "x\u{0}@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!((status, body["email"].is_array()), (400, true), "{body}");
    let response = app.client.get(app.url("/api/me/")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "JWT realm=\"api\"");
    let form = app
        .client
        .post(app.url("/api/user/create/"))
        .form(&[("email", "form@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 201, "DRF also takes forms");
    assert_eq!(send(&app, "GET", "/api/totp/login/123456/", Some("x"), None).await.0, 405);

    let off = spawn_app_with(|s| s.set("compat_djoser", "false")).await;
    for (method, path) in [
        ("POST", "/api/users/create/"),
        ("POST", "/api/jwt/create/"),
        ("GET", "/api/me/"),
        ("GET", "/api/totp/create/"),
    ] {
        assert_eq!(send(&off, method, path, None, Some(json!({}))).await.0, 404, "{method} {path}");
    }
    assert_eq!(off.register("still@example.com", None).await.status(), 201, "/api/v1 stays");
}

#[tokio::test]
async fn one_account_across_surfaces_and_logout_all_on_one_ends_every_token() {
    let app = seed_app().await;
    // Created on the djoser surface, logged in on the canonical API and in the browser.
    let (status, _) = send(
        &app,
        "POST",
        "/api/users/create/",
        None,
        Some(json!({ "email": "both@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(status, 201);
    let login = app.login("both@example.com", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let pair: Value = login.json().await.unwrap();
    let access = pair["access"].as_str().unwrap().to_string();
    let (browser, location) = app.browser_after_password("both@example.com").await;
    assert_eq!(location, "/dashboard");
    let djoser = login_with(&app, "both@example.com").await;

    // Created on the canonical API, logged in on the djoser surface.
    assert_eq!(app.register("canonical@example.com", None).await.status(), 201);
    login_with(&app, "canonical@example.com").await;

    // logout-all on the djoser surface ends the canonical tokens and the browser session too.
    assert_eq!(send(&app, "GET", "/api/user/logout/all/", Some(&djoser), None).await.0, 200);
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", &access).await.status(), 401);
    assert!(!browser.page("/dashboard").await.contains("both@example.com"));
    // ...and the other way round.
    let djoser = login_with(&app, "both@example.com").await;
    let access = app.login("both@example.com", PASSWORD).await.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app.client.post(app.url("/api/v1/auth/logout_all/")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(response.status(), 205);
    assert_eq!(send(&app, "GET", "/api/me/", Some(&djoser), None).await.0, 401);
}

async fn login_with(app: &TestApp, email: &str) -> String {
    login(app, "/api/jwt/create/", email).await
}
