//! Refresh rotation and reuse detection, logout, logout-all, token verification, "your sessions".

use serde_json::{json, Value};

use crate::support::{spawn_app, TestApp, PASSWORD};

struct Pair {
    access: String,
    refresh: String,
}

async fn login_pair(app: &TestApp, email: &str) -> Pair {
    let body: Value = app.login(email, PASSWORD).await.json().await.unwrap();
    Pair { access: body["access"].as_str().unwrap().into(), refresh: body["refresh"].as_str().unwrap().into() }
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": token })).await
}

async fn pair_of(response: reqwest::Response) -> Pair {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    Pair { access: body["access"].as_str().unwrap().into(), refresh: body["refresh"].as_str().unwrap().into() }
}

async fn account_status(app: &TestApp, access: &str) -> u16 {
    app.get_with_token("/api/v1/account/", "Bearer", access).await.status().as_u16()
}

#[tokio::test]
async fn every_refresh_rotates_and_a_retry_within_the_grace_gets_the_current_pair() {
    let app = spawn_app().await;
    app.verified_user("rot@example.com", None).await;
    let first = login_pair(&app, "rot@example.com").await;
    let second = pair_of(refresh(&app, &first.refresh).await).await;
    assert_ne!(second.refresh, first.refresh, "rotated");
    assert_ne!(second.access, first.access);
    assert_eq!(account_status(&app, &second.access).await, 200);

    // The client lost the response and retries with the token it still has.
    let retried = pair_of(refresh(&app, &first.refresh).await).await;
    assert_eq!(retried.refresh, second.refresh, "the current refresh token again, no new rotation");
    let third = pair_of(refresh(&app, &second.refresh).await).await;
    assert_ne!(third.refresh, second.refresh);
}

#[tokio::test]
async fn reusing_an_older_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    app.verified_user("thief@example.com", None).await;
    let stolen = login_pair(&app, "thief@example.com").await;
    let second = pair_of(refresh(&app, &stolen.refresh).await).await;
    let third = pair_of(refresh(&app, &second.refresh).await).await;

    let replay = refresh(&app, &stolen.refresh).await;
    assert_eq!(replay.status(), 401, "two generations old: reuse");
    assert_eq!(refresh(&app, &third.refresh).await.status(), 401, "the session is gone, current token too");
    assert_eq!(account_status(&app, &third.access).await, 401, "and its access tokens");
}

#[tokio::test]
async fn reuse_after_the_grace_interval_is_detected() {
    let app = crate::support::spawn_app_with(|s| s.set("refresh_reuse_grace", "0s")).await;
    app.verified_user("slow@example.com", None).await;
    let first = login_pair(&app, "slow@example.com").await;
    let second = pair_of(refresh(&app, &first.refresh).await).await;
    app.clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(refresh(&app, &first.refresh).await.status(), 401);
    assert_eq!(refresh(&app, &second.refresh).await.status(), 401, "revoked");
}

/// The process that committed a rotation died before answering, and came back after longer
/// than the reuse grace: the client's retry with the token it still has is answered with the
/// committed pair, not taken as theft. The same retry long after the restart still is.
#[tokio::test]
async fn a_retry_after_a_crash_and_a_slow_restart_gets_the_committed_pair_not_a_theft_alarm() {
    use std::time::Duration;
    let clock = gatehouse_core::clock::Clock::manual();
    let first_run = crate::support::spawn_app_on_clock(clock.clone(), |_| {}).await;
    first_run.verified_user("crash@example.com", None).await;
    let held = login_pair(&first_run, "crash@example.com").await;
    let committed = pair_of(refresh(&first_run, &held.refresh).await).await;
    // The answer never reached the client; the process is gone, and comes back 30 s later.
    let (data_dir, database_url) =
        (first_run.data_dir.path().display().to_string(), first_run.core.settings().database_url());
    first_run.shutdown.trigger();
    let _ = first_run.server.await;
    clock.advance(Duration::from_secs(30));
    let restart = |clock| {
        let (data_dir, database_url) = (data_dir.clone(), database_url.clone());
        crate::support::spawn_app_on_clock(clock, move |s| {
            s.set("data_dir", data_dir);
            s.set("database_url", database_url);
        })
    };
    let next_run = restart(clock.clone()).await;
    clock.advance(Duration::from_secs(2));
    let retried = pair_of(refresh(&next_run, &held.refresh).await).await;
    assert_eq!(retried.refresh, committed.refresh, "the pair the crashed process committed");
    assert_eq!(account_status(&next_run, &retried.access).await, 200, "the session lives");

    // A minute and more after the start, an old token is theft again.
    clock.advance(Duration::from_secs(gatehouse_core::sessions::RESTART_GRACE_SECS as u64));
    assert_eq!(refresh(&next_run, &held.refresh).await.status(), 401);
    assert_eq!(refresh(&next_run, &committed.refresh).await.status(), 401, "the session was revoked");
}

#[tokio::test]
async fn racing_refreshes_of_one_token_leave_one_live_session() {
    let app = spawn_app().await;
    app.verified_user("race@example.com", None).await;
    let pair = login_pair(&app, "race@example.com").await;
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/token/refresh/");
            let token = pair.refresh.clone();
            tokio::spawn(async move { client.post(url).json(&json!({ "refresh": token })).send().await.unwrap() })
        })
        .collect();
    let mut refreshes = Vec::new();
    for racer in racers {
        refreshes.push(pair_of(racer.await.unwrap()).await.refresh);
    }
    refreshes.dedup();
    assert_eq!(refreshes.len(), 1, "every racer got the same current token: {refreshes:?}");
    // The race was not mistaken for reuse: the session lives on and its token refreshes again.
    let next = pair_of(refresh(&app, &refreshes[0]).await).await;
    let sessions: Vec<Value> =
        app.get_with_token("/api/v1/account/sessions/", "Bearer", &next.access).await.json().await.unwrap();
    // Refreshing never opens a session: the one from `verified_user` plus the raced one.
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["id"] == claims(&pair.access)["sid"]).count(), 1);
}

/// Rotations are written in groups (core/src/rotations.rs): many sessions refreshing at once,
/// some of them twice over, each rotate exactly their own session, once per generation.
#[tokio::test]
async fn many_sessions_refreshing_at_once_each_rotate_their_own() {
    let app = spawn_app().await;
    app.verified_user("many@example.com", None).await;
    let mut pairs = Vec::new();
    for _ in 0..12 {
        pairs.push(login_pair(&app, "many@example.com").await);
    }
    // Every token is presented twice at once: one rotates, the other gets the same new pair.
    let racers: Vec<_> = pairs
        .iter()
        .flat_map(|pair| [pair.refresh.clone(), pair.refresh.clone()])
        .map(|token| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/token/refresh/");
            tokio::spawn(async move { client.post(url).json(&json!({ "refresh": token })).send().await.unwrap() })
        })
        .collect();
    let mut rotated = Vec::new();
    for racer in racers {
        rotated.push(pair_of(racer.await.unwrap()).await);
    }
    for (n, pair) in pairs.iter().enumerate() {
        let (first, second) = (&rotated[2 * n], &rotated[2 * n + 1]);
        assert_eq!(first.refresh, second.refresh, "one rotation per session and generation");
        assert_ne!(first.refresh, pair.refresh);
        assert_eq!(claims(&first.access)["sid"], claims(&pair.access)["sid"], "the session's own token");
        assert_eq!(account_status(&app, &first.access).await, 200);
    }
    let distinct: std::collections::HashSet<_> = rotated.iter().map(|p| p.refresh.clone()).collect();
    assert_eq!(distinct.len(), pairs.len());
    // And each goes on rotating.
    for pair in rotated.iter().step_by(2) {
        assert_ne!(pair_of(refresh(&app, &pair.refresh).await).await.refresh, pair.refresh);
    }
}

#[tokio::test]
async fn logout_ends_that_session_and_its_access_tokens() {
    let app = spawn_app().await;
    app.verified_user("out@example.com", None).await;
    let pair = login_pair(&app, "out@example.com").await;
    let other = login_pair(&app, "out@example.com").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/logout/"))
        .bearer_auth(&pair.access)
        .json(&json!({ "refresh": pair.refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(account_status(&app, &pair.access).await, 401, "access token dies with the session");
    assert_eq!(refresh(&app, &pair.refresh).await.status(), 401);
    assert_eq!(account_status(&app, &other.access).await, 200, "other sessions live on");

    let bad = app
        .client
        .post(app.url("/api/v1/auth/logout/"))
        .bearer_auth(&other.access)
        .json(&json!({ "refresh": "not-a-token" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bare = app.client.post(app.url("/api/v1/auth/logout")).bearer_auth(&other.access).send().await.unwrap();
    assert_eq!(bare.status(), 200, "without a body: ends the caller's own session");
    assert_eq!(account_status(&app, &other.access).await, 401);
}

#[tokio::test]
async fn logout_all_kills_every_access_token_already_issued() {
    let app = spawn_app().await;
    app.verified_user("all@example.com", None).await;
    let phone = login_pair(&app, "all@example.com").await;
    let laptop = login_pair(&app, "all@example.com").await;
    assert_eq!(account_status(&app, &laptop.access).await, 200);
    let response = app.get_with_token("/api/v1/auth/logout_all/", "Bearer", &phone.access).await;
    assert_eq!(response.status(), 205);
    for pair in [&phone, &laptop] {
        assert_eq!(account_status(&app, &pair.access).await, 401, "no waiting for expiry");
        assert_eq!(refresh(&app, &pair.refresh).await.status(), 401);
    }
    let again = login_pair(&app, "all@example.com").await;
    let post = app
        .client
        .post(app.url("/api/v1/auth/logout_all"))
        .header("Authorization", format!("JWT {}", again.access))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 205, "POST works too");
}

#[tokio::test]
async fn token_verify_answers_200_or_401() {
    let app = spawn_app().await;
    app.verified_user("ver@example.com", None).await;
    let pair = login_pair(&app, "ver@example.com").await;
    let ok = app.post_json("/api/v1/auth/token/verify/", &json!({ "token": pair.access })).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(app.post_json("/api/v1/auth/token/verify/", &json!({ "token": "garbage" })).await.status(), 401);
    assert_eq!(app.post_json("/api/v1/auth/token/verify/", &json!({ "token": pair.refresh })).await.status(), 401);
    app.get_with_token("/api/v1/auth/logout_all/", "Bearer", &pair.access).await;
    assert_eq!(app.post_json("/api/v1/auth/token/verify/", &json!({ "token": pair.access })).await.status(), 401);
}

#[tokio::test]
async fn your_sessions_lists_api_and_browser_logins_and_revokes_them() {
    let app = spawn_app().await;
    app.verified_user("list@example.com", None).await;
    let mine = login_pair(&app, "list@example.com").await;
    let other = login_pair(&app, "list@example.com").await;
    // A browser login through the web app's form.
    let browser = app.logged_in_browser("list@example.com").await;
    assert!(browser.page("/dashboard").await.contains("list@example.com"));

    let sessions: Vec<Value> =
        app.get_with_token("/api/v1/account/sessions/", "Bearer", &mine.access).await.json().await.unwrap();
    assert_eq!(sessions.len(), 4, "the verified_user login, two API logins, one browser: {sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions.iter().filter(|s| s["kind"] == "browser").count(), 1);
    let browser_id = sessions.iter().find(|s| s["kind"] == "browser").unwrap()["id"].as_str().unwrap().to_string();

    let revoke = |id: String| {
        let app = &app;
        let access = mine.access.clone();
        async move {
            app.client
                .delete(app.url(&format!("/api/v1/account/sessions/{id}/")))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(revoke(browser_id).await.status(), 204);
    assert!(!browser.page("/dashboard").await.contains("list@example.com"), "browser logged out");

    let other_claims = claims(&other.access);
    assert_eq!(revoke(other_claims["sid"].as_str().unwrap().to_string()).await.status(), 204);
    assert_eq!(account_status(&app, &other.access).await, 401, "revoking a session kills its access tokens");
    assert_eq!(revoke("no-such-session".into()).await.status(), 404);

    app.verified_user("stranger@example.com", None).await;
    let stranger = login_pair(&app, "stranger@example.com").await;
    let stranger_sid = claims(&stranger.access)["sid"].as_str().unwrap().to_string();
    assert_eq!(revoke(stranger_sid).await.status(), 404, "someone else's session is not yours to end");
    assert_eq!(account_status(&app, &stranger.access).await, 200);
}

fn claims(access: &str) -> Value {
    use base64::Engine;
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn access_tokens_expire_by_the_core_clock() {
    let app = spawn_app().await;
    let token = app.verified_user("expiry@example.com", None).await;
    assert_eq!(account_status(&app, &token).await, 200);
    // Fifteen minutes by default, then a few seconds of leeway for clocks that differ.
    app.clock.advance(std::time::Duration::from_secs(15 * 60));
    assert_eq!(account_status(&app, &token).await, 200, "within the leeway");
    app.clock.advance(std::time::Duration::from_secs(6));
    assert_eq!(account_status(&app, &token).await, 401, "expired by the core's clock, whatever the system's says");
}
