//! The web app without JavaScript: forms post to server functions and follow redirects.

use crate::support::{link_params, spawn_app, TestApp, PASSWORD};

/// Posts a form the way a browser without JavaScript does; returns (status, Location).
async fn submit(app: &TestApp, page: &str, action: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = app
        .client
        .post(app.url(action))
        .header("Accept", "text/html")
        .header("Origin", &app.base)
        .header("Referer", app.url(page))
        .form(fields)
        .send()
        .await
        .unwrap();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (response.status().as_u16(), location)
}

async fn page(app: &TestApp, path: &str) -> String {
    let url = if path.starts_with("http") { path.to_string() } else { app.url(path) };
    app.client.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn register_confirm_log_in_and_see_the_dashboard_without_javascript() {
    let app = spawn_app().await;
    let (status, location) = submit(
        &app,
        "/register",
        "/_fn/register",
        &[("email", "web@example.com"), ("username", "webby"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!((status, location.as_str()), (302, "/check-email"));
    assert!(page(&app, "/check-email").await.contains("Check your email"));

    let link = app.outbox().wait_for_link("web@example.com").await;
    assert!(page(&app, &link).await.contains("Confirm my email"));
    let (uid, token) = link_params(&link);
    let (_, location) = submit(&app, &link, "/_fn/verify_email", &[("uid", &uid), ("token", &token)]).await;
    assert_eq!(location, "/login?verified=1");
    assert!(page(&app, &location).await.contains("Your email address is confirmed"));

    let (_, location) = submit(&app, "/login", "/_fn/login", &[("username", "webby"), ("password", PASSWORD)]).await;
    assert_eq!(location, "/dashboard");
    let dashboard = page(&app, "/dashboard").await;
    assert!(dashboard.contains("web@example.com"), "the dashboard shows the signed-in user");

    let (_, location) = submit(&app, "/dashboard", "/_fn/logout", &[]).await;
    assert_eq!(location, "/");
    assert!(!page(&app, "/dashboard").await.contains("web@example.com"), "logged out");
}

#[tokio::test]
async fn field_errors_come_back_beside_their_fields() {
    let app = spawn_app().await;
    let (status, location) =
        submit(&app, "/register", "/_fn/register", &[("email", "nope"), ("password", "123")]).await;
    assert_eq!(status, 302);
    assert!(location.contains("__err="), "{location}");
    let html = page(&app, &location).await;
    assert!(html.contains("Enter a valid email address."));
    assert!(html.contains("This password is too short."));
    assert!(html.contains(r#"aria-invalid="true""#));

    let (_, location) =
        submit(&app, "/login", "/_fn/login", &[("username", "ghost@example.com"), ("password", "whatever")]).await;
    assert!(page(&app, &location).await.contains("No active account found with the given credentials."));
}

#[tokio::test]
async fn session_cookie_is_http_only_and_same_site_and_changes_at_login() {
    let app = spawn_app().await;
    app.verified_user("cookie@example.com", None).await;
    let response = app
        .client
        .post(app.url("/_fn/login"))
        .header("Accept", "text/html")
        .header("Referer", app.url("/login"))
        .form(&[("username", "cookie@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().to_string();
    assert!(cookie.starts_with("gatehouse_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP deployments cannot use Secure cookies");
}

#[tokio::test]
async fn cross_origin_form_posts_are_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/_fn/register"))
        .header("Accept", "text/html")
        .header("Origin", "https://evil.example")
        .form(&[("email", "csrf@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(app.register("csrf@example.com", None).await.status(), 201, "nothing was created by the forged post");
}

#[tokio::test]
async fn the_dashboard_sends_anonymous_visitors_to_log_in() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/dashboard")).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let body = response.text().await.unwrap();
    assert!(
        (status == 302 && location.as_deref() == Some("/login")) || body.contains("/login"),
        "status {status}, location {location:?}"
    );
}

#[tokio::test]
async fn a_script_calling_a_server_function_gets_a_4xx_with_the_error() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/_fn/login"))
        .header("Origin", &app.base)
        .form(&[("username", "ghost@example.com"), ("password", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["Rejected"]["code"], "invalid_credentials");
    let missing = app.client.post(app.url("/_fn/login")).form(&[("nothing", "here")]).send().await.unwrap();
    assert_eq!(missing.status(), 400, "a call with missing arguments is the caller's fault");
}
