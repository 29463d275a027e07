//! The tower-sessions store for the web app's cookie sessions, on the shared database (so
//! several Gatehouse processes behind a load balancer see the same sessions).

use async_trait::async_trait;
use sqlx::AnyPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::db::Database;

#[derive(Clone, Debug)]
pub struct WebSessionStore {
    reads: AnyPool,
    writes: AnyPool,
}

impl WebSessionStore {
    pub fn new(db: &Database) -> Self {
        Self { reads: db.pool.clone(), writes: db.writer.clone() }
    }
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(record).map_err(|e| session_store::Error::Encode(e.to_string()))
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for WebSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        // Ids are random 128-bit values; on the (astronomically unlikely) collision, pick anew.
        loop {
            let inserted = sqlx::query(
                "INSERT INTO web_sessions (id, data, expiry_date) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .execute(&self.writes)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        sqlx::query(
            "INSERT INTO web_sessions (id, data, expiry_date) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date",
        )
        .bind(record.id.to_string())
        .bind(&data)
        .bind(record.expiry_date.unix_timestamp())
        .execute(&self.writes)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM web_sessions WHERE id = $1 AND expiry_date > $2")
                .bind(id.to_string())
                .bind(system_now())
                .fetch_optional(&self.reads)
                .await
                .map_err(backend)?;
        data.map(|d| serde_json::from_str(&d).map_err(|e| session_store::Error::Decode(e.to_string()))).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM web_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.writes)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for WebSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM web_sessions WHERE expiry_date <= $1")
            .bind(system_now())
            .execute(&self.writes)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// The system clock, not the core's: tower-sessions sets each record's expiry by the system
/// clock, so the store compares against the same one.
fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
