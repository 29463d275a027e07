//! The person's own profile through the API: editing, refused fields, validation, the email
//! change by link, and the history it all leaves.

use serde_json::{json, Value};

use crate::support::{link_params, spawn_app, spawn_app_with, TestApp, PASSWORD};

#[tokio::test]
async fn profile_fields_are_updated_and_recorded() {
    let app = spawn_app().await;
    let token = app.verified_user("profile@example.com", None).await;
    let changes = json!({
        "first_name": "Ada", "last_name": "Lovelace", "country": "UK", "profession": "Mathematician",
        "bio": "Wrote the first program.\nLiked engines.", "thoughts": "Poetical science",
        "profile_img": "https://example.com/ada.png", "username": "Ada.L"
    });
    let response = app.call("PATCH", "/api/v1/account/", &token, Some(changes.clone())).await;
    assert_eq!(response.status(), 200);
    let account: Value = app.call("GET", "/api/v1/account/", &token, None).await.json().await.unwrap();
    for (field, value) in changes.as_object().unwrap() {
        assert_eq!(&account[field], value, "{field}");
    }
    assert_eq!(account["pending_email"], Value::Null);
    assert_eq!(app.login("ada.l", PASSWORD).await.status(), 200, "the username logs in, case-insensitively");

    let history: Value = app.call("GET", "/api/v1/account/history/", &token, None).await.json().await.unwrap();
    let latest = &history["results"][0];
    assert_eq!(latest["kind"], "login_succeeded");
    let update = history["results"].as_array().unwrap().iter().find(|e| e["kind"] == "profile_updated").unwrap();
    assert!(update["detail"].as_str().unwrap().contains("first_name"), "{update}");
    assert!(update["created_at"].as_str().unwrap().ends_with('Z'), "RFC 3339");

    let removed = app.call("PATCH", "/api/v1/account/", &token, Some(json!({ "username": null }))).await;
    assert_eq!(removed.status(), 200);
    assert_eq!(removed.json::<Value>().await.unwrap()["username"], Value::Null);
}

#[tokio::test]
async fn fields_that_cannot_be_changed_here_are_refused_by_name() {
    let app = spawn_app().await;
    let token = app.verified_user("flags@example.com", None).await;
    let body = json!({ "first_name": "Eve", "is_staff": true, "is_superuser": true, "id": 99, "password": "x" });
    let response = app.call("PATCH", "/api/v1/account/", &token, Some(body)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    for field in ["is_staff", "is_superuser", "id", "password"] {
        assert!(error["error"]["fields"][field].is_array(), "{field} named: {error}");
    }
    let account: Value = app.call("GET", "/api/v1/account/", &token, None).await.json().await.unwrap();
    assert_eq!(
        (account["first_name"].as_str(), account["is_staff"].as_bool()),
        (Some(""), Some(false)),
        "nothing changed"
    );
}

#[tokio::test]
async fn bad_values_get_field_errors_and_taken_usernames_a_conflict() {
    let app = spawn_app().await;
    app.verified_user("first@example.com", Some("Taken")).await;
    let token = app.verified_user("second@example.com", None).await;
    let body = json!({
        "first_name": "x".repeat(151), "country": "Fr\u{0}ance", "profile_img": "javascript:alert(1)",
        "bio": "y".repeat(2001), "last_name": 42
    });
    let response = app.call("PATCH", "/api/v1/account/", &token, Some(body)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]["fields"]["last_name"].is_array(), "last_name: {error}");
    let response = app
        .call(
            "PATCH",
            "/api/v1/account/",
            &token,
            Some(json!({ "first_name": "x".repeat(151), "country": "Fr\u{0}ance", "profile_img": "ftp://x", "bio": "y".repeat(2001) })),
        )
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    for field in ["first_name", "country", "profile_img", "bio"] {
        assert!(error["error"]["fields"][field].is_array(), "{field}: {error}");
    }
    let taken = app.call("PATCH", "/api/v1/account/", &token, Some(json!({ "username": "TAKEN" }))).await;
    assert_eq!(taken.status(), 409);
    assert!(taken.json::<Value>().await.unwrap()["error"]["fields"]["username"].is_array());
    let not_an_object = app.call("PATCH", "/api/v1/account/", &token, Some(json!(["first_name"]))).await;
    assert_eq!(not_an_object.status(), 400);
}

#[tokio::test]
async fn the_email_changes_only_when_the_link_sent_to_the_new_address_is_used() {
    let app = spawn_app().await;
    let token = app.verified_user("old@example.com", None).await;
    app.verified_user("other@example.com", None).await;
    let change = |body: Value| app.call("PATCH", "/api/v1/account/", &token, Some(body));

    let no_password = change(json!({ "email": "new@example.com" })).await;
    assert_eq!(no_password.status(), 400);
    let wrong = change(json!({ "email": "new@example.com", "current_password": "wrong" })).await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.json::<Value>().await.unwrap()["error"]["fields"]["current_password"].is_array());
    let taken = change(json!({ "email": "Other@example.com", "current_password": PASSWORD })).await;
    assert_eq!(taken.status(), 409);

    let accepted = change(json!({ "email": "New@Example.com", "current_password": PASSWORD })).await;
    assert_eq!(accepted.status(), 202);
    let account: Value = accepted.json().await.unwrap();
    assert_eq!(
        (account["email"].as_str(), account["pending_email"].as_str()),
        (Some("old@example.com"), Some("new@example.com"))
    );
    assert_eq!(app.login("new@example.com", PASSWORD).await.status(), 401, "not changed yet");

    let notice = app.outbox().messages_to("old@example.com").into_iter().find(|m| m.contains("new@example.com"));
    assert!(notice.is_some(), "the old address is told");
    let link = app.outbox().wait_for_link("new@example.com").await;
    assert!(link.contains("/confirm-email?"), "{link}");
    let (uid, token_param) = link_params(&link);
    let confirmed = app.post_json("/api/v1/account/email/confirm/", &json!({ "uid": uid, "token": token_param })).await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(confirmed.json::<Value>().await.unwrap()["email"], "new@example.com");
    let again = app.post_json("/api/v1/account/email/confirm/", &json!({ "uid": uid, "token": token_param })).await;
    assert_eq!(again.status(), 400, "single use");
    assert_eq!(app.login("new@example.com", PASSWORD).await.status(), 200);
    assert_eq!(app.login("old@example.com", PASSWORD).await.status(), 401);

    let history: Value =
        app.call("GET", "/api/v1/account/history/?page_size=100", &token, None).await.json().await.unwrap();
    let kinds: Vec<&str> = history["results"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"email_change_requested") && kinds.contains(&"email_changed"), "{kinds:?}");
}

#[tokio::test]
async fn history_is_paged_newest_first_like_django_rest_framework() {
    let app = spawn_app().await;
    let token = app.verified_user("pages@example.com", None).await;
    for n in 0..23 {
        let body = json!({ "first_name": format!("Name {n}") });
        assert_eq!(app.call("PATCH", "/api/v1/account/", &token, Some(body)).await.status(), 200);
    }
    // registered, verification_sent, email_verified, login_succeeded + 23 updates.
    let first: Value =
        app.call("GET", "/api/v1/account/history/?page_size=10", &token, None).await.json().await.unwrap();
    assert_eq!(first["count"], 27);
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(first["results"].as_array().unwrap().len(), 10);
    assert_eq!(first["results"][0]["detail"], "first_name");
    let next = first["next"].as_str().unwrap();
    assert!(next.starts_with("http") && next.contains("page=2") && next.contains("page_size=10"), "{next}");
    let third_url = "/api/v1/account/history/?page=3&page_size=10";
    let third: Value = app.call("GET", third_url, &token, None).await.json().await.unwrap();
    assert_eq!(third["results"].as_array().unwrap().len(), 7);
    assert_eq!(third["next"], Value::Null);
    assert_eq!(third["results"][6]["kind"], "registered", "oldest last");
    assert!(third["previous"].as_str().unwrap().contains("page=2"));
    for bad in ["page=0", "page_size=101", "page=x"] {
        let response = app.call("GET", &format!("/api/v1/account/history/?{bad}"), &token, None).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
}

async fn history_count(app: &TestApp, token: &str) -> i64 {
    let page: Value = app.call("GET", "/api/v1/account/history/", token, None).await.json().await.unwrap();
    page["count"].as_i64().unwrap()
}

#[tokio::test]
async fn history_older_than_the_retention_setting_is_pruned() {
    let app = spawn_app_with(|s| s.set("audit_retention", "1day")).await;
    let token = app.verified_user("prune@example.com", None).await;
    assert_eq!(app.core.audit().prune_history().await.unwrap(), 0, "nothing is a day old yet");
    assert!(history_count(&app, &token).await > 0);
    app.clock.advance(std::time::Duration::from_secs(2 * 86400));
    assert!(app.core.audit().prune_history().await.unwrap() > 0);
    // The session expired with the days that passed too: a new login's history holds only
    // that login.
    let login = app.login("prune@example.com", PASSWORD).await.json::<Value>().await.unwrap();
    let token = login["access"].as_str().unwrap();
    assert_eq!(history_count(&app, token).await, 1);

    let default = spawn_app().await;
    default.verified_user("keep@example.com", None).await;
    default.clock.advance(std::time::Duration::from_secs(2 * 86400));
    assert_eq!(default.core.audit().prune_history().await.unwrap(), 0, "kept a year by default");
}
