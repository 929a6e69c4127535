//! Group commit: the payment writes that arrive while a transaction is
//! committing (new payments, payments sent to the acquirer, acquirer
//! answers) wait in a queue and are then applied together in one
//! transaction with one commit, each under its own savepoint. The rows
//! the writes will read are read for all of them at once first (see
//! `prefetch.rs`), and the rows they change are written at the commit
//! (see `Tx`), so most writes send no statement of their own and need no
//! savepoint: one is taken only before a write's first statement. A write
//! refused by the rules (a bill already paid, a forged amount) is rolled
//! back to its savepoint and answered alone; every caller is answered
//! only after the shared commit, so nothing is reported done before it is
//! durable. If the shared transaction fails (a database error, a deadlock
//! with another node), each write is run again in its own transaction.
//!
//! The queue belongs to one `Store` (and its clones) in one process:
//! nodes share nothing but the database, each batching its own writes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::{Reads, Store, Tx};

/// Batches a node runs at once on PostgreSQL.
const POSTGRES_WORKERS: usize = 4;
use crate::error::{Error, Result};

/// A write to apply inside a transaction. It may run more than once (again
/// alone, when a shared transaction fails), so it takes its inputs by
/// reference and clones what its future needs.
pub type WriteOp<T> =
    Box<dyn for<'t> Fn(&'t mut Tx) -> BoxFuture<'t, Result<T>> + Send + Sync + 'static>;

/// What group commit has done since it was started on this store.
#[derive(Debug, Default)]
pub struct GroupStats {
    pub transactions: AtomicU64,
    pub writes: AtomicU64,
    /// The most writes one transaction carried.
    pub largest: AtomicU64,
    /// Shared transactions that failed and were replayed write by write.
    pub replayed: AtomicU64,
}

/// Shared by every clone of a `Store`: SQLite's in-process write lock and
/// write connection and, once started, the group-commit queue.
#[derive(Default)]
pub struct Shared {
    /// SQLite allows one writer at a time; this queues the process's
    /// writers in order instead of leaving them to SQLite's busy handler,
    /// which sleeps and retries (milliseconds each time, unfairly).
    pub(super) sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// SQLite: the one connection every write transaction uses. Each
    /// connection has its own page cache, which SQLite throws away when
    /// another connection has written since; writes that took turns on
    /// the pool's connections each began with a cold cache.
    pub(super) sqlite_writes: Option<sqlx::SqlitePool>,
    group: OnceLock<Queue>,
}

impl Shared {
    /// SQLite's: every write transaction on `writes`, a pool of one.
    pub(super) fn sqlite(writes: sqlx::SqlitePool) -> Shared {
        Shared {
            sqlite_writes: Some(writes),
            ..Shared::default()
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("group_commit", &self.group.get().is_some())
            .finish()
    }
}

struct Queue {
    sender: mpsc::Sender<Box<dyn Job>>,
    stats: Arc<GroupStats>,
}

/// How one write went inside a shared transaction.
enum Ran {
    /// Applied; its answer waits for the commit.
    Applied,
    /// Refused by the rules: undone to its savepoint, answered with the error.
    Refused,
    /// The transaction itself is broken.
    Broken(Error),
}

/// A queued write with its caller's answer channel, its type erased.
trait Job: Send {
    /// What the write will read, to be read for the whole batch at once.
    fn reads(&self) -> &Reads;
    fn run<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, Ran>;
    /// Sends what the write produced (after the commit).
    fn answer(self: Box<Self>);
    /// Runs the write in its own transaction and answers.
    fn alone(self: Box<Self>, store: Store) -> BoxFuture<'static, ()>;
}

struct Typed<T> {
    reads: Reads,
    op: WriteOp<T>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T: Send + 'static> Job for Typed<T> {
    fn reads(&self) -> &Reads {
        &self.reads
    }

    fn run<'a>(&'a mut self, tx: &'a mut Tx) -> BoxFuture<'a, Ran> {
        Box::pin(async move {
            match (self.op)(tx).await {
                Ok(value) => {
                    self.result = Some(Ok(value));
                    Ran::Applied
                }
                Err(e @ Error::Database(_)) => Ran::Broken(e),
                Err(e) => {
                    self.result = Some(Err(e));
                    Ran::Refused
                }
            }
        })
    }

    fn answer(self: Box<Self>) {
        let result = self
            .result
            .unwrap_or_else(|| Err(Error::Invalid("a queued write was not run".into())));
        // A caller that went away still had its write applied.
        let _ = self.reply.send(result);
    }

    fn alone(self: Box<Self>, store: Store) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let result = store.write_alone(&self.op).await;
            let _ = self.reply.send(result);
        })
    }
}

impl Store {
    pub(super) fn shared(&self) -> &Arc<Shared> {
        match self {
            Store::Sqlite(_, shared) | Store::Postgres(_, shared) => shared,
        }
    }

    /// Turns group commit on for this store and its clones: from now on
    /// [`Store::write`] queues, and one transaction carries at most
    /// `max_batch` writes. Starting it again changes nothing.
    pub fn start_group_commit(&self, max_batch: usize) -> Arc<GroupStats> {
        let shared = self.shared();
        let queue = shared.group.get_or_init(|| {
            let max_batch = max_batch.max(1);
            let (sender, receiver) = mpsc::channel(max_batch * 4);
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            let stats = Arc::new(GroupStats::default());
            // SQLite has one writer, so one batch at a time; PostgreSQL runs
            // several transactions at once, so several batches share its
            // round trips.
            let workers = match self {
                Store::Sqlite(..) => 1,
                Store::Postgres(..) => POSTGRES_WORKERS,
            };
            for _ in 0..workers {
                let (pool, weak) = (Pool::of(self), Arc::downgrade(shared));
                let worker = run_queue(pool, weak, receiver.clone(), max_batch, stats.clone());
                match self {
                    // SQLite's writer gets a thread of its own: each of its
                    // statements is a hand-over to the connection's thread
                    // and back, and on the server's runtime every "back"
                    // would wait its turn behind the HTTP tasks.
                    Store::Sqlite(..) => {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("a runtime for the SQLite writer");
                        std::thread::Builder::new()
                            .name("tahseel-writer".into())
                            .spawn(move || runtime.block_on(worker))
                            .expect("the SQLite writer's thread starts");
                    }
                    Store::Postgres(..) => {
                        tokio::spawn(worker);
                    }
                }
            }
            Queue { sender, stats }
        });
        queue.stats.clone()
    }

    /// Group commit's counters, if it was started.
    pub fn group_stats(&self) -> Option<Arc<GroupStats>> {
        self.shared().group.get().map(|q| q.stats.clone())
    }

    /// Applies `op` in a transaction and commits: through group commit if
    /// it was started, else alone. An error leaves nothing of `op` behind.
    /// `reads` names the rows `op` will read, so that a shared transaction
    /// can read them for all its writes at once; it may be empty, or name
    /// less than `op` reads.
    pub async fn write<T: Send + 'static>(&self, reads: Reads, op: WriteOp<T>) -> Result<T> {
        let Some(queue) = self.shared().group.get() else {
            return self.write_alone(&op).await;
        };
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Typed {
            reads,
            op,
            result: None,
            reply,
        });
        let stopped = || Error::Conflict("the node is shutting down; try again".into());
        queue.sender.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn write_alone<T>(&self, op: &WriteOp<T>) -> Result<T> {
        let mut tx = self.begin().await?;
        let value = op(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}

/// A store's pool without its shared state, which a worker must not keep
/// alive (see [`run_queue`]).
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Pool {
    fn of(store: &Store) -> Pool {
        match store {
            Store::Sqlite(pool, _) => Pool::Sqlite(pool.clone()),
            Store::Postgres(pool, _) => Pool::Postgres(pool.clone()),
        }
    }

    fn with(&self, shared: Arc<Shared>) -> Store {
        match self {
            Pool::Sqlite(pool) => Store::Sqlite(pool.clone(), shared),
            Pool::Postgres(pool) => Store::Postgres(pool.clone(), shared),
        }
    }
}

/// The queue's worker: takes everything that queued while the last commit
/// ran and applies it in one transaction. It holds only a weak reference
/// to the store's shared state, so it ends when the last `Store` clone is
/// dropped (and its queue's sender with it).
async fn run_queue(
    pool: Pool,
    shared: Weak<Shared>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Box<dyn Job>>>>,
    max_batch: usize,
    stats: Arc<GroupStats>,
) {
    loop {
        // One worker at a time takes what has queued; the others are busy
        // committing their own batches meanwhile.
        let mut jobs = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                break;
            };
            let mut jobs = vec![first];
            while jobs.len() < max_batch {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        let Some(shared) = shared.upgrade() else {
            break;
        };
        let store = pool.with(shared);
        stats.transactions.fetch_add(1, Relaxed);
        stats.writes.fetch_add(jobs.len() as u64, Relaxed);
        stats.largest.fetch_max(jobs.len() as u64, Relaxed);
        if jobs.len() == 1 {
            // Nothing to share: reading ahead for one write would cost
            // more statements than it saves.
            let job = jobs.pop().expect("one job");
            job.alone(store).await;
            continue;
        }
        match together(&store, &mut jobs).await {
            Ok(()) => jobs.into_iter().for_each(|job| job.answer()),
            Err(e) => {
                tracing::warn!(error = %e, size = jobs.len(), "group commit failed; applying each write alone");
                stats.replayed.fetch_add(1, Relaxed);
                for job in jobs {
                    job.alone(store.clone()).await;
                }
            }
        }
    }
}

/// Runs every job in one transaction, each under its own savepoint
/// (taken only if the job sends a statement), and commits.
async fn together(store: &Store, jobs: &mut [Box<dyn Job>]) -> Result<()> {
    let mut tx = store.begin().await?;
    tx.prefetch(&Reads::merged(jobs.iter().map(|job| job.reads())))
        .await?;
    for job in jobs.iter_mut() {
        let mark = tx.deferred_mark();
        tx.want_savepoint();
        match job.run(&mut tx).await {
            Ran::Applied => {}
            Ran::Refused => tx.undo_write(mark).await?,
            Ran::Broken(e) => return Err(e),
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::bills::{lock_bill, save_bill};
    use crate::store::ledger::{post_entry, EntryRefs};
    use crate::store::on_db;
    use tahseel_core::ledger::JournalEntry;
    use tahseel_core::Fils;

    /// A write refused after it had posted an entry, emitted an event,
    /// changed a bill and inserted a row, inside a transaction it shared
    /// with others, leaves nothing behind: not its rows, not its share of
    /// the totals and changed rows written at commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_write_leaves_nothing_in_a_shared_transaction() {
        let dir = std::env::temp_dir().join(format!("tahseel-group-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.join("t.db").display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let bill = crate::demo::load(&store).await.unwrap()[0].id;
        let agency = store.agency_by_code("GDT").await.unwrap().id;
        let stats = store.start_group_commit(64);
        // Hold the writer so every write queues, then let them go together.
        let turn = store.shared().sqlite_writer.clone().lock_owned().await;
        let mut writes = tokio::task::JoinSet::new();
        for n in 1..=20i64 {
            let store = store.clone();
            writes.spawn(async move {
                let result = store
                    .write(
                        // Its journal entry gets an id read ahead and waits
                        // for the commit.
                        Reads {
                            entries: 1,
                            ..Reads::default()
                        },
                        Box::new(move |tx| {
                            Box::pin(async move {
                                let entry = JournalEntry::fee("sim", Fils::new(n)).unwrap();
                                let refs = EntryRefs {
                                    payment_id: None,
                                    refund_id: None,
                                    bill_id: None,
                                };
                                post_entry(tx, &entry, refs).await?;
                                let data = serde_json::json!({ "n": n });
                            crate::store::events::emit(tx, agency, None, "test.write", data)
                                    .await?;
                                // A bill change that waits for the commit, and a
                                // row written at once (under the write's savepoint).
                                let row = lock_bill(tx, bill).await?.expect("demo bill");
                                let mut changed = row.domain()?;
                                changed.amount_held = changed.amount_held.checked_add(Fils::new(n))?;
                                save_bill(tx, &row, &changed, crate::store::now());
                                on_db!(tx tx, |c, pg| {
                                    sqlx::query("INSERT INTO hub_secrets (name, value) VALUES ($1, 'x')")
                                        .bind(format!("write-{n}"))
                                        .execute(&mut *c)
                                        .await?;
                                });
                                if n % 4 == 0 {
                                    return Err(Error::Invalid(format!("write {n} refused")));
                                }
                                Ok(n)
                            })
                        }),
                    )
                    .await;
                (n, result)
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(turn);
        let mut kept = 0;
        while let Some(joined) = writes.join_next().await {
            let (n, result) = joined.unwrap();
            match result {
                Ok(v) => {
                    assert_eq!(v, n);
                    assert_ne!(n % 4, 0);
                    kept += n;
                }
                Err(Error::Invalid(why)) => {
                    assert_eq!(n % 4, 0);
                    assert_eq!(why, format!("write {n} refused"));
                }
                Err(e) => panic!("write {n}: {e}"),
            }
        }
        assert!(
            stats.largest.load(Relaxed) > 1,
            "the writes shared a transaction"
        );
        assert_eq!(
            stats.replayed.load(Relaxed),
            0,
            "the shared transaction committed, and was not replayed write by write"
        );
        let fees: i64 = store
            .balances()
            .await
            .unwrap()
            .into_iter()
            .filter(|b| b.account == "fees:revenue")
            .map(|b| b.credits.as_i64())
            .sum();
        assert_eq!(fees, kept, "only the kept writes moved the totals");
        let events = store.events_after(agency, 0, 100).await.unwrap();
        assert_eq!(events.len(), 15, "only the kept writes' events remain");
        let after = store.bill(bill, None).await.unwrap();
        let held = after.amount_outstanding.as_i64() - after.amount_payable_now.as_i64();
        assert_eq!(held, kept, "only the kept writes changed the bill");
        let pool = &store;
        let rows: i64 = on_db!(pool pool, |c, pg| {
            sqlx::query_scalar("SELECT COUNT(*) FROM hub_secrets WHERE name LIKE 'write-%'")
                .fetch_one(c)
                .await
                .unwrap()
        });
        assert_eq!(rows, 15, "only the kept writes' rows remain");
        let (entries, highest): (i64, i64) = on_db!(pool pool, |c, pg| {
            sqlx::query_as("SELECT COUNT(*), MAX(id) FROM journal_entries")
                .fetch_one(c)
                .await
                .unwrap()
        });
        assert_eq!(
            (entries, highest),
            (15, 15),
            "only the kept writes' entries remain, numbered without gaps"
        );
        assert!(store.verify_ledger().await.unwrap().is_empty());
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
