use serde_json::{json, Value};

use crate::support::{link_params, spawn_app, PASSWORD};

#[tokio::test]
async fn login_waits_for_verification_and_the_link_works_once() {
    let app = spawn_app().await;
    app.register("vera@example.com", None).await;
    let blocked = app.login("vera@example.com", PASSWORD).await;
    assert_eq!(blocked.status(), 403);
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["error"]["code"], "email_not_verified");
    assert!(body["error"]["message"].as_str().unwrap().contains("new one"), "says how to get a new link");

    let (uid, token) = link_params(&app.outbox().wait_for_link("vera@example.com").await);
    let verified = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.json::<Value>().await.unwrap()["user"]["is_verified"], true);

    let reused = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
    assert_eq!(reused.status(), 400);
    assert_eq!(reused.json::<Value>().await.unwrap()["error"]["code"], "invalid_link");
    assert_eq!(app.login("vera@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn wrong_tokens_and_uids_are_refused() {
    let app = spawn_app().await;
    app.register("wanda@example.com", None).await;
    let (uid, token) = link_params(&app.outbox().wait_for_link("wanda@example.com").await);
    for (uid, token) in [(uid.as_str(), "x"), ("MTIzNDU", token.as_str()), ("!!", token.as_str()), ("", "")] {
        let response = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
        assert_eq!(response.status(), 400, "{uid} {token}");
    }
}

#[tokio::test]
async fn resend_replaces_the_link_and_answers_the_same_for_unknown_addresses() {
    let app = spawn_app().await;
    app.register("rita@example.com", None).await;
    let first = app.outbox().wait_for_link("rita@example.com").await;

    let resent = app.post_json("/api/v1/auth/email/resend/", &json!({ "email": "RITA@example.com" })).await;
    assert_eq!(resent.status(), 202);
    let known_body = resent.text().await.unwrap();
    let unknown = app.post_json("/api/v1/auth/email/resend/", &json!({ "email": "nobody@example.com" })).await;
    assert_eq!(unknown.status(), 202);
    assert_eq!(unknown.text().await.unwrap(), known_body, "no account enumeration");

    let second = app.outbox().wait_for_nth_link("rita@example.com", 1).await;
    assert_ne!(first, second);
    let (uid, old_token) = link_params(&first);
    let old = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": old_token })).await;
    assert_eq!(old.status(), 400, "the earlier link is retired");
    let (uid, token) = link_params(&second);
    let new = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
    assert_eq!(new.status(), 200);
}

#[tokio::test]
async fn expired_links_are_refused() {
    let app = crate::support::spawn_app_with(|s| s.set("verification_token_ttl", "1s")).await;
    app.register("late@example.com", None).await;
    let (uid, token) = link_params(&app.outbox().wait_for_link("late@example.com").await);
    app.clock.advance(std::time::Duration::from_secs(1));
    let response = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
    assert_eq!(response.status(), 400);
}
