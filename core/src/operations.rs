//! What operators watch: the gauges a metrics scrape reads, storage readiness for `/readyz`,
//! background work at shutdown, and the password hasher's load.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::background::Background;
use crate::clock::Clock;
use crate::db::{self, Database};
use crate::mail::Mailer;
use crate::passwords::{self, PasswordHasher};
use crate::{metrics, store};

/// How often `/readyz` may write to the database to learn whether writes work.
pub const WRITE_PROBE_EVERY_MS: i64 = 5_000;

/// When (Unix ms) the database last took a probing write, and how that went.
type WriteProbe = (i64, Result<(), db::Failure>);

#[derive(Clone)]
pub struct Operations {
    db: Database,
    clock: Clock,
    mailer: Mailer,
    hasher: PasswordHasher,
    background: Background,
    /// When `/metrics` last counted the live sessions (Unix ms).
    sessions_counted_at: Arc<AtomicI64>,
    /// The last readiness write probe: when (Unix ms) and how it went.
    write_probed: Arc<Mutex<Option<WriteProbe>>>,
}

impl Operations {
    pub(crate) fn new(
        db: Database,
        clock: Clock,
        mailer: Mailer,
        hasher: PasswordHasher,
        background: Background,
    ) -> Self {
        Self {
            db,
            clock,
            mailer,
            hasher,
            background,
            sessions_counted_at: Default::default(),
            write_probed: Default::default(),
        }
    }

    /// Refreshes the gauges that are read rather than counted (for a metrics scrape): the
    /// pool, the mail waiting in and given up to the outbox, the live sessions. The
    /// session count costs a query, so it is taken at most every ten seconds however often
    /// `/metrics` is asked.
    pub async fn observe_gauges(&self) {
        let pool = &self.db.pool;
        let idle = pool.num_idle();
        metrics::database_pool((pool.size() as usize).saturating_sub(idle), idle);
        let (pending, failed) = self.mailer.queue_counts().await;
        metrics::mail_queue(pending, failed);
        let now = self.clock.now_millis();
        let last = self.sessions_counted_at.load(Ordering::Relaxed);
        if now - last < 10_000 {
            return;
        }
        self.sessions_counted_at.store(now, Ordering::Relaxed);
        match store::sessions::count_alive(&self.db).await {
            Ok(count) => metrics::sessions_alive(count),
            Err(error) => tracing::warn!(%error, "could not count live sessions"),
        }
    }

    /// Whether the database takes reads and writes now (for `/readyz`). Reads are checked
    /// every time (a trivial query, answered or refused within the acquire timeout); writes by
    /// rewriting one row, at most every [`WRITE_PROBE_EVERY_MS`], the outcome kept meanwhile.
    pub async fn storage_readiness(&self) -> Result<(), db::Failure> {
        if !self.db.ping().await {
            return Err(db::Failure::Unreachable);
        }
        let now = self.clock.now_millis();
        let cached = *self.write_probed.lock().expect("never poisoned");
        if let Some((_, outcome)) = cached.filter(|(at, _)| now - at < WRITE_PROBE_EVERY_MS) {
            return outcome;
        }
        let outcome = self.db.probe_write(now.div_euclid(1000)).await;
        *self.write_probed.lock().expect("never poisoned") = Some((now, outcome));
        outcome
    }

    /// At shutdown: waits up to `timeout` for background work (mail being delivered, reset
    /// and resend requests already answered). SMTP messages not sent by then stay in
    /// `outbox/pending/`. Returns whether everything finished.
    pub async fn drain_background(&self, timeout: std::time::Duration) -> bool {
        self.background.drain(timeout).await
    }

    /// Password hashes and verifications this core has run.
    pub fn password_hash_runs(&self) -> u64 {
        self.hasher.runs()
    }

    /// The work inside them: argon2 runs and legacy work (see [`passwords::Work`]).
    pub fn password_work(&self) -> passwords::Work {
        self.hasher.work()
    }

    /// How many password hashes run at once: the hasher's threads (`hash_concurrency`).
    pub fn password_hash_threads(&self) -> usize {
        self.hasher.concurrency()
    }
}
