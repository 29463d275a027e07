//! Floods are bounded (issue 18, item 5): mail per recipient address, sign-ups and mail
//! requests per client address, a taken address found before any password hash.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

async fn settle(app: &TestApp) {
    assert!(app.core.operations().drain_background(Duration::from_secs(10)).await, "background work finished");
}

#[tokio::test]
async fn one_address_gets_at_most_its_hourly_share_of_each_kind_of_mail_from_all_surfaces() {
    let app = spawn_app_with(|s| s.set("mail_requests_per_ip_per_hour", "1000")).await;
    app.verified_user("victim@example.com", None).await;
    let resets =
        || app.outbox().messages_to("victim@example.com").iter().filter(|m| m.contains("/reset-password?")).count();
    let mut answers = Vec::new();
    for n in 0..8 {
        let (path, body) = match n % 3 {
            0 => ("/api/v1/auth/password/reset/", json!({ "email": "victim@example.com" })),
            1 => ("/api/user/password/reset/", json!({ "email": "victim@example.com" })),
            _ => ("/accounts/api/forget/password/", json!({ "email": "victim@example.com" })),
        };
        answers.push((path, app.json_call("POST", path, None, Some(body)).await));
    }
    // A stranger's address answers the same: the bound tells nothing either.
    for (path, answer) in &answers {
        let body = json!({ "email": "nobody@example.com" });
        assert_eq!(&app.json_call("POST", path, None, Some(body)).await, answer, "{path}");
    }
    settle(&app).await;
    assert_eq!(resets(), 5, "GATEHOUSE_MAIL_PER_ADDRESS_PER_HOUR's default");
    app.clock.advance(Duration::from_secs(3601));
    app.post_json("/api/v1/auth/password/reset/", &json!({ "email": "victim@example.com" })).await;
    settle(&app).await;
    assert_eq!(resets(), 6, "an hour later the address may be mailed again");
}

#[tokio::test]
async fn the_per_address_share_is_a_setting_and_counts_verification_mail_on_its_own() {
    let app = spawn_app_with(|s| {
        s.set("mail_per_address_per_hour", "2");
        s.set("mail_requests_per_ip_per_hour", "1000");
    })
    .await;
    assert_eq!(app.register("new@example.com", None).await.status(), 201);
    for _ in 0..4 {
        let resend = app.post_json("/api/v1/auth/email/resend/", &json!({ "email": "new@example.com" })).await;
        assert_eq!(resend.status(), 202);
    }
    settle(&app).await;
    let verifications = app.outbox().messages_to("new@example.com").len();
    assert_eq!(verifications, 2, "the sign-up's mail and one resend");
}

#[tokio::test]
async fn sign_ups_from_one_client_are_bounded_on_every_surface() {
    let app = spawn_app_with(|s| {
        s.set("signups_per_ip_per_hour", "3");
        s.set("require_email_verification", "false");
    })
    .await;
    assert_eq!(app.register("one@example.com", None).await.status(), 201);
    let djoser = app
        .json_call(
            "POST",
            "/api/users/create/",
            None,
            Some(json!({ "email": "two@example.com", "password": PASSWORD })),
        )
        .await;
    assert!(djoser.0 < 300, "{djoser:?}");
    let seed002 = json!({ "email": "three@example.com", "email_as_name": true, "password": PASSWORD });
    assert_eq!(app.json_call("POST", "/auth/signup", None, Some(seed002)).await.0, 200);
    let refused = app.register("four@example.com", None).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let (status, body) = app
        .json_call(
            "POST",
            "/auth/signup",
            None,
            Some(json!({ "email": "five@example.com", "email_as_name": true, "password": PASSWORD })),
        )
        .await;
    assert_eq!((status, body["status"].as_i64()), (429, Some(429)), "in that surface's shape: {body}");
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(app.register("four@example.com", None).await.status(), 201);
}

#[tokio::test]
async fn mail_requests_from_one_client_are_bounded() {
    let app = spawn_app_with(|s| s.set("mail_requests_per_ip_per_hour", "2")).await;
    let body = json!({ "email": "anyone@example.com" });
    let ask = || app.post_json("/api/v1/auth/password/reset/", &body);
    assert_eq!(ask().await.status(), 202);
    let resend = app.post_json("/api/v1/auth/email/resend/", &json!({ "email": "anyone@example.com" })).await;
    assert_eq!(resend.status(), 202);
    let refused = ask().await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "throttled");
}

#[tokio::test]
async fn a_sign_up_with_a_taken_address_or_name_costs_no_password_hash() {
    let app = spawn_app().await;
    app.verified_user("taken@example.com", Some("takenname")).await;
    let before = app.core.operations().password_hash_runs();
    let taken = app.register("taken@example.com", None).await;
    assert_eq!(taken.status(), 409);
    let name = app.register("free@example.com", Some("TakenName")).await;
    assert_eq!(name.status(), 409);
    assert!(name.json::<Value>().await.unwrap()["error"]["fields"]["username"].is_array());
    let look_alike = app.register("other@example.com", Some("ｔａｋｅｎname")).await;
    assert_eq!(look_alike.status(), 409, "a look-alike name is taken too");
    assert_eq!(app.core.operations().password_hash_runs(), before, "no hash was run");
}
