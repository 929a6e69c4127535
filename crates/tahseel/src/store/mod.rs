//! Storage: one `Store` over either SQLite (the embedded default) or
//! PostgreSQL, picked by the database URL's scheme.
//!
//! Each query is written once and compiled for both backends by the
//! [`on_db!`] macro, which expands its body once per backend with the
//! concrete connection type. Each backend has its own migrations
//! (`migrations/sqlite`, `migrations/postgres`) with native column types:
//! UUID and TIMESTAMPTZ on PostgreSQL, 16-byte blobs and RFC 3339 text on
//! SQLite.
//!
//! Concurrency: PostgreSQL transactions lock the rows they change with
//! `SELECT … FOR UPDATE`, always in id order; SQLite transactions start
//! with `BEGIN IMMEDIATE`, which takes the single write lock up front so
//! two writers never deadlock upgrading their locks.

mod acquirers;
mod bills;
mod catalog;
mod events;
mod history;
mod ledger;
mod payments;
mod rollups;
mod rows;
mod statements;
mod web;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::{Error, Result};

pub use acquirers::{
    AcquirerException, LedgerMovement, StoredReconciliation, WaitingPayment, WaitingRefund,
};
pub use bills::{BillFilter, BillRecord, BulkInput, BulkLine, LineError, NewBill, MAX_BULK};
pub use catalog::{Agency, ApiKeyRecord, NewAgency, NewService, Principal, Service};
pub use events::{DueEvent, EventRecord};
pub use history::{record_history_in, HistoricPayment, HISTORY_BATCH};
pub use ledger::{AccountBalance, LedgerFault};
pub use payments::{
    receipt_number, AcquirerOutcome, Card, LineRecord, NewPayment, NewRefund, PaymentRecord,
    RefundRecord, Replayable,
};
pub use rollups::{Dimension, RollupDiff, RollupRow};
pub use statements::PayableMovement;
pub use web::{
    check_kiosk_code, Cashup, FoundLine, Kiosk, NewSession, PaymentSearch, SearchCursor,
    SessionKind, WebSession, KIOSK_KEY_PREFIX,
};

/// The connection pool of whichever backend the URL named.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on either backend.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Expands `$body` once per backend. In the body `$c` is the connection
/// (`&mut SqliteConnection` / `&mut PgConnection`, or the pool), `$pg`
/// a `bool` that is true on PostgreSQL, for the few statements whose text
/// differs, and (in transactions) `DbKind` the backend's type, for
/// `QueryBuilder`.
macro_rules! on_db {
    (tx $tx:expr, |$c:ident, $pg:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                #[allow(dead_code)]
                type DbKind = sqlx::Sqlite;
                let $c: &mut sqlx::SqliteConnection = &mut **t;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                #[allow(dead_code)]
                type DbKind = sqlx::Postgres;
                let $c: &mut sqlx::PgConnection = &mut **t;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
    (pool $store:expr, |$c:ident, $pg:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(pool) => {
                let $c = pool;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Store::Postgres(pool) => {
                let $c = pool;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// The default: a SQLite file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tahseel.db";

impl Store {
    /// Connects by URL scheme: `sqlite://PATH` or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        if url.starts_with("sqlite:") {
            // FULL synchronous in WAL mode: a commit that returned is on disk.
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                // A larger page cache and memory-mapped reads keep inserts into
                // big random-keyed indexes from turning into a read per page.
                .pragma("cache_size", "-32768")
                .pragma("mmap_size", "536870912");
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(32)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Ok(Store::Postgres(pool))
        } else {
            Err(Error::Invalid(format!(
                "database URL {url:?} must start with sqlite: or postgres:"
            )))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_db!(pool self, |c, pg| sqlx::query("SELECT 1").execute(c).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool) => pool.close().await,
            Store::Postgres(pool) => pool.close().await,
        }
    }

    /// A secret shared by every node over this database, created on first
    /// use. Read on every receipt, so it is only written when missing.
    pub async fn hub_secret(&self, name: &str) -> Result<String> {
        let stored: Option<String> = on_db!(pool self, |c, pg| {
            sqlx::query_scalar("SELECT value FROM hub_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(c)
                .await?
        });
        if let Some(value) = stored {
            return Ok(value);
        }
        let fresh = hex::encode(crate::auth::random_bytes::<32>());
        on_db!(pool self, |c, pg| {
            // Two nodes creating it at once agree on whichever was first.
            sqlx::query("INSERT INTO hub_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(&fresh)
                .execute(c)
                .await?;
            let value: String = sqlx::query_scalar("SELECT value FROM hub_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(c)
                .await?;
            Ok(value)
        })
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// The current instant at the precision both databases store.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    tahseel_core::time::truncate_micros(chrono::Utc::now())
}
