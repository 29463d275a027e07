//! The Gatehouse domain core. The web app's server functions, the JSON API and the
//! compatibility surfaces all call [`Gatehouse`]; no rule about accounts, credentials,
//! sessions or mail is written anywhere else.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod budgets;
pub mod clock;
pub mod config;
pub mod context;
pub mod credentials;
pub mod db;
pub mod devices;
pub mod django_hashes;
pub mod django_import;
pub mod domain;
pub mod error;
pub mod history;
pub mod keys;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod paging;
pub mod password_strength;
pub mod passwords;
pub mod principal_cache;
pub mod profile;
mod rotations;
pub mod store;
#[cfg(test)]
mod test_fixtures;
pub mod throttle;
pub mod time_format;
pub mod tokens;
pub mod two_factor;
pub mod user_agent;

use std::sync::Arc;

pub use config::Settings;
pub use context::RequestContext;
pub use error::{CoreError, FieldErrors};
pub use store::sessions::{Session, SessionKind};
pub use store::users::User;

use clock::Clock;
use db::Database;
use devices::DeviceKeys;
use domain::PasswordPolicy;
use keys::RootKey;
use mail::Mailer;
use passwords::PasswordHasher;
use tokens::{JwtKeys, RefreshKeys};

/// The running core: settings, database, keys, hasher and mailer. Cheap to clone.
#[derive(Clone)]
pub struct Gatehouse(Arc<Inner>);

struct Inner {
    settings: Settings,
    db: Database,
    hasher: PasswordHasher,
    jwt: JwtKeys,
    refresh: RefreshKeys,
    devices: DeviceKeys,
    two_factor: two_factor::TwoFactorKeys,
    /// Tags messages a page is asked to show, so that only the server's own are shown.
    page_messages: keys::Tagger,
    /// Keys the per-recipient mail budgets by a MAC of the address: the table holds none.
    budget_keys: keys::Tagger,
    clock: Clock,
    /// Work that outlives the request that started it (mail, answer-hiding work).
    background: tokio_util::task::TaskTracker,
    /// When `/metrics` last counted the live sessions (Unix ms).
    sessions_counted_at: std::sync::atomic::AtomicI64,
    /// When this process's core started (Unix seconds, by its clock): rotations committed
    /// before it may have lost their answers to a crash (see `auth::RESTART_GRACE_SECS`).
    started_at: i64,
    /// The last readiness write probe: when (Unix ms) and how it went.
    write_probed: std::sync::Mutex<Option<(i64, Result<(), db::Failure>)>>,
    /// Live principals by session id (see [`principal_cache`]).
    principals: principal_cache::PrincipalCache,
    /// Refresh-token rotations, written in groups (see [`rotations`]).
    rotations: rotations::Rotations,
    mailer: Mailer,
    policy: PasswordPolicy,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DatabaseError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Mail(#[from] mail::MailError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// How often `/readyz` may write to the database to learn whether writes work.
pub const WRITE_PROBE_EVERY_MS: i64 = 5_000;

impl Gatehouse {
    /// Connects, applies migrations, loads (or generates) the secret key and sets up mail.
    pub async fn start(settings: Settings) -> Result<Self, StartupError> {
        Self::start_with_clock(settings, Clock::System).await
    }

    /// Like [`start`](Self::start), telling time by `clock` (tests use a manual one).
    pub async fn start_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let db = Database::connect(&settings).await?;
        db.migrate().await?;
        let core = Self::with_database(settings, db, clock)?;
        core.wrap_stored_django_hashes().await?;
        Ok(core)
    }

    /// Like [`start`](Self::start) but with a database that is already connected and migrated.
    pub fn with_database(settings: Settings, db: Database, clock: Clock) -> Result<Self, StartupError> {
        let root =
            RootKey::load(settings.secret_key.as_ref().map(secrecy::ExposeSecret::expose_secret), &settings.data_dir)?;
        let hasher = PasswordHasher::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            settings.hash_concurrency,
            settings.hash_queue_limit,
        );
        let background = tokio_util::task::TaskTracker::new();
        let started_at = clock.now_secs();
        Ok(Self(Arc::new(Inner {
            jwt: JwtKeys::new(&root),
            refresh: RefreshKeys::new(&root),
            devices: DeviceKeys::new(&root),
            two_factor: two_factor::TwoFactorKeys::new(&root),
            page_messages: keys::Tagger::new(&root, "page-messages"),
            budget_keys: keys::Tagger::new(&root, "budget-keys"),
            mailer: Mailer::new(&settings, background.clone(), clock.clone())?,
            clock,
            background,
            sessions_counted_at: Default::default(),
            write_probed: Default::default(),
            started_at,
            principals: principal_cache::PrincipalCache::new(
                settings.principal_cache_ttl,
                settings.principal_cache_outage_grace,
            ),
            policy: PasswordPolicy { min_length: settings.password_min_length },
            hasher,
            rotations: rotations::Rotations::new(db.clone()),
            db,
            settings,
        })))
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn database(&self) -> &Database {
        &self.0.db
    }

    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.0.policy
    }

    pub fn mailer(&self) -> &Mailer {
        &self.0.mailer
    }

    /// Refreshes the gauges that are read rather than counted (for a metrics scrape): the
    /// pool, the mail waiting in and given up to the outbox, the live sessions. The
    /// session count costs a query, so it is taken at most every ten seconds however often
    /// `/metrics` is asked.
    pub async fn observe_gauges(&self) {
        let pool = self.pool();
        let idle = pool.num_idle();
        metrics::database_pool((pool.size() as usize).saturating_sub(idle), idle);
        let (pending, failed) = self.mailer().queue_counts().await;
        metrics::mail_queue(pending, failed);
        let now = self.clock().now_millis();
        let last = self.0.sessions_counted_at.load(std::sync::atomic::Ordering::Relaxed);
        if now - last < 10_000 {
            return;
        }
        self.0.sessions_counted_at.store(now, std::sync::atomic::Ordering::Relaxed);
        match store::sessions::count_alive(pool).await {
            Ok(count) => metrics::sessions_alive(count),
            Err(error) => tracing::warn!(%error, "could not count live sessions"),
        }
    }

    /// Whether the database takes reads and writes now (for `/readyz`). Reads are checked
    /// every time (a trivial query, answered or refused within the acquire timeout); writes by
    /// rewriting one row, at most every [`WRITE_PROBE_EVERY_MS`], the outcome kept meanwhile.
    pub async fn storage_readiness(&self) -> Result<(), db::Failure> {
        if !self.0.db.ping().await {
            return Err(db::Failure::Unreachable);
        }
        let now = self.clock().now_millis();
        let cached = *self.0.write_probed.lock().expect("never poisoned");
        if let Some((_, outcome)) = cached.filter(|(at, _)| now - at < WRITE_PROBE_EVERY_MS) {
            return outcome;
        }
        let outcome = self.0.db.probe_write(now.div_euclid(1000)).await;
        *self.0.write_probed.lock().expect("never poisoned") = Some((now, outcome));
        outcome
    }

    /// At shutdown: waits up to `timeout` for background work (mail being delivered, reset
    /// and resend requests already answered). SMTP messages not sent by then stay in
    /// `outbox/pending/`. Returns whether everything finished.
    pub async fn drain_background(&self, timeout: std::time::Duration) -> bool {
        let background = &self.0.background;
        background.close();
        let finished = tokio::time::timeout(timeout, background.wait()).await.is_ok();
        if !finished {
            tracing::warn!(
                unfinished = background.len(),
                "background work still running at shutdown was cut off; undelivered mail stays in outbox/pending"
            );
        }
        finished
    }

    /// Password hashes and verifications this core has run.
    pub fn password_hash_runs(&self) -> u64 {
        self.0.hasher.runs()
    }

    /// The work inside them: argon2 runs and legacy work (see [`passwords::Work`]).
    pub fn password_work(&self) -> passwords::Work {
        self.0.hasher.work()
    }

    /// How many password hashes run at once: the hasher's threads (`hash_concurrency`).
    pub fn password_hash_threads(&self) -> usize {
        self.0.hasher.concurrency()
    }

    /// A tag proving that this server made `message` for the page action `source` (a form's
    /// error carried back to its page in the URL): see [`Gatehouse::is_own_page_message`].
    pub fn page_message_tag(&self, source: &str, message: &str) -> String {
        self.0.page_messages.tag(&[source, message])
    }

    /// Whether `tag` is this server's tag for `message` from `source`: a page shows a message
    /// from its URL only then, so a crafted link cannot put words of its own on the page.
    pub fn is_own_page_message(&self, source: &str, message: &str, tag: &str) -> bool {
        self.0.page_messages.verify(&[source, message], tag)
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    fn pool(&self) -> &sqlx::AnyPool {
        &self.0.db.pool
    }
}
