//! `cargo run --release -p gatehouse-bench` (or `scripts/bench.sh`): starts the release
//! `gatehouse` binary on a free port with a fresh SQLite data dir (or the database in
//! `GATEHOUSE_DATABASE_URL`), and reports for 127.0.0.1:
//!
//! - logins/s, refreshes/s and authenticated `GET /api/v1/account/` req/s, each with p50/p99;
//! - the same reads from a bare axum handler (`src/bin/bare.rs`: the same JSON, no middleware,
//!   no database), and Gatehouse's reads as a fraction of it;
//! - the argon2 bound (cores ÷ one hash time) and logins/s as a fraction of it;
//! - p99 of `GET /api/v1/account/` alone and while a login storm runs.
//!
//! Every phase runs for a fixed time and then stops; the whole run takes about half a minute.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use reqwest::Client;
use serde_json::{json, Value};

const PASSWORD: &str = "benchmark passphrase";
const USERS: usize = 16;
const PHASE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<()> {
    let bin = std::env::args().nth(1).unwrap_or_else(|| "target/release/gatehouse".into());
    let cores = num_cpus::get();
    let hash_secs = argon2_hash_time();
    let bound = cores as f64 / hash_secs;

    let server = Server::start(&bin).await?;
    let client = Client::builder().pool_max_idle_per_host(256).build()?;
    let emails: Vec<String> = (0..USERS).map(|n| format!("bench{n}@example.com")).collect();
    for email in &emails {
        let response = client
            .post(server.url("/api/v1/auth/register/"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?;
        if response.status() != 201 {
            bail!("registering {email}: {}", response.status());
        }
    }

    println!("Gatehouse benchmark on 127.0.0.1 ({cores} cores, {}s per phase)\n", PHASE.as_secs());
    println!("argon2id m=19456 KiB t=2 p=1: one hash {:.1} ms → bound {bound:.1} logins/s", hash_secs * 1000.0);

    let logins = run(PHASE, cores * 4, {
        let (client, server, emails) = (client.clone(), server.url(""), emails.clone());
        move |worker, _| {
            let (client, base, email) = (client.clone(), server.clone(), emails[worker % emails.len()].clone());
            async move { login(&client, &base, &email).await.map(|_| ()) }
        }
    })
    .await?;
    report("logins", &logins);
    println!("  logins/s are {:.0}% of the argon2 bound", 100.0 * logins.rate() / bound);

    // Each refresh worker rotates its own session's token.
    let mut sessions = Vec::new();
    for n in 0..32 {
        sessions.push(login(&client, &server.url(""), &emails[n % emails.len()]).await?);
    }
    let tokens: Arc<Vec<tokio::sync::Mutex<String>>> = Arc::new(
        sessions.iter().map(|s| tokio::sync::Mutex::new(s["refresh"].as_str().unwrap().to_string())).collect(),
    );
    let refreshes = run(PHASE, tokens.len(), {
        let (client, base, tokens) = (client.clone(), server.url(""), tokens.clone());
        move |worker, _| {
            let (client, base, tokens) = (client.clone(), base.clone(), tokens.clone());
            async move {
                let mut token = tokens[worker].lock().await;
                let response = client
                    .post(format!("{base}/api/v1/auth/token/refresh/"))
                    .json(&json!({ "refresh": *token }))
                    .send()
                    .await?;
                if response.status() != 200 {
                    bail!("refresh: {}", response.status());
                }
                *token = response.json::<Value>().await?["refresh"].as_str().unwrap_or_default().to_string();
                Ok(())
            }
        }
    })
    .await?;
    report("refreshes", &refreshes);

    let access = sessions[0]["access"].as_str().unwrap().to_string();
    let reads = run(PHASE, 32, account_reader(&client, &server.url("/api/v1/account/"), &access)).await?;
    report("GET /api/v1/account/", &reads);
    let pings = run(PHASE, 32, account_reader(&client, &server.url("/api/v1/"), &access)).await?;
    report("GET /api/v1/ (ping, authenticated)", &pings);
    let bare = Bare::start().await?;
    let bare_reads = run(PHASE, 32, account_reader(&client, &bare.url, &access)).await?;
    report("a bare axum handler, the same JSON", &bare_reads);
    for (name, samples) in [("GET /api/v1/account/", &reads), ("GET /api/v1/ (ping)", &pings)] {
        println!("  {name} runs at {:.0}% of the bare handler", 100.0 * samples.rate() / bare_reads.rate());
    }
    drop(bare);

    // The same reads while a login storm keeps every hashing thread busy.
    let storm = tokio::spawn(run(PHASE + Duration::from_secs(1), cores * 8, {
        let (client, base, emails) = (client.clone(), server.url(""), emails.clone());
        move |worker, _| {
            let (client, base, email) = (client.clone(), base.clone(), emails[worker % emails.len()].clone());
            async move { login(&client, &base, &email).await.map(|_| ()) }
        }
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reads_in_storm = run(PHASE, 32, account_reader(&client, &server.url("/api/v1/account/"), &access)).await?;
    let storm = storm.await??;
    report("GET /api/v1/account/ during a login storm", &reads_in_storm);
    report("  (the storm's logins)", &storm);
    println!(
        "\np99 of GET /api/v1/account/: {:.2} ms alone, {:.2} ms during the login storm",
        reads.percentile(0.99),
        reads_in_storm.percentile(0.99)
    );
    server.stop().await;
    Ok(())
}

/// GETs of `url` with the access token (which the bare handler ignores).
fn account_reader(
    client: &Client,
    url: &str,
    access: &str,
) -> impl Fn(usize, usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>
       + Clone
       + Send
       + Sync
       + 'static {
    let (client, url, access) = (client.clone(), url.to_string(), access.to_string());
    move |_, _| {
        let (client, url, access) = (client.clone(), url.clone(), access.clone());
        Box::pin(async move {
            let response = client.get(url).bearer_auth(access).send().await?;
            if response.status() != 200 {
                bail!("{}: {}", response.url().path().to_string(), response.status());
            }
            response.bytes().await?;
            Ok(())
        })
    }
}

async fn login(client: &Client, base: &str, email: &str) -> Result<Value> {
    let response = client
        .post(format!("{base}/api/v1/auth/token/"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await?;
    if response.status() != 200 {
        bail!("login: {}", response.status());
    }
    Ok(response.json().await?)
}

/// Latencies (ms) of the requests one phase completed, and how long it ran.
struct Samples {
    latencies_ms: Vec<f64>,
    elapsed: Duration,
}

impl Samples {
    fn rate(&self) -> f64 {
        self.latencies_ms.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
    }
}

fn report(name: &str, samples: &Samples) {
    println!(
        "{name:<45} {:>9.1} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests)",
        samples.rate(),
        samples.percentile(0.5),
        samples.percentile(0.99),
        samples.latencies_ms.len()
    );
}

/// Runs `workers` loops of `request` for `duration`, then stops.
async fn run<F, Fut>(duration: Duration, workers: usize, request: F) -> Result<Samples>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::new();
    for worker in 0..workers {
        let request = request.clone();
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                request(worker, n).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies_ms = Vec::new();
    for handle in handles {
        latencies_ms.extend(handle.await??);
    }
    Ok(Samples { latencies_ms, elapsed: started.elapsed() })
}

/// Median time of one argon2id hash with Gatehouse's default parameters.
fn argon2_hash_time() -> f64 {
    let params = Params::new(19_456, 2, 1, None).expect("valid parameters");
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    // A few unmeasured runs first, so the figure is for warm caches, like a busy server's.
    let mut times: Vec<f64> = (0..25)
        .map(|_| {
            let salt = SaltString::encode_b64(b"benchmark-salt!!").unwrap();
            let t = Instant::now();
            hasher.hash_password(PASSWORD.as_bytes(), &salt).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let mut times = times.split_off(5);
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The bare handler (`bare`, built beside this binary), killed when dropped.
struct Bare {
    _child: tokio::process::Child,
    url: String,
}

impl Bare {
    async fn start() -> Result<Self> {
        let bin = std::env::current_exe()?.with_file_name("bare");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child =
            tokio::process::Command::new(&bin).arg(port.to_string()).kill_on_drop(true).spawn().with_context(|| {
                format!("starting {} (`cargo build --release -p gatehouse-bench --bins`)", bin.display())
            })?;
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..100 {
            if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
                return Ok(Self { _child: child, url });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the bare handler did not come up")
    }
}

struct Server {
    child: tokio::process::Child,
    base: String,
    _data_dir: tempfile::TempDir,
}

impl Server {
    async fn start(bin: &str) -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("serve")
            .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
            .env("GATEHOUSE_DATA_DIR", data_dir.path())
            .env("GATEHOUSE_REQUIRE_EMAIL_VERIFICATION", "false")
            .env("GATEHOUSE_LOG", "error")
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let child =
            cmd.spawn().with_context(|| format!("starting {bin} (build it with `cargo xtask build --release`)"))?;
        let server = Self { child, base: format!("http://127.0.0.1:{port}"), _data_dir: data_dir };
        let client = Client::new();
        for _ in 0..100 {
            if client.get(server.url("/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not come up")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
