//! Bad input to every endpoint gets a 4xx in the JSON error shape: never a 5xx, never a panic.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::Value;

use crate::support::spawn_app;

const JSON_ENDPOINTS: &[&str] = &[
    "/api/v1/auth/register/",
    "/api/v1/auth/token/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/token/verify/",
    "/api/v1/auth/email/verify/",
    "/api/v1/auth/email/resend/",
    "/api/v1/auth/password/reset/",
    "/api/v1/auth/password/reset/confirm/",
];

/// Endpoints that need a signed-in caller, with their method.
const AUTHENTICATED_JSON_ENDPOINTS: &[(&str, &str)] =
    &[("POST", "/api/v1/auth/password/change/"), ("DELETE", "/api/v1/account/")];

async fn assert_json_4xx(response: reqwest::Response, what: &str) {
    let status = response.status();
    assert!(status.is_client_error(), "{what}: got {status}");
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{what}: body is not JSON: {e}"));
    assert!(body["error"]["code"].is_string(), "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
}

fn malformed_bodies() -> Vec<(&'static str, String)> {
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(200_000));
    vec![
        ("empty", String::new()),
        ("not json", "email=a@b.c".into()),
        ("truncated", "{\"email\": ".into()),
        ("array", "[1, 2, 3]".into()),
        ("null", "null".into()),
        ("wrong types", r#"{"email": 5, "username": [], "password": {"a": 1}, "uid": 1, "token": false}"#.into()),
        ("empty object", "{}".into()),
        ("sql metacharacters", r#"{"email": "x'; DROP TABLE users; --@example.com", "username": "' OR 1=1 --", "password": "' OR '1'='1", "uid": "' OR 1=1", "token": "\u0000", "refresh": "' OR 1=1 --", "current_password": "", "new_password": "' --"}"#.into()),
        ("unicode junk", r#"{"email": "\ud83d\ude00@\u0000.com", "password": "\uffff"}"#.into()),
        ("huge", huge),
    ]
}

#[tokio::test]
async fn malformed_bodies_are_answered_with_json_errors() {
    let app = spawn_app().await;
    let bodies = malformed_bodies();
    for endpoint in JSON_ENDPOINTS {
        for (label, body) in &bodies {
            let response = app
                .client
                .post(app.url(endpoint))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_json_4xx(response, &format!("{endpoint} with {label}")).await;
        }
        let no_type = app.client.post(app.url(endpoint)).body("{}").send().await.unwrap();
        assert_eq!(no_type.status(), 415, "{endpoint} without a content type");
        assert_json_4xx(no_type, endpoint).await;
    }
}

#[tokio::test]
async fn malformed_bodies_from_a_signed_in_caller_are_answered_with_json_errors() {
    let app = spawn_app().await;
    let access = app.verified_user("body@example.com", None).await;
    for (method, endpoint) in AUTHENTICATED_JSON_ENDPOINTS {
        for (label, body) in malformed_bodies() {
            let response = app
                .client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(endpoint))
                .bearer_auth(&access)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_json_4xx(response, &format!("{method} {endpoint} with {label}")).await;
        }
    }
    let garbage_logout = app
        .client
        .post(app.url("/api/v1/auth/logout/"))
        .bearer_auth(&access)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_json_4xx(garbage_logout, "logout with garbage").await;
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", &access).await.status(), 200, "still signed in");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_too() {
    let app = spawn_app().await;
    let missing = app.client.get(app.url("/api/v1/nothing/here/")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_json_4xx(missing, "unknown route").await;
    let wrong_method = app.client.request(Method::DELETE, app.url("/api/v1/auth/token/")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_json_4xx(wrong_method, "wrong method").await;
}

#[tokio::test]
async fn forged_expired_none_and_garbage_tokens_are_refused() {
    let app = spawn_app().await;
    let access = app.verified_user("tess@example.com", None).await;
    let parts: Vec<&str> = access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    let mut expired_claims = claims.clone();
    expired_claims["exp"] = Value::from(1_000_000_000);
    let mut other_user = claims.clone();
    other_user["user_id"] = Value::from(999);
    other_user["sub"] = Value::from("999");
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let hs512_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);

    let forged = [
        ("alg none", format!("{none_header}.{}.", parts[1])),
        ("alg none with signature", format!("{none_header}.{}.{}", parts[1], parts[2])),
        ("expired, old signature", format!("{}.{}.{}", parts[0], encode(&expired_claims), parts[2])),
        ("other user, old signature", format!("{}.{}.{}", parts[0], encode(&other_user), parts[2])),
        ("other algorithm", format!("{hs512_header}.{}.{}", parts[1], parts[2])),
        ("wrong key", wrong_key_token(&claims)),
        ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
        ("garbage", "not-a-token".into()),
        ("empty segments", "..".into()),
        ("binary", "\u{7f}\u{1}".into()),
        ("very long", "a".repeat(20_000)),
    ];
    for (label, token) in forged {
        for scheme in ["Bearer", "JWT"] {
            let response = app
                .client
                .get(app.url("/api/v1/account/"))
                .header("Authorization", format!("{scheme} {token}"))
                .send()
                .await;
            // A header value the HTTP client itself refuses to send is not a server answer.
            let Ok(response) = response else { continue };
            assert_eq!(response.status(), 401, "{label} ({scheme})");
            assert_json_4xx(response, label).await;
        }
    }
    let verify = app
        .client
        .post(app.url("/api/v1/auth/token/"))
        .header("Authorization", "Bearer x")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 400, "login ignores a bad Authorization header and validates the body");
}

fn wrong_key_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    // A correctly formed HS256 token signed with a key that is not the server's.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"not the server key").unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

#[tokio::test]
async fn odd_path_parameters_are_404_not_errors() {
    let app = spawn_app().await;
    let access = app.verified_user("path@example.com", None).await;
    for id in ["%00", "'%20OR%201=1", "..%2F..%2Fetc", &"x".repeat(2000)] {
        let response = app
            .client
            .delete(app.url(&format!("/api/v1/account/sessions/{id}/")))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{id}");
        assert_json_4xx(response, id).await;
    }
}
