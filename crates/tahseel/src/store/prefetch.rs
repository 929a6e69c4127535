//! Reading a shared transaction's rows up front. Each queued write says
//! which payments, bills and idempotency keys it will read; the shared
//! transaction reads them for all its writes in a few multi-row queries
//! (locking them on PostgreSQL, in id order) instead of a few queries per
//! write.
//!
//! A prefetched row is handed out at most once. Whoever took it changes
//! it in the transaction's memory (see `Tx`'s deferred rows), which every
//! later read looks at first, so no write is given a copy an earlier write
//! of the same transaction changed. A write that is undone only ever
//! loses rows from the cache; a later write then reads them again.

use std::collections::HashMap;

use uuid::Uuid;

use super::rows::{BillRow, LineRow, PaymentRow};
use super::{on_db, Tx};
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
    }
}

/// Receipt numbers a transaction can issue without a statement each.
#[derive(Debug, Default, Clone)]
pub(super) enum ReceiptNumbers {
    #[default]
    None,
    /// SQLite: the transaction is the only writer, so its numbers follow
    /// the highest issued, without gaps.
    Next(i64),
    /// PostgreSQL: drawn from the receipts sequence, which other
    /// transactions draw from at the same time; a number left unused is
    /// skipped, as a rolled-back insert's would be.
    Drawn(std::collections::VecDeque<i64>),
}

impl ReceiptNumbers {
    pub(super) fn take(&mut self) -> Option<i64> {
        match self {
            ReceiptNumbers::None => None,
            ReceiptNumbers::Next(next) => {
                *next += 1;
                Some(*next - 1)
            }
            ReceiptNumbers::Drawn(numbers) => numbers.pop_front(),
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

/// One line of several payments' lines, with the payment it belongs to.
#[derive(sqlx::FromRow)]
struct BatchLine {
    payment_id: Uuid,
    #[sqlx(flatten)]
    line: LineRow,
}

macro_rules! payment_columns {
    () => {
        "id, request_hash, channel, method, acquirer, acquirer_ref, next_url, total_fils, fee_fils, state, failure_reason, card_brand, card_last4, receipt_no, created_at, updated_at, captured_at, kiosk"
    };
}
pub(super) use payment_columns;

impl Tx {
    /// Reads (and on PostgreSQL locks) what `reads` names, in at most four
    /// queries: payments, their lines, every bill involved, then the keys.
    /// Keys come last, after the bills are locked: as for a single new
    /// payment, a concurrent twin has then either committed or not begun.
    pub(super) async fn prefetch(&mut self, reads: &Reads) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let mut bill_ids = reads.bills.clone();
        if !reads.payments.is_empty() {
            let (payments, lines): (Vec<PaymentRow>, Vec<BatchLine>) = on_db!(tx self, |c, pg| {
                let mut qb = sqlx::QueryBuilder::<DbKind>::new(concat!("SELECT ", payment_columns!(), " FROM payments WHERE id IN ("));
                let mut list = qb.separated(", ");
                reads.payments.iter().for_each(|id| { list.push_bind(*id); });
                qb.push(if pg { ") ORDER BY id FOR UPDATE" } else { ")" });
                let payments = qb.build_query_as().fetch_all(&mut *c).await?;
                let mut qb = sqlx::QueryBuilder::<DbKind>::new(concat!(
                    "SELECT l.payment_id, ", super::payments::line_columns!(), " WHERE l.payment_id IN ("
                ));
                let mut list = qb.separated(", ");
                reads.payments.iter().for_each(|id| { list.push_bind(*id); });
                qb.push(") ORDER BY l.payment_id, l.line_no");
                (payments, qb.build_query_as().fetch_all(&mut *c).await?)
            });
            for row in payments {
                self.prefetched.payments.insert(row.id, row);
            }
            for BatchLine { payment_id, line } in lines {
                bill_ids.push(line.bill_id);
                self.prefetched
                    .lines
                    .entry(payment_id)
                    .or_default()
                    .push(line);
            }
            // A payment found with no lines has none: say so too.
            for id in self.prefetched.payments.keys() {
                self.prefetched.lines.entry(*id).or_default();
            }
        }
        bill_ids.sort_unstable();
        bill_ids.dedup();
        if !bill_ids.is_empty() {
            let bills: Vec<BillRow> = on_db!(tx self, |c, pg| {
                let mut qb = sqlx::QueryBuilder::<DbKind>::new(concat!(super::bills::bill_select!(), "WHERE b.id IN ("));
                let mut list = qb.separated(", ");
                bill_ids.iter().for_each(|id| { list.push_bind(*id); });
                qb.push(if pg { ") ORDER BY b.id FOR UPDATE OF b" } else { ")" });
                qb.build_query_as().fetch_all(&mut *c).await?
            });
            for row in bills {
                self.prefetched.bills.insert(row.id, row);
            }
        }
        if reads.receipts > 0 {
            self.deferred.receipt_numbers = on_db!(tx self, |c, pg| {
                if pg {
                    let mut drawn: Vec<i64> = sqlx::query_scalar(
                        "SELECT nextval(pg_get_serial_sequence('receipts', 'no')) FROM generate_series(1, $1)",
                    )
                    .bind(reads.receipts as i64)
                    .fetch_all(&mut *c)
                    .await?;
                    drawn.sort_unstable();
                    ReceiptNumbers::Drawn(drawn.into())
                } else {
                    let highest: Option<i64> = sqlx::query_scalar(
                        "SELECT MAX(n) FROM (SELECT MAX(no) AS n FROM receipts \
                         UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'receipts')",
                    )
                    .fetch_one(&mut *c)
                    .await?;
                    ReceiptNumbers::Next(highest.unwrap_or(0) + 1)
                }
            });
        }
        if !reads.keys.is_empty() {
            let found: Vec<(String, Uuid)> = on_db!(tx self, |c, pg| {
                let mut qb = sqlx::QueryBuilder::<DbKind>::new("SELECT idempotency_key, id FROM payments WHERE idempotency_key IN (");
                let mut list = qb.separated(", ");
                reads.keys.iter().for_each(|k| { list.push_bind(k.clone()); });
                qb.push(")");
                qb.build_query_as().fetch_all(&mut *c).await?
            });
            for key in &reads.keys {
                self.prefetched.keys.insert(key.clone(), None);
            }
            for (key, id) in found {
                self.prefetched.keys.insert(key, Some(id));
            }
        }
        Ok(())
    }
}
