//! `cargo run --release -p gatehouse-bench -- [--processes N] [BIN]` (or `scripts/bench.sh`):
//! starts the release `gatehouse` binary on a free port with a fresh SQLite data dir (or the
//! database in `GATEHOUSE_DATABASE_URL`), and reports for 127.0.0.1:
//!
//! With `--processes N` (PostgreSQL only) it starts N processes on the one database with one
//! secret key and spreads the load round-robin over them (worker `w` talks to process
//! `w mod N`), and measures how long a logout-all on one process takes to end the session's
//! access token on another.
//!
//! - logins/s, refreshes/s and authenticated `GET /api/v1/account/` req/s, each with p50/p99;
//! - the same reads from a bare axum handler (`src/bin/bare.rs`: the same JSON, no middleware,
//!   no database), and Gatehouse's reads as a fraction of it;
//! - the argon2 bound (cores ÷ one hash time, the hash done as Gatehouse does it: in working
//!   memory kept from one hash to the next) and logins/s as a fraction of it;
//! - p99 of `GET /api/v1/account/` alone and while a login storm runs.
//!
//! Every phase runs for a fixed time and then stops; the whole run takes about half a minute.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use reqwest::Client;
use serde_json::{json, Value};

const PASSWORD: &str = "benchmark passphrase";
const USERS: usize = 16;
const PHASE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<()> {
    let (processes, bin) = arguments()?;
    let cores = num_cpus::get();
    let allocating_hash_secs = argon2_hash_time(false);
    let hash_secs = argon2_hash_time(true);
    let bound = cores as f64 / hash_secs;

    let server = Cluster::start(&bin, processes).await?;
    let client = Client::builder().pool_max_idle_per_host(256).build()?;
    let emails: Vec<String> = (0..USERS).map(|n| format!("bench{n}@example.com")).collect();
    for email in &emails {
        let response = client
            .post(server.url(0, "/api/v1/auth/register/"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?;
        if response.status() != 201 {
            bail!("registering {email}: {}", response.status());
        }
    }

    println!(
        "Gatehouse benchmark on 127.0.0.1 ({cores} cores, {}s per phase, {} on {})\n",
        PHASE.as_secs(),
        match processes {
            1 => "one process".to_string(),
            n => format!("{n} processes round-robin"),
        },
        if std::env::var("GATEHOUSE_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "argon2id m=19456 KiB t=2 p=1: one hash {:.1} ms (memory reused; {:.1} ms allocating it each time) → bound \
         {bound:.1} logins/s",
        hash_secs * 1000.0,
        allocating_hash_secs * 1000.0
    );
    let parallel = argon2_parallel_rate(cores);
    println!(
        "  {cores} threads hashing at once, nothing else: {parallel:.1} hashes/s ({:.0}% of the bound: what the cores \
         share, memory above all)",
        100.0 * parallel / bound
    );

    let logins = run(PHASE, cores * 4, {
        let (client, server, emails) = (client.clone(), server.clone(), emails.clone());
        move |worker, _| {
            let (client, base, email) = (client.clone(), server.url(worker, ""), emails[worker % emails.len()].clone());
            async move { login(&client, &base, &email).await.map(|_| ()) }
        }
    })
    .await?;
    report("logins", &logins);
    println!(
        "  logins/s are {:.0}% of the argon2 bound, {:.0}% of the parallel hashing rate",
        100.0 * logins.rate() / bound,
        100.0 * logins.rate() / parallel
    );

    // Each refresh worker rotates its own session's token.
    let mut sessions = Vec::new();
    for n in 0..32 {
        sessions.push(login(&client, &server.url(n, ""), &emails[n % emails.len()]).await?);
    }
    let tokens: Arc<Vec<tokio::sync::Mutex<String>>> = Arc::new(
        sessions.iter().map(|s| tokio::sync::Mutex::new(s["refresh"].as_str().unwrap().to_string())).collect(),
    );
    let refreshes = run(PHASE, tokens.len(), {
        let (client, server, tokens) = (client.clone(), server.clone(), tokens.clone());
        move |worker, _| {
            let (client, base, tokens) = (client.clone(), server.url(worker, ""), tokens.clone());
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
    let reads = run(PHASE, 32, account_reader(&client, &server, "/api/v1/account/", &access)).await?;
    report("GET /api/v1/account/", &reads);
    let pings = run(PHASE, 32, account_reader(&client, &server, "/api/v1/", &access)).await?;
    report("GET /api/v1/ (ping, authenticated)", &pings);
    let bare = Bare::start().await?;
    let bare_reads = run(PHASE, 32, account_reader(&client, &bare.cluster(), "/", &access)).await?;
    report("a bare axum handler, the same JSON", &bare_reads);
    for (name, samples) in [("GET /api/v1/account/", &reads), ("GET /api/v1/ (ping)", &pings)] {
        println!("  {name} runs at {:.0}% of the bare handler", 100.0 * samples.rate() / bare_reads.rate());
    }
    drop(bare);

    // The same reads while a login storm keeps every hashing thread busy.
    let storm = tokio::spawn(run(PHASE + Duration::from_secs(1), cores * 8, {
        let (client, server, emails) = (client.clone(), server.clone(), emails.clone());
        move |worker, _| {
            let (client, base, email) = (client.clone(), server.url(worker, ""), emails[worker % emails.len()].clone());
            async move { login(&client, &base, &email).await.map(|_| ()) }
        }
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reads_in_storm = run(PHASE, 32, account_reader(&client, &server, "/api/v1/account/", &access)).await?;
    let storm = storm.await??;
    report("GET /api/v1/account/ during a login storm", &reads_in_storm);
    report("  (the storm's logins)", &storm);
    println!(
        "\np99 of GET /api/v1/account/: {:.2} ms alone, {:.2} ms during the login storm",
        reads.percentile(0.99),
        reads_in_storm.percentile(0.99)
    );
    if processes > 1 {
        cross_process_revocation(&client, &server, &emails[0]).await?;
    }
    server.stop().await;
    Ok(())
}

/// `[--processes N] [BIN]`
fn arguments() -> Result<(usize, String)> {
    let mut processes = 1;
    let mut bin = "target/release/gatehouse".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--processes" => processes = args.next().context("--processes N")?.parse().context("--processes N")?,
            _ => bin = arg,
        }
    }
    let postgres = std::env::var("GATEHOUSE_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"));
    if processes == 0 || (processes > 1 && !postgres) {
        bail!("--processes {processes}: several processes share one PostgreSQL database (GATEHOUSE_DATABASE_URL)");
    }
    Ok((processes, bin))
}

/// How long a logout-all on process 0 takes to end a session's access token that process 1
/// has cached (the change notification's trip), over 50 tries.
async fn cross_process_revocation(client: &Client, server: &Cluster, email: &str) -> Result<()> {
    let mut took_ms = Vec::new();
    for _ in 0..50 {
        let here = login(client, &server.url(0, ""), email).await?;
        let there = login(client, &server.url(1, ""), email).await?;
        let there_access = there["access"].as_str().unwrap_or_default();
        let account = server.url(1, "/api/v1/account/");
        let status = client.get(&account).bearer_auth(there_access).send().await?.status();
        if status != 200 {
            bail!("the other process refused a fresh token: {status}");
        }
        let logout_all = client
            .post(server.url(0, "/api/v1/auth/logout_all/"))
            .bearer_auth(here["access"].as_str().unwrap_or_default())
            .send()
            .await?;
        let began = Instant::now();
        if !logout_all.status().is_success() {
            bail!("logout-all: {}", logout_all.status());
        }
        while client.get(&account).bearer_auth(there_access).send().await?.status() == 200 {
            if began.elapsed() > Duration::from_secs(60) {
                bail!("the other process still accepts the token after 60 s");
            }
        }
        took_ms.push(began.elapsed().as_secs_f64() * 1000.0);
    }
    let samples = Samples { latencies_ms: took_ms, elapsed: Duration::ZERO };
    println!(
        "\nlogout-all on one process → its token refused by the other: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.percentile(0.5),
        samples.percentile(0.99),
        samples.percentile(1.0)
    );
    Ok(())
}

/// GETs of `path` with the access token (which the bare handler ignores), round-robin over
/// the cluster's processes.
fn account_reader(
    client: &Client,
    server: &Cluster,
    path: &str,
    access: &str,
) -> impl Fn(usize, usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send>>
       + Clone
       + Send
       + Sync
       + 'static {
    let (client, server, path, access) = (client.clone(), server.clone(), path.to_string(), access.to_string());
    move |worker, _| {
        let (client, url, access) = (client.clone(), server.url(worker, &path), access.clone());
        Box::pin(async move {
            let response = client.get(url).bearer_auth(access).send().await?;
            if response.status() != 200 {
                bail!("{}: {}", response.url().path(), response.status());
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

/// One argon2id hash with Gatehouse's default parameters, in working memory that `memory`
/// keeps from one call to the next (as Gatehouse's hashing slots do) or, without it, the
/// argon2 crate's `hash_password`, which allocates and fills its memory every time.
struct OneHash {
    hasher: Argon2<'static>,
    memory: Option<Vec<Block>>,
}

impl OneHash {
    fn new(reuse_memory: bool) -> Self {
        let params = Params::new(19_456, 2, 1, None).expect("valid parameters");
        let memory = reuse_memory.then(|| vec![Block::default(); params.block_count()]);
        Self { hasher: Argon2::new(Algorithm::Argon2id, Version::V0x13, params), memory }
    }

    fn run(&mut self) {
        match &mut self.memory {
            Some(memory) => {
                let mut out = [0u8; 32];
                self.hasher
                    .hash_password_into_with_memory(PASSWORD.as_bytes(), b"benchmark-salt!!", &mut out, &mut memory[..])
                    .unwrap();
            }
            None => {
                let salt = SaltString::encode_b64(b"benchmark-salt!!").unwrap();
                self.hasher.hash_password(PASSWORD.as_bytes(), &salt).unwrap();
            }
        }
    }
}

/// Median time of one hash (see [`OneHash`]).
fn argon2_hash_time(reuse_memory: bool) -> f64 {
    let mut hash = OneHash::new(reuse_memory);
    // A few unmeasured runs first, so the figure is for warm caches, like a busy server's.
    let mut times: Vec<f64> = (0..25)
        .map(|_| {
            let t = Instant::now();
            hash.run();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let mut times = times.split_off(5);
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Hashes per second with `threads` threads hashing at once for two seconds, memory reused:
/// the ceiling on logins/s with nothing but hashing running (Gatehouse runs `cores` hashes at
/// once too).
fn argon2_parallel_rate(threads: usize) -> f64 {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(2);
    let hashed: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut hash = OneHash::new(true);
                    let mut n = 0;
                    while Instant::now() < deadline {
                        hash.run();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    hashed as f64 / started.elapsed().as_secs_f64()
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

impl Bare {
    /// The bare handler addressed like Gatehouse processes (one of them).
    fn cluster(&self) -> Cluster {
        Cluster { bases: Arc::new(vec![self.url.trim_end_matches('/').to_string()]), children: Arc::default() }
    }
}

/// One or more Gatehouse processes on one database, addressed round-robin by worker number.
#[derive(Clone)]
struct Cluster {
    bases: Arc<Vec<String>>,
    children: Arc<tokio::sync::Mutex<Vec<(tokio::process::Child, tempfile::TempDir)>>>,
}

impl Cluster {
    async fn start(bin: &str, processes: usize) -> Result<Self> {
        let mut bases = Vec::new();
        let mut children = Vec::new();
        let client = Client::new();
        for _ in 0..processes {
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
            if processes > 1 {
                // Tokens made by one process are checked by the others.
                cmd.env("GATEHOUSE_SECRET_KEY", "the benchmark's secret key, shared by its processes");
                // Processes on one machine share its cores: each hashes on its part of them, as
                // an operator would configure them (README, "Several processes").
                let hashing = (num_cpus::get() / processes).max(1);
                cmd.env("GATEHOUSE_HASH_CONCURRENCY", hashing.to_string());
            }
            let child =
                cmd.spawn().with_context(|| format!("starting {bin} (build it with `cargo xtask build --release`)"))?;
            let base = format!("http://127.0.0.1:{port}");
            children.push((child, data_dir));
            let mut up = false;
            for _ in 0..100 {
                if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
                    up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !up {
                bail!("the server did not come up");
            }
            bases.push(base);
        }
        Ok(Self { bases: Arc::new(bases), children: Arc::new(tokio::sync::Mutex::new(children)) })
    }

    /// `path` on the process that worker `worker` talks to.
    fn url(&self, worker: usize, path: &str) -> String {
        format!("{}{path}", self.bases[worker % self.bases.len()])
    }

    async fn stop(self) {
        for (child, _) in self.children.lock().await.iter_mut() {
            let _ = child.kill().await;
        }
    }
}
