//! Emailed links die with the credentials they were issued under (issue 18, item 1): an
//! email change, a reset or a verification link mailed before a password change, a reset,
//! logout everywhere, or an admin's change of the address or deactivation answers like an
//! expired link afterwards. The old address hears of a completed change; a password change
//! or reset is announced; a pending change can be cancelled.

use serde_json::{json, Value};

use crate::support::*;

const ATTACKER: &str = "attacker@evil.test";

/// The owner's access token and the (uid, token) of a pending change to the attacker's address.
async fn pending_takeover(app: &TestApp, owner: &str) -> (String, (String, String)) {
    let token = app.verified_user(owner, None).await;
    let body = json!({ "email": ATTACKER, "current_password": PASSWORD });
    assert_eq!(app.call("PATCH", "/api/v1/account/", &token, Some(body)).await.status(), 202);
    let link = app.outbox().wait_for_link(ATTACKER).await;
    (token, link_params(&link))
}

async fn confirm_change(app: &TestApp, (uid, token): &(String, String)) -> u16 {
    let body = json!({ "uid": uid, "token": token });
    app.post_json("/api/v1/account/email/confirm/", &body).await.status().as_u16()
}

/// How an unknown link answers: the answer every retired link must give.
async fn expired_answer(app: &TestApp) -> (u16, Value) {
    let body = json!({ "uid": "MQ", "token": "no-such-token" });
    app.json_call("POST", "/api/v1/account/email/confirm/", None, Some(body)).await
}

async fn assert_retired(app: &TestApp, link: &(String, String), owner: &str) {
    let body = json!({ "uid": link.0, "token": link.1 });
    let answer = app.json_call("POST", "/api/v1/account/email/confirm/", None, Some(body)).await;
    assert_eq!(answer, expired_answer(app).await, "a retired link answers like an expired one");
    let account = app.login(owner, PASSWORD).await;
    let account = if account.status() == 200 { Some(account.json::<Value>().await.unwrap()) } else { None };
    if let Some(login) = account {
        let access = login["access"].as_str().unwrap();
        let me: Value = app.call("GET", "/api/v1/account/", access, None).await.json().await.unwrap();
        assert_eq!(me["email"], owner);
        assert_eq!(me["pending_email"], Value::Null);
    }
}

#[tokio::test]
async fn a_pending_email_change_dies_when_the_owner_changes_the_password() {
    let app = spawn_app().await;
    let (token, link) = pending_takeover(&app, "owner@example.com").await;
    let body = json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" });
    assert_eq!(app.call("POST", "/api/v1/auth/password/change/", &token, Some(body)).await.status(), 204);
    assert!(app.core.operations().drain_background(std::time::Duration::from_secs(10)).await);
    let body = json!({ "uid": link.0, "token": link.1 });
    assert_eq!(
        app.json_call("POST", "/api/v1/account/email/confirm/", None, Some(body)).await,
        expired_answer(&app).await
    );
    let notice = app.outbox().messages_to("owner@example.com").into_iter().find(|m| m.contains("account was changed."));
    assert!(notice.is_some(), "a password change is announced");
}

#[tokio::test]
async fn a_pending_email_change_dies_at_logout_everywhere() {
    let app = spawn_app().await;
    let (token, link) = pending_takeover(&app, "owner@example.com").await;
    assert_eq!(app.call("POST", "/api/v1/auth/logout_all/", &token, None).await.status(), 205);
    assert_retired(&app, &link, "owner@example.com").await;
}

#[tokio::test]
async fn a_pending_email_change_and_other_reset_links_die_at_a_password_reset() {
    let app = spawn_app().await;
    let (_, change_link) = pending_takeover(&app, "owner@example.com").await;
    let ask = app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "owner@example.com" })).await;
    assert_eq!(ask.status(), 202);
    let reset = reset_link(&app, 0).await;
    let body = json!({ "uid": reset.0, "token": reset.1, "new_password": "another fresh passphrase" });
    assert_eq!(app.post_json("/api/v1/auth/password/reset/confirm/", &body).await.status(), 204);
    assert_eq!(confirm_change(&app, &change_link).await, 400);
    assert!(app.core.operations().drain_background(std::time::Duration::from_secs(10)).await);
    let notice =
        app.outbox().messages_to("owner@example.com").into_iter().find(|m| m.contains("was reset with a link"));
    assert!(notice.is_some(), "a reset is announced");
}

/// The n-th reset link mailed to the owner (notices carry links of their own, so the reset
/// mails are picked by their page).
async fn reset_link(app: &TestApp, n: usize) -> (String, String) {
    let mail = app.outbox().wait_for_message("owner@example.com", "/reset-password?", n).await;
    link_params(&first_link(&mail).expect("the reset mail's link"))
}

#[tokio::test]
async fn reset_and_verification_links_die_when_an_admin_sets_the_password_or_deactivates() {
    let app = spawn_app().await;
    let (_, admin) = app.privileged_user("root@example.com", true, true).await;
    let (_, change_link) = pending_takeover(&app, "owner@example.com").await;
    let ask = app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "owner@example.com" })).await;
    assert_eq!(ask.status(), 202);
    let reset = reset_link(&app, 0).await;
    let id = users_id(&app, &admin, "owner@example.com").await;
    let body = json!({ "password": "set by the admin now" });
    let path = format!("/api/v1/account/management/{id}/update/");
    assert_eq!(app.call("PATCH", &path, &admin, Some(body)).await.status(), 200);
    assert_eq!(confirm_change(&app, &change_link).await, 400);
    let body = json!({ "uid": reset.0, "token": reset.1, "new_password": "the attacker's choice" });
    assert_eq!(app.post_json("/api/v1/auth/password/reset/confirm/", &body).await.status(), 400);

    // Deactivation retires a verification link too.
    assert_eq!(app.register("second@example.com", None).await.status(), 201);
    let verify = link_params(&app.outbox().wait_for_link("second@example.com").await);
    let id = users_id(&app, &admin, "second@example.com").await;
    let path = format!("/api/v1/account/management/{id}/update/");
    assert_eq!(app.call("PATCH", &path, &admin, Some(json!({ "is_active": false }))).await.status(), 200);
    assert_eq!(app.call("PATCH", &path, &admin, Some(json!({ "is_active": true }))).await.status(), 200);
    let verified = app.post_json("/api/v1/auth/email/verify/", &json!({ "uid": verify.0, "token": verify.1 })).await;
    assert_eq!(verified.status(), 400, "the verification link died with the deactivation");
}

#[tokio::test]
async fn a_pending_email_change_dies_when_an_admin_changes_the_address() {
    let app = spawn_app().await;
    let (_, admin) = app.privileged_user("root@example.com", true, true).await;
    let (owner, link) = pending_takeover(&app, "owner@example.com").await;
    let id = users_id(&app, &admin, "owner@example.com").await;
    let path = format!("/api/v1/account/management/{id}/update/");
    // The admin form sends the address back unchanged with every save: that retires nothing.
    let same = json!({ "email": "owner@example.com", "first_name": "Owner" });
    assert_eq!(app.call("PATCH", &path, &admin, Some(same)).await.status(), 200);
    let me: Value = app.call("GET", "/api/v1/account/", &owner, None).await.json().await.unwrap();
    assert_eq!(me["pending_email"], ATTACKER, "still pending");
    let body = json!({ "email": "restored@example.com" });
    assert_eq!(app.call("PATCH", &path, &admin, Some(body)).await.status(), 200);
    assert_eq!(confirm_change(&app, &link).await, 400);
    let user: Value = app.call("GET", &path, &admin, None).await.json().await.unwrap();
    assert_eq!(user["email"], "restored@example.com");
    assert!(app.core.operations().drain_background(std::time::Duration::from_secs(10)).await);
    let told =
        app.outbox().messages_to("owner@example.com").into_iter().any(|m| m.contains("was changed to r***d@e***e.com"));
    assert!(told, "the old address hears of an admin's change too");
}

async fn users_id(app: &TestApp, admin: &str, email: &str) -> i64 {
    let page: Value = app
        .call("GET", &format!("/api/v1/account/management/?search={email}"), admin, None)
        .await
        .json()
        .await
        .unwrap();
    page["results"][0]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn the_old_address_is_told_when_a_change_completes_with_the_new_one_masked() {
    let app = spawn_app().await;
    let (_, link) = pending_takeover(&app, "owner@example.com").await;
    assert_eq!(confirm_change(&app, &link).await, 200);
    let told = app.outbox().wait_for_message("owner@example.com", "was changed to", 0).await;
    assert!(told.contains("a***r@e***l.test"), "{told}");
    assert!(!told.contains(ATTACKER), "the new address is masked: {told}");
    assert!(told.contains("contact the administrators"), "says how to get help: {told}");
}

#[tokio::test]
async fn a_pending_email_change_can_be_cancelled_and_its_link_stops_working() {
    let app = spawn_app().await;
    let (token, link) = pending_takeover(&app, "owner@example.com").await;
    let cancel = app.call("POST", "/api/v1/account/email/cancel/", &token, None).await;
    assert_eq!(cancel.status(), 204);
    assert_retired(&app, &link, "owner@example.com").await;
    let again = app.call("POST", "/api/v1/account/email/cancel/", &token, None).await;
    assert_eq!(again.status(), 404, "nothing pending any more");
    assert!(again.json::<Value>().await.unwrap()["error"]["code"].is_string());
    let anonymous = app.post_json("/api/v1/account/email/cancel/", &json!({})).await;
    assert_eq!(anonymous.status(), 401);
    let history: Value =
        app.call("GET", "/api/v1/account/history/?page_size=100", &token, None).await.json().await.unwrap();
    let kinds: Vec<&str> = history["results"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"email_change_cancelled"), "{kinds:?}");
}

#[tokio::test]
async fn the_profile_page_shows_the_pending_address_with_a_cancel_button_that_works_without_javascript() {
    let app = spawn_app().await;
    app.verified_user("owner@example.com", None).await;
    let browser = app.logged_in_browser("owner@example.com").await;
    let (status, _) =
        browser.submit("/profile", "/_fn/change_email", &[("email", ATTACKER), ("current_password", PASSWORD)]).await;
    assert!(status < 400, "{status}");
    let link = link_params(&app.outbox().wait_for_link(ATTACKER).await);
    let page = browser.page("/profile").await;
    assert!(page.contains("data-testid=\"pending-email\"") && page.contains(ATTACKER), "{page}");
    assert!(page.contains("/_fn/cancel_email_change"), "a Cancel form");
    let (status, _) = browser.submit("/profile", "/_fn/cancel_email_change", &[]).await;
    assert!(status < 400, "{status}");
    assert_eq!(confirm_change(&app, &link).await, 400);
    let page = browser.page("/profile").await;
    assert!(!page.contains("data-testid=\"pending-email\""), "no change pending any more");
}
