//! The web app without JavaScript: forms post to server functions and follow redirects.

use crate::support::{link_params, spawn_app, PASSWORD};

#[tokio::test]
async fn register_confirm_log_in_and_see_the_dashboard_without_javascript() {
    let app = spawn_app().await;
    let (status, location) = app
        .browser()
        .submit(
            "/register",
            "/_fn/register",
            &[("email", "web@example.com"), ("username", "webby"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((status, location.as_str()), (302, "/check-email"));
    assert!(app.browser().page("/check-email").await.contains("Check your email"));

    let link = app.outbox().wait_for_link("web@example.com").await;
    assert!(app.browser().page(&link).await.contains("Confirm my email"));
    let (uid, token) = link_params(&link);
    let (_, location) = app.browser().submit(&link, "/_fn/verify_email", &[("uid", &uid), ("token", &token)]).await;
    assert_eq!(location, "/login?verified=1");
    assert!(app.browser().page(&location).await.contains("Your email address is confirmed"));

    let (_, location) =
        app.browser().submit("/login", "/_fn/login", &[("username", "webby"), ("password", PASSWORD)]).await;
    assert_eq!(location, "/dashboard");
    let dashboard = app.browser().page("/dashboard").await;
    assert!(dashboard.contains("web@example.com"), "the dashboard shows the signed-in user");

    let (_, location) = app.browser().submit("/dashboard", "/_fn/logout", &[]).await;
    assert_eq!(location, "/");
    assert!(!app.browser().page("/dashboard").await.contains("web@example.com"), "logged out");
}

#[tokio::test]
async fn field_errors_come_back_beside_their_fields() {
    let app = spawn_app().await;
    let (status, location) =
        app.browser().submit("/register", "/_fn/register", &[("email", "nope"), ("password", "123")]).await;
    assert_eq!(status, 302);
    assert!(location.contains("__err="), "{location}");
    let html = app.browser().page(&location).await;
    assert!(html.contains("Enter a valid email address."));
    assert!(html.contains("This password is too short."));
    assert!(html.contains(r#"aria-invalid="true""#));

    let (_, location) = app
        .browser()
        .submit("/login", "/_fn/login", &[("username", "ghost@example.com"), ("password", "whatever")])
        .await;
    assert!(app.browser().page(&location).await.contains("No active account found with the given credentials."));
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
    let cookies: Vec<&str> = response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    let session = cookies.iter().find(|c| c.starts_with("gatehouse_session=")).expect("a session cookie");
    let device = cookies.iter().find(|c| c.starts_with("gatehouse_device=")).expect("a device cookie");
    for cookie in [session, device] {
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain HTTP deployments cannot use Secure cookies");
    }
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
async fn a_crafted_error_in_the_url_shows_no_text_of_its_own() {
    use base64::Engine;
    let app = spawn_app().await;
    let crafted = serde_json::json!({ "Rejected": { "code": "invalid_credentials",
        "message": "Your account is suspended. Call +1 555 0100 now.",
        "fields": { "username": ["Call +1 555 0100 now."] } } });
    let encoded = base64::engine::general_purpose::URL_SAFE.encode(crafted.to_string());
    for extra in ["", "&__err_tag=forged", "&next=%2Fdashboard"] {
        let path = format!("/login?__path=%2F_fn%2Flogin&__err={encoded}{extra}");
        let browser = app.browser();
        let redirect = browser.redirect_of(&path).await.expect("sent to the page without the error");
        assert!(!redirect.contains("__err"), "{redirect}");
        assert!(redirect.starts_with("/login"), "{redirect}");
        let html = browser.page(&redirect).await;
        assert!(!html.contains("555 0100"), "the crafted text is not shown");
    }
    // Not a way off the site either.
    let off_site = app.browser().redirect_of(&format!("//evil.test/?__path=x&__err={encoded}")).await;
    assert!(off_site.as_deref().is_some_and(|l| l.starts_with('/') && !l.starts_with("//")), "{off_site:?}");

    // The server's own error still makes the round trip.
    let (_, location) = app
        .browser()
        .submit("/login", "/_fn/login", &[("username", "ghost@example.com"), ("password", "wrong password")])
        .await;
    assert!(location.contains("__err_tag="), "{location}");
    assert!(app.browser().page(&location).await.contains("No active account found with the given credentials."));

    // A genuine tagged error with a second, crafted one after it (Leptos shows the last).
    let doubled = format!("{location}&__err={encoded}");
    let redirect = app.browser().redirect_of(&doubled).await.expect("sent to the page without the errors");
    assert!(!redirect.contains("__err"), "{redirect}");
    // A crafted error in the page address the form was posted from is not what gets tagged.
    let referer = format!("{}/login?__path=%2F_fn%2Flogin&__err={encoded}", app.base);
    let response = app
        .client
        .post(app.url("/_fn/login"))
        .header("Accept", "text/html")
        .header("Referer", &referer)
        .form(&[("username", "ghost@example.com"), ("password", "wrong password")])
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location.matches("__err=").count(), 1, "{location}");
    let html = app.browser().page(&location).await;
    assert!(!html.contains("555 0100"), "the crafted text was not tagged");
    assert!(html.contains("No active account found with the given credentials."));
}

#[tokio::test]
async fn a_form_post_claiming_the_same_host_by_another_scheme_is_refused() {
    let app = spawn_app().await;
    let host = app.base.trim_start_matches("http://").to_string();
    let post = |origin: String, email: &'static str| {
        app.client
            .post(app.url("/_fn/register"))
            .header("Accept", "text/html")
            .header("Origin", origin)
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
    };
    assert_eq!(post(format!("https://{host}"), "scheme@example.com").await.unwrap().status(), 403);
    assert_eq!(app.register("scheme@example.com", None).await.status(), 201, "the forged post created nothing");
    let same = post(format!("http://{host}"), "same@example.com").await.unwrap();
    assert!(same.status().as_u16() < 400, "the page's own origin is accepted: {}", same.status());
}

#[tokio::test]
async fn the_dashboard_sends_anonymous_visitors_to_log_in() {
    let app = spawn_app().await;
    let response = app.get_page("/dashboard").await;
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

#[tokio::test]
async fn the_security_page_changes_the_password_and_ends_other_sessions() {
    let app = spawn_app().await;
    let api_token = app.verified_user("sec@example.com", None).await;
    let browser = app.logged_in_browser("sec@example.com").await;
    let security = browser.page("/security").await;
    assert!(security.contains("Your sessions") && security.contains("this session"), "lists sessions");

    let (_, location) = browser
        .submit(
            "/security",
            "/_fn/change_password",
            &[("current_password", "wrong"), ("new_password", "another good passphrase")],
        )
        .await;
    assert!(browser.page(&location).await.contains("Your current password is incorrect."));

    let (_, location) = browser
        .submit(
            "/security",
            "/_fn/change_password",
            &[("current_password", PASSWORD), ("new_password", "another good passphrase")],
        )
        .await;
    assert_eq!(location, "/security?password_changed=1");
    assert!(browser.page(&location).await.contains("Your password is changed"), "still signed in");
    assert_eq!(
        app.get_with_token("/api/v1/account/", "Bearer", &api_token).await.status(),
        401,
        "other sessions ended"
    );
    assert_eq!(app.login("sec@example.com", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn log_out_everywhere_and_delete_account_from_the_security_page() {
    let app = spawn_app().await;
    app.verified_user("every@example.com", None).await;
    let first = app.logged_in_browser("every@example.com").await;
    let second = app.logged_in_browser("every@example.com").await;
    let (_, location) = first.submit("/security", "/_fn/logout_everywhere", &[]).await;
    assert_eq!(location, "/login?signed_out=everywhere");
    for browser in [&first, &second] {
        assert!(!browser.page("/dashboard").await.contains("every@example.com"));
    }

    let browser = app.logged_in_browser("every@example.com").await;
    let (_, location) = browser.submit("/security", "/_fn/delete_account", &[("current_password", "nope")]).await;
    assert!(location.contains("__err="), "wrong password refused: {location}");
    let (_, location) = browser.submit("/security", "/_fn/delete_account", &[("current_password", PASSWORD)]).await;
    assert_eq!(location, "/?account_deleted=1");
    assert_eq!(app.login("every@example.com", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn forgot_and_reset_password_pages_work_without_javascript() {
    let app = spawn_app().await;
    app.verified_user("forgot@example.com", None).await;
    let (_, location) =
        app.browser().submit("/forgot-password", "/_fn/forgot_password", &[("email", "forgot@example.com")]).await;
    assert_eq!(location, "/forgot-password?sent=1");
    assert!(app.browser().page(&location).await.contains("is on its way"));
    let link = app.outbox().wait_for_nth_link("forgot@example.com", 1).await;
    assert!(app.browser().page(&link).await.contains("Choose a new password"));
    let (uid, token) = link_params(&link);
    let fields = [("uid", uid.as_str()), ("token", token.as_str()), ("new_password", "reset by the web page")];
    let (_, location) = app.browser().submit(&link, "/_fn/reset_password", &fields).await;
    assert_eq!(location, "/login?password_reset=1");
    let (_, again) = app.browser().submit(&link, "/_fn/reset_password", &fields).await;
    assert!(app.browser().page(&again).await.contains("This link is invalid or has expired."), "single use");
    assert_eq!(app.login("forgot@example.com", "reset by the web page").await.status(), 200);
}

#[tokio::test]
async fn the_security_page_sends_anonymous_visitors_to_log_in() {
    let app = spawn_app().await;
    let response = app.get_page("/security").await;
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(location.as_deref(), Some("/login"));
}
