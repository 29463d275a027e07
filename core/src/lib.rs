//! The Gatehouse domain core. The web app's server functions, the JSON API and the
//! compatibility surfaces all call [`Gatehouse`]; no rule about accounts, credentials,
//! sessions or mail is written anywhere else.

pub mod accounts;
pub mod auth;
pub mod clock;
pub mod config;
pub mod context;
pub mod credentials;
pub mod db;
pub mod devices;
pub mod domain;
pub mod error;
pub mod keys;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod passwords;
pub mod store;
pub mod throttle;
pub mod time_format;
pub mod tokens;

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
    clock: Clock,
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
}

impl Gatehouse {
    /// Connects, applies migrations, loads (or generates) the secret key and sets up mail.
    pub async fn start(settings: Settings) -> Result<Self, StartupError> {
        Self::start_with_clock(settings, Clock::System).await
    }

    /// Like [`start`](Self::start), telling time by `clock` (tests use a manual one).
    pub async fn start_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let db = Database::connect(&settings).await?;
        db.migrate().await?;
        Self::with_database(settings, db, clock)
    }

    /// Like [`start`](Self::start) but with a database that is already connected and migrated.
    pub fn with_database(settings: Settings, db: Database, clock: Clock) -> Result<Self, StartupError> {
        let root = RootKey::load(settings.secret_key.as_deref(), &settings.data_dir)?;
        let hasher = PasswordHasher::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            settings.hash_concurrency,
        );
        Ok(Self(Arc::new(Inner {
            jwt: JwtKeys::new(&root),
            refresh: RefreshKeys::new(&root),
            devices: DeviceKeys::new(&root),
            clock,
            mailer: Mailer::new(&settings)?,
            policy: PasswordPolicy { min_length: settings.password_min_length },
            hasher,
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

    /// Refreshes the gauges that are read rather than counted (for a metrics scrape).
    pub async fn observe_gauges(&self) {
        let pool = self.pool();
        metrics::database_pool(pool.size() as usize - pool.num_idle(), pool.num_idle());
        match store::sessions::count_alive(pool).await {
            Ok(count) => metrics::sessions_alive(count),
            Err(error) => tracing::warn!(%error, "could not count live sessions"),
        }
    }

    /// Password hashes and verifications this core has run.
    pub fn password_hash_runs(&self) -> u64 {
        self.0.hasher.runs()
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    fn pool(&self) -> &sqlx::AnyPool {
        &self.0.db.pool
    }
}
