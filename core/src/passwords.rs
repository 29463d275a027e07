//! Password hashing: argon2id in PHC format, run on `concurrency` threads of its own so that
//! a login storm queues for CPU instead of stalling the async workers.
//!
//! Each hashing thread keeps its argon2 working memory (19 MiB with the default parameters)
//! from one hash to the next. The argon2 crate's `hash_password` allocates and zero-fills that
//! memory for every hash, and the page faults and writes of doing so cost a login storm a
//! tenth of its throughput; argon2 overwrites every block before it reads it, so reused memory
//! gives the same hash (the tests check it against the crate's own functions).
//!
//! The threads are the hasher's own, not tokio's blocking pool: there a hash ran on whichever
//! of several pool threads was free, and the scheduler often woke it onto the core that was
//! already hashing while the other core sat idle until the next load balance, milliseconds
//! later (`perf sched`: CPUs 8 % idle in a login storm, 70 % of that beside a runnable hash).
//! Threads that do nothing but hash keep to their cores; the same storm left no idle time.

use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::CoreError;

/// A hash to run, and where its result goes; run by whichever hashing thread is free first.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// The hashing threads' queue; they end when the last clone of the hasher is dropped.
    jobs: crossbeam_channel::Sender<Job>,
    concurrency: usize,
    /// A real hash of a random password, verified against when the account does not exist so
    /// that unknown users cost the same time as wrong passwords.
    dummy_hash: Arc<String>,
    /// Hashes and verifications run so far: lets tests prove that an unknown account costs
    /// exactly the work of a wrong password, without timing anything.
    runs: Arc<std::sync::atomic::AtomicU64>,
    /// Hashes waiting for a thread, and how many may wait: past that a request is refused at
    /// once (`Overloaded`, 503) rather than queued behind a flood.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    queue_limit: usize,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32, concurrency: usize, queue_limit: usize) -> Self {
        let params = Params::new(memory_kib, iterations, parallelism, None).expect("checked by Settings");
        let dummy_hash = hash_blocking(&params, &uuid::Uuid::new_v4().to_string(), &mut Vec::new())
            .expect("hashing a random password");
        Self {
            jobs: start_hashing_threads(concurrency, params.block_count()),
            params,
            concurrency,
            dummy_hash: Arc::new(dummy_hash),
            runs: Arc::default(),
            waiting: Arc::default(),
            queue_limit,
        }
    }

    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many hashes run at once (`hash_concurrency`).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub async fn hash(&self, password: &str) -> Result<String, CoreError> {
        let params = self.params.clone();
        let password = password.to_string();
        self.run("hash", move |memory| hash_blocking(&params, &password, memory)).await?
    }

    /// `Some(hash)` checks against it; `None` burns the same time on the dummy hash and fails.
    /// The result says whether the password matched and whether the stored hash should be
    /// replaced with one made with the current parameters.
    pub async fn verify(&self, stored: Option<&str>, password: &str) -> Result<Verification, CoreError> {
        let (hash, real) = match stored {
            Some(h) => (h.to_string(), true),
            None => (self.dummy_hash.as_str().to_string(), false),
        };
        let password = password.to_string();
        let params = self.params.clone();
        let matched = self
            .run("verify", move |memory| {
                verify_blocking(&hash, &password, memory).then(|| needs_rehash(&hash, &params))
            })
            .await?;
        Ok(match (real, matched) {
            (true, Some(rehash)) => Verification::Match { needs_rehash: rehash },
            _ => Verification::Mismatch,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, CoreError> {
        let queued = Instant::now();
        let waiting =
            QueueGauge::enter(&self.waiting, self.queue_limit).ok_or(CoreError::Overloaded { retry_after_secs: 1 })?;
        let (reply, result) = tokio::sync::oneshot::channel();
        let runs = self.runs.clone();
        let job: Job = Box::new(move |memory| {
            drop(waiting);
            // The request went away while this waited (client gone): its hash is not owed.
            if reply.is_closed() {
                return;
            }
            let started = Instant::now();
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let output = work(memory);
            crate::metrics::hash_time(operation, started - queued, started.elapsed());
            let _ = reply.send(output);
        });
        self.jobs.send(job).map_err(|_| CoreError::internal("hashing", "the hashing threads are gone"))?;
        result.await.map_err(|_| CoreError::internal("hashing", "a hashing thread failed"))
    }
}

/// `concurrency` threads taking jobs off one queue, each with its own working memory
/// (allocated at its first hash, then kept).
fn start_hashing_threads(concurrency: usize, blocks: usize) -> crossbeam_channel::Sender<Job> {
    let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
    for n in 0..concurrency {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("gatehouse-hash-{n}"))
            .spawn(move || {
                let mut memory = Vec::new();
                for job in queue {
                    if memory.len() < blocks {
                        memory = vec![Block::default(); blocks];
                    }
                    // A hash that panics fails its own request (its reply is dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
                }
            })
            .expect("starting a hashing thread");
    }
    jobs
}

/// Counts a hash waiting for a thread for as long as it waits, even if the wait is abandoned.
struct QueueGauge(Arc<std::sync::atomic::AtomicUsize>);

impl QueueGauge {
    /// `None` when `limit` hashes already wait.
    fn enter(waiting: &Arc<std::sync::atomic::AtomicUsize>, limit: usize) -> Option<Self> {
        use std::sync::atomic::Ordering;
        waiting.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < limit).then_some(n + 1)).ok()?;
        crate::metrics::hash_queue(1.0);
        Some(QueueGauge(waiting.clone()))
    }
}

impl Drop for QueueGauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        crate::metrics::hash_queue(-1.0);
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Match { needs_rehash: bool },
    Mismatch,
}

fn hash_blocking(params: &Params, password: &str, memory: &mut Vec<Block>) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2_hash(Algorithm::Argon2id, Version::V0x13, params.clone(), password, salt.as_salt(), memory)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::internal("password hashing failed", e))
}

fn verify_blocking(stored: &str, password: &str, memory: &mut Vec<Block>) -> bool {
    if let Some(matched) = crate::django_hashes::verify(stored, password) {
        return matched;
    }
    // An unparsable stored hash (e.g. "!" for "no usable password") simply never matches.
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    argon2_matches(&parsed, password, memory).unwrap_or(false)
}

/// What argon2's `verify_password` does, hashing in `memory`: the stored hash's algorithm,
/// version and parameters (its output length too) over its salt, compared in constant time.
fn argon2_matches(
    stored: &PasswordHash,
    password: &str,
    memory: &mut Vec<Block>,
) -> argon2::password_hash::Result<bool> {
    let (Some(salt), Some(expected)) = (stored.salt, &stored.hash) else { return Ok(false) };
    let algorithm = Algorithm::try_from(stored.algorithm)?;
    let version = stored.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let computed = argon2_hash(algorithm, version, Params::try_from(stored)?, password, salt, memory)?;
    // `Output`'s equality is constant-time.
    Ok(computed.hash.as_ref() == Some(expected))
}

/// What argon2's `hash_password` does, with the working memory given instead of allocated. A
/// stored hash asking for more memory than `memory` holds (older, stronger parameters) gets
/// its own allocation, so the pooled buffers stay the size the configured parameters need.
fn argon2_hash<'a>(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &str,
    salt: Salt<'a>,
    memory: &mut Vec<Block>,
) -> argon2::password_hash::Result<PasswordHash<'a>> {
    let mut salt_buffer = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_buffer)?;
    let blocks = params.block_count();
    let mut own = Vec::new();
    let memory = if memory.len() >= blocks {
        memory
    } else {
        own.resize(blocks, Block::default());
        &mut own
    };
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let argon2 = Argon2::new(algorithm, version, params);
    let output = Output::init_with(output_len, |out| {
        Ok(argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut memory[..])?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(output),
    })
}

fn needs_rehash(stored: &str, params: &Params) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return true };
    let current = Params::try_from(&parsed).ok();
    parsed.algorithm.as_str() != "argon2id"
        || current.is_none_or(|p| {
            p.m_cost() != params.m_cost() || p.t_cost() != params.t_cost() || p.p_cost() != params.p_cost()
        })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(1024, 1, 1, 2, 1000)
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let h = fast();
        let a = h.hash("correct horse").await.unwrap();
        let b = h.hash("correct horse").await.unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(h.verify(Some(&a), "correct horse").await.unwrap(), Verification::Match { needs_rehash: false });
        assert_eq!(h.verify(Some(&a), "wrong").await.unwrap(), Verification::Mismatch);
    }

    #[tokio::test]
    async fn unknown_users_and_unusable_hashes_never_match() {
        let h = fast();
        assert_eq!(h.verify(None, "anything").await.unwrap(), Verification::Mismatch);
        assert_eq!(h.verify(Some("!"), "anything").await.unwrap(), Verification::Mismatch);
    }

    /// The reused-memory hashing gives exactly the argon2 crate's answers, both ways, for
    /// every argon2 variant and version a stored hash may name, and with a buffer left dirty
    /// by an earlier hash, smaller than needed, or larger.
    #[test]
    fn hashing_in_reused_memory_agrees_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(256, 2, 2, None).unwrap();
        let mut memory = vec![Block::default(); 8];
        for (algorithm, version) in [
            (Algorithm::Argon2id, Version::V0x13),
            (Algorithm::Argon2i, Version::V0x13),
            (Algorithm::Argon2d, Version::V0x10),
        ] {
            let crate_hasher = Argon2::new(algorithm, version, params.clone());
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            let theirs = crate_hasher.hash_password(b"pw-12345678", &salt).unwrap().to_string();
            let ours = argon2_hash(algorithm, version, params.clone(), "pw-12345678", salt.as_salt(), &mut memory)
                .unwrap()
                .to_string();
            assert_eq!(ours, theirs, "{algorithm:?} {version:?}");
            memory.resize(params.block_count() * 2, Block::default());
            assert!(verify_blocking(&theirs, "pw-12345678", &mut memory));
            assert!(!verify_blocking(&theirs, "pw-12345679", &mut memory));
            let mine = hash_blocking(&params, "another password", &mut memory).unwrap();
            let parsed = PasswordHash::new(&mine).unwrap();
            assert!(Argon2::default().verify_password(b"another password", &parsed).is_ok());
            assert!(Argon2::default().verify_password(b"another passwore", &parsed).is_err());
            memory.truncate(3);
        }
    }

    #[test]
    fn a_stored_hash_with_an_unusual_output_length_verifies() {
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(64, 1, 1, Some(16)).unwrap();
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"short output", &salt)
            .unwrap()
            .to_string();
        assert!(verify_blocking(&stored, "short output", &mut Vec::new()));
        assert!(!verify_blocking(&stored, "short outpu", &mut Vec::new()));
    }

    #[tokio::test]
    async fn old_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(512, 1, 1, 1, 1000).hash("pw-12345678").await.unwrap();
        assert_eq!(fast().verify(Some(&old), "pw-12345678").await.unwrap(), Verification::Match { needs_rehash: true });
    }

    /// A job for [`PasswordHasher::run`] that reports `n` on `started`, then holds its hashing
    /// thread until its release sender is used (or dropped).
    fn held(n: usize, started: &mpsc::Sender<usize>) -> (mpsc::Sender<()>, impl FnOnce(&mut Vec<Block>) -> usize) {
        let (release, wait) = mpsc::channel::<()>();
        let started = started.clone();
        (release, move |_: &mut Vec<Block>| {
            started.send(n).unwrap();
            let _ = wait.recv();
            n
        })
    }

    const HANG: Duration = Duration::from_secs(60);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_hashes_run_at_once_and_the_next_one_waits_for_a_free_thread() {
        let hasher = PasswordHasher::new(1024, 1, 1, 3, 1000);
        let (started_tx, started) = mpsc::channel();
        let mut releases = Vec::new();
        let mut tasks = Vec::new();
        for n in 0..3 {
            let (release, job) = held(n, &started_tx);
            releases.push(release);
            let hasher = hasher.clone();
            tasks.push(tokio::spawn(async move { hasher.run("test", job).await }));
        }
        // All three hold a thread at the same time: three threads hash at once.
        let mut first: Vec<usize> = (0..3).map(|_| started.recv_timeout(HANG).expect("three at once")).collect();
        first.sort();
        assert_eq!(first, [0, 1, 2]);
        let (release, job) = held(3, &started_tx);
        releases.push(release);
        let fourth = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run("test", job).await }
        });
        // With every thread held the fourth cannot start (a fourth thread would start it).
        assert_eq!(started.recv_timeout(Duration::from_millis(300)), Err(mpsc::RecvTimeoutError::Timeout));
        releases[0].send(()).unwrap();
        assert_eq!(started.recv_timeout(HANG), Ok(3));
        drop(releases);
        tasks.push(fourth);
        let mut done = Vec::new();
        for task in tasks {
            done.push(task.await.unwrap().unwrap());
        }
        assert_eq!(done, [0, 1, 2, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_whose_request_went_away_while_queued_is_not_run() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1, 1000);
        let (started_tx, started) = mpsc::channel();
        let (release, job) = held(0, &started_tx);
        let holding = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run("test", job).await }
        });
        started.recv_timeout(HANG).expect("the first job started");
        let abandoned = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.verify(None, "a password").await }
        });
        while hasher.jobs.is_empty() {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        assert!(abandoned.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        assert_eq!(holding.await.unwrap().unwrap(), 0);
        let runs = hasher.runs();
        hasher.hash("another password").await.unwrap();
        // The held job and the new hash ran; the abandoned verification never did.
        assert_eq!((runs, hasher.runs()), (1, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_limit_a_hash_is_refused_at_once_not_queued() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1, 1);
        let (started_tx, started) = mpsc::channel();
        let (release, job) = held(0, &started_tx);
        let holding = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run("test", job).await }
        });
        started.recv_timeout(HANG).expect("the first job started");
        // The thread is busy: one hash may wait for it...
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("a password").await }
        });
        while hasher.jobs.is_empty() {
            tokio::task::yield_now().await;
        }
        // ...the next is refused without waiting.
        let refused = hasher.hash("another password").await;
        assert!(matches!(refused, Err(CoreError::Overloaded { retry_after_secs: 1 })), "{refused:?}");
        release.send(()).unwrap();
        holding.await.unwrap().unwrap();
        waiting.await.unwrap().expect("the queued hash ran");
        hasher.hash("room again").await.expect("the queue has room again");
    }

    #[tokio::test]
    async fn a_hash_that_panics_fails_its_request_and_the_thread_hashes_on() {
        let hasher = PasswordHasher::new(1024, 1, 1, 1, 1000);
        let failed = hasher.run("test", |_| -> usize { panic!("a hashing bug") }).await;
        assert!(failed.is_err());
        let hash = hasher.hash("a password").await.unwrap();
        assert_eq!(
            hasher.verify(Some(&hash), "a password").await.unwrap(),
            Verification::Match { needs_rehash: false }
        );
    }
}
