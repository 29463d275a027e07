//! Two-factor authentication in the web app without JavaScript: forms post to server
//! functions, pages are read as HTML. Codes are computed here from the secret the setup page
//! shows as text, at the server's (manual) clock.

use std::time::Duration;

use totp_rs::{Builder, Secret, Totp};

use crate::support::{spawn_app, Browser, TestApp};

/// The text of the element marked `data-testid="<id>"`, tags and whitespace removed, up to
/// the element's end tag `end`.
fn marked_text(html: &str, id: &str, end: &str) -> String {
    let start = html.find(&format!(r#"data-testid="{id}""#)).unwrap_or_else(|| panic!("no {id} in {html}"));
    let element = &html[start..];
    without_tags(&element[element.find('>').unwrap() + 1..element.find(end).unwrap()])
}

/// The text of some HTML (tags and hydration comments left out).
fn without_tags(html: &str) -> String {
    let element = html;
    let mut text = String::new();
    let mut in_tag = false;
    for c in element.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The `<code>` items of the recovery-codes list.
fn recovery_codes(html: &str) -> Vec<String> {
    let start = html.find(r#"data-testid="recovery-codes""#).expect("the codes are shown");
    let list = &html[start..start + html[start..].find("</ol>").unwrap()];
    list.split("<code>").skip(1).map(|item| without_tags(&item[..item.find("</code>").unwrap()])).collect()
}

/// An authenticator app set up by typing the key the page shows.
fn authenticator(setup_page: &str) -> Totp {
    let key: String = marked_text(setup_page, "totp-secret", "</p>").split_whitespace().collect();
    let secret = Secret::try_from_base32(&key).expect("the key is base32");
    // What authenticator apps assume: SHA-1, 6 digits, 30-second steps.
    Builder::new().with_secret(secret).with_digits(6).with_step_duration(30).with_account_name("web").build().unwrap()
}

fn code(totp: &Totp, app: &TestApp) -> String {
    totp.generate(app.clock.now_secs() as u64).to_string()
}

/// Turns two-factor authentication on from the Security page; returns the authenticator and
/// the first recovery codes.
async fn set_up(app: &TestApp, browser: &Browser) -> (Totp, Vec<String>) {
    let (_, location) = browser.submit("/security", "/_fn/start_totp_setup", &[]).await;
    assert_eq!(location, "/security/two-factor");
    let setup = browser.page(&location).await;
    assert!(setup.contains("<svg"), "the QR code is inline");
    let totp = authenticator(&setup);

    let (_, wrong) = browser.submit(&location, "/_fn/confirm_totp_setup", &[("code", "000000")]).await;
    assert!(browser.page(&wrong).await.contains("This code is not valid"), "{wrong}");
    let (_, location) = browser.submit(&location, "/_fn/confirm_totp_setup", &[("code", &code(&totp, app))]).await;
    assert_eq!(location, "/security/recovery-codes");
    let shown = browser.page(&location).await;
    let codes = recovery_codes(&shown);
    assert_eq!(codes.len(), 10);
    assert!(browser.page(&location).await.contains("shown only once"), "a reload shows them no more");
    (totp, codes)
}

#[tokio::test]
async fn set_up_two_factor_then_log_in_with_a_code_or_a_recovery_code() {
    let app = spawn_app().await;
    app.verified_user("web2fa@example.com", None).await;
    let browser = app.logged_in_browser("web2fa@example.com").await;
    assert!(marked_text(&browser.page("/security").await, "two-factor-status", "</p>").starts_with("Off"));
    let (totp, codes) = set_up(&app, &browser).await;
    let security = browser.page("/security").await;
    assert!(marked_text(&security, "two-factor-status", "</p>").starts_with("On"));
    assert!(marked_text(&security, "recovery-codes-left", "</p>").contains("10"));

    // Logging in now takes a second step; until it is done, every page sends the browser there.
    let (second, location) = app.browser_after_password("web2fa@example.com").await;
    assert_eq!(location, "/login/two-factor");
    for page in ["/dashboard", "/security", "/", "/no-such-page"] {
        assert_eq!(second.redirect_of(page).await.as_deref(), Some("/login/two-factor"), "{page}");
    }
    assert!(second.page("/login/two-factor").await.contains("Authentication code"));
    // The code that confirmed the device was used in this time step: it is not taken twice.
    let (_, replayed) =
        second.submit("/login/two-factor", "/_fn/verify_second_factor", &[("code", &code(&totp, &app))]).await;
    assert!(second.page(&replayed).await.contains("already used"), "{replayed}");
    app.clock.advance(Duration::from_secs(30));
    let (_, location) =
        second.submit("/login/two-factor", "/_fn/verify_second_factor", &[("code", &code(&totp, &app))]).await;
    assert_eq!(location, "/dashboard");
    assert!(second.page("/dashboard").await.contains("web2fa@example.com"));

    // A recovery code as typed from the page (grouped, in capitals) instead of the app.
    let (third, _) = app.browser_after_password("web2fa@example.com").await;
    let typed = format!(" {} ", codes[0].to_uppercase());
    let (_, location) = third.submit("/login/two-factor", "/_fn/use_recovery_code", &[("code", &typed)]).await;
    assert_eq!(location, "/dashboard");
    let (fourth, _) = app.browser_after_password("web2fa@example.com").await;
    let (_, reused) = fourth.submit("/login/two-factor", "/_fn/use_recovery_code", &[("code", &codes[0])]).await;
    assert!(fourth.page(&reused).await.contains("not valid (or was already used)"), "single use: {reused}");
    assert!(marked_text(&third.page("/security").await, "recovery-codes-left", "</p>").contains("9"));
}

#[tokio::test]
async fn a_half_logged_in_browser_can_only_finish_or_cancel() {
    let app = spawn_app().await;
    app.verified_user("half@example.com", None).await;
    let owner = app.logged_in_browser("half@example.com").await;
    set_up(&app, &owner).await;
    let (half, _) = app.browser_after_password("half@example.com").await;
    // Server functions refuse it as not signed in.
    let (_, refused) = half.submit("/security", "/_fn/start_totp_setup", &[]).await;
    assert!(refused.contains("__err="), "{refused}");
    let (_, refused) = half.submit("/security", "/_fn/logout_everywhere", &[]).await;
    assert!(refused.contains("__err="), "{refused}");
    assert!(owner.page("/dashboard").await.contains("half@example.com"), "nothing ended");
    // Cancel ends the half-open session: the pages are public again, the second step is gone.
    let (_, location) = half.submit("/login/two-factor", "/_fn/logout", &[]).await;
    assert_eq!(location, "/");
    assert_eq!(half.redirect_of("/").await, None);
    assert_eq!(half.redirect_of("/login/two-factor").await.as_deref(), Some("/login"));
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_and_wait_for_their_page_only_encrypted() {
    let app = spawn_app().await;
    app.verified_user("regen@example.com", None).await;
    let browser = app.logged_in_browser("regen@example.com").await;
    let (_, old_codes) = set_up(&app, &browser).await;

    let (_, location) = browser.submit("/security", "/_fn/regenerate_recovery_codes", &[]).await;
    assert_eq!(location, "/security/recovery-codes");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT data FROM web_sessions").fetch_all(&app.core.database().pool).await.unwrap();
    let new_codes = recovery_codes(&browser.page(&location).await);
    assert_eq!(new_codes.len(), 10);
    for code in &new_codes {
        let plain = code.replace('-', "");
        assert!(!stored.iter().any(|row| row.contains(&plain) || row.contains(code.as_str())), "in clear: {code}");
    }

    let (old, _) = app.browser_after_password("regen@example.com").await;
    let (_, refused) = old.submit("/login/two-factor", "/_fn/use_recovery_code", &[("code", &old_codes[1])]).await;
    assert!(refused.contains("__err="), "the old set is void: {refused}");
    let (_, location) = old.submit("/login/two-factor", "/_fn/use_recovery_code", &[("code", &new_codes[1])]).await;
    assert_eq!(location, "/dashboard");
}

#[tokio::test]
async fn turning_two_factor_off_makes_the_password_enough_again() {
    let app = spawn_app().await;
    app.verified_user("off@example.com", None).await;
    let browser = app.logged_in_browser("off@example.com").await;
    set_up(&app, &browser).await;
    let (_, location) = browser.submit("/security", "/_fn/remove_totp", &[]).await;
    assert_eq!(location, "/security?two_factor_off=1");
    let security = browser.page(&location).await;
    assert!(security.contains("Two-factor authentication is off."));
    assert!(marked_text(&security, "two-factor-status", "</p>").starts_with("Off"));
    app.logged_in_browser("off@example.com").await;
}
