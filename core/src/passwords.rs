//! Password hashing: argon2id in PHC format, run on the blocking pool behind a semaphore so a
//! login storm queues for CPU instead of stalling the async workers.
//!
//! Each of the `concurrency` hashing slots keeps its argon2 working memory (19 MiB with the
//! default parameters) from one hash to the next. The argon2 crate's `hash_password` allocates
//! and zero-fills that memory for every hash, and the page faults and writes of doing so cost
//! a login storm a tenth of its throughput; argon2 overwrites every block before it reads it,
//! so reused memory gives the same hash (the tests check it against the crate's own functions).

use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::CoreError;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Working memory of the slots not hashing right now (at most `concurrency` buffers).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// A real hash of a random password, verified against when the account does not exist so
    /// that unknown users cost the same time as wrong passwords.
    dummy_hash: Arc<String>,
    /// Hashes and verifications run so far: lets tests prove that an unknown account costs
    /// exactly the work of a wrong password, without timing anything.
    runs: Arc<std::sync::atomic::AtomicU64>,
}

impl PasswordHasher {
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32, concurrency: usize) -> Self {
        let params = Params::new(memory_kib, iterations, parallelism, None).expect("checked by Settings");
        let dummy_hash = hash_blocking(&params, &uuid::Uuid::new_v4().to_string(), &mut Vec::new())
            .expect("hashing a random password");
        Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            memory: Arc::default(),
            dummy_hash: Arc::new(dummy_hash),
            runs: Arc::default(),
        }
    }

    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::SeqCst)
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
        let queued = std::time::Instant::now();
        let permit = {
            let _waiting = QueueGauge::enter();
            self.permits.clone().acquire_owned().await
        };
        let permit = permit.map_err(|e| CoreError::internal("hash pool closed", e))?;
        let started = std::time::Instant::now();
        self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // The permit moves into the blocking task: if the request is dropped (client gone),
        // the hash still holds its slot until it finishes, so the pool stays bounded.
        let pool = self.memory.clone();
        let blocks = self.params.block_count();
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let free = pool.lock().ok().and_then(|mut free| free.pop());
            let mut memory = free.unwrap_or_else(|| vec![Block::default(); blocks]);
            let result = work(&mut memory);
            if let Ok(mut free) = pool.lock() {
                free.push(memory);
            }
            result
        })
        .await
        .map_err(|e| CoreError::internal("hash task failed", e));
        crate::metrics::hash_time(operation, started - queued, started.elapsed());
        result
    }
}

/// Counts a hash waiting for a slot for as long as it waits, even if the wait is abandoned.
struct QueueGauge;

impl QueueGauge {
    fn enter() -> Self {
        crate::metrics::hash_queue(1.0);
        QueueGauge
    }
}

impl Drop for QueueGauge {
    fn drop(&mut self) {
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
    use super::*;

    fn fast() -> PasswordHasher {
        PasswordHasher::new(1024, 1, 1, 2)
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
        let old = PasswordHasher::new(512, 1, 1, 1).hash("pw-12345678").await.unwrap();
        assert_eq!(fast().verify(Some(&old), "pw-12345678").await.unwrap(), Verification::Match { needs_rehash: true });
    }
}
