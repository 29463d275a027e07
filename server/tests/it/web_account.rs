//! Profile, history, dashboard, the strength meter and the admin pages in the web app without
//! JavaScript: forms post to server functions, pages are read as HTML.

use crate::support::{link_params, spawn_app, PASSWORD};

#[tokio::test]
async fn the_profile_page_saves_every_field_and_the_history_shows_it() {
    let app = spawn_app().await;
    app.verified_user("web-profile@example.com", None).await;
    let browser = app.logged_in_browser("web-profile@example.com").await;
    assert!(browser.page("/profile").await.contains("Your details"));
    let fields = [
        ("username", "webby"),
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("country", "UK"),
        ("profession", "Analyst"),
        ("bio", "Engines and poetry."),
        ("thoughts", "Numbers are music."),
        ("profile_img", "https://example.com/ada.png"),
    ];
    let (_, location) = browser.submit("/profile", "/_fn/update_profile", &fields).await;
    assert_eq!(location, "/profile?saved=1");
    let page = browser.page(&location).await;
    for (_, value) in fields {
        assert!(page.contains(value), "{value} shown");
    }
    let mut bad = fields;
    bad[7] = ("profile_img", "javascript:alert(1)");
    let (_, location) = browser.submit("/profile", "/_fn/update_profile", &bad).await;
    assert!(browser.page(&location).await.contains("Enter a valid http:// or https:// URL."));

    let history = browser.page("/history").await;
    assert!(history.contains("Profile updated") && history.contains("Logged in"), "readable kinds");
    let dashboard = browser.page("/dashboard").await;
    // The API login of `verified_user` and this browser.
    assert!(dashboard.contains("Latest events") && dashboard.contains("2 active sessions"), "dashboard");
}

#[tokio::test]
async fn the_email_changes_through_the_pages_after_the_link() {
    let app = spawn_app().await;
    app.verified_user("web-old@example.com", None).await;
    let browser = app.logged_in_browser("web-old@example.com").await;
    let (_, location) = browser
        .submit("/profile", "/_fn/change_email", &[("email", "web-new@example.com"), ("current_password", "nope")])
        .await;
    assert!(browser.page(&location).await.contains("Your current password is incorrect."));
    let (_, location) = browser
        .submit("/profile", "/_fn/change_email", &[("email", "web-new@example.com"), ("current_password", PASSWORD)])
        .await;
    assert_eq!(location, "/profile?email_sent=1");
    assert!(browser.page(&location).await.contains("data-testid=\"pending-email\""));

    let link = app.outbox().wait_for_link("web-new@example.com").await;
    assert!(browser.page(&link).await.contains("Use this address"));
    let (uid, token) = link_params(&link);
    let (_, location) = browser.submit(&link, "/_fn/confirm_email", &[("uid", &uid), ("token", &token)]).await;
    assert_eq!(location, "/profile?email_changed=1");
    assert!(browser.page("/profile").await.contains("web-new@example.com"));
    let (_, again) = browser.submit(&link, "/_fn/confirm_email", &[("uid", &uid), ("token", &token)]).await;
    assert!(browser.page(&again).await.contains("This link is invalid or has expired."));
}

#[tokio::test]
async fn a_failed_submit_shows_the_password_strength_without_javascript() {
    let app = spawn_app().await;
    let (_, location) = app
        .browser()
        .submit("/register", "/_fn/register", &[("email", "meter@example.com"), ("password", "password")])
        .await;
    let page = app.browser().page(&location).await;
    assert!(page.contains("data-testid=\"password-strength\""), "the meter is shown");
    assert!(page.contains("data-score=\"0\"") && page.contains("Very weak"), "its reading");
    assert!(page.contains("This password is too common."), "the rule's message too");

    let (_, location) = app
        .browser()
        .submit(
            "/register",
            "/_fn/register",
            &[("email", "not an email"), ("password", "correct horse battery staple")],
        )
        .await;
    let page = app.browser().page(&location).await;
    assert!(page.contains("data-score=\"4\"") && page.contains("Strong"), "a good password rated as such");
}

#[tokio::test]
async fn the_admin_pages_show_staff_what_they_may_do_and_refuse_everyone_else() {
    let app = spawn_app().await;
    app.privileged_user("web-staff@example.com", true, false).await;
    app.privileged_user("web-root@example.com", true, true).await;
    let bob_token = app.verified_user("web-bob@example.com", Some("bobby")).await;
    let bob_account = app.get_with_token("/api/v1/account/", "Bearer", &bob_token).await;
    let bob_id = bob_account.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();

    assert_eq!(app.browser().redirect_of("/admin/users").await.as_deref(), Some("/login"), "anonymous");
    let bob = app.logged_in_browser("web-bob@example.com").await;
    let refused = bob.response("/admin/users").await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("Staff only"));

    let staff = app.logged_in_browser("web-staff@example.com").await;
    let list = staff.page("/admin/users?search=bob").await;
    assert!(list.contains("web-bob@example.com") && !list.contains("web-root@example.com"), "searched");
    assert!(list.contains("data-testid=\"read-only\""), "staff see it read-only");
    let user_page = staff.page(&format!("/admin/users/{bob_id}")).await;
    assert!(user_page.contains("web-bob@example.com") && !user_page.contains("Save changes"));
    let (_, refused) = staff.submit("/admin/users", "/_fn/admin_end_sessions", &[("id", &bob_id.to_string())]).await;
    assert!(refused.contains("__err="), "staff cannot change anyone: {refused}");

    let root = app.logged_in_browser("web-root@example.com").await;
    let user_page = root.page(&format!("/admin/users/{bob_id}")).await;
    assert!(user_page.contains("Save changes") && user_page.contains("End all sessions"));
    let id = bob_id.to_string();
    let fields = [
        ("id", id.as_str()),
        ("email", "web-bob@example.com"),
        ("username", "bobby"),
        ("first_name", "Bob"),
        ("last_name", ""),
        ("country", ""),
        ("profession", ""),
        ("is_active", "on"),
        ("is_verified", "on"),
        ("is_staff", "on"),
    ];
    let (_, location) = root.submit("/admin/users", "/_fn/admin_update_user", &fields).await;
    assert_eq!(location, format!("/admin/users/{bob_id}?saved=1"));
    assert!(root.page(&location).await.contains("Staff"), "bob is staff now");
    let (_, location) = root.submit("/admin/users", "/_fn/admin_end_sessions", &[("id", &id)]).await;
    assert_eq!(location, format!("/admin/users/{bob_id}?sessions_ended=1"));
    assert!(!bob.page("/dashboard").await.contains("web-bob@example.com"), "bob's browser is logged out");

    assert!(root.page(&format!("/admin/users/{bob_id}/delete")).await.contains("Yes, delete this user"));
    let (_, location) = root.submit("/admin/users", "/_fn/admin_delete_user", &[("id", &id)]).await;
    assert_eq!(location, "/admin/users?deleted=1");
    assert_eq!(app.login("web-bob@example.com", PASSWORD).await.status(), 401);
}
