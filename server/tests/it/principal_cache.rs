//! The cache of live principals (`GATEHOUSE_PRINCIPAL_CACHE_TTL`): a change made through this
//! process applies at once however long the cache keeps entries; a change it did not make (as
//! another process on the same database would) applies when the entry expires, at once when
//! the cache is off.

use serde_json::{json, Value};

use crate::support::{link_params, spawn_app_with, TestApp, PASSWORD};

async fn account_status(app: &TestApp, access: &str) -> u16 {
    app.get_with_token("/api/v1/account/", "Bearer", access).await.status().as_u16()
}

async fn access_token(app: &TestApp, email: &str) -> String {
    let body: Value = app.login(email, PASSWORD).await.json().await.unwrap();
    body["access"].as_str().unwrap().to_string()
}

/// Ends every session of the user straight in the database, as another Gatehouse process
/// sharing it would: this process's stores never see the write.
async fn revoke_elsewhere(app: &TestApp, email: &str) {
    sqlx::query(
        "UPDATE sessions SET revoked_at = 1, revoked_reason = 'elsewhere' \
         WHERE user_id = (SELECT id FROM users WHERE email = $1)",
    )
    .bind(email)
    .execute(&app.core.database().pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn changes_made_here_apply_at_once_however_long_entries_live() {
    let app = spawn_app_with(|s| s.set("principal_cache_ttl", "60s")).await;
    let (_, superuser) = app.privileged_user("root@example.com", true, true).await;
    let token = app.verified_user("cached@example.com", None).await;
    let other = access_token(&app, "cached@example.com").await;
    let account: Value = app.get_with_token("/api/v1/account/", "Bearer", &token).await.json().await.unwrap();
    assert!(account["pending_email"].is_null(), "cached: no email change under way");
    assert_eq!(account_status(&app, &token).await, 200, "cached now");

    // Profile changes show on the next read.
    let patched = app.call("PATCH", "/api/v1/account/", &token, Some(json!({ "country": "Peru" }))).await;
    assert_eq!(patched.status(), 200);
    let account: Value = app.get_with_token("/api/v1/account/", "Bearer", &other).await.json().await.unwrap();
    assert_eq!(account["country"], "Peru");

    // An email change shows as pending at once, and is gone once confirmed.
    let moved = json!({ "email": "moved@example.com", "current_password": PASSWORD });
    assert_eq!(app.call("PATCH", "/api/v1/account/", &token, Some(moved)).await.status(), 202);
    let account: Value = app.get_with_token("/api/v1/account/", "Bearer", &token).await.json().await.unwrap();
    assert_eq!(account["pending_email"], "moved@example.com");
    let (uid, link_token) = link_params(&app.outbox().wait_for_link("moved@example.com").await);
    let confirmed = app.post_json("/api/v1/account/email/confirm/", &json!({ "uid": uid, "token": link_token })).await;
    assert_eq!(confirmed.status(), 200);
    let account: Value = app.get_with_token("/api/v1/account/", "Bearer", &token).await.json().await.unwrap();
    assert_eq!((account["email"].as_str(), account["pending_email"].is_null()), (Some("moved@example.com"), true));

    // Logging out one session ends it, not the other.
    assert_eq!(app.call("POST", "/api/v1/auth/logout/", &other, None).await.status(), 200);
    assert_eq!(account_status(&app, &other).await, 401);
    assert_eq!(account_status(&app, &token).await, 200);

    // Deactivation by an admin ends every token at once.
    let id: Value = app.get_with_token("/api/v1/account/", "Bearer", &token).await.json().await.unwrap();
    let path = format!("/api/v1/account/management/{}/update/", id["id"]);
    let update = app.call("PATCH", &path, &superuser, Some(json!({ "is_active": false }))).await;
    assert_eq!(update.status(), 200);
    assert_eq!(account_status(&app, &token).await, 401);
}

/// On SQLite (one process per database file) nothing tells a process about a write it did not
/// make: the TTL bounds it. On PostgreSQL the triggers' notification does, within milliseconds
/// (`two_processes.rs` measures it between two real processes).
#[tokio::test]
async fn a_change_made_elsewhere_waits_for_the_entry_to_expire_or_its_notification_or_applies_at_once_without_a_cache()
{
    let cached = spawn_app_with(|s| s.set("principal_cache_ttl", "60s")).await;
    let token = cached.verified_user("elsewhere@example.com", None).await;
    assert_eq!(account_status(&cached, &token).await, 200);
    revoke_elsewhere(&cached, "elsewhere@example.com").await;
    if cached.core.database().backend == gatehouse_core::db::Backend::Sqlite {
        assert_eq!(account_status(&cached, &token).await, 200, "answered from the cache for up to the TTL");
    } else {
        let began = std::time::Instant::now();
        while account_status(&cached, &token).await == 200 {
            assert!(began.elapsed() < std::time::Duration::from_secs(20), "no notification arrived");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    let uncached = spawn_app_with(|s| s.set("principal_cache_ttl", "0s")).await;
    let token = uncached.verified_user("elsewhere@example.com", None).await;
    assert_eq!(account_status(&uncached, &token).await, 200);
    revoke_elsewhere(&uncached, "elsewhere@example.com").await;
    assert_eq!(account_status(&uncached, &token).await, 401);
}
