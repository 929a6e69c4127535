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
mod columns;
mod events;
mod group;
mod history;
mod ledger;
mod payments;
mod prefetch;
mod rollups;
mod rows;
mod statements;
mod web;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::error::{Error, Result};

pub use acquirers::{
    AcquirerException, LedgerMovement, StoredReconciliation, WaitingPayment, WaitingRefund,
};
pub use bills::{BillFilter, BillRecord, BulkInput, BulkLine, LineError, NewBill, MAX_BULK};
pub use catalog::{Agency, ApiKeyRecord, NewAgency, NewService, Principal, Service};
pub use events::{DueEvent, EventRecord};
pub use group::{GroupStats, Shared, WriteOp};
pub use history::{record_history_in, HistoricPayment, HISTORY_BATCH};
pub use ledger::{AccountBalance, LedgerFault};
pub use payments::{
    receipt_number, AcquirerOutcome, Card, LineRecord, NewPayment, NewRefund, PaymentRecord,
    RefundRecord, Replayable,
};
pub use prefetch::Reads;
pub use rollups::{Dimension, RollupDiff, RollupRow};
pub use statements::PayableMovement;
pub use web::{
    check_kiosk_code, Cashup, FoundLine, Kiosk, NewSession, PaymentSearch, SearchCursor,
    SessionKind, WebSession, KIOSK_KEY_PREFIX,
};

/// The connection pool of whichever backend the URL named.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool, Arc<Shared>),
    Postgres(PgPool, Arc<Shared>),
}

/// An open write transaction on either backend, with the running totals
/// its postings and captures move, which are written when it commits.
pub struct Tx {
    conn: TxConn,
    deferred: Deferred,
    /// Rows read for a whole shared transaction (see [`prefetch`]).
    prefetched: prefetch::Prefetched,
    savepoint: Savepoint,
    /// SQLite: the statements `at_commit!` gathered, sent just before COMMIT.
    sqlite_script: Option<sqlx::QueryBuilder<sqlx::Sqlite>>,
    /// PostgreSQL, while committing: the statements `at_commit!` gathered,
    /// each a common table expression of one statement (`WITH s0 AS (…),
    /// s1 AS (…) SELECT 1`), and how many there are.
    pg_script: Option<(sqlx::QueryBuilder<sqlx::Postgres>, usize)>,
}

/// Group commit's savepoints are taken lazily: a write whose rows were all
/// read up front and whose changes all wait for the commit sends no
/// statement, so it needs no savepoint either.
#[derive(Debug, Default)]
struct Savepoint {
    /// The current write has not sent a statement yet; its first one
    /// must be preceded by a savepoint.
    wanted: bool,
    /// A savepoint is open (an earlier write's, or the current one's).
    open: bool,
    /// The current write's savepoint was taken.
    taken: bool,
}

enum TxConn {
    /// Holds this process's SQLite write lock until it ends.
    Sqlite(
        Transaction<'static, Sqlite>,
        #[allow(dead_code, reason = "held for its drop, which lets the next writer in")]
        OwnedMutexGuard<()>,
    ),
    Postgres(Transaction<'static, Postgres>),
}

/// Additions to rows that nearly every payment changes (ledger account
/// totals, daily rollups), summed in memory and written once, just before
/// the transaction commits: a shared transaction of many captures touches
/// each such row once, and holds its lock only for the commit. The
/// postings wait with them (they name their accounts, which must exist
/// first) and go in as one multi-row insert.
///
/// New and changed payments, changed bills, issued receipts and journal
/// entries (with ids read ahead) wait too,
/// as whole rows: the transaction reads them from here first (see
/// `lock_bill`, `lock_payment`, `tx_lines`), and at commit each table gets
/// one multi-row INSERT or UPDATE (see [`at_commit`]).
#[derive(Default)]
struct Deferred {
    new_payments: std::collections::BTreeMap<uuid::Uuid, payments::NewPaymentRows>,
    /// Idempotency key → the new payment that has it.
    new_keys: std::collections::HashMap<String, uuid::Uuid>,
    bills: std::collections::BTreeMap<uuid::Uuid, rows::BillRow>,
    payments: std::collections::BTreeMap<uuid::Uuid, rows::PaymentRow>,
    /// What each change of `new_payments`, `bills` and `payments`
    /// replaced, newest last, to go back to a savepoint.
    undo: Vec<Undo>,
    /// Receipt numbers read ahead for this transaction's captures.
    receipt_numbers: prefetch::Numbers,
    /// Receipts issued: (number, payment).
    receipts: Vec<(i64, uuid::Uuid)>,
    /// Journal entry ids read ahead, and the entries posted with them.
    entry_ids: prefetch::Numbers,
    entries: Vec<ledger::NewEntry>,
    /// Account name → (debits, credits) to add.
    accounts: std::collections::BTreeMap<String, (i64, i64)>,
    postings: Vec<ledger::NewPosting>,
    rollups: std::collections::BTreeMap<rollups::RollupKey, rollups::RollupValues>,
    /// Agency events, in the order emitted (their sequence follows it).
    events: Vec<events::NewEvent>,
}

enum Undo {
    NewPayment(uuid::Uuid),
    Bill(uuid::Uuid, Option<rows::BillRow>),
    Payment(uuid::Uuid, Option<rows::PaymentRow>),
}

/// What a transaction had deferred at a savepoint.
pub(crate) struct DeferredMark {
    undo: usize,
    receipt_numbers: prefetch::Numbers,
    receipts: usize,
    entry_ids: prefetch::Numbers,
    entries: usize,
    accounts: std::collections::BTreeMap<String, (i64, i64)>,
    postings: usize,
    rollups: std::collections::BTreeMap<rollups::RollupKey, rollups::RollupValues>,
    events: usize,
}

/// Expands `$body` once per backend. In the body `$c` is the connection
/// (`&mut SqliteConnection` / `&mut PgConnection`, or the pool), `$pg`
/// a `bool` that is true on PostgreSQL, for the few statements whose text
/// differs, and (in transactions) `DbKind` the backend's type, for
/// `QueryBuilder`.
macro_rules! on_db {
    (tx $tx:expr, |$c:ident, $pg:ident| $body:expr) => {{
        match ($tx).ensure_savepoint().await {
            Ok(()) => {}
            Err(e) => return Err(e.into()),
        }
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(t, _) => {
                #[allow(dead_code)]
                type DbKind = sqlx::Sqlite;
                let $c: &mut sqlx::SqliteConnection = &mut **t;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::TxConn::Postgres(t) => {
                #[allow(dead_code)]
                type DbKind = sqlx::Postgres;
                let $c: &mut sqlx::PgConnection = &mut **t;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    }};
    (pool $store:expr, |$c:ident, $pg:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(pool, _) => {
                let $c = pool;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Store::Postgres(pool, _) => {
                let $c = pool;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// A statement the transaction sends at commit, built into `$qb` (a
/// `QueryBuilder` of the backend's `DbKind`). On SQLite the statements
/// join one script that goes to the connection's thread in one hand-over
/// (each statement takes its share of the arguments, in order). On
/// PostgreSQL, whose protocol takes one statement with parameters at a
/// time, those gathered by [`Tx::commit`] become one statement, each a
/// data-modifying `WITH` of it: one round trip instead of one each. They
/// all see the database as it was before that statement, so no two may
/// change the same row; foreign keys are checked at its end. Called
/// outside the commit, the statement is sent at once.
macro_rules! at_commit {
    ($tx:expr, |$qb:ident, $pg:ident| $body:expr) => {{
        match &mut ($tx).conn {
            $crate::store::TxConn::Sqlite(..) => {
                #[allow(dead_code)]
                type DbKind = sqlx::Sqlite;
                #[allow(unused_variables)]
                let $pg = false;
                let $qb = match &mut ($tx).sqlite_script {
                    Some(script) => {
                        script.push("; ");
                        script
                    }
                    none => none.insert(sqlx::QueryBuilder::new("")),
                };
                $body
            }
            $crate::store::TxConn::Postgres(t) => {
                #[allow(dead_code)]
                type DbKind = sqlx::Postgres;
                #[allow(unused_variables)]
                let $pg = true;
                match &mut ($tx).pg_script {
                    Some((script, count)) => {
                        script.push(if *count == 0 { "WITH " } else { ", " });
                        script.push(format_args!("s{count} AS ("));
                        let $qb = &mut *script;
                        $body;
                        script.push(")");
                        *count += 1;
                    }
                    None => {
                        let mut statement = sqlx::QueryBuilder::<sqlx::Postgres>::new("");
                        let $qb = &mut statement;
                        $body;
                        statement.build().execute(&mut **t).await?;
                    }
                }
            }
        }
    }};
}
pub(crate) use at_commit;

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
                .pragma("mmap_size", "536870912");
            // Each SQLite connection runs on its own thread and every statement
            // is a hand-over to it; beyond about two per core, more
            // connections only add thread switches (one writes at a time).
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            // A reader throws its whole page cache away at the first read
            // after any commit (SQLite's rule in WAL mode), and clearing it
            // costs in proportion to its size: readers keep a small one.
            let pool = SqlitePoolOptions::new()
                .max_connections((cores * 2).clamp(2, 16) as u32)
                .connect_with(options.clone().pragma("cache_size", "-2048"))
                .await?;
            // The writer's cache stays valid across its own commits. 8 MiB
            // holds a batch's pages many times over; clean pages beyond it
            // come back through the memory map or the OS's cache, and a
            // larger one only added to the process's memory (32 MiB: same
            // rates, about 25 MiB more at peak).
            let writes = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.pragma("cache_size", "-8192"))
                .await?;
            Ok(Store::Sqlite(pool, Arc::new(group::Shared::sqlite(writes))))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(32)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Ok(Store::Postgres(pool, Arc::default()))
        } else {
            Err(Error::Invalid(format!(
                "database URL {url:?} must start with sqlite: or postgres:"
            )))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Store::Postgres(pool, _) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(..) => "sqlite",
            Store::Postgres(..) => "postgres",
        }
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        let conn = match self {
            Store::Sqlite(pool, shared) => {
                let turn = shared.sqlite_writer.clone().lock_owned().await;
                let pool = shared.sqlite_writes.as_ref().unwrap_or(pool);
                TxConn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            // A write's statements are planned once per connection and the
            // plan kept: by default PostgreSQL plans a prepared statement
            // anew at each run while it guesses that pays, and for the
            // commit's many-part statement that planning was a quarter of
            // PostgreSQL's work per capture. Every row a write touches is
            // found by key, so a plan that scans a whole table is never the
            // right one to keep, though the planner picks it for a table
            // still small (a new hub's) when it cannot see how many keys
            // come: scans are ruled out while indexes serve.
            Store::Postgres(pool, _) => TxConn::Postgres(
                pool.begin_with(
                    "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; \
                     SET LOCAL enable_seqscan = off",
                )
                .await?,
            ),
        };
        Ok(Tx {
            conn,
            deferred: Deferred::default(),
            prefetched: prefetch::Prefetched::default(),
            savepoint: Savepoint::default(),
            sqlite_script: None,
            pg_script: None,
        })
    }

    /// Refreshes PostgreSQL's planner statistics. It plans from them, and
    /// on tables that grew fast since they were last analyzed (a fresh
    /// database filled at once) it can choose to scan a whole table where
    /// an index lookup is right, and keep that plan (for its foreign-key
    /// checks too) until the next analyze. SQLite's planner prefers the
    /// indexes without statistics, so there this does nothing.
    pub async fn analyze(&self) -> Result<()> {
        if let Store::Postgres(pool, _) = self {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_db!(pool self, |c, pg| sqlx::query("SELECT 1").execute(c).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(pool, shared) => {
                if let Some(writes) = &shared.sqlite_writes {
                    writes.close().await;
                }
                pool.close().await
            }
            Store::Postgres(pool, _) => pool.close().await,
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
    /// Writes the deferred totals, then commits.
    pub async fn commit(mut self) -> Result<()> {
        // The commit ends any open savepoint; the writes below need none.
        self.savepoint.wanted = false;
        let mut deferred = std::mem::take(&mut self.deferred);
        // A payment this transaction made and then changed is inserted as
        // it ended: the commit's statements must not change a row twice.
        let Deferred {
            new_payments,
            payments,
            ..
        } = &mut deferred;
        payments.retain(|id, row| match new_payments.get_mut(id) {
            Some(new) => {
                new.row = row.clone();
                false
            }
            None => true,
        });
        if let TxConn::Postgres(_) = self.conn {
            self.pg_script = Some((sqlx::QueryBuilder::new(""), 0));
        }
        payments::insert_new_payments(&mut self, &deferred.new_payments).await?;
        payments::insert_receipts(&mut self, &deferred.receipts).await?;
        ledger::insert_entries(&mut self, &deferred.entries).await?;
        payments::save_payments(&mut self, &deferred.payments).await?;
        bills::save_bills(&mut self, &deferred.bills).await?;
        ledger::add_to_accounts(&mut self, &deferred.accounts).await?;
        ledger::insert_postings(&mut self, &deferred.postings).await?;
        rollups::add(&mut self, &deferred.rollups).await?;
        events::insert_events(&mut self, &deferred.events).await?;
        if let (Some(mut script), TxConn::Sqlite(t, _)) =
            (self.sqlite_script.take(), &mut self.conn)
        {
            // Its text depends only on which tables the batch writes.
            script.build().execute(&mut **t).await?;
        }
        if let (Some((mut script, count)), TxConn::Postgres(t)) =
            (self.pg_script.take(), &mut self.conn)
        {
            if count > 0 {
                // Its text depends only on which tables the batch writes.
                script.push(" SELECT 1").build().execute(&mut **t).await?;
            }
        }
        match self.conn {
            TxConn::Sqlite(t, _) => t.commit().await?,
            TxConn::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Records a posting, and adds it to its account's running totals,
    /// when the transaction commits.
    fn defer_posting(&mut self, posting: ledger::NewPosting) {
        let totals = self
            .deferred
            .accounts
            .entry(posting.account.clone())
            .or_default();
        match posting.side {
            tahseel_core::ledger::Side::Debit => totals.0 += posting.amount_fils,
            tahseel_core::ledger::Side::Credit => totals.1 += posting.amount_fils,
        }
        self.deferred.postings.push(posting);
    }

    /// Adds to the daily rollups when the transaction commits.
    pub(crate) fn defer_rollups(
        &mut self,
        deltas: impl IntoIterator<Item = (rollups::RollupKey, rollups::RollupValues)>,
    ) {
        for (key, values) in deltas {
            self.deferred.rollups.entry(key).or_default().add(&values);
        }
    }

    fn defer_event(&mut self, event: events::NewEvent) {
        self.deferred.events.push(event);
    }

    /// A bill as this transaction last changed it, if it did.
    fn changed_bill(&self, id: uuid::Uuid) -> Option<rows::BillRow> {
        self.deferred.bills.get(&id).cloned()
    }

    /// Keeps a changed bill until the commit.
    fn defer_bill(&mut self, row: rows::BillRow) {
        let before = self.deferred.bills.insert(row.id, row.clone());
        self.deferred.undo.push(Undo::Bill(row.id, before));
    }

    /// A payment as this transaction last changed or created it, if it did.
    fn changed_payment(&self, id: uuid::Uuid) -> Option<rows::PaymentRow> {
        let deferred = &self.deferred;
        deferred
            .payments
            .get(&id)
            .or_else(|| deferred.new_payments.get(&id).map(|new| &new.row))
            .cloned()
    }

    /// Keeps a new payment and its lines until the commit.
    fn defer_new_payment(&mut self, new: payments::NewPaymentRows) {
        let id = new.row.id;
        self.deferred.new_keys.insert(new.key.clone(), id);
        self.deferred.new_payments.insert(id, new);
        self.deferred.undo.push(Undo::NewPayment(id));
    }

    /// The payment this transaction created with `key`, if any.
    fn new_payment_by_key(&self, key: &str) -> Option<uuid::Uuid> {
        self.deferred.new_keys.get(key).copied()
    }

    /// The lines of a payment this transaction created.
    fn new_payment_lines(&self, id: uuid::Uuid) -> Option<Vec<rows::LineRow>> {
        self.deferred
            .new_payments
            .get(&id)
            .map(|new| new.lines.clone())
    }

    /// Gives a journal entry an id from those read ahead and keeps it to
    /// be inserted at commit; `None` if there are none (the caller inserts
    /// at once).
    fn defer_entry(&mut self, entry: impl FnOnce(i64) -> ledger::NewEntry) -> Option<i64> {
        let id = self.deferred.entry_ids.take()?;
        self.deferred.entries.push(entry(id));
        Some(id)
    }

    /// Issues a receipt number from those read ahead, to be inserted at
    /// commit; `None` if there are none (the caller inserts at once).
    fn issue_receipt(&mut self, payment_id: uuid::Uuid) -> Option<i64> {
        let no = self.deferred.receipt_numbers.take()?;
        self.deferred.receipts.push((no, payment_id));
        Some(no)
    }

    fn defer_payment(&mut self, row: rows::PaymentRow) {
        let before = self.deferred.payments.insert(row.id, row.clone());
        self.deferred.undo.push(Undo::Payment(row.id, before));
    }

    /// Group commit: the next write starts here; see [`Savepoint`].
    pub(crate) fn want_savepoint(&mut self) {
        self.savepoint.wanted = true;
        self.savepoint.taken = false;
    }

    /// Sends the savepoint the current write wants, if it does, before
    /// that write's first statement. An earlier write's open savepoint is
    /// released in the same round trip.
    async fn ensure_savepoint(&mut self) -> Result<()> {
        if !self.savepoint.wanted {
            return Ok(());
        }
        self.savepoint.wanted = false;
        let sql = if self.savepoint.open {
            "RELEASE SAVEPOINT one_write; SAVEPOINT one_write"
        } else {
            "SAVEPOINT one_write"
        };
        self.raw(sql).await?;
        self.savepoint.open = true;
        self.savepoint.taken = true;
        Ok(())
    }

    /// Undoes the current write: its statements back to its savepoint, if
    /// it sent any, and what it deferred.
    pub(crate) async fn undo_write(&mut self, mark: DeferredMark) -> Result<()> {
        self.back_to(mark);
        self.savepoint.wanted = false;
        if self.savepoint.taken {
            self.raw("ROLLBACK TO SAVEPOINT one_write; RELEASE SAVEPOINT one_write")
                .await?;
            self.savepoint.open = false;
            self.savepoint.taken = false;
        }
        Ok(())
    }

    /// Fixed statements without parameters, several in one round trip.
    async fn raw(&mut self, sql: &'static str) -> Result<()> {
        match &mut self.conn {
            TxConn::Sqlite(t, _) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|_| ())?,
            TxConn::Postgres(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|_| ())?,
        }
        Ok(())
    }

    /// What is deferred so far, to go back to if a savepoint is undone.
    pub(crate) fn deferred_mark(&self) -> DeferredMark {
        DeferredMark {
            undo: self.deferred.undo.len(),
            receipt_numbers: self.deferred.receipt_numbers.clone(),
            receipts: self.deferred.receipts.len(),
            entry_ids: self.deferred.entry_ids.clone(),
            entries: self.deferred.entries.len(),
            accounts: self.deferred.accounts.clone(),
            postings: self.deferred.postings.len(),
            rollups: self.deferred.rollups.clone(),
            events: self.deferred.events.len(),
        }
    }

    pub(crate) fn back_to(&mut self, mark: DeferredMark) {
        while self.deferred.undo.len() > mark.undo {
            match self.deferred.undo.pop() {
                Some(Undo::NewPayment(id)) => {
                    if let Some(new) = self.deferred.new_payments.remove(&id) {
                        self.deferred.new_keys.remove(&new.key);
                    }
                }
                Some(Undo::Bill(id, Some(row))) => {
                    self.deferred.bills.insert(id, row);
                }
                Some(Undo::Bill(id, None)) => {
                    self.deferred.bills.remove(&id);
                }
                Some(Undo::Payment(id, Some(row))) => {
                    self.deferred.payments.insert(id, row);
                }
                Some(Undo::Payment(id, None)) => {
                    self.deferred.payments.remove(&id);
                }
                None => break,
            }
        }
        self.deferred.receipt_numbers = mark.receipt_numbers;
        self.deferred.receipts.truncate(mark.receipts);
        self.deferred.entry_ids = mark.entry_ids;
        self.deferred.entries.truncate(mark.entries);
        self.deferred.accounts = mark.accounts;
        self.deferred.postings.truncate(mark.postings);
        self.deferred.rollups = mark.rollups;
        self.deferred.events.truncate(mark.events);
    }
}

/// The current instant at the precision both databases store.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    tahseel_core::time::truncate_micros(chrono::Utc::now())
}
