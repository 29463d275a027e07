use serde_json::Value;

use crate::support::{spawn_app, PASSWORD};

#[tokio::test]
async fn log_in_by_email_or_username_and_use_either_header_scheme() {
    let app = spawn_app().await;
    app.verified_user("lena@example.com", Some("Lena")).await;
    for identifier in ["lena@example.com", "LENA@EXAMPLE.COM", "lena", "LENA"] {
        let response = app.login(identifier, PASSWORD).await;
        assert_eq!(response.status(), 200, "{identifier}");
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["aal"], "aal1");
        assert_eq!(tokens["mfa_required"], false);
        assert_eq!(tokens["expires_in"], 900);
        assert!(tokens["refresh"].as_str().unwrap().len() >= 43);
        let access = tokens["access"].as_str().unwrap();
        for scheme in ["Bearer", "JWT", "bearer"] {
            let me = app.get_with_token("/api/v1/account/", scheme, access).await;
            assert_eq!(me.status(), 200, "{scheme}");
            let me: Value = me.json().await.unwrap();
            assert_eq!(me["email"], "lena@example.com");
            assert!(me["last_login"].is_string());
        }
    }
}

#[tokio::test]
async fn access_tokens_carry_the_documented_claims() {
    let app = spawn_app().await;
    let access = app.verified_user("claire@example.com", None).await;
    let payload = access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    for claim in ["sub", "user_id", "username", "email", "exp", "iat", "jti", "sid", "aal", "amr", "otp_device_id"] {
        assert!(claims.get(claim).is_some(), "claim {claim} missing from {claims}");
    }
    assert_eq!(claims["username"], "claire@example.com", "email stands in for a missing username");
    assert_eq!(claims["otp_device_id"], Value::Null);
    assert_eq!(claims["sub"], claims["user_id"].to_string());
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.verified_user("ulla@example.com", None).await;
    let wrong = app.login("ulla@example.com", "not the password").await;
    let unknown = app.login("nobody@example.com", "not the password").await;
    let malformed = app.login("bad@@example", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(malformed.status(), 401);
    let wrong = wrong.text().await.unwrap();
    assert_eq!(wrong, unknown.text().await.unwrap());
    assert_eq!(wrong, malformed.text().await.unwrap());
}

#[tokio::test]
async fn ping_and_account_need_a_valid_token() {
    let app = spawn_app().await;
    let access = app.verified_user("pat@example.com", None).await;
    let ping = app.get_with_token("/api/v1/", "Bearer", &access).await;
    assert_eq!(ping.status(), 200);
    let body: Value = ping.json().await.unwrap();
    assert_eq!(body["api_version"], "v1");
    assert_eq!(body["message"], "Welcome!");
    assert!(body["name"].is_string());

    let anonymous = app.client.get(app.url("/api/v1/")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert_eq!(anonymous.json::<Value>().await.unwrap()["error"]["code"], "not_authenticated");
    assert_eq!(app.get_with_token("/api/v1/account", "Basic", &access).await.status(), 401, "wrong scheme");
}
