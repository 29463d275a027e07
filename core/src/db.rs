//! The connection pool and migrations. One `AnyPool` serves SQLite and PostgreSQL, so every
//! store module has a single set of queries (placeholders `$1`, timestamps as Unix seconds).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{Any, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::decode::Decode;
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Type};

use crate::config::Settings;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Database {
    pub pool: AnyPool,
    pub backend: Backend,
    /// Counts the writes to sessions, users and emailed-link tokens made through this handle
    /// (their stores count each one after it is done). The principal cache keeps an entry only
    /// while this count stands where it stood before the entry was read.
    changes: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot connect to the database (GATEHOUSE_DATABASE_URL): {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Database {
    /// Connects lazily-free: the first connection is opened here so a bad URL fails at start.
    pub async fn connect(settings: &Settings) -> Result<Self, DatabaseError> {
        sqlx::any::install_default_drivers();
        let backend = if settings.is_sqlite() { Backend::Sqlite } else { Backend::Postgres };
        if backend == Backend::Sqlite {
            std::fs::create_dir_all(&settings.data_dir)
                .map_err(|e| DatabaseError::DataDir(settings.data_dir.display().to_string(), e))?;
        }
        let options: AnyConnectOptions = settings.database_url().parse().map_err(DatabaseError::Connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; busy_timeout makes writers
                        // wait their turn instead of failing with SQLITE_BUSY.
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DatabaseError::Connect)?;
        Ok(Self { pool, backend, changes: Arc::default() })
    }

    /// How many writes to sessions, users and emailed-link tokens this handle has made so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Called by the session, user and email-token stores after every write (once committed).
    pub(crate) fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    pub async fn migrate(&self) -> Result<(), DatabaseError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Turns a unique-constraint violation into `Some(constraint text)`; anything else passes through.
pub fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            Some(db.constraint().map(str::to_string).unwrap_or_else(|| db.message().to_string()))
        }
        _ => None,
    }
}

/// Unix seconds now: the one clock every store writes.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A boolean column as read through the Any driver: BOOLEAN on PostgreSQL, INTEGER 0/1 on
/// SQLite (whose BOOLEAN the Any driver cannot map). Writes bind a plain `bool`, which both
/// backends accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(ty.kind(), AnyTypeInfoKind::Bool) || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: <Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<Any>>::decode(value.clone()) {
            Ok(flag) => Ok(Flag(flag)),
            Err(_) => Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0)),
        }
    }
}
