//! Test support: the real server on a random port with a fresh database (SQLite in a temp
//! dir, or a new PostgreSQL database when `GATEHOUSE_TEST_DATABASE_URL` is set), plus helpers
//! to read the mail it sends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_core::clock::Clock;
use gatehouse_core::config::RawSettings;
use gatehouse_core::Settings;
use gatehouse_server::shutdown::ShutdownTrigger;
use gatehouse_server::startup::Application;
use reqwest::{Client, Response};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

/// No request of a test may hang the suite: a server that does not answer fails the test.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub data_dir: tempfile::TempDir,
    /// The core's clock: a manual one, moved by tests about time (throttling).
    pub clock: Clock,
    pub core: gatehouse_core::Gatehouse,
    pub shutdown: ShutdownTrigger,
    /// The server task: it ends when the server has stopped.
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// The app with the default settings (verification required, mail to the outbox).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with some settings changed.
pub async fn spawn_app_with(configure: impl FnOnce(&mut RawSettings)) -> TestApp {
    spawn_app_on_clock(Clock::manual(), configure).await
}

/// The app telling time by `clock` (a manual one), e.g. a second process, or a restart,
/// that shares the first one's time.
pub async fn spawn_app_on_clock(clock: Clock, configure: impl FnOnce(&mut RawSettings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut raw = RawSettings::default();
    raw.set("bind", "127.0.0.1:0");
    raw.set("data_dir", data_dir.path().display().to_string());
    raw.set("log", std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()));
    if let Some(url) = fresh_postgres_database().await {
        raw.set("database_url", url);
    }
    configure(&mut raw);
    let settings = Settings::from_raw(raw).expect("test settings are valid");
    gatehouse_server::telemetry::init(&settings.log, settings.log_format);
    let scheme = if settings.tls_cert.is_some() { "https" } else { "http" };
    let app = Application::build_with_clock(settings, clock.clone()).await.expect("the app starts");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let shutdown = app.shutdown_trigger();
    let core = app.core().clone();
    let server = tokio::spawn(app.run_until_stopped());
    let client = Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // Tests that serve HTTPS use a self-signed certificate.
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    TestApp { base: format!("{scheme}://{addr}"), client, data_dir, clock, core, shutdown, server, metrics_addr }
}

/// A new, empty database on the PostgreSQL server named by `GATEHOUSE_TEST_DATABASE_URL`.
pub(crate) async fn fresh_postgres_database() -> Option<String> {
    let admin_url = std::env::var("GATEHOUSE_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await.expect("connect to the test PostgreSQL");
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(&admin_url).expect("GATEHOUSE_TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

impl TestApp {
    /// `path` on this server; absolute URLs (a redirect's `Location`) pass through.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    pub async fn get_with_token(&self, path: &str, scheme: &str, token: &str) -> Response {
        self.client.get(self.url(path)).header("Authorization", format!("{scheme} {token}")).send().await.unwrap()
    }

    pub async fn register(&self, email: &str, username: Option<&str>) -> Response {
        self.post_json("/api/v1/auth/register/", &json!({ "email": email, "username": username, "password": PASSWORD }))
            .await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Response {
        let field = if identifier.contains('@') { "email" } else { "username" };
        self.post_json("/api/v1/auth/token/", &json!({ field: identifier, "password": password })).await
    }

    /// Registers, follows the emailed link and returns an access token.
    pub async fn verified_user(&self, email: &str, username: Option<&str>) -> String {
        assert_eq!(self.register(email, username).await.status(), 201);
        let link = self.outbox().wait_for_link(email).await;
        let (uid, token) = link_params(&link);
        let verified = self.post_json("/api/v1/auth/email/verify/", &json!({ "uid": uid, "token": token })).await;
        assert_eq!(verified.status(), 200);
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status(), 200);
        login.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string()
    }

    /// An account made directly in the core (as `createsuperuser` does), logged in through
    /// the API; returns its id and access token.
    pub async fn privileged_user(&self, email: &str, is_staff: bool, is_superuser: bool) -> (i64, String) {
        use gatehouse_core::accounts::{Privileges, Registration};
        let registration = Registration::parse(email, None, PASSWORD, self.core.credentials().policy()).unwrap();
        let user =
            self.core.accounts().create_user(&registration, Privileges { is_staff, is_superuser }, true).await.unwrap();
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status(), 200);
        (user.id.0, login.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string())
    }

    /// A request with a Bearer token and an optional JSON body.
    /// A JSON request with `Authorization: <authorization>` if given: the status and the JSON
    /// body (null when the body is not JSON).
    pub async fn json_call(
        &self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path));
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// A browser sharing this app's cookie jar.
    pub fn browser(&self) -> Browser {
        Browser { base: self.base.clone(), client: self.client.clone() }
    }

    /// A browser with a cookie jar of its own, logged in through the login form.
    pub async fn logged_in_browser(&self, email: &str) -> Browser {
        let (browser, location) = self.browser_after_password(email).await;
        assert_eq!(location, "/dashboard");
        browser
    }

    /// A browser with a cookie jar of its own that submitted the login form; returns it and
    /// where the form sent it.
    pub async fn browser_after_password(&self, email: &str) -> (Browser, String) {
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let browser = Browser { base: self.base.clone(), client };
        let (_, location) =
            browser.submit("/login", "/_fn/login", &[("username", email), ("password", PASSWORD)]).await;
        (browser, location)
    }

    /// A web page.
    pub async fn get_page(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub fn outbox(&self) -> Outbox {
        Outbox(self.data_dir.path().join("outbox"))
    }
}

/// A browser without JavaScript: it posts forms to server functions and reads pages.
pub struct Browser {
    base: String,
    client: Client,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Posts a form from `page` the way a browser does; returns (status, Location).
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .client
            .post(self.url(action))
            .header("Accept", "text/html")
            .header("Origin", &self.base)
            .header("Referer", self.url(page))
            .form(fields)
            .send()
            .await
            .unwrap();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (response.status().as_u16(), location)
    }

    /// A page's whole response.
    pub async fn response(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// A page's HTML.
    pub async fn page(&self, path: &str) -> String {
        self.response(path).await.text().await.unwrap()
    }

    /// Where a page sends this browser: the Location of its redirect, if it redirects.
    pub async fn redirect_of(&self, path: &str) -> Option<String> {
        let response = self.response(path).await;
        response.headers().get("location").map(|v| v.to_str().unwrap().to_string())
    }
}

/// The `.eml` files the server wrote.
pub struct Outbox(pub PathBuf);

impl Outbox {
    /// Every message to `to`, oldest first, as plain text bodies.
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.0) else { return Vec::new() };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|f| read_message(f))
            .filter(|(rcpt, _)| rcpt.contains(to))
            .map(|(_, body)| body)
            .collect()
    }

    /// Waits (up to 10 s) for the n-th message to `to` and returns the first link in it.
    pub async fn wait_for_nth_link(&self, to: &str, n: usize) -> String {
        for _ in 0..200 {
            if let Some(body) = self.messages_to(to).get(n) {
                return first_link(body).expect("the mail has a link");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail number {n} to {to} in {}", self.0.display());
    }

    /// Waits (up to 10 s) for the n-th message to `to` whose text contains `text`.
    pub async fn wait_for_message(&self, to: &str, text: &str, n: usize) -> String {
        for _ in 0..200 {
            if let Some(body) = self.messages_to(to).into_iter().filter(|m| m.contains(text)).nth(n) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail number {n} to {to} with {text:?} in {}", self.0.display());
    }

    pub async fn wait_for_link(&self, to: &str) -> String {
        self.wait_for_nth_link(to, 0).await
    }
}

/// (recipient header, text body) of an RFC 822 message.
pub fn parse_message(raw: &[u8]) -> Option<(String, String)> {
    let parsed = mailparse::parse_mail(raw).ok()?;
    let to = parsed.headers.iter().find(|h| h.get_key().eq_ignore_ascii_case("to"))?.get_value();
    let text = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .map(|p| p.get_body().unwrap_or_default())
        .unwrap_or_else(|| parsed.get_body().unwrap_or_default());
    Some((to, text))
}

fn read_message(path: &Path) -> Option<(String, String)> {
    parse_message(&std::fs::read(path).ok()?)
}

pub fn first_link(text: &str) -> Option<String> {
    text.split_whitespace().find(|w| w.starts_with("http://") || w.starts_with("https://")).map(str::to_string)
}

/// `(uid, token)` from a `...?uid=..&token=..` link.
pub fn link_params(link: &str) -> (String, String) {
    let url = url::Url::parse(link).expect("a URL");
    let get = |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned()).expect(k);
    (get("uid"), get("token"))
}
