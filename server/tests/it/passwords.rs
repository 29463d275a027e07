//! Password change, password reset by email, account deletion.

use serde_json::{json, Value};

use crate::support::{link_params, spawn_app, spawn_app_with, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn access(app: &TestApp, email: &str, password: &str) -> String {
    let response = app.login(email, password).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string()
}

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/password/change/"))
        .bearer_auth(token)
        .json(&json!({ "current_password": current, "new_password": new }))
        .send()
        .await
        .unwrap()
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.get_with_token("/api/v1/account/", "Bearer", token).await.status().as_u16()
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    let here = app.verified_user("chg@example.com", None).await;
    let elsewhere = access(&app, "chg@example.com", PASSWORD).await;

    let wrong = change(&app, &here, "not it", NEW_PASSWORD).await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.json::<Value>().await.unwrap()["error"]["fields"]["current_password"].is_array());
    let weak = change(&app, &here, PASSWORD, "12345678").await;
    assert_eq!(weak.status(), 400);
    assert!(weak.json::<Value>().await.unwrap()["error"]["fields"]["new_password"].is_array());

    assert_eq!(change(&app, &here, PASSWORD, NEW_PASSWORD).await.status(), 204);
    assert_eq!(status_with(&app, &here).await, 200, "the current session stays");
    assert_eq!(status_with(&app, &elsewhere).await, 401, "a thief's session does not");
    assert_eq!(app.login("chg@example.com", PASSWORD).await.status(), 401, "the old password fails");
    access(&app, "chg@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = spawn_app().await;
    let before = app.verified_user("rst@example.com", None).await;
    let known = app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "RST@example.com" })).await;
    assert_eq!(known.status(), 202);
    let unknown = app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "nobody@example.com" })).await;
    assert_eq!(unknown.status(), 202);
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap(), "no account enumeration");

    // Mail 0 was the verification link; mail 1 is the reset link.
    let link = app.outbox().wait_for_nth_link("rst@example.com", 1).await;
    assert!(link.contains("/reset-password?uid="), "{link}");
    let (uid, token) = link_params(&link);
    let confirm = |password: &'static str| {
        let body = json!({ "uid": uid, "token": token, "new_password": password });
        let app = &app;
        async move { app.post_json("/api/v1/auth/password/reset/confirm/", &body).await }
    };
    let weak = confirm("12345678").await;
    assert_eq!(weak.status(), 400);
    assert!(weak.json::<Value>().await.unwrap()["error"]["fields"]["new_password"].is_array());
    assert_eq!(confirm(NEW_PASSWORD).await.status(), 204, "a rejected password did not use the link up");
    assert_eq!(confirm("yet another passphrase").await.status(), 400, "single use");
    assert_eq!(status_with(&app, &before).await, 401, "a reset ends every session");
    assert_eq!(app.login("rst@example.com", PASSWORD).await.status(), 401);
    access(&app, "rst@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_reset_link_dies_when_the_user_logs_in_or_changes_the_password() {
    let app = spawn_app().await;
    app.verified_user("die@example.com", None).await;
    let reset_request = json!({ "email": "die@example.com" });
    let request = || app.post_json("/api/v1/auth/password/reset/", &reset_request);
    let confirm = |link: String| {
        let app = &app;
        async move {
            let (uid, token) = link_params(&link);
            let body = json!({ "uid": uid, "token": token, "new_password": NEW_PASSWORD });
            app.post_json("/api/v1/auth/password/reset/confirm/", &body).await.status()
        }
    };

    request().await;
    let link = app.outbox().wait_for_nth_link("die@example.com", 1).await;
    access(&app, "die@example.com", PASSWORD).await;
    assert_eq!(confirm(link).await, 400, "logging in cancels the reset");

    request().await;
    let link = app.outbox().wait_for_nth_link("die@example.com", 2).await;
    let token = access(&app, "die@example.com", PASSWORD).await;
    assert_eq!(change(&app, &token, PASSWORD, "changed it myself ok").await.status(), 204);
    assert_eq!(confirm(link).await, 400, "a password change cancels the reset");
}

#[tokio::test]
async fn reset_links_expire() {
    let app = spawn_app_with(|s| s.set("password_reset_ttl", "1s")).await;
    app.verified_user("exp@example.com", None).await;
    app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "exp@example.com" })).await;
    let (uid, token) = link_params(&app.outbox().wait_for_nth_link("exp@example.com", 1).await);
    app.clock.advance(std::time::Duration::from_secs(1));
    let body = json!({ "uid": uid, "token": token, "new_password": NEW_PASSWORD });
    assert_eq!(app.post_json("/api/v1/auth/password/reset/confirm/", &body).await.status(), 400);
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_everything() {
    let app = spawn_app().await;
    let token = app.verified_user("del@example.com", Some("deleted")).await;
    let delete = |password: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .delete(app.url("/api/v1/account/"))
                .bearer_auth(token)
                .json(&json!({ "current_password": password }))
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = delete("not it").await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.json::<Value>().await.unwrap()["error"]["fields"]["current_password"].is_array());
    assert_eq!(delete(PASSWORD).await.status(), 204);
    assert_eq!(status_with(&app, &token).await, 401);
    assert_eq!(app.login("del@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        app.register("del@example.com", Some("deleted")).await.status(),
        201,
        "email and username are free again"
    );
}

#[tokio::test]
async fn hash_concurrency_sets_how_many_hashing_threads_the_server_runs() {
    let app = spawn_app_with(|s| s.set("hash_concurrency", "3")).await;
    assert_eq!(app.core.operations().password_hash_threads(), 3);
    app.verified_user("threads@example.com", None).await;
    assert!(!access(&app, "threads@example.com", PASSWORD).await.is_empty(), "logins hash on those threads");
}
