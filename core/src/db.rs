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
use sqlx::{AnyPool, Connection, Executor, Type};

use crate::clock::Clock;
use crate::config::Settings;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Database {
    /// Reads (and, on PostgreSQL, writes: `writer` is this same pool there).
    pub pool: AnyPool,
    /// Every write of the stores. On SQLite one connection: writes queue here, in order and
    /// without spinning, instead of meeting the database's one write lock from several
    /// connections, where SQLite's busy handler makes them sleep and retry (4.4 sleeps per
    /// login in a login storm with eight connections). Readers keep their own connections
    /// (WAL), so a write never waits for a read.
    pub(crate) writer: AnyPool,
    pub backend: Backend,
    /// Counts the writes to sessions, users and emailed-link tokens made through this handle
    /// (their stores count each one after it is done) and, on PostgreSQL, those other
    /// processes made (see [`Database::follow_other_processes`]). The principal cache keeps
    /// an entry only while this count stands where it stood before the entry was read.
    changes: Arc<AtomicU64>,
    /// The part of `changes` this handle's own writes made (the rest came from other
    /// processes, or from losing their notifications): while the database is unreachable the
    /// principal cache may still serve an entry no write of this process has made stale.
    local_changes: Arc<AtomicU64>,
    /// When (ms since `epoch`) a request last found the database unreachable; 0: never.
    unreachable_at: Arc<AtomicU64>,
    epoch: std::time::Instant,
    /// Where to listen for other processes' writes (PostgreSQL); it may hold a password.
    listen_url: Option<Arc<str>>,
    /// The core's clock: every time a store writes or compares is read from it, so a test's
    /// manual clock moves sessions, links and history as it moves throttling.
    clock: Clock,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// The channel the PostgreSQL triggers notify on every write that can make a cached principal
/// stale (migration `20261126000001_notify_changes.sql`).
const CHANGES_CHANNEL: &str = "gatehouse_changes";

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot connect to the database (GATEHOUSE_DATABASE_URL): {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot renormalise the stored usernames and emails: {0}")]
    Renormalise(sqlx::Error),
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
        let wait = settings.database_acquire_timeout;
        let pool = connect_pool(backend, &options, if backend == Backend::Sqlite { 8 } else { 16 }, wait).await?;
        let writer = match backend {
            Backend::Sqlite => connect_pool(backend, &options, 1, wait).await?,
            Backend::Postgres => pool.clone(),
        };
        let listen_url = (backend == Backend::Postgres).then(|| Arc::from(settings.database_url()));
        Ok(Self {
            pool,
            writer,
            backend,
            changes: Arc::default(),
            local_changes: Arc::default(),
            unreachable_at: Arc::default(),
            epoch: std::time::Instant::now(),
            listen_url,
            clock: Clock::System,
        })
    }

    /// The same database, telling time by `clock` (the core's).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Unix seconds now, by the core's clock: the one time every store writes and compares.
    pub fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// On PostgreSQL, follows the writes of every other process on the same database: each
    /// notification from the triggers moves this process's write count, so the principal
    /// cache drops what they made stale within the notification's delivery time. While the
    /// listening connection is down the cache's TTL is the bound; on reconnecting the count
    /// moves too, since notifications sent meanwhile are lost. Nothing to do on SQLite (one
    /// process per database file).
    pub fn follow_other_processes(&self) {
        let Some(url) = self.listen_url.clone() else { return };
        let changes = self.changes.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = listen(&url, &changes).await {
                    tracing::warn!(%error, "lost the PostgreSQL change notifications; retrying");
                }
                changes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// How many writes to sessions, users and emailed-link tokens this handle has made so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Both write counts at once: every change, and this handle's own.
    pub fn change_counts(&self) -> Changes {
        // The local count first: a write landing between the two loads then shows in `all`.
        let local = self.local_changes.load(Ordering::SeqCst);
        Changes { all: self.changes.load(Ordering::SeqCst), local }
    }

    /// Called by the session, user and email-token stores after every write (once committed).
    pub(crate) fn changed(&self) {
        self.local_changes.fetch_add(1, Ordering::SeqCst);
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// Notes that a request found the database unreachable just now.
    pub(crate) fn note_unreachable(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.unreachable_at.store(ms.max(1), Ordering::Relaxed);
    }

    /// Whether a request found the database unreachable within the last `within`: then an
    /// answer the cache can give is given without trying the database first.
    pub(crate) fn recently_unreachable(&self, within: Duration) -> bool {
        let at = self.unreachable_at.load(Ordering::Relaxed);
        at != 0 && self.epoch.elapsed().as_millis() as u64 - at < within.as_millis() as u64
    }

    pub async fn migrate(&self) -> Result<(), DatabaseError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        // What SQL cannot compute: the look-alike keys of rows stored before them.
        crate::store::users::renormalise_names(self).await.map_err(DatabaseError::Renormalise)?;
        Ok(())
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Readiness of writes: rewrites the one row of `write_probe` through the writers' path.
    /// A database that answers reads with its disk full fails here.
    pub async fn probe_write(&self, now: i64) -> Result<(), Failure> {
        sqlx::query("INSERT INTO write_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at")
            .bind(now)
            .execute(&self.writer)
            .await
            .map(drop)
            .map_err(|error| {
                tracing::warn!(%error, "the readiness write probe failed");
                classify(&error)
            })
    }
}

/// A PostgreSQL connection idle this long is pinged before it is handed out (HikariCP's
/// default bypass window: one used within it is taken to be alive).
const CHECK_CONNECTIONS_IDLE_FOR: Duration = Duration::from_millis(500);

/// How long the start waits for the database to accept a first connection (one starting up
/// beside Gatehouse, say) before giving up.
const START_WAIT: Duration = Duration::from_secs(10);

/// A pool of `size` connections; SQLite's are set up for WAL, waiting writers and foreign keys.
/// A request waits at most `wait` for one (then 503), so a database that is down answers fast;
/// the start waits longer for the first.
async fn connect_pool(
    backend: Backend,
    options: &AnyConnectOptions,
    size: u32,
    wait: Duration,
) -> Result<AnyPool, DatabaseError> {
    let pool = pool_options(backend, size, wait).connect_lazy_with(options.clone());
    let started = std::time::Instant::now();
    loop {
        match pool.acquire().await {
            Ok(_) => return Ok(pool),
            Err(error @ (sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))) if started.elapsed() < START_WAIT => {
                tracing::debug!(%error, "waiting for the database to accept connections");
            }
            Err(error) => return Err(DatabaseError::Connect(error)),
        }
    }
}

fn pool_options(backend: Backend, size: u32, wait: Duration) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(wait)
        // sqlx's default pings every connection it hands out: a round trip to PostgreSQL (or
        // to SQLite's worker thread) before each statement, a third of a login's statements'
        // cost. A SQLite file cannot hang up; a PostgreSQL connection used moments ago is
        // alive, so only one idle for a while is checked first (a dead one is then replaced
        // before anyone's statement runs on it: after a database restart, say).
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if backend == Backend::Postgres && meta.idle_for >= CHECK_CONNECTIONS_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the one writer; busy_timeout makes a writer
                    // wait its turn instead of failing with SQLITE_BUSY (another process, a
                    // migration, or a write the stores make through the read pool).
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                         PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
}

/// The write counts the principal cache compares (see [`Database::change_counts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Changes {
    /// Every change: this process's writes, other processes' notified writes, and losses of
    /// the notification connection.
    pub all: u64,
    /// This process's own writes.
    pub local: u64,
}

/// What a failed statement says about the database, for the answer a client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Down, restarting, unreachable, or no connection free in time: try again shortly.
    Unreachable,
    /// The disk is full: writes fail until someone makes room.
    DiskFull,
    /// Anything else: a bug or a broken database.
    Other,
}

/// SQLite's `SQLITE_FULL` (the primary code of the extended one sqlx reports).
const SQLITE_FULL: i64 = 13;
/// PostgreSQL's SQLSTATE classes and codes that mean the server is going or not there yet:
/// connection exceptions, `admin_shutdown`, `crash_shutdown`, `cannot_connect_now`.
const POSTGRES_UNREACHABLE: [&str; 4] = ["08", "57P01", "57P02", "57P03"];
const POSTGRES_DISK_FULL: &str = "53100";

pub fn classify(error: &sqlx::Error) -> Failure {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Failure::Unreachable,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite's codes are numbers below 10,000; PostgreSQL's SQLSTATEs five characters.
            let sqlite_code = code.parse::<i64>().ok().filter(|_| code.len() < 5);
            if code == POSTGRES_DISK_FULL || sqlite_code.is_some_and(|c| c & 0xff == SQLITE_FULL) {
                Failure::DiskFull
            } else if POSTGRES_UNREACHABLE.iter().any(|prefix| code.starts_with(prefix)) {
                Failure::Unreachable
            } else {
                Failure::Other
            }
        }
        _ => Failure::Other,
    }
}

/// Listens on [`CHANGES_CHANNEL`] and counts each notification as a change, until the
/// connection fails for good.
async fn listen(url: &str, changes: &AtomicU64) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANGES_CHANNEL).await?;
    // Listening from here on: whatever was missed before is behind this count.
    changes.fetch_add(1, Ordering::SeqCst);
    loop {
        // `None`: the connection dropped and notifications may have been lost meanwhile
        // (`try_recv` reconnects and listens again on the next call). Either way, a change.
        listener.try_recv().await?;
        changes.fetch_add(1, Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::RequestContext;
    use crate::store::{audit, throttle};

    /// On SQLite every write goes through one connection, however many run at once, while
    /// reads have their own: so writers queue in the pool instead of in SQLite's busy handler.
    #[tokio::test]
    async fn on_sqlite_concurrent_writes_share_one_connection_and_reads_have_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.data_dir = dir.path().to_path_buf();
        let db = Database::connect(&settings).await.unwrap();
        db.migrate().await.unwrap();
        let context = RequestContext::default();
        let writes = (0..16).map(|n| {
            let (db, context) = (db.clone(), context.clone());
            tokio::spawn(async move {
                audit::record(&db, None, audit::EventKind::LoginFailed, &context, "").await.unwrap();
                throttle::clear(&db, &format!("key-{n}")).await.unwrap();
                throttle::millis_blocked(&db.pool, &format!("key-{n}"), 0).await.unwrap()
            })
        });
        for write in writes.collect::<Vec<_>>() {
            write.await.unwrap();
        }
        assert_eq!(db.writer.size(), 1);
        assert!(db.pool.size() >= 1);
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(&db.pool).await.unwrap();
        assert_eq!(events, 16);
    }
}
