//! Writes that belong together, run as one transaction on the writer connection: all of them
//! happen or none does. Its commit counts as one change for the principal cache (see
//! [`Database::changes`]), so no store function written for a transaction has to remember to
//! count itself.
//!
//! On SQLite the writer is one connection: while a transaction is open, nothing else may
//! write through the database handle (it would wait for that connection for ever), so work
//! that takes time (hashing a password) runs before [`Database::begin`], and only the
//! transaction's own writes run between it and [`Transaction::commit`].

use sqlx::{Any, AnyConnection};

use crate::db::Database;
use crate::error::CoreError;

pub struct Transaction {
    tx: sqlx::Transaction<'static, Any>,
    db: Database,
}

impl Database {
    /// Opens a transaction on the writer.
    pub async fn begin(&self) -> Result<Transaction, CoreError> {
        Ok(Transaction { tx: self.writer.begin().await?, db: self.clone() })
    }
}

impl Transaction {
    /// Unix seconds now, by the core's clock.
    pub fn now(&self) -> i64 {
        self.db.now()
    }

    /// The connection the transaction's statements run on.
    pub(crate) fn connection(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Undoes every write of the transaction (dropping it unfinished does the same).
    pub async fn rollback(self) -> Result<(), CoreError> {
        Ok(self.tx.rollback().await?)
    }

    /// Makes every write of the transaction visible at once, and counts it as one change.
    pub async fn commit(self) -> Result<(), CoreError> {
        self.tx.commit().await?;
        self.db.changed();
        Ok(())
    }
}
