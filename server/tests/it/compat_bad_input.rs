//! Bad input to every compatibility route: a 4xx in that surface's own error shape, never a
//! 5xx. The DRF surfaces answer a JSON object (`{"detail": ...}` or `{"field": [...]}`);
//! django_rest_jwt_auth answers `{"status": <code>, "error": {"message": ...}}`.

use serde_json::Value;

use crate::support::{spawn_app_with, TestApp};

/// (method, path) of every djoser-surface route, codes in paths included.
const DJOSER: &[(&str, &str)] = &[
    ("POST", "/api/users/create/"),
    ("POST", "/api/user/create/"),
    ("POST", "/api/jwt/create/"),
    ("POST", "/api/user/login/"),
    ("GET", "/api/me/"),
    ("GET", "/api/user/view/"),
    ("GET", "/user/view/"),
    ("POST", "/api/user/logout/all/"),
    ("POST", "/api/user/delete/"),
    ("POST", "/api/user/password/reset/"),
    ("POST", "/api/user/password/reset/confirm/"),
    ("POST", "/api/user/password/change/"),
    ("GET", "/api/totp/create/"),
    ("POST", "/api/totp/login/12345x/"),
    ("POST", "/api/totp/delete/"),
    ("GET", "/api/static/create/"),
    ("GET", "/api/static/login/%00%27--/"),
    ("POST", "/api/totp/login/%FF%FE/"),
];

/// (method, path) of every seed 003 route.
const ACCOUNTS_API: &[(&str, &str)] = &[
    ("POST", "/accounts/api/registration/"),
    ("POST", "/accounts/api/get/acctivation/token/"),
    ("POST", "/accounts/api/get/accttivation/token/"),
    ("POST", "/accounts/api/verify/token/%00%27--/x'%20OR%201=1/"),
    ("POST", "/accounts/api/verify/token/MQ/-/"),
    ("POST", "/accounts/api/login/"),
    ("GET", "/accounts/api/get/profile/"),
    ("POST", "/accounts/api/update/profile/"),
    ("GET", "/accounts/api/dashboard/"),
    ("GET", "/accounts/api/history/?page=-1&page_size=%00"),
    ("POST", "/accounts/api/change/password/"),
    ("POST", "/accounts/api/forget/password/"),
    ("POST", "/accounts/api/set/new/forget/password/%FF%FE/%00/"),
];

const REST_JWT_AUTH: &[&str] =
    &["/auth/signup", "/auth/signin", "/auth/refresh", "/auth/restore", "/auth/validation", "/auth/get_user"];

fn bodies() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("not json", "email=a@b.c&password".into()),
        ("truncated", "{\"email\": ".into()),
        ("array", "[1, 2, 3]".into()),
        ("null", "null".into()),
        ("wrong types", r#"{"email": 5, "username": [], "password": {"a": 1}, "uid": 1, "token": false, "new_password": 3, "current_password": null, "email_as_name": "yes", "confirm_password": 1, "old_password": [], "verification_base_url": 7, "profile_img": {}}"#.into()),
        ("odd values", r#"{"email": "not-an-email", "username": "x", "password": "p", "confirm_password": "p", "old_password": "p", "new_password": "p", "verification_base_url": "javascript:alert(1)", "profile_img": "ftp://x", "country": "\u0000"}"#.into()),
        ("NUL and junk", r#"{"email": "a\u0000@example.com", "username": "\u0000", "password": "\uffff", "token": "\u0000.\u0000", "uid": "\u0000", "new_password": "x"}"#.into()),
        ("huge", format!("{{\"email\": \"{}\"}}", "a".repeat(200_000))),
    ]
}

async fn send(app: &TestApp, method: &str, path: &str, auth: Option<&str>, body: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.client.request(method, app.url(path)).header("content-type", "application/json");
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    request.body(body.to_string()).send().await.unwrap()
}

#[tokio::test]
async fn every_djoser_route_answers_bad_input_with_a_drf_4xx() {
    every_route_answers_a_drf_4xx(DJOSER).await;
}

#[tokio::test]
async fn every_accounts_api_route_answers_bad_input_with_a_drf_4xx() {
    every_route_answers_a_drf_4xx(ACCOUNTS_API).await;
}

async fn every_route_answers_a_drf_4xx(routes: &[(&str, &str)]) {
    let app = spawn_app_with(|s| s.set("require_email_verification", "false")).await;
    let auths = [None, Some("JWT"), Some("JWT not.a.token"), Some("Bearer eyJhbGciOiJub25lIn0.e30."), Some("Basic x")];
    for (method, path) in routes {
        for auth in auths {
            for (label, body) in bodies() {
                let response = send(&app, method, path, auth, &body).await;
                let status = response.status();
                let what = format!("{method} {path} auth {auth:?} body {label}");
                assert!(status.is_client_error(), "{what}: {status}");
                if status.as_u16() != 405 {
                    let json: Value = response.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
                    assert!(json.is_object() && !json.as_object().unwrap().is_empty(), "{what}: {json}");
                }
            }
        }
    }
}

#[tokio::test]
async fn every_rest_jwt_auth_route_answers_bad_input_in_its_shape() {
    let app = spawn_app_with(|s| s.set("require_email_verification", "false")).await;
    for path in REST_JWT_AUTH {
        for auth in [None, Some("Bearer garbage"), Some("Bearer")] {
            for (label, body) in bodies() {
                let response = send(&app, "POST", path, auth, &body).await;
                let status = response.status();
                let what = format!("POST {path} auth {auth:?} body {label}");
                assert!(status.is_client_error(), "{what}: {status}");
                let json: Value = response.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
                assert_eq!(json["status"], status.as_u16(), "{what}: {json}");
                assert!(json["error"]["message"].is_string(), "{what}: {json}");
            }
        }
    }
}
