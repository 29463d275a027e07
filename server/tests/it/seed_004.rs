//! Seed 004 (a DRF + simplejwt demo) is the canonical `/api/v1`: its document replayed in its
//! order — Swagger UI, token pair with `username`, refresh, logout, logout-all (205), ping,
//! own account, and the staff/superuser account management with the statuses it lists.

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, PASSWORD};

async fn call(app: &TestApp, method: &str, path: &str, access: Option<&str>, body: Option<Value>) -> (u16, Value) {
    app.json_call(method, path, access.map(|t| format!("Bearer {t}")), body).await
}

/// The document's token request: the superuser's username and password.
async fn login_with_username(app: &TestApp) -> (u16, Value) {
    let body = json!({ "username": "existing_name", "password": PASSWORD });
    call(app, "POST", "/api/v1/auth/token/", None, Some(body)).await
}

#[tokio::test]
async fn seed_004_replayed_in_its_order() {
    let app = spawn_app().await;
    // "First of all we need to create a superuser" (as `createsuperuser` does), with a username.
    {
        use gatehouse_core::accounts::{Privileges, Registration};
        let registration =
            Registration::parse("admin@example.com", Some("existing_name"), PASSWORD, app.core.credentials().policy())
                .unwrap();
        app.core
            .accounts()
            .create_user(&registration, Privileges { is_staff: true, is_superuser: true }, true)
            .await
            .unwrap();
    }
    // 1.1 Swagger UI.
    assert_eq!(app.client.get(app.url("/api/v1/swagger/ui/")).send().await.unwrap().status(), 200);
    // 1.1 token pair from username + password.
    let (status, pair) = login_with_username(&app).await;
    assert_eq!(status, 200);
    let refresh = pair["refresh"].as_str().unwrap().to_string();
    // 1.2 refresh → a new access token.
    let (status, renewed) =
        call(&app, "POST", "/api/v1/auth/token/refresh/", None, Some(json!({ "refresh": refresh }))).await;
    assert_eq!(status, 200);
    assert!(renewed["access"].is_string());
    let access = renewed["access"].as_str().unwrap().to_string();
    // 2.1 ping, 3.1 own account.
    let (status, ping) = call(&app, "GET", "/api/v1/", Some(&access), None).await;
    assert_eq!((status, ping["api_version"].as_str(), ping["message"].as_str()), (200, Some("v1"), Some("Welcome!")));
    assert_eq!(call(&app, "GET", "/api/v1/account/", Some(&access), None).await.0, 200);
    // 3.2–3.6 account management.
    assert_eq!(call(&app, "GET", "/api/v1/account/management/", Some(&access), None).await.0, 200);
    let new_user = json!({ "email": "made@example.com", "username": "made", "password": "a long enough passphrase" });
    let (status, created) =
        call(&app, "POST", "/api/v1/account/management/create/", Some(&access), Some(new_user)).await;
    assert_eq!(status, 201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(call(&app, "GET", &format!("/api/v1/account/management/{id}/"), Some(&access), None).await.0, 200);
    // The document lists the update path with GET: it shows the user (DRF's RetrieveUpdateAPIView).
    let (status, shown) =
        call(&app, "GET", &format!("/api/v1/account/management/{id}/update/"), Some(&access), None).await;
    assert_eq!((status, shown["email"].as_str()), (200, Some("made@example.com")));
    let (status, updated) = call(
        &app,
        "PATCH",
        &format!("/api/v1/account/management/{id}/update/"),
        Some(&access),
        Some(json!({ "first_name": "Made" })),
    )
    .await;
    assert_eq!((status, updated["first_name"].as_str()), (200, Some("Made")));
    let (status, _) =
        call(&app, "DELETE", &format!("/api/v1/account/management/{id}/delete/"), Some(&access), None).await;
    assert_eq!(status, 204);
    // 1.3 logout with the refresh token (200), 1.4 logout all devices (GET, 205).
    let (status, second) = login_with_username(&app).await;
    assert_eq!(status, 200);
    let (status, _) =
        call(&app, "POST", "/api/v1/auth/logout/", Some(&access), Some(json!({ "refresh": second["refresh"] }))).await;
    assert_eq!(status, 200);
    assert_eq!(call(&app, "GET", "/api/v1/auth/logout_all/", Some(&access), None).await.0, 205);
    assert_eq!(call(&app, "GET", "/api/v1/", Some(&access), None).await.0, 401, "every device logged out");
    // Only a superuser may see the update path; a normal user is refused (403).
    let user = app.verified_user("plain@example.com", None).await;
    assert_eq!(call(&app, "GET", "/api/v1/account/management/1/update/", Some(&user), None).await.0, 403);
}
