//! The database failing (issue 19): while PostgreSQL cannot be reached, requests that need it
//! are answered 503 `database_unavailable` with `Retry-After` within about the acquire timeout
//! (not 500 after ten seconds), `/readyz` says so as fast, and everything recovers by itself
//! once the database is back. The database is cut off by a proxy between the server and
//! PostgreSQL that the test unplugs and plugs back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::{spawn_app_with, TestApp, PASSWORD};

/// A TCP proxy to PostgreSQL that can be unplugged: every connection through it is cut and
/// new ones are refused, as when the database server stops.
struct Plug {
    addr: SocketAddr,
    upstream: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Plug {
    async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plug = Self { addr: listener.local_addr().unwrap(), upstream, tasks: Arc::default() };
        plug.serve(listener);
        plug
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream.clone(), self.tasks.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(relay);
            }
        });
        self.tasks.lock().unwrap().push(accepting);
    }

    fn unplug(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn plug_back(&self) {
        self.serve(TcpListener::bind(self.addr).await.unwrap());
    }
}

/// PostgreSQL behind a plug, and a server using it with `settings` on top; `None` on a
/// SQLite run (a SQLite file cannot become unreachable).
async fn app_behind_a_plug(settings: &[(&str, &str)]) -> Option<(Plug, TestApp)> {
    let Some(url) = crate::support::fresh_postgres_database().await else {
        eprintln!("a SQLite file cannot become unreachable: skipped on this SQLite run");
        return None;
    };
    let mut proxied = url::Url::parse(&url).unwrap();
    let upstream = format!("{}:{}", proxied.host_str().unwrap(), proxied.port().unwrap_or(5432));
    let plug = Plug::to(upstream).await;
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(plug.addr.port())).unwrap();
    let app = spawn_app_with(|s| {
        s.set("database_url", proxied.to_string());
        s.set("database_acquire_timeout", "500ms");
        // Short, so that the test is past it once the plug is pulled.
        s.set("principal_cache_ttl", "100ms");
        for (key, value) in settings {
            s.set(key, *value);
        }
    })
    .await;
    Some((plug, app))
}

/// Longer than the principal cache's TTL in these tests: after it, only the outage grace
/// lets a cached principal answer.
const PAST_THE_TTL: Duration = Duration::from_millis(300);

#[tokio::test]
async fn while_the_database_is_down_requests_get_503_at_once_and_all_recovers_when_it_is_back() {
    let Some((plug, app)) = app_behind_a_plug(&[]).await else { return };
    let access = app.verified_user("down@example.com", None).await;
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", &access).await.status(), 200);
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);

    plug.unplug();
    tokio::time::sleep(PAST_THE_TTL).await;
    // Every surface's answer: the JSON API's shape, and a compatibility surface's.
    let login = app.login("down@example.com", PASSWORD).await;
    assert_eq!(login.status(), 503);
    assert!(login.headers().contains_key("retry-after"));
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    let djoser = app.post_json("/api/jwt/create/", &json!({ "email": "down@example.com", "password": PASSWORD })).await;
    assert_eq!(djoser.status(), 503);
    assert!(djoser.headers().contains_key("retry-after"));
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], "unreachable");
    // A caller who proved who they are before the outage is still answered from the cache
    // (within GATEHOUSE_PRINCIPAL_CACHE_OUTAGE_GRACE), past the cache's TTL.
    let account = app.get_with_token("/api/v1/account/", "Bearer", &access).await;
    assert_eq!(account.status(), 200);
    let account: Value = account.json().await.unwrap();
    assert_eq!(account["email"], "down@example.com");
    assert_eq!(app.get_with_token("/api/v1/", "Bearer", &access).await.status(), 200);

    plug.plug_back().await;
    let mut back = false;
    for _ in 0..100 {
        if app.login("down@example.com", PASSWORD).await.status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "logins work again once the database is back, without a restart");
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
}

/// Without the outage grace a cached principal past its TTL is not used: the read needs the
/// database and is answered 503. (The grace is what kept the read above working.)
#[tokio::test]
async fn without_the_outage_grace_a_cached_caller_past_the_ttl_gets_503_too() {
    let Some((plug, app)) = app_behind_a_plug(&[("principal_cache_outage_grace", "0s")]).await else { return };
    let access = app.verified_user("nograce@example.com", None).await;
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", &access).await.status(), 200);
    plug.unplug();
    tokio::time::sleep(PAST_THE_TTL).await;
    let account = app.get_with_token("/api/v1/account/", "Bearer", &access).await;
    assert_eq!(account.status(), 503);
    let body: Value = account.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
}

/// A session this process ended before the outage is never served from the cache in it.
#[tokio::test]
async fn a_session_logged_out_here_is_not_revived_by_the_outage_grace() {
    let Some((plug, app)) = app_behind_a_plug(&[]).await else { return };
    let access = app.verified_user("gone@example.com", None).await;
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", &access).await.status(), 200);
    let other = app.login("gone@example.com", PASSWORD).await.json::<Value>().await.unwrap();
    let logout = app.call("POST", "/api/v1/auth/logout_all/", &access, None).await;
    assert!(logout.status().is_success(), "{}", logout.status());
    plug.unplug();
    tokio::time::sleep(PAST_THE_TTL).await;
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", &access).await.status(), 503);
    let other_access = other["access"].as_str().unwrap();
    assert_eq!(app.get_with_token("/api/v1/account/", "Bearer", other_access).await.status(), 503);
}
