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
//!
//! Imported Django hashes are stored *wrapped* (`wrapped$<argon2id PHC>$<legacy step>`):
//! argon2id over the key Django derived, beside the legacy step's parameters (see
//! `django_hashes`). Checking one runs the legacy step, then argon2id, so it costs more than a
//! native hash by the legacy step, which no wrapping can take away (the key must be derived
//! from the password). So that this cost tells nobody which accounts exist, every failed
//! login does the same legacy work: the *legacy bound*, the costliest legacy step still
//! stored (kept in the database, read with the account). A wrapped hash whose own step is
//! cheaper, a wrong password on a native hash, an unusable password and an unknown account
//! make up the difference with PBKDF2-HMAC-SHA256 iterations; with no legacy hash stored the
//! bound is 0 and nothing is added.

use std::sync::Arc;
use std::time::Instant;

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use subtle::ConstantTimeEq;

use crate::django_hashes::{DjangoHash, LegacyKdf};
use crate::error::CoreError;

/// The prefix of a wrapped Django hash (Gatehouse's own hashes start with `$`).
const WRAPPED: &str = "wrapped";

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
    runs: Arc<AtomicU64>,
    /// The work inside them, by kind, for the same proofs.
    work: Arc<WorkCounters>,
    /// Hashes waiting for a thread, and how many may wait: past that a request is refused at
    /// once (`Overloaded`, 503) rather than queued behind a flood.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    queue_limit: usize,
}

/// Work done by the hashing threads: argon2 computations, and legacy work in PBKDF2-SHA256
/// iterations (the legacy steps' estimated costs plus the padding up to the bound).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    pub argon2: u64,
    pub legacy: u64,
}

#[derive(Default)]
struct WorkCounters {
    argon2: AtomicU64,
    legacy: AtomicU64,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32, concurrency: usize, queue_limit: usize) -> Self {
        let params = Params::new(memory_kib, iterations, parallelism, None).expect("checked by Settings");
        let dummy_hash = hash_blocking(&params, uuid::Uuid::new_v4().to_string().as_bytes(), &mut Vec::new())
            .expect("hashing a random password");
        Self {
            jobs: start_hashing_threads(concurrency, params.block_count()),
            params,
            concurrency,
            dummy_hash: Arc::new(dummy_hash),
            runs: Arc::default(),
            work: Arc::default(),
            waiting: Arc::default(),
            queue_limit,
        }
    }

    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }

    pub fn work(&self) -> Work {
        Work { argon2: self.work.argon2.load(Ordering::SeqCst), legacy: self.work.legacy.load(Ordering::SeqCst) }
    }

    /// How many hashes run at once (`hash_concurrency`).
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub async fn hash(&self, password: &str) -> Result<String, CoreError> {
        let params = self.params.clone();
        let password = password.to_string();
        let work = self.work.clone();
        self.run("hash", move |memory| {
            work.argon2.fetch_add(1, Ordering::SeqCst);
            hash_blocking(&params, password.as_bytes(), memory)
        })
        .await?
    }

    /// The wrapped form of a Django hash (argon2id with the current parameters over the key
    /// Django stored) and its legacy step; `None` when it is not a Django hash Gatehouse can
    /// verify (it is then stored as it came, and never matches).
    pub async fn wrap(&self, django: &str) -> Result<Option<(String, LegacyKdf)>, CoreError> {
        let Some(django) = DjangoHash::parse(django) else { return Ok(None) };
        let params = self.params.clone();
        let work = self.work.clone();
        let key = django.key().to_vec();
        let argon2 = self
            .run("wrap", move |memory| {
                work.argon2.fetch_add(1, Ordering::SeqCst);
                hash_blocking(&params, &key, memory)
            })
            .await??;
        Ok(Some((format!("{WRAPPED}{argon2}${}", django.kdf), django.kdf)))
    }

    /// `Some(hash)` checks against it; `None` (no such account) does the same work on the
    /// dummy hash and fails. A failure does `legacy_bound` of legacy work whatever was stored
    /// (see the module's notes). The result says whether the password matched and whether the
    /// stored hash should be replaced with one made with the current parameters.
    pub async fn verify(
        &self,
        stored: Option<&str>,
        password: &str,
        legacy_bound: u64,
    ) -> Result<Verification, CoreError> {
        let stored = stored.map(str::to_string);
        let password = password.to_string();
        let params = self.params.clone();
        let dummy = self.dummy_hash.clone();
        let work = self.work.clone();
        self.run("verify", move |memory| {
            let mut check = Check { password: &password, legacy_bound, memory, work: &work };
            check.run(stored.as_deref(), &dummy, &params)
        })
        .await
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
            runs.fetch_add(1, Ordering::SeqCst);
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

fn hash_blocking(params: &Params, password: &[u8], memory: &mut Vec<Block>) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2_hash(Algorithm::Argon2id, Version::V0x13, params.clone(), password, salt.as_salt(), memory)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::internal("password hashing failed", e))
}

/// What a stored password hash is, as far as checking a password goes.
enum Stored<'a> {
    /// Gatehouse's own (argon2id, PHC).
    Native(PasswordHash<'a>),
    /// An imported Django hash: its legacy step, then argon2id (PHC) over the derived key.
    Wrapped { argon2: String, kdf: LegacyKdf },
    /// A Django hash as Django wrote it (imported before wrapping existed; the next start
    /// wraps it).
    Django(DjangoHash),
    /// Nothing a password matches: no account, Django's unusable password (`!…`), a format
    /// Gatehouse does not verify.
    Unusable,
}

impl<'a> Stored<'a> {
    fn classify(stored: Option<&'a str>) -> Self {
        let Some(stored) = stored else { return Stored::Unusable };
        if let Some((argon2, kdf)) = split_wrapped(stored) {
            return Stored::Wrapped { argon2, kdf };
        }
        if let Some(django) = DjangoHash::parse(stored) {
            return Stored::Django(django);
        }
        PasswordHash::new(stored).map_or(Stored::Unusable, Stored::Native)
    }
}

/// The legacy step of a wrapped hash (`None` for any other stored hash).
pub fn wrapped_kdf(stored: &str) -> Option<LegacyKdf> {
    split_wrapped(stored).map(|(_, kdf)| kdf)
}

/// `wrapped$argon2id$v=…$m=…,t=…,p=…$<salt>$<hash>$<legacy step>` into the argon2id PHC
/// string and the legacy step.
fn split_wrapped(stored: &str) -> Option<(String, LegacyKdf)> {
    let rest = stored.strip_prefix(WRAPPED)?.strip_prefix('$')?;
    let fields: Vec<&str> = rest.splitn(6, '$').collect();
    let [algorithm, version, params, salt, hash, kdf] = fields[..] else { return None };
    Some((format!("${algorithm}${version}${params}${salt}${hash}"), LegacyKdf::parse(kdf)?))
}

/// One password check on a hashing thread, counting its work.
struct Check<'a> {
    password: &'a str,
    legacy_bound: u64,
    memory: &'a mut Vec<Block>,
    work: &'a WorkCounters,
}

impl Check<'_> {
    /// Whether the password matches `stored`, and then whether to rehash it.
    fn run(&mut self, stored: Option<&str>, dummy: &str, params: &Params) -> Verification {
        let dummy = PasswordHash::new(dummy).expect("the dummy hash is our own");
        let password = self.password.as_bytes();
        let matched = match Stored::classify(stored) {
            Stored::Native(hash) => {
                let matched = self.argon2(&hash, password);
                // A right password owes nothing; a wrong one costs what an unknown account costs.
                if !matched {
                    self.pad_legacy(0);
                }
                matched.then(|| needs_rehash(&hash, params))
            }
            Stored::Wrapped { argon2, kdf } => {
                let key = self.legacy(&kdf);
                self.pad_legacy(kdf.cost());
                match PasswordHash::new(&argon2) {
                    Ok(hash) => self.argon2(&hash, &key).then_some(true),
                    // Not one of ours after all: the same work, and no match.
                    Err(_) => {
                        self.argon2(&dummy, &key);
                        None
                    }
                }
            }
            Stored::Django(django) => {
                let matched: bool = self.legacy(&django.kdf).ct_eq(django.key()).into();
                self.pad_legacy(django.kdf.cost());
                self.argon2(&dummy, password);
                matched.then_some(true)
            }
            Stored::Unusable => {
                self.argon2(&dummy, password);
                self.pad_legacy(0);
                None
            }
        };
        match matched {
            Some(needs_rehash) => Verification::Match { needs_rehash },
            None => Verification::Mismatch,
        }
    }

    fn argon2(&mut self, stored: &PasswordHash, input: &[u8]) -> bool {
        self.work.argon2.fetch_add(1, Ordering::SeqCst);
        argon2_matches(stored, input, self.memory).unwrap_or(false)
    }

    fn legacy(&mut self, kdf: &LegacyKdf) -> Vec<u8> {
        self.work.legacy.fetch_add(kdf.cost(), Ordering::SeqCst);
        kdf.derive(self.password)
    }

    /// Legacy work up to the bound, `done` of it done already: PBKDF2-HMAC-SHA256 iterations,
    /// the unit the bound is counted in.
    fn pad_legacy(&mut self, done: u64) {
        let missing = self.legacy_bound.saturating_sub(done);
        if missing == 0 {
            return;
        }
        self.work.legacy.fetch_add(missing, Ordering::SeqCst);
        let mut out = [0u8; 32];
        let rounds = u32::try_from(missing).unwrap_or(u32::MAX);
        pbkdf2::pbkdf2_hmac::<Sha256>(self.password.as_bytes(), b"gatehouse legacy bound", rounds, &mut out);
        std::hint::black_box(out);
    }
}

/// What argon2's `verify_password` does, hashing in `memory`: the stored hash's algorithm,
/// version and parameters (its output length too) over its salt, compared in constant time.
fn argon2_matches(
    stored: &PasswordHash,
    password: &[u8],
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
    password: &[u8],
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
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(output),
    })
}

fn needs_rehash(parsed: &PasswordHash, params: &Params) -> bool {
    let current = Params::try_from(parsed).ok();
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

    /// Whether `password` matches `stored`, checked as the hasher checks it (no legacy bound).
    fn verify_blocking(stored: &str, password: &str, memory: &mut Vec<Block>) -> bool {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let dummy = hash_blocking(&params, b"dummy", &mut Vec::new()).unwrap();
        let work = WorkCounters::default();
        let mut check = Check { password, legacy_bound: 0, memory, work: &work };
        matches!(check.run(Some(stored), &dummy, &params), Verification::Match { .. })
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let h = fast();
        let a = h.hash("correct horse").await.unwrap();
        let b = h.hash("correct horse").await.unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(h.verify(Some(&a), "correct horse", 0).await.unwrap(), Verification::Match { needs_rehash: false });
        assert_eq!(h.verify(Some(&a), "wrong", 0).await.unwrap(), Verification::Mismatch);
    }

    #[tokio::test]
    async fn unknown_users_and_unusable_hashes_never_match() {
        let h = fast();
        assert_eq!(h.verify(None, "anything", 0).await.unwrap(), Verification::Mismatch);
        assert_eq!(h.verify(Some("!"), "anything", 0).await.unwrap(), Verification::Mismatch);
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
            let ours = argon2_hash(algorithm, version, params.clone(), b"pw-12345678", salt.as_salt(), &mut memory)
                .unwrap()
                .to_string();
            assert_eq!(ours, theirs, "{algorithm:?} {version:?}");
            memory.resize(params.block_count() * 2, Block::default());
            assert!(verify_blocking(&theirs, "pw-12345678", &mut memory));
            assert!(!verify_blocking(&theirs, "pw-12345679", &mut memory));
            let mine = hash_blocking(&params, b"another password", &mut memory).unwrap();
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

    /// Django's own vectors (`scripts/django-hash-vectors.py`): (password, encoded).
    fn django_vectors() -> Vec<(String, String)> {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/django_hashes.json")).unwrap();
        let vectors = fixture["vectors"].as_array().unwrap().iter();
        vectors.map(|v| (v["password"].as_str().unwrap().into(), v["encoded"].as_str().unwrap().into())).collect()
    }

    #[tokio::test]
    async fn a_wrapped_django_hash_holds_no_django_key_verifies_and_asks_for_a_rehash() {
        let h = fast();
        for (password, encoded) in django_vectors() {
            let (wrapped, kdf) = h.wrap(&encoded).await.unwrap().expect("a Django hash wraps");
            assert!(wrapped.starts_with("wrapped$argon2id$v=19$m=1024,t=1,p=1$"), "{wrapped}");
            assert!(!wrapped.contains(&encoded[encoded.len() - 31..]), "no part of Django's key: {wrapped}");
            assert_eq!(wrapped_kdf(&wrapped), Some(kdf));
            let right = h.verify(Some(&wrapped), &password, 0).await.unwrap();
            assert_eq!(right, Verification::Match { needs_rehash: true }, "{encoded}");
            let wrong = h.verify(Some(&wrapped), &format!("{password}x"), 0).await.unwrap();
            assert_eq!(wrong, Verification::Mismatch, "{encoded}");
        }
        assert_eq!(h.wrap("!unusable").await.unwrap(), None);
        assert_eq!(h.wrap("$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA").await.unwrap(), None);
    }

    /// Every failed check does one argon2 run and exactly the legacy bound, whatever is stored;
    /// a right password on a native hash does no legacy work.
    #[tokio::test]
    async fn every_failed_check_does_the_work_of_the_legacy_bound() {
        let h = fast();
        let mut stored = vec![h.hash("a native password").await.unwrap(), "!unusable".into(), "md5$x$y".into()];
        let mut bound = 0;
        // The cheap vectors: a debug build runs PBKDF2 fifty times slower than a release one.
        let cheap = django_vectors().into_iter().filter(|(_, e)| DjangoHash::parse(e).unwrap().kdf.cost() < 100_000);
        for (_, encoded) in cheap {
            let (wrapped, kdf) = h.wrap(&encoded).await.unwrap().unwrap();
            bound = bound.max(kdf.cost());
            stored.push(wrapped);
            stored.push(encoded); // raw, as an earlier import left it
        }
        let work = |h: &PasswordHasher, stored: Option<String>, password: &'static str| {
            let h = h.clone();
            async move {
                let before = h.work();
                let verification = h.verify(stored.as_deref(), password, bound).await.unwrap();
                let after = h.work();
                (verification, Work { argon2: after.argon2 - before.argon2, legacy: after.legacy - before.legacy })
            }
        };
        let failed = (Verification::Mismatch, Work { argon2: 1, legacy: bound });
        assert_eq!(work(&h, None, "wrong").await, failed, "unknown account");
        for hash in stored {
            assert_eq!(work(&h, Some(hash.clone()), "wrong").await, failed, "{hash}");
        }
        let native = h.hash("right").await.unwrap();
        let right = (Verification::Match { needs_rehash: false }, Work { argon2: 1, legacy: 0 });
        assert_eq!(work(&h, Some(native), "right").await, right);
    }

    #[tokio::test]
    async fn old_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(512, 1, 1, 1, 1000).hash("pw-12345678").await.unwrap();
        assert_eq!(
            fast().verify(Some(&old), "pw-12345678", 0).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
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

    /// Holds the hasher's one thread with a job that has started; sending on the sender ends it.
    fn occupy(hasher: &PasswordHasher) -> (mpsc::Sender<()>, tokio::task::JoinHandle<Result<usize, CoreError>>) {
        let (started_tx, started) = mpsc::channel();
        let (release, job) = held(0, &started_tx);
        let holding = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run("test", job).await }
        });
        started.recv_timeout(HANG).expect("the first job started");
        (release, holding)
    }

    /// Returns once a job waits in the queue.
    async fn until_queued(hasher: &PasswordHasher) {
        while hasher.jobs.is_empty() {
            tokio::task::yield_now().await;
        }
    }

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
        let (release, holding) = occupy(&hasher);
        let abandoned = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.verify(None, "a password", 0).await }
        });
        until_queued(&hasher).await;
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
        let (release, holding) = occupy(&hasher);
        // The thread is busy: one hash may wait for it...
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("a password").await }
        });
        until_queued(&hasher).await;
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
            hasher.verify(Some(&hash), "a password", 0).await.unwrap(),
            Verification::Match { needs_rehash: false }
        );
    }
}
