use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, PASSWORD};

#[tokio::test]
async fn register_creates_an_unverified_user_and_sends_a_link() {
    let app = spawn_app().await;
    let response = app.register("New.Person@Example.COM", Some("newperson")).await;
    assert_eq!(response.status(), 201);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["email"], "new.person@example.com", "stored normalised");
    assert_eq!(user["username"], "newperson");
    assert_eq!(user["is_verified"], false);
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let link = app.outbox().wait_for_link("new.person@example.com").await;
    assert!(link.starts_with(&format!("{}/verify-email?uid=", app.base)), "{link}");
}

#[tokio::test]
async fn email_and_username_are_unique_case_insensitively() {
    let app = spawn_app().await;
    assert_eq!(app.register("sam@example.com", Some("Sam")).await.status(), 201);
    let same_email = app.register("SAM@example.com", None).await;
    assert_eq!(same_email.status(), 409);
    let body: Value = same_email.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["fields"]["email"].is_array());
    let same_name = app.register("other@example.com", Some("sAM")).await;
    assert_eq!(same_name.status(), 409);
    assert!(same_name.json::<Value>().await.unwrap()["error"]["fields"]["username"].is_array());
}

#[tokio::test]
async fn password_rules_answer_with_field_errors() {
    let app = spawn_app().await;
    let cases = [
        ("short", "too short"),
        ("password", "too common"),
        ("83920174629", "entirely numeric"),
        ("jordan.smith1", "too similar"),
    ];
    for (password, expected) in cases {
        let response = app
            .post_json("/api/v1/auth/register/", &json!({ "email": "jordan.smith@example.com", "password": password }))
            .await;
        assert_eq!(response.status(), 400, "{password}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation_error");
        let messages = body["error"]["fields"]["password"].to_string();
        assert!(messages.contains(expected), "{password}: {messages}");
    }
}

#[tokio::test]
async fn every_bad_field_is_reported_at_once() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/v1/auth/register/", &json!({ "email": "nope", "username": "has space", "password": "1" }))
        .await;
    assert_eq!(response.status(), 400);
    let fields = &response.json::<Value>().await.unwrap()["error"]["fields"];
    for field in ["email", "username", "password"] {
        assert!(fields[field].is_array(), "{field} missing in {fields}");
    }
}

#[tokio::test]
async fn without_required_verification_users_can_log_in_at_once() {
    let app = spawn_app_with(|s| s.set("require_email_verification", "false")).await;
    let user: Value = app.register("quick@example.com", None).await.json().await.unwrap();
    assert_eq!(user["is_verified"], true);
    assert_eq!(app.login("quick@example.com", PASSWORD).await.status(), 200);
    assert!(app.outbox().messages_to("quick@example.com").is_empty(), "no verification mail needed");
}
