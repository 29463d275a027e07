//! Two Gatehouse processes on one PostgreSQL database, as an operator runs them behind a load
//! balancer: what one process does to a session is what the other enforces. The principal
//! cache is set to its longest (60 s), so nothing here can pass by entries expiring: only the
//! change notifications (`Database::follow_other_processes`) carry a change across.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::gatehouse;
use crate::process::{serve, Server};

const PASSWORD: &str = "a shared passphrase 1";
/// What the notification may take to arrive, at most, before a test gives up (it takes
/// milliseconds; the cache would keep a stale entry for 60 s).
const NOTIFICATION_BOUND: Duration = Duration::from_secs(20);

/// Two processes sharing one new PostgreSQL database and one secret key; `None` on a
/// SQLite test run (one process per database file there).
async fn two_processes(extra: &[(&str, &str)]) -> Option<Processes> {
    let Some(url) = crate::support::fresh_postgres_database().await else {
        eprintln!("two processes share a PostgreSQL database: skipped on this SQLite run");
        return None;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut servers = Vec::new();
    for dir in [&dir_a, &dir_b] {
        let mut command = gatehouse(dir.path());
        command
            .env("GATEHOUSE_DATABASE_URL", &url)
            .env("GATEHOUSE_SECRET_KEY", "one secret key for both processes, 32+ chars")
            .env("GATEHOUSE_PRINCIPAL_CACHE_TTL", "60s")
            .env("GATEHOUSE_REQUIRE_EMAIL_VERIFICATION", "false");
        for (name, value) in extra {
            command.env(name, value);
        }
        servers.push(serve(command).await);
    }
    let b = servers.pop().unwrap();
    let a = servers.pop().unwrap();
    Some(Processes { a, b, database_url: url, _dirs: (dir_a, dir_b) })
}

struct Processes {
    a: Server,
    b: Server,
    database_url: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn login(server: &Server, email: &str, password: &str) -> reqwest::Response {
    server.post("/api/v1/auth/token/", json!({ "email": email, "password": password })).await
}

async fn tokens(server: &Server, email: &str) -> Value {
    let response = login(server, email, PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn account_status(server: &Server, access: &Value) -> u16 {
    let request = reqwest::Client::new().get(format!("{}/api/v1/account/", server.base));
    request.bearer_auth(access.as_str().unwrap()).send().await.unwrap().status().as_u16()
}

/// Asks `server` until the token is refused; how long that took.
async fn until_refused(server: &Server, access: &Value) -> Duration {
    let began = Instant::now();
    loop {
        match account_status(server, access).await {
            401 => return began.elapsed(),
            200 => assert!(began.elapsed() < NOTIFICATION_BOUND, "still accepted after {:?}", began.elapsed()),
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn logout_all_and_a_password_change_on_one_process_end_the_tokens_on_the_other() {
    let Some(Processes { a, b, .. }) = two_processes(&[]).await else { return };
    let email = "two-processes@example.com";
    let registered = a.post("/api/v1/auth/register/", json!({ "email": email, "password": PASSWORD })).await;
    assert_eq!(registered.status(), 201);
    let on_a = tokens(&a, email).await;
    let on_b = tokens(&b, email).await;
    // Each process has both principals in its cache now.
    for server in [&a, &b] {
        for pair in [&on_a, &on_b] {
            assert_eq!(account_status(server, &pair["access"]).await, 200);
        }
    }

    let everywhere = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/logout_all/", a.base))
        .bearer_auth(on_a["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(everywhere.status().is_success(), "{}", everywhere.status());
    assert_eq!(account_status(&a, &on_b["access"]).await, 401, "at once in the process that did it");
    let took = until_refused(&b, &on_b["access"]).await;
    eprintln!("logout-all on A reached B's cache in {took:?}");
    assert_eq!(account_status(&b, &on_a["access"]).await, 401);

    // A password change on B ends the sessions A has cached (all but B's own).
    let on_a = tokens(&a, email).await;
    let on_b = tokens(&b, email).await;
    assert_eq!(account_status(&a, &on_a["access"]).await, 200);
    let changed = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/password/change/", b.base))
        .bearer_auth(on_b["access"].as_str().unwrap())
        .json(&json!({ "current_password": PASSWORD, "new_password": "a new shared passphrase 2" }))
        .send()
        .await
        .unwrap();
    assert!(changed.status().is_success(), "{}", changed.status());
    let took = until_refused(&a, &on_a["access"]).await;
    eprintln!("a password change on B reached A's cache in {took:?}");
}

#[tokio::test]
async fn a_refresh_race_across_processes_rotates_once_and_reuse_is_caught_by_either() {
    let Some(Processes { a, b, .. }) = two_processes(&[]).await else { return };
    let email = "two-refreshes@example.com";
    a.post("/api/v1/auth/register/", json!({ "email": email, "password": PASSWORD })).await;
    let first = tokens(&a, email).await;
    let refresh = |server: &Server, token: &Value| {
        let body = json!({ "refresh": token });
        let url = format!("{}/api/v1/auth/token/refresh/", server.base);
        async move { reqwest::Client::new().post(url).json(&body).send().await.unwrap() }
    };

    // The two halves of a race land on different processes: one rotation happens, and the
    // loser gets the same new pair through the grace rule.
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let url = format!("{}/api/v1/auth/token/refresh/", if n % 2 == 0 { &a.base } else { &b.base });
            let body = json!({ "refresh": first["refresh"] });
            tokio::spawn(async move {
                let answer = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
                (answer.status().as_u16(), answer.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut new_refresh = std::collections::BTreeSet::new();
    for racer in racers {
        let (status, pair) = racer.await.unwrap();
        assert_eq!(status, 200, "{pair}");
        new_refresh.insert(pair["refresh"].as_str().unwrap().to_string());
    }
    assert_eq!(new_refresh.len(), 1, "one compare-and-set won: every racer got its result");
    let second = Value::from(new_refresh.into_iter().next().unwrap());

    // B rotates again; the first token, replayed on A, is two generations old: reuse.
    let third = refresh(&b, &second).await;
    assert_eq!(third.status(), 200);
    let third: Value = third.json().await.unwrap();
    assert_eq!(account_status(&b, &third["access"]).await, 200, "B has the session cached");
    assert_eq!(refresh(&a, &first["refresh"]).await.status(), 401, "reuse of an old token");
    assert_eq!(refresh(&b, &third["refresh"]).await.status(), 401, "the session was revoked for everyone");
    let took = until_refused(&b, &third["access"]).await;
    eprintln!("a reuse revocation on A reached B's cache in {took:?}");
}

#[tokio::test]
async fn failed_logins_on_either_process_draw_on_one_budget() {
    let budget = [("GATEHOUSE_LOGIN_FREE_ATTEMPTS_PER_ACCOUNT", "2")];
    let Some(Processes { a, b, database_url, .. }) = two_processes(&budget).await else { return };
    let mut database = <sqlx::PgConnection as sqlx::Connection>::connect(&database_url).await.unwrap();
    // Failures on either process spend one budget of two; the third failure sets a block, and
    // the next attempt, with the right password, is refused on either process until the block
    // (1 s after that failure) ends. The block is read from the database, so only an answer given within it counts:
    // on a machine too slow to ask in time, the round is repeated with a new account.
    for round in 0..10 {
        let email = format!("two-throttles-{round}@example.com");
        a.post("/api/v1/auth/register/", json!({ "email": email, "password": PASSWORD })).await;
        assert_eq!(login(&a, &email, "wrong guess 1").await.status(), 401);
        assert_eq!(login(&b, &email, "wrong guess 2").await.status(), 401);
        assert_eq!(login(&a, &email, "wrong guess 3").await.status(), 401, "past the budget: checked, then a block");
        let (failures, blocked_until): (i64, i64) = sqlx::query_as(
            "SELECT failures, blocked_until FROM login_throttle \
             WHERE key = (SELECT 'user:' || id FROM users WHERE email = $1)",
        )
        .bind(&email)
        .fetch_one(&mut database)
        .await
        .unwrap();
        assert_eq!(failures, 3, "both processes counted on one row");
        let mut answered_within_the_block = true;
        for server in [&b, &a] {
            let attempt = login(server, &email, PASSWORD).await;
            let answered_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            if answered_at.as_millis() as i64 >= blocked_until {
                answered_within_the_block = false;
                break;
            }
            assert_eq!(attempt.status(), 429, "the block set by A holds on both");
            assert!(attempt.headers().contains_key("retry-after"));
        }
        if answered_within_the_block {
            return;
        }
    }
    panic!("ten rounds without two logins answered within a second of the last failure");
}

/// The sessions trigger tells the other processes about every update except a refresh or a
/// last-used touch by listing the columns that matter (migration
/// `20261205000001_sessions_trigger_by_column.sql`): a column added to the table later must be
/// added to that list, or changes to it would stay in other processes' caches.
#[tokio::test]
async fn the_sessions_trigger_names_every_column_but_the_refresh_ones() {
    let app = crate::support::spawn_app().await;
    let db = app.core.database();
    if db.backend != gatehouse_core::db::Backend::Postgres {
        eprintln!("the trigger is PostgreSQL's: skipped on this SQLite run");
        return;
    }
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'sessions' ORDER BY column_name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let trigger: String = sqlx::query_scalar(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'sessions_changed' AND NOT tgisinternal",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let silent = ["last_used_at", "refresh_generation", "rotated_at"];
    assert!(columns.len() > silent.len(), "{columns:?}");
    for column in &columns {
        let (old, new) = (format!("old.{column}"), format!("new.{column}"));
        let named = trigger.contains(&old) && trigger.contains(&new);
        if silent.contains(&column.as_str()) {
            assert!(!named, "a refresh must not notify, but the trigger compares {column}: {trigger}");
        } else {
            assert!(named, "the trigger does not compare sessions.{column}: {trigger}");
        }
    }
}
