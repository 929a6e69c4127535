//! Reading a shared transaction's rows up front. Each queued write says
//! which payments, bills and idempotency keys it will read; the shared
//! transaction reads them for all its writes at once instead of a few
//! queries per write: on SQLite in one statement, on PostgreSQL in a few
//! multi-row queries (locking payments and bills in id order).
//!
//! On SQLite each kind of row comes back as one JSON array: sqlx hands
//! every result row over from the connection's thread on its own, a
//! thread wake-up each, and a batch reads a hundred rows or more.
//!
//! A prefetched row is handed out at most once. Whoever took it changes
//! it in the transaction's memory (see `Tx`'s deferred rows), which every
//! later read looks at first, so no write is given a copy an earlier write
//! of the same transaction changed. A write that is undone only ever
//! loses rows from the cache; a later write then reads them again.

use std::collections::HashMap;

use uuid::Uuid;

use super::rows::{BillRow, LineRow, PaymentRow};
use super::{Tx, TxConn};
use crate::error::Result;

/// What a queued write will read.
#[derive(Debug, Default, Clone)]
pub struct Reads {
    /// Payments, with their lines and the bills those lines are on.
    pub payments: Vec<Uuid>,
    pub bills: Vec<Uuid>,
    /// Idempotency keys of new payments.
    pub keys: Vec<String>,
    /// Receipts the write may issue.
    pub receipts: usize,
    /// Journal entries the write may post.
    pub entries: usize,
}

impl Reads {
    pub fn payment(id: Uuid) -> Reads {
        Reads {
            payments: vec![id],
            ..Reads::default()
        }
    }

    fn extend(&mut self, other: &Reads) {
        self.payments.extend_from_slice(&other.payments);
        self.bills.extend_from_slice(&other.bills);
        self.keys.extend_from_slice(&other.keys);
        self.receipts += other.receipts;
        self.entries += other.entries;
    }

    pub(super) fn merged<'a>(all: impl IntoIterator<Item = &'a Reads>) -> Reads {
        let mut merged = Reads::default();
        all.into_iter().for_each(|r| merged.extend(r));
        for ids in [&mut merged.payments, &mut merged.bills] {
            ids.sort_unstable();
            ids.dedup();
        }
        merged.keys.sort_unstable();
        merged.keys.dedup();
        merged
    }

    fn is_empty(&self) -> bool {
        self.payments.is_empty()
            && self.bills.is_empty()
            && self.keys.is_empty()
            && self.receipts == 0
            && self.entries == 0
    }
}

/// Numbers (of receipts, of journal entries) a transaction can give out
/// without a statement each.
#[derive(Debug, Default, Clone)]
pub(super) enum Numbers {
    #[default]
    None,
    /// SQLite: the transaction is the only writer, so its numbers follow
    /// the highest given, without gaps.
    Next(i64),
    /// PostgreSQL: drawn from the table's sequence, which other
    /// transactions draw from at the same time; a number left unused is
    /// skipped, as a rolled-back insert's would be. When they run out,
    /// the row is inserted at once instead.
    Drawn(std::collections::VecDeque<i64>),
}

impl Numbers {
    pub(super) fn take(&mut self) -> Option<i64> {
        match self {
            Numbers::None => None,
            Numbers::Next(next) => {
                *next += 1;
                Some(*next - 1)
            }
            Numbers::Drawn(numbers) => numbers.pop_front(),
        }
    }
}

/// Rows read at the start of a shared transaction, not yet handed out.
#[derive(Default)]
pub(super) struct Prefetched {
    payments: HashMap<Uuid, PaymentRow>,
    lines: HashMap<Uuid, Vec<LineRow>>,
    bills: HashMap<Uuid, BillRow>,
    /// Key → the payment that had it; `None`: no payment had it.
    keys: HashMap<String, Option<Uuid>>,
}

impl Prefetched {
    pub(super) fn take_payment(&mut self, id: Uuid) -> Option<PaymentRow> {
        self.payments.remove(&id)
    }

    pub(super) fn take_lines(&mut self, payment_id: Uuid) -> Option<Vec<LineRow>> {
        self.lines.remove(&payment_id)
    }

    pub(super) fn take_bill(&mut self, id: Uuid) -> Option<BillRow> {
        self.bills.remove(&id)
    }

    pub(super) fn take_key(&mut self, key: &str) -> Option<Option<Uuid>> {
        self.keys.remove(key)
    }
}

/// A payment line as stored, without what it shows of its bill: that is
/// filled in from the bill, which is read ahead too. (Joined to the bills,
/// the lines' plan on PostgreSQL rested on statistics: on tables grown
/// since their last analyze, it hashed every bill to find a batch's few.)
#[derive(sqlx::FromRow, serde::Deserialize)]
struct StoredLine {
    payment_id: Uuid,
    line_no: i32,
    bill_id: Uuid,
    agency_id: Uuid,
    amount_fils: i64,
}

/// SQLite: every read of a shared transaction in one statement, each
/// kind of row as one JSON array (ids as hex, times as stored, in the
/// shape `rows.rs` decodes). Its text never changes: the ids and keys
/// come as JSON arrays in three parameters, so the statement is prepared
/// once per connection, not once per batch as a list of placeholders
/// would be.
const SQLITE_READ_AHEAD: &str = "WITH \
    pay(id) AS (SELECT unhex(value) FROM json_each(?1)), \
    bill(id) AS (SELECT unhex(value) FROM json_each(?2) \
        UNION SELECT bill_id FROM payment_lines WHERE payment_id IN (SELECT id FROM pay)) \
    SELECT \
    (SELECT json_group_array(json_object(\
        'id', lower(hex(id)), 'request_hash', request_hash, 'channel', channel, 'method', method, \
        'acquirer', acquirer, 'acquirer_ref', acquirer_ref, 'next_url', next_url, 'total_fils', total_fils, \
        'fee_fils', fee_fils, 'state', state, 'failure_reason', failure_reason, 'card_brand', card_brand, \
        'card_last4', card_last4, 'receipt_no', receipt_no, 'created_at', created_at, \
        'updated_at', updated_at, 'captured_at', captured_at, 'kiosk', kiosk)) \
        FROM payments WHERE id IN (SELECT id FROM pay)), \
    (SELECT json_group_array(json_object(\
        'payment_id', lower(hex(payment_id)), 'line_no', line_no, 'bill_id', lower(hex(bill_id)), \
        'agency_id', lower(hex(agency_id)), 'amount_fils', amount_fils)) \
        FROM payment_lines WHERE payment_id IN (SELECT id FROM pay)), \
    (SELECT json_group_array(json_object(\
        'id', lower(hex(b.id)), 'agency_id', lower(hex(b.agency_id)), 'agency_code', a.code, \
        'agency_name_en', a.name_en, 'agency_name_ar', a.name_ar, 'service_code', s.code, \
        'service_name_en', s.name_en, 'service_name_ar', s.name_ar, \
        'allow_partial', json(CASE WHEN s.allow_partial THEN 'true' ELSE 'false' END), \
        'reference', b.reference, 'payer', b.payer, 'amount_due_fils', b.amount_due_fils, \
        'amount_paid_fils', b.amount_paid_fils, 'amount_held_fils', b.amount_held_fils, \
        'due_date', b.due_date, 'expires_at', b.expires_at, 'state', b.state, \
        'created_at', b.created_at, 'updated_at', b.updated_at)) \
        FROM bills b JOIN agencies a ON a.id = b.agency_id JOIN services s ON s.id = b.service_id \
        WHERE b.id IN (SELECT id FROM bill)), \
    (SELECT json_group_array(json_array(idempotency_key, lower(hex(id)))) \
        FROM payments WHERE idempotency_key IN (SELECT value FROM json_each(?3))), \
    (SELECT MAX(n) FROM (SELECT MAX(no) AS n FROM receipts \
        UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'receipts')), \
    (SELECT MAX(n) FROM (SELECT MAX(id) AS n FROM journal_entries \
        UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'journal_entries'))";

/// What a shared transaction read ahead, before it is kept in `Prefetched`.
#[derive(Default)]
struct ReadAhead {
    payments: Vec<PaymentRow>,
    lines: Vec<StoredLine>,
    bills: Vec<BillRow>,
    keys: Vec<(String, Uuid)>,
    /// Receipt numbers and journal entry ids, if any write wants them.
    numbers: Option<(Numbers, Numbers)>,
}

/// The rows of one of SQLite's JSON arrays.
fn from_json<T: serde::de::DeserializeOwned>(array: &str) -> Result<Vec<T>> {
    serde_json::from_str(array)
        .map_err(|e| crate::error::Error::Database(sqlx::Error::Decode(Box::new(e))))
}

macro_rules! payment_columns {
    () => {
        "id, request_hash, channel, method, acquirer, acquirer_ref, next_url, total_fils, fee_fils, state, failure_reason, card_brand, card_last4, receipt_no, created_at, updated_at, captured_at, kiosk"
    };
}
pub(super) use payment_columns;

impl Tx {
    /// Reads (and on PostgreSQL locks) what `reads` names, and keeps it
    /// for the writes to take.
    pub(super) async fn prefetch(&mut self, reads: &Reads) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        self.ensure_savepoint().await?;
        let ReadAhead {
            payments,
            mut lines,
            bills,
            keys,
            numbers,
        } = match &mut self.conn {
            TxConn::Sqlite(t, _) => read_ahead_sqlite(t, reads).await?,
            TxConn::Postgres(t) => read_ahead_postgres(t, reads).await?,
        };
        lines.sort_unstable_by_key(|l| (l.payment_id, l.line_no));
        for row in payments {
            self.prefetched.payments.insert(row.id, row);
        }
        for row in bills {
            self.prefetched.bills.insert(row.id, row);
        }
        for line in lines {
            let bill = self
                .prefetched
                .bills
                .get(&line.bill_id)
                .ok_or(crate::error::Error::NotFound("bill"))?;
            let row = LineRow::on(bill, line.agency_id, line.amount_fils);
            self.prefetched
                .lines
                .entry(line.payment_id)
                .or_default()
                .push(row);
        }
        // A payment found with no lines has none: say so too.
        for id in self.prefetched.payments.keys() {
            self.prefetched.lines.entry(*id).or_default();
        }
        if let Some((receipts, entries)) = numbers {
            self.deferred.receipt_numbers = receipts;
            self.deferred.entry_ids = entries;
        }
        for key in &reads.keys {
            self.prefetched.keys.insert(key.clone(), None);
        }
        for (key, id) in keys {
            self.prefetched.keys.insert(key, Some(id));
        }
        Ok(())
    }
}

/// SQLite: one statement, one hand-over to the connection's thread. Row
/// locks need no order here: `BEGIN IMMEDIATE` took the database's one
/// write lock.
async fn read_ahead_sqlite(c: &mut sqlx::SqliteConnection, reads: &Reads) -> Result<ReadAhead> {
    let hex = |ids: &[Uuid]| {
        let hex: Vec<String> = ids.iter().map(|id| id.simple().to_string()).collect();
        serde_json::Value::from(hex).to_string()
    };
    let keys = serde_json::Value::from(reads.keys.clone()).to_string();
    let (payments, lines, bills, found, receipts, entries): (
        String,
        String,
        String,
        String,
        Option<i64>,
        Option<i64>,
    ) = sqlx::query_as(SQLITE_READ_AHEAD)
        .bind(hex(&reads.payments))
        .bind(hex(&reads.bills))
        .bind(keys)
        .fetch_one(&mut *c)
        .await?;
    // AUTOINCREMENT never reuses a number, even one whose row is gone: the
    // next is past both the highest row and the table's sequence. The
    // transaction is the only writer, so its numbers follow without gaps.
    let numbers = (reads.receipts > 0 || reads.entries > 0).then(|| {
        (
            Numbers::Next(receipts.unwrap_or(0) + 1),
            Numbers::Next(entries.unwrap_or(0) + 1),
        )
    });
    Ok(ReadAhead {
        payments: from_json(&payments)?,
        lines: from_json(&lines)?,
        bills: from_json(&bills)?,
        keys: from_json(&found)?,
        numbers,
    })
}

/// PostgreSQL: payments, their lines, every bill involved, the numbers,
/// then the keys, locking payments and bills in id order. Keys come last,
/// after the bills are locked: as for a single new payment, a concurrent
/// twin has then either committed or not begun.
async fn read_ahead_postgres(c: &mut sqlx::PgConnection, reads: &Reads) -> Result<ReadAhead> {
    let mut read = ReadAhead::default();
    let mut bill_ids = reads.bills.clone();
    // Each list is one array parameter, so every statement's text is fixed
    // and prepared once per connection, whatever the batch holds.
    if !reads.payments.is_empty() {
        read.payments = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE id = ANY($1) ORDER BY id FOR UPDATE"
        ))
        .bind(&reads.payments)
        .fetch_all(&mut *c)
        .await?;
        read.lines = sqlx::query_as(
            "SELECT payment_id, line_no, bill_id, agency_id, amount_fils FROM payment_lines WHERE payment_id = ANY($1)",
        )
        .bind(&reads.payments)
        .fetch_all(&mut *c)
        .await?;
        bill_ids.extend(read.lines.iter().map(|l| l.bill_id));
    }
    bill_ids.sort_unstable();
    bill_ids.dedup();
    if !bill_ids.is_empty() {
        read.bills = sqlx::query_as(concat!(
            super::bills::bill_select!(),
            "WHERE b.id = ANY($1) ORDER BY b.id FOR UPDATE OF b"
        ))
        .bind(&bill_ids)
        .fetch_all(&mut *c)
        .await?;
    }
    if reads.receipts > 0 || reads.entries > 0 {
        // The sequences by the names `BIGSERIAL` gives them: looked up by
        // column (`pg_get_serial_sequence`), every number drawn cost a
        // search of the catalog.
        let drawn: Vec<(bool, i64)> = sqlx::query_as(
            "SELECT true, nextval('receipts_no_seq') FROM generate_series(1, $1) \
             UNION ALL SELECT false, nextval('journal_entries_id_seq') FROM generate_series(1, $2)",
        )
        .bind(reads.receipts as i64)
        .bind(reads.entries as i64)
        .fetch_all(&mut *c)
        .await?;
        let (receipts, entries): (Vec<_>, Vec<_>) =
            drawn.into_iter().partition(|(receipt, _)| *receipt);
        let sorted = |mut drawn: Vec<(bool, i64)>| {
            drawn.sort_unstable();
            drawn.into_iter().map(|(_, n)| n).collect()
        };
        read.numbers = Some((
            Numbers::Drawn(sorted(receipts)),
            Numbers::Drawn(sorted(entries)),
        ));
    }
    if !reads.keys.is_empty() {
        read.keys = sqlx::query_as(
            "SELECT idempotency_key, id FROM payments WHERE idempotency_key = ANY($1)",
        )
        .bind(&reads.keys)
        .fetch_all(&mut *c)
        .await?;
    }
    Ok(read)
}
