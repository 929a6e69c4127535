//! Payments that were taken before they reached Tahseel: legacy history
//! (`tahseel import payments`) and the simulator (`tahseel simulate`).
//!
//! Each one goes through the same domain rules as a live payment — a bill
//! is reserved and captured, a balanced capture entry is built — and is
//! written as a captured payment with its bill, line, journal entry,
//! postings, account totals and rollups. Batches are written with
//! multi-row inserts in one transaction each, which is what makes a
//! million payments take minutes; account totals and rollups are summed
//! per batch before they are written.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use tahseel_core::agency::AgencyCode;
use tahseel_core::bill::{Bill, BillState};
use tahseel_core::ledger::{JournalEntry, Side};
use tahseel_core::payment::{Channel, Method, PaymentState};
use tahseel_core::Fils;
use uuid::Uuid;

use super::rollups::{self, RollupKey, RollupValues};
use super::{on_db, Store, Tx};
use crate::error::Result;

/// A payment taken outside Tahseel, to be recorded as captured.
#[derive(Debug, Clone)]
pub struct HistoricPayment {
    /// Unique across all history: a second import of it is skipped.
    pub import_ref: String,
    pub paid_at: DateTime<Utc>,
    pub agency_id: Uuid,
    pub agency: AgencyCode,
    pub service_id: Uuid,
    pub service: String,
    pub channel: Channel,
    pub method: Method,
    pub amount: Fils,
    pub payer: String,
    pub bill_reference: String,
}

/// The most payments one batch writes (bind parameters stay far below both
/// backends' limits).
pub const HISTORY_BATCH: usize = 500;

struct Prepared<'a> {
    p: &'a HistoricPayment,
    payment_id: Uuid,
    bill_id: Uuid,
    bill: Bill,
    entry: JournalEntry,
}

impl Store {
    /// Records a batch in one transaction; returns how many were new
    /// (payments already imported under the same `import_ref` are skipped).
    pub async fn record_history(&self, batch: &[HistoricPayment], acquirer: &str) -> Result<usize> {
        let mut tx = self.begin().await?;
        let n = record_history_in(&mut tx, batch, acquirer).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// Records a batch in the caller's transaction (see [`Store::record_history`]).
pub async fn record_history_in(
    tx: &mut Tx,
    batch: &[HistoricPayment],
    acquirer: &str,
) -> Result<usize> {
    assert!(
        batch.len() <= HISTORY_BATCH,
        "a history batch holds at most {HISTORY_BATCH} payments"
    );
    if batch.is_empty() {
        return Ok(0);
    }
    let refs: Vec<&str> = batch.iter().map(|p| p.import_ref.as_str()).collect();
    let existing: HashSet<String> = on_db!(tx tx, |c, pg| {
        let mut qb = sqlx::QueryBuilder::<DbKind>::new("SELECT import_ref FROM payments WHERE import_ref IN (");
        let mut list = qb.separated(", ");
        for r in &refs {
            list.push_bind(*r);
        }
        qb.push(")");
        qb.build_query_scalar::<String>().fetch_all(&mut *c).await?.into_iter().collect()
    });
    let mut seen = HashSet::new();
    let mut prepared = Vec::with_capacity(batch.len());
    for p in batch {
        if existing.contains(&p.import_ref) || !seen.insert(p.import_ref.as_str()) {
            continue;
        }
        // The same rules as a live payment: reserve, capture, balanced entry.
        let mut bill = Bill::new(p.amount, None, false)?;
        bill.reserve(p.amount, p.paid_at)?;
        bill.capture(p.amount)?;
        debug_assert_eq!(bill.state, BillState::Paid);
        let entry = JournalEntry::capture(acquirer, &p.agency, p.amount)?;
        prepared.push(Prepared {
            p,
            payment_id: Uuid::now_v7(),
            bill_id: Uuid::now_v7(),
            bill,
            entry,
        });
    }
    if prepared.is_empty() {
        return Ok(0);
    }
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for x in &prepared {
        for posting in x.entry.postings() {
            let t = totals
                .entry(posting.account.as_str().to_owned())
                .or_default();
            match posting.side {
                Side::Debit => t.0 += posting.amount.as_i64(),
                Side::Credit => t.1 += posting.amount.as_i64(),
            }
        }
    }
    let deltas = rollups::merge(prepared.iter().map(|x| {
        let key = RollupKey {
            day: rollups::local_day(x.p.paid_at),
            agency: x.p.agency.as_str().to_owned(),
            service: x.p.service.clone(),
            channel: x.p.channel.as_str().to_owned(),
            method: x.p.method.as_str().to_owned(),
        };
        (
            key,
            RollupValues {
                captured_count: 1,
                captured_fils: x.p.amount.as_i64(),
                ..Default::default()
            },
        )
    }));
    let captured = PaymentState::Captured.as_str();
    on_db!(tx tx, |c, pg| {
        let mut qb = sqlx::QueryBuilder::<DbKind>::new(
            "INSERT INTO bills (id, agency_id, service_id, reference, payer, amount_due_fils, amount_paid_fils, amount_held_fils, due_date, state, created_at, updated_at) ",
        );
        qb.push_values(&prepared, |mut b, x| {
            b.push_bind(x.bill_id)
                .push_bind(x.p.agency_id)
                .push_bind(x.p.service_id)
                .push_bind(&x.p.bill_reference)
                .push_bind(&x.p.payer)
                .push_bind(x.bill.amount_due.as_i64())
                .push_bind(x.bill.amount_paid.as_i64())
                .push_bind(x.bill.amount_held.as_i64())
                .push_bind(rollups::local_day(x.p.paid_at))
                .push_bind(x.bill.state.as_str())
                .push_bind(x.p.paid_at)
                .push_bind(x.p.paid_at);
        });
        qb.build().execute(&mut *c).await?;

        let mut qb = sqlx::QueryBuilder::<DbKind>::new(
            "INSERT INTO payments (id, idempotency_key, request_hash, channel, method, acquirer, total_fils, fee_fils, state, created_at, updated_at, captured_at, import_ref) ",
        );
        qb.push_values(&prepared, |mut b, x| {
            b.push_bind(x.payment_id)
                .push_bind(format!("import:{}", x.p.import_ref))
                .push_bind("")
                .push_bind(x.p.channel.as_str())
                .push_bind(x.p.method.as_str())
                .push_bind(acquirer)
                .push_bind(x.p.amount.as_i64())
                .push_bind(0_i64)
                .push_bind(captured)
                .push_bind(x.p.paid_at)
                .push_bind(x.p.paid_at)
                .push_bind(x.p.paid_at)
                .push_bind(&x.p.import_ref);
        });
        qb.build().execute(&mut *c).await?;

        let mut qb = sqlx::QueryBuilder::<DbKind>::new("INSERT INTO payment_lines (payment_id, line_no, bill_id, agency_id, amount_fils) ");
        qb.push_values(&prepared, |mut b, x| {
            b.push_bind(x.payment_id).push_bind(0_i32).push_bind(x.bill_id).push_bind(x.p.agency_id).push_bind(x.p.amount.as_i64());
        });
        qb.build().execute(&mut *c).await?;

        let mut qb = sqlx::QueryBuilder::<DbKind>::new("INSERT INTO journal_entries (kind, payment_id, bill_id, posted_at) ");
        qb.push_values(&prepared, |mut b, x| {
            b.push_bind(x.entry.kind().as_str()).push_bind(x.payment_id).push_bind(x.bill_id).push_bind(x.p.paid_at);
        });
        qb.push(" RETURNING id, payment_id");
        let ids: Vec<(i64, Uuid)> = qb.build_query_as().fetch_all(&mut *c).await?;
        let entry_of: BTreeMap<Uuid, i64> = ids.into_iter().map(|(id, p)| (p, id)).collect();

        // Account totals, in name order like every other posting.
        for (account, (debits, credits)) in &totals {
            sqlx::query(
                "INSERT INTO ledger_accounts (name, debits_fils, credits_fils) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET debits_fils = ledger_accounts.debits_fils + excluded.debits_fils, \
                 credits_fils = ledger_accounts.credits_fils + excluded.credits_fils",
            )
            .bind(account)
            .bind(debits)
            .bind(credits)
            .execute(&mut *c)
            .await?;
        }

        let mut qb = sqlx::QueryBuilder::<DbKind>::new("INSERT INTO postings (entry_id, account, side, amount_fils) ");
        let postings = prepared.iter().flat_map(|x| {
            let entry_id = entry_of[&x.payment_id];
            x.entry.postings().iter().map(move |p| (entry_id, p))
        });
        qb.push_values(postings, |mut b, (entry_id, p)| {
            b.push_bind(entry_id).push_bind(p.account.as_str()).push_bind(p.side.as_str()).push_bind(p.amount.as_i64());
        });
        qb.build().execute(&mut *c).await?;

    });
    rollups::add(tx, &deltas).await?;
    Ok(prepared.len())
}
