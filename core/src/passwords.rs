//! Password hashing: argon2id in PHC format, run on the blocking pool behind a semaphore so a
//! login storm queues for CPU instead of stalling the async workers.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::CoreError;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
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
        let dummy_hash = hash_blocking(&params, &uuid::Uuid::new_v4().to_string()).expect("hashing a random password");
        Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
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
        self.run("hash", move || hash_blocking(&params, &password)).await?
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
        let matched =
            self.run("verify", move || verify_blocking(&hash, &password).then(|| needs_rehash(&hash, &params))).await?;
        Ok(match (real, matched) {
            (true, Some(rehash)) => Verification::Match { needs_rehash: rehash },
            _ => Verification::Mismatch,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        operation: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
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
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
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

fn hasher(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_blocking(params: &Params, password: &str) -> Result<String, CoreError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CoreError::internal("password hashing failed", e))
}

fn verify_blocking(stored: &str, password: &str) -> bool {
    if let Some(matched) = crate::django_hashes::verify(stored, password) {
        return matched;
    }
    // An unparsable stored hash (e.g. "!" for "no usable password") simply never matches.
    PasswordHash::new(stored)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
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

    #[tokio::test]
    async fn old_parameters_ask_for_a_rehash() {
        let old = PasswordHasher::new(512, 1, 1, 1).hash("pw-12345678").await.unwrap();
        assert_eq!(fast().verify(Some(&old), "pw-12345678").await.unwrap(), Verification::Match { needs_rehash: true });
    }
}
