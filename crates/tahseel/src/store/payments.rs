//! Payments and refunds: every state change in one transaction, with its
//! bill amounts and ledger entries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tahseel_core::agency::{AgencyCode, Names};
use tahseel_core::ledger::JournalEntry;
use tahseel_core::payment::{
    basket_total, check_refund, Channel, Method, PaymentState, RefundState,
};
use tahseel_core::Fils;
use uuid::Uuid;

use super::bills::{lock_bill, save_bill};
use super::columns::{PushRows, Rows};
use super::ledger::{post_entry, EntryRefs};
use super::prefetch::{payment_columns, Reads};
use super::rows::{LineRow, PaymentRow, RefundRow};
use super::{at_commit, now, on_db, Store, Tx};
use crate::acquirer::HostedSession;
use crate::error::{Error, Result};

/// A result that may be a replay of an earlier request with the same
/// idempotency key.
#[derive(Debug)]
pub enum Replayable<T> {
    New(T),
    Replayed(T),
}

impl<T> Replayable<T> {
    pub fn into_inner(self) -> T {
        match self {
            Replayable::New(t) | Replayable::Replayed(t) => t,
        }
    }
    pub fn is_replay(&self) -> bool {
        matches!(self, Replayable::Replayed(_))
    }
    /// The same kind of result holding `f` of its value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Replayable<U> {
        match self {
            Replayable::New(t) => Replayable::New(f(t)),
            Replayable::Replayed(t) => Replayable::Replayed(f(t)),
        }
    }
}

pub struct NewPayment {
    /// Chosen before the payment is stored, so that the acquirer can be
    /// told it when its session is opened.
    pub id: Uuid,
    pub channel: Channel,
    pub method: Method,
    pub lines: Vec<(Uuid, Fils)>,
    /// Charged to the payer on top of the bills, for the method.
    pub fee: Fils,
    pub acquirer: String,
    /// The kiosk the payment is made at, by code.
    pub kiosk: Option<String>,
    pub idempotency_key: String,
    pub request_hash: String,
    /// The acquirer's session, opened before the payment is stored: the
    /// payment is then stored `pending` at once, in one write. Without
    /// it the payment is stored `created`.
    pub session: Option<HostedSession>,
}

impl NewPayment {
    /// What the payer is charged: the lines and the method's fee.
    pub fn total(&self) -> Result<Fils> {
        Ok(basket_total(&self.lines)?.checked_add(self.fee)?)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LineRecord {
    pub bill_id: Uuid,
    pub agency: String,
    pub agency_name: Names,
    pub service: String,
    pub service_name: Names,
    pub reference: String,
    pub payer: String,
    pub amount: Fils,
    #[serde(skip)]
    pub agency_id: Uuid,
}

#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentRecord {
    pub id: Uuid,
    pub state: PaymentState,
    pub channel: Channel,
    pub method: Method,
    /// What the payer is charged: the lines plus the fee.
    pub total: Fils,
    pub fee: Fils,
    pub refunded: Fils,
    pub lines: Vec<LineRecord>,
    pub acquirer: String,
    pub next_url: Option<String>,
    pub failure_reason: Option<String>,
    pub card: Option<Card>,
    pub receipt_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub captured_at: Option<DateTime<Utc>>,
    /// The kiosk it was made at, by code.
    pub kiosk: Option<String>,
    #[serde(skip)]
    pub acquirer_ref: Option<String>,
    #[serde(skip)]
    pub request_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundRecord {
    pub id: Uuid,
    pub payment_id: Uuid,
    /// The bill line refunded.
    pub bill_id: Option<Uuid>,
    pub amount: Fils,
    pub state: RefundState,
    pub reason: String,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub request_hash: String,
    #[serde(skip)]
    pub agency_id: Uuid,
}

/// A refund an agency asks for.
pub struct NewRefund<'a> {
    pub agency_id: Uuid,
    pub payment_id: Uuid,
    /// The bill line refunded; may be left out when the payment pays one
    /// bill of the agency.
    pub bill_id: Option<Uuid>,
    pub amount: Fils,
    pub reason: &'a str,
    pub idempotency_key: &'a str,
    pub request_hash: &'a str,
}

/// What an acquirer said about a payment, after its signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquirerOutcome {
    Approved {
        acquirer_ref: String,
        amount: Fils,
        card_brand: String,
        card_last4: String,
    },
    Declined {
        acquirer_ref: String,
        reason: String,
    },
}

impl AcquirerOutcome {
    fn acquirer_ref(&self) -> &str {
        match self {
            AcquirerOutcome::Approved { acquirer_ref, .. }
            | AcquirerOutcome::Declined { acquirer_ref, .. } => acquirer_ref,
        }
    }
}

/// Receipt numbers read `TH-` and eight digits.
pub fn receipt_number(no: i64) -> String {
    format!("TH-{no:08}")
}

const PAYMENT_COLUMNS: &str = payment_columns!();

macro_rules! line_columns {
    () => {
        "l.line_no, l.bill_id, l.agency_id, a.code AS agency_code, a.name_en AS agency_name_en, a.name_ar AS agency_name_ar, \
         s.code AS service_code, s.name_en AS service_name_en, s.name_ar AS service_name_ar, b.reference, b.payer, l.amount_fils \
         FROM payment_lines l JOIN bills b ON b.id = l.bill_id JOIN agencies a ON a.id = l.agency_id JOIN services s ON s.id = b.service_id"
    };
}

macro_rules! line_select {
    () => {
        concat!(
            "SELECT ",
            line_columns!(),
            " WHERE l.payment_id = $1 ORDER BY l.line_no"
        )
    };
}

fn parse_state<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(text).ok_or_else(|| Error::Invalid(format!("stored state {text:?}")))
}

impl PaymentRow {
    fn record(self, lines: Vec<LineRow>, refunded: Fils) -> Result<PaymentRecord> {
        let card = match (self.card_brand, self.card_last4) {
            (Some(brand), Some(last4)) => Some(Card { brand, last4 }),
            _ => None,
        };
        Ok(PaymentRecord {
            id: self.id,
            state: parse_state(&self.state, PaymentState::parse)?,
            channel: parse_state(&self.channel, Channel::parse)?,
            method: parse_state(&self.method, Method::parse)?,
            total: Fils::new(self.total_fils),
            fee: Fils::new(self.fee_fils),
            refunded,
            lines: lines.into_iter().map(LineRow::record).collect(),
            acquirer: self.acquirer,
            next_url: self.next_url,
            failure_reason: self.failure_reason,
            card,
            receipt_number: self.receipt_no.map(receipt_number),
            created_at: self.created_at,
            updated_at: self.updated_at,
            captured_at: self.captured_at,
            kiosk: self.kiosk,
            acquirer_ref: self.acquirer_ref,
            request_hash: self.request_hash,
        })
    }
}

impl LineRow {
    fn record(self) -> LineRecord {
        LineRecord {
            bill_id: self.bill_id,
            agency: self.agency_code,
            agency_name: Names {
                en: self.agency_name_en,
                ar: self.agency_name_ar,
            },
            service: self.service_code,
            service_name: Names {
                en: self.service_name_en,
                ar: self.service_name_ar,
            },
            reference: self.reference,
            payer: self.payer,
            amount: Fils::new(self.amount_fils),
            agency_id: self.agency_id,
        }
    }
}

impl RefundRow {
    fn record(self) -> Result<RefundRecord> {
        Ok(RefundRecord {
            id: self.id,
            payment_id: self.payment_id,
            bill_id: self.bill_id,
            amount: Fils::new(self.amount_fils),
            state: parse_state(&self.state, RefundState::parse)?,
            reason: self.reason,
            failure_reason: self.failure_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
            request_hash: self.request_hash,
            agency_id: self.agency_id,
        })
    }
}

/// Reads a payment row inside a write transaction, locking it on PostgreSQL.
async fn lock_payment(tx: &mut Tx, id: Uuid) -> Result<PaymentRow> {
    if let Some(row) = tx
        .changed_payment(id)
        .or_else(|| tx.prefetched.take_payment(id))
    {
        return Ok(row);
    }
    let row: Option<PaymentRow> = on_db!(tx tx, |c, pg| {
        let sql = if pg {
            concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1 FOR UPDATE")
        } else {
            concat!("SELECT ", payment_columns!(), " FROM payments WHERE id = $1")
        };
        sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?
    });
    row.ok_or(Error::NotFound("payment"))
}

async fn tx_lines(tx: &mut Tx, payment_id: Uuid) -> Result<Vec<LineRow>> {
    if let Some(lines) = tx
        .new_payment_lines(payment_id)
        .or_else(|| tx.prefetched.take_lines(payment_id))
    {
        return Ok(lines);
    }
    Ok(
        on_db!(tx tx, |c, pg| sqlx::query_as(line_select!()).bind(payment_id).fetch_all(&mut *c).await?),
    )
}

/// Moves a payment to `state`, when the transaction commits. `row` is
/// the payment as read.
fn set_payment_state(
    tx: &mut Tx,
    row: &PaymentRow,
    state: PaymentState,
    failure_reason: Option<&str>,
    at: DateTime<Utc>,
) {
    let mut changed = row.clone();
    changed.state = state.as_str().to_owned();
    if let Some(reason) = failure_reason {
        changed.failure_reason = Some(reason.to_owned());
    }
    changed.updated_at = at;
    tx.defer_payment(changed);
}

/// Writes the payments a transaction changed, in one statement.
pub(super) async fn save_payments(
    tx: &mut Tx,
    payments: &BTreeMap<Uuid, PaymentRow>,
) -> Result<()> {
    if payments.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push(
            "WITH changed (id, state, failure_reason, acquirer_ref, next_url, card_brand, card_last4, receipt_no, captured_at, updated_at) AS (",
        );
        qb.push_rows(Rows::of(payments.values(), |r, row| {
            r.uuid(row.id)
                .text(&row.state)
                .opt_text(row.failure_reason.as_deref())
                .opt_text(row.acquirer_ref.as_deref())
                .opt_text(row.next_url.as_deref())
                .opt_text(row.card_brand.as_deref())
                .opt_text(row.card_last4.as_deref())
                .opt_bigint(row.receipt_no)
                .opt_time(row.captured_at)
                .time(row.updated_at);
        }));
        qb.push(
            ") UPDATE payments SET state = changed.state, failure_reason = changed.failure_reason, \
             acquirer_ref = changed.acquirer_ref, next_url = changed.next_url, card_brand = changed.card_brand, \
             card_last4 = changed.card_last4, receipt_no = changed.receipt_no, captured_at = changed.captured_at, \
             updated_at = changed.updated_at FROM changed WHERE payments.id = changed.id",
        );
    });
    Ok(())
}

/// Gives back what a payment held on its bills, bills locked in id order.
async fn release_holds(tx: &mut Tx, lines: &[LineRow], at: DateTime<Utc>) -> Result<()> {
    let mut by_bill: Vec<&LineRow> = lines.iter().collect();
    by_bill.sort_by_key(|l| l.bill_id);
    for line in by_bill {
        let row = lock_bill(tx, line.bill_id)
            .await?
            .ok_or(Error::NotFound("bill"))?;
        let mut bill = row.domain()?;
        bill.release(Fils::new(line.amount_fils))?;
        save_bill(tx, &row, &bill, at);
    }
    Ok(())
}

impl Store {
    /// The payment made with an idempotency key, if any.
    pub async fn payment_by_key(&self, key: &str) -> Result<Option<PaymentRecord>> {
        let id: Option<Uuid> = on_db!(pool self, |c, pg| {
            sqlx::query_scalar("SELECT id FROM payments WHERE idempotency_key = $1").bind(key).fetch_optional(c).await?
        });
        match id {
            Some(id) => Ok(Some(self.payment(id).await?)),
            None => Ok(None),
        }
    }

    /// A stored payment as the answer to a repeated request, if the
    /// repeat is the same request.
    fn replay(stored: PaymentRecord, hash: &str) -> Result<Replayable<PaymentRecord>> {
        if stored.request_hash == hash {
            Ok(Replayable::Replayed(stored))
        } else {
            Err(Error::IdempotencyMismatch)
        }
    }

    /// Creates a payment, reserving each line's amount on its bill: in
    /// state `pending` when its acquirer session is already open, else
    /// `created`. The same idempotency key with the same request returns
    /// the stored payment; with another request it is an error.
    pub async fn create_payment(&self, new: NewPayment) -> Result<Replayable<PaymentRecord>> {
        let total = new.total()?;
        // A repeat is found inside the write, under the bills' locks, so a
        // new payment costs no lookup before it.
        let reads = Reads {
            bills: new.lines.iter().map(|(bill_id, _)| *bill_id).collect(),
            keys: vec![new.idempotency_key.clone()],
            ..Reads::default()
        };
        let new = std::sync::Arc::new(new);
        let op_new = new.clone();
        let inserted = self
            .write(
                reads,
                Box::new(move |tx| {
                    let new = op_new.clone();
                    Box::pin(async move { insert_payment_in(tx, &new, total).await })
                }),
            )
            .await;
        match inserted {
            Ok(Inserted::New(record)) => Ok(Replayable::New(*record)),
            Ok(Inserted::Existing(id)) => Self::replay(self.payment(id).await?, &new.request_hash),
            // A concurrent request with the same key committed first.
            Err(e) if e.is_unique_violation_of("idempotency_key") => {
                let stored = self.payment_by_key(&new.idempotency_key).await?.ok_or(e)?;
                Self::replay(stored, &new.request_hash)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn payment(&self, id: Uuid) -> Result<PaymentRecord> {
        let row: Option<PaymentRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1")))
                .bind(id)
                .fetch_optional(c)
                .await?
        });
        let row = row.ok_or(Error::NotFound("payment"))?;
        let lines: Vec<LineRow> =
            on_db!(pool self, |c, pg| sqlx::query_as(line_select!()).bind(id).fetch_all(c).await?);
        let refunded = self.refunded_total(id, None).await?;
        row.record(lines, refunded)
    }

    pub async fn payment_by_acquirer_ref(
        &self,
        acquirer: &str,
        acquirer_ref: &str,
    ) -> Result<PaymentRecord> {
        let id: Option<Uuid> = on_db!(pool self, |c, pg| {
            sqlx::query_scalar("SELECT id FROM payments WHERE acquirer = $1 AND acquirer_ref = $2")
                .bind(acquirer)
                .bind(acquirer_ref)
                .fetch_optional(c)
                .await?
        });
        self.payment(id.ok_or(Error::NotFound("payment"))?).await
    }

    /// A payment as one agency sees it: only its own lines, and its own
    /// refunds; another agency's payment reads as not found.
    pub async fn payment_for_agency(&self, id: Uuid, agency_id: Uuid) -> Result<PaymentRecord> {
        let mut payment = self.payment(id).await?;
        payment.lines.retain(|l| l.agency_id == agency_id);
        if payment.lines.is_empty() {
            return Err(Error::NotFound("payment"));
        }
        payment.total = Fils::sum(payment.lines.iter().map(|l| l.amount))?;
        payment.fee = Fils::ZERO;
        payment.refunded = self.refunded_total(id, Some(agency_id)).await?;
        payment.next_url = None;
        Ok(payment)
    }

    /// The agency's payments, newest first.
    pub async fn agency_payments(
        &self,
        agency_id: Uuid,
        state: Option<PaymentState>,
        limit: i64,
    ) -> Result<Vec<PaymentRecord>> {
        let ids: Vec<Uuid> = on_db!(pool self, |c, pg| {
            sqlx::query_scalar(
                "SELECT p.id FROM payments p WHERE EXISTS (SELECT 1 FROM payment_lines l WHERE l.payment_id = p.id AND l.agency_id = $1) \
                 AND ($2 IS NULL OR p.state = $2) ORDER BY p.created_at DESC, p.id LIMIT $3",
            )
            .bind(agency_id)
            .bind(state.map(PaymentState::as_str))
            .bind(limit.clamp(1, super::bills::MAX_PAGE))
            .fetch_all(c)
            .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.payment_for_agency(id, agency_id).await?);
        }
        Ok(out)
    }

    /// Records the acquirer session a created payment was sent to.
    /// Moves `payment` to `pending` at the acquirer and returns it so,
    /// without reading it back: only these fields change.
    pub async fn mark_pending(
        &self,
        mut payment: PaymentRecord,
        acquirer_ref: &str,
        next_url: &str,
    ) -> Result<PaymentRecord> {
        let id = payment.id;
        let at = now();
        // On PostgreSQL the one UPDATE commits by itself: one round trip
        // instead of three. Only a payment it did not move needs the
        // transaction, to say why.
        let moved = match self {
            Store::Postgres(pool, _) => {
                sqlx::query("UPDATE payments SET state = $1, acquirer_ref = $2, next_url = $3, updated_at = $4 WHERE id = $5 AND state = $6")
                    .bind(PaymentState::Pending.as_str())
                    .bind(acquirer_ref)
                    .bind(next_url)
                    .bind(at)
                    .bind(id)
                    .bind(PaymentState::Created.as_str())
                    .execute(pool)
                    .await?
                    .rows_affected()
                    == 1
            }
            Store::Sqlite(..) => false,
        };
        if !moved {
            let (r, u) = (acquirer_ref.to_owned(), next_url.to_owned());
            self.write(
                Reads::payment(id),
                Box::new(move |tx| {
                    let (r, u) = (r.clone(), u.clone());
                    Box::pin(async move { mark_pending_in(tx, id, &r, &u, at).await })
                }),
            )
            .await?;
        }
        payment.state = PaymentState::Pending;
        payment.acquirer_ref = Some(acquirer_ref.to_owned());
        payment.next_url = Some(next_url.to_owned());
        payment.updated_at = at;
        Ok(payment)
    }

    /// Ends a payment that will not be captured (failed, expired or
    /// cancelled) and releases what it held on its bills.
    pub async fn close_payment(
        &self,
        id: Uuid,
        to: PaymentState,
        reason: &str,
    ) -> Result<PaymentRecord> {
        let mut tx = self.begin().await?;
        let row = lock_payment(&mut tx, id).await?;
        let from = parse_state(&row.state, PaymentState::parse)?;
        if from == to {
            drop(tx);
            return self.payment(id).await;
        }
        from.transition(to)?;
        assert!(to.is_terminal() && to != PaymentState::Captured);
        let at = now();
        let lines = tx_lines(&mut tx, id).await?;
        release_holds(&mut tx, &lines, at).await?;
        set_payment_state(&mut tx, &row, to, Some(reason), at);
        tx.commit().await?;
        self.payment(id).await
    }

    /// Applies an acquirer's verified answer. Capturing posts one balanced
    /// entry per line, moves each bill from held to paid and issues the
    /// receipt number, all in one transaction. A repeated answer changes
    /// nothing and returns the payment as it is.
    pub async fn apply_outcome(
        &self,
        payment_id: Uuid,
        outcome: &AcquirerOutcome,
    ) -> Result<Replayable<PaymentRecord>> {
        let applied = self.record_outcome(payment_id, outcome.clone()).await?;
        let record = self.payment(payment_id).await?;
        Ok(applied.map(|_| record))
    }

    /// As [`Store::apply_outcome`], answering with the payment's state
    /// only, from what the transaction knew (nothing is read back).
    pub async fn record_outcome(
        &self,
        payment_id: Uuid,
        outcome: AcquirerOutcome,
    ) -> Result<Replayable<PaymentState>> {
        let approved = matches!(outcome, AcquirerOutcome::Approved { .. });
        let reads = Reads {
            receipts: approved.into(),
            // One entry per line and one for a fee: two for the usual
            // one-bill payment (more are inserted at once).
            entries: if approved { 2 } else { 0 },
            ..Reads::payment(payment_id)
        };
        self.write(
            reads,
            Box::new(move |tx| {
                let outcome = outcome.clone();
                Box::pin(async move {
                    let (changed, state) = apply_outcome_in(tx, payment_id, &outcome).await?;
                    Ok(if changed {
                        Replayable::New(state)
                    } else {
                        Replayable::Replayed(state)
                    })
                })
            }),
        )
        .await
    }

    async fn refunded_total(&self, payment_id: Uuid, agency_id: Option<Uuid>) -> Result<Fils> {
        let sum: i64 = on_db!(pool self, |c, pg| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount_fils), 0) AS BIGINT) FROM refunds WHERE payment_id = $1 AND state <> 'failed' AND ($2 IS NULL OR agency_id = $2)",
            )
            .bind(payment_id)
            .bind(agency_id)
            .fetch_one(c)
            .await?
        });
        Ok(Fils::new(sum))
    }

    async fn refund_by_key(&self, agency_id: Uuid, key: &str) -> Result<Option<RefundRecord>> {
        let row: Option<RefundRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT id, payment_id, agency_id, bill_id, request_hash, amount_fils, state, reason, failure_reason, created_at, updated_at FROM refunds WHERE agency_id = $1 AND idempotency_key = $2",
            )
            .bind(agency_id)
            .bind(key)
            .fetch_optional(c)
            .await?
        });
        row.map(RefundRow::record).transpose()
    }

    pub async fn refund(&self, id: Uuid) -> Result<RefundRecord> {
        let row: Option<RefundRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT id, payment_id, agency_id, bill_id, request_hash, amount_fils, state, reason, failure_reason, created_at, updated_at FROM refunds WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(c)
            .await?
        });
        row.ok_or(Error::NotFound("refund"))?.record()
    }

    /// Grants a refund of an agency's part of a captured payment: records it
    /// as requested and posts it as owed to the payer. The acquirer is asked
    /// afterwards; [`Store::finish_refund`] records its answer.
    pub async fn request_refund(&self, new: NewRefund<'_>) -> Result<Replayable<RefundRecord>> {
        let NewRefund {
            agency_id,
            payment_id,
            bill_id,
            amount,
            reason,
            idempotency_key,
            request_hash,
        } = new;
        let replay = |stored: RefundRecord| {
            if stored.request_hash == request_hash {
                Ok(Replayable::Replayed(stored))
            } else {
                Err(Error::IdempotencyMismatch)
            }
        };
        if let Some(stored) = self.refund_by_key(agency_id, idempotency_key).await? {
            return replay(stored);
        }
        let mut tx = self.begin().await?;
        let row = lock_payment(&mut tx, payment_id).await?;
        let lines = tx_lines(&mut tx, payment_id).await?;
        let own: Vec<&LineRow> = lines.iter().filter(|l| l.agency_id == agency_id).collect();
        if own.is_empty() {
            return Err(Error::NotFound("payment"));
        }
        // A refund belongs to one bill line, so reports can say which service gave money back.
        let line = match bill_id {
            Some(b) => *own
                .iter()
                .find(|l| l.bill_id == b)
                .ok_or(Error::NotFound("bill"))?,
            None if own.len() == 1 => own[0],
            None => {
                return Err(Error::Invalid(
                    "this payment pays several of your bills: name the bill_id to refund".into(),
                ))
            }
        };
        let agency = AgencyCode::parse(&line.agency_code)?;
        let captured = Fils::new(line.amount_fils);
        let already: i64 = on_db!(tx &mut tx, |c, pg| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(amount_fils), 0) AS BIGINT) FROM refunds WHERE payment_id = $1 AND bill_id = $2 AND state <> 'failed'",
            )
            .bind(payment_id)
            .bind(line.bill_id)
            .fetch_one(&mut *c)
            .await?
        });
        let state = parse_state(&row.state, PaymentState::parse)?;
        check_refund(state, captured, Fils::new(already), amount)?;
        let id = Uuid::now_v7();
        let at = now();
        let inserted = on_db!(tx &mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO refunds (id, payment_id, agency_id, idempotency_key, request_hash, amount_fils, state, reason, created_at, updated_at, bill_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
            )
            .bind(id)
            .bind(payment_id)
            .bind(agency_id)
            .bind(idempotency_key)
            .bind(request_hash)
            .bind(amount.as_i64())
            .bind(RefundState::Requested.as_str())
            .bind(reason)
            .bind(at)
            .bind(line.bill_id)
            .execute(&mut *c)
            .await
            .map(|_| ())
        });
        if let Err(e) = inserted {
            let e = Error::from(e);
            if e.is_unique_violation_of("idempotency_key") {
                drop(tx);
                let stored = self
                    .refund_by_key(agency_id, idempotency_key)
                    .await?
                    .ok_or(e)?;
                return replay(stored);
            }
            return Err(e);
        }
        let entry = JournalEntry::refund_requested(&agency, amount)?;
        post_entry(
            &mut tx,
            &entry,
            EntryRefs {
                payment_id: Some(payment_id),
                refund_id: Some(id),
                bill_id: None,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Replayable::New(self.refund(id).await?))
    }

    /// Records the acquirer's answer to a refund: paid out, or refused (the
    /// amount goes back to the agency). Repeating the same answer is a no-op.
    pub async fn finish_refund(
        &self,
        id: Uuid,
        paid: std::result::Result<String, String>,
    ) -> Result<RefundRecord> {
        let mut tx = self.begin().await?;
        let refund: Option<RefundRow> = on_db!(tx &mut tx, |c, pg| {
            let sql = if pg {
                "SELECT id, payment_id, agency_id, bill_id, request_hash, amount_fils, state, reason, failure_reason, created_at, updated_at FROM refunds WHERE id = $1 FOR UPDATE"
            } else {
                "SELECT id, payment_id, agency_id, bill_id, request_hash, amount_fils, state, reason, failure_reason, created_at, updated_at FROM refunds WHERE id = $1"
            };
            sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?
        });
        let refund = refund.ok_or(Error::NotFound("refund"))?.record()?;
        let to = if paid.is_ok() {
            RefundState::Refunded
        } else {
            RefundState::Failed
        };
        if refund.state == to {
            drop(tx);
            return Ok(refund);
        }
        refund.state.transition(to)?;
        let payment = lock_payment(&mut tx, refund.payment_id).await?;
        let agency_code: String = on_db!(tx &mut tx, |c, pg| {
            sqlx::query_scalar("SELECT code FROM agencies WHERE id = $1").bind(refund.agency_id).fetch_one(&mut *c).await?
        });
        let agency = AgencyCode::parse(&agency_code)?;
        let entry = match &paid {
            Ok(_) => JournalEntry::refund_paid(&payment.acquirer, refund.amount)?,
            Err(_) => JournalEntry::refund_reversed(&agency, refund.amount)?,
        };
        let refs = EntryRefs {
            payment_id: Some(refund.payment_id),
            refund_id: Some(id),
            bill_id: None,
        };
        post_entry(&mut tx, &entry, refs).await?;
        let kind = if paid.is_ok() {
            "refund.refunded"
        } else {
            "refund.failed"
        };
        let data = serde_json::json!({
            "refund_id": id,
            "payment_id": refund.payment_id,
            "bill_id": refund.bill_id,
            "amount": refund.amount,
            "reason": refund.reason,
            "failure_reason": paid.as_ref().err(),
        });
        super::events::emit(&mut tx, refund.agency_id, refund.bill_id, kind, data).await?;
        if paid.is_ok() {
            let at = now();
            let service: Option<(String, String)> = on_db!(tx &mut tx, |c, pg| {
                sqlx::query_as(
                    "SELECT a.code, s.code FROM refunds r JOIN bills b ON b.id = r.bill_id JOIN agencies a ON a.id = b.agency_id \
                     JOIN services s ON s.id = b.service_id WHERE r.id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
            });
            if let Some((agency, service)) = service {
                let key = super::rollups::RollupKey {
                    day: super::rollups::local_day(at),
                    agency,
                    service,
                    channel: payment.channel.clone(),
                    method: payment.method.clone(),
                };
                let delta = super::rollups::RollupValues {
                    refunded_count: 1,
                    refunded_fils: refund.amount.as_i64(),
                    ..Default::default()
                };
                tx.defer_rollups([(key, delta)]);
            }
        }
        let (acquirer_ref, failure) = match &paid {
            Ok(r) => (Some(r.as_str()), None),
            Err(why) => (None, Some(why.as_str())),
        };
        on_db!(tx &mut tx, |c, pg| {
            sqlx::query("UPDATE refunds SET state = $1, acquirer_ref = $2, failure_reason = $3, updated_at = $4 WHERE id = $5")
                .bind(to.as_str())
                .bind(acquirer_ref)
                .bind(failure)
                .bind(now())
                .bind(id)
                .execute(&mut *c)
                .await?;
        });
        tx.commit().await?;
        self.refund(id).await
    }
}

/// A new payment's rows, written when its transaction commits.
pub(super) struct NewPaymentRows {
    pub key: String,
    pub row: PaymentRow,
    pub lines: Vec<LineRow>,
}

/// Writes the payments a transaction created, and their lines, in one
/// statement each.
pub(super) async fn insert_new_payments(
    tx: &mut Tx,
    new: &BTreeMap<Uuid, NewPaymentRows>,
) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push(
            "INSERT INTO payments (id, idempotency_key, request_hash, channel, method, acquirer, acquirer_ref, next_url, total_fils, fee_fils, state, \
             failure_reason, card_brand, card_last4, receipt_no, captured_at, created_at, updated_at, kiosk) ",
        );
        qb.push_rows(Rows::of(new.values(), |r, new| {
            let row = &new.row;
            r.uuid(row.id)
                .text(&new.key)
                .text(&row.request_hash)
                .text(&row.channel)
                .text(&row.method)
                .text(&row.acquirer)
                .opt_text(row.acquirer_ref.as_deref())
                .opt_text(row.next_url.as_deref())
                .bigint(row.total_fils)
                .bigint(row.fee_fils)
                .text(&row.state)
                .opt_text(row.failure_reason.as_deref())
                .opt_text(row.card_brand.as_deref())
                .opt_text(row.card_last4.as_deref())
                .opt_bigint(row.receipt_no)
                .opt_time(row.captured_at)
                .time(row.created_at)
                .time(row.updated_at)
                .opt_text(row.kiosk.as_deref());
        }));
    });
    at_commit!(tx, |qb, pg| {
        let lines = new.values().flat_map(|new| {
            new.lines
                .iter()
                .enumerate()
                .map(move |(no, line)| (new.row.id, no, line))
        });
        qb.push(
            "INSERT INTO payment_lines (payment_id, line_no, bill_id, agency_id, amount_fils) ",
        );
        qb.push_rows(Rows::of(lines, |r, (payment_id, line_no, line)| {
            r.uuid(payment_id)
                .int(line_no as i32)
                .uuid(line.bill_id)
                .uuid(line.agency_id)
                .bigint(line.amount_fils);
        }));
    });
    Ok(())
}

/// Writes the receipts a transaction issued, in one statement.
pub(super) async fn insert_receipts(tx: &mut Tx, receipts: &[(i64, Uuid)]) -> Result<()> {
    if receipts.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push("INSERT INTO receipts (no, payment_id) ");
        qb.push_rows(Rows::of(receipts, |r, (no, payment_id)| {
            r.bigint(*no).uuid(*payment_id);
        }));
    });
    Ok(())
}

/// What [`insert_payment_in`] did.
enum Inserted {
    /// Made the payment, which is as given (nothing is read back).
    New(Box<PaymentRecord>),
    /// Found a payment with the same idempotency key.
    Existing(Uuid),
}

/// Inserts a payment in the caller's transaction, reserving each line's
/// amount on its bill.
async fn insert_payment_in(tx: &mut Tx, new: &NewPayment, total: Fils) -> Result<Inserted> {
    let at = now();
    // Lock every bill first, in id order, so that two baskets sharing
    // bills wait for each other instead of deadlocking.
    let mut order: Vec<usize> = (0..new.lines.len()).collect();
    order.sort_by_key(|&i| new.lines[i].0);
    let mut bills = BTreeMap::new();
    for &i in &order {
        let bill_id = new.lines[i].0;
        let row = lock_bill(tx, bill_id)
            .await?
            .ok_or(Error::NotFound("bill"))?;
        bills.insert(bill_id, row);
    }
    // With the bills locked, a concurrent twin of this request has
    // either committed (and is found here) or not started.
    let key = &new.idempotency_key;
    // A twin earlier in this transaction counts too.
    let existing: Option<Uuid> = match tx.new_payment_by_key(key) {
        Some(id) => Some(id),
        None => match tx.prefetched.take_key(key) {
            Some(found) => found,
            None => on_db!(tx tx, |c, pg| {
                sqlx::query_scalar("SELECT id FROM payments WHERE idempotency_key = $1")
                    .bind(key)
                    .fetch_optional(&mut *c)
                    .await?
            }),
        },
    };
    if let Some(id) = existing {
        return Ok(Inserted::Existing(id));
    }
    for &i in &order {
        let (bill_id, amount) = new.lines[i];
        let row = &bills[&bill_id];
        let mut bill = row.domain()?;
        bill.reserve(amount, at)?;
        save_bill(tx, row, &bill, at);
    }
    let (state, acquirer_ref, next_url) = match &new.session {
        Some(s) => (
            PaymentState::Pending,
            Some(s.acquirer_ref.clone()),
            Some(s.next_url.clone()),
        ),
        None => (PaymentState::Created, None, None),
    };
    let rows = NewPaymentRows {
        key: new.idempotency_key.clone(),
        row: PaymentRow {
            id: new.id,
            request_hash: new.request_hash.clone(),
            channel: new.channel.as_str().to_owned(),
            method: new.method.as_str().to_owned(),
            acquirer: new.acquirer.clone(),
            acquirer_ref,
            next_url,
            total_fils: total.as_i64(),
            fee_fils: new.fee.as_i64(),
            state: state.as_str().to_owned(),
            failure_reason: None,
            card_brand: None,
            card_last4: None,
            receipt_no: None,
            created_at: at,
            updated_at: at,
            captured_at: None,
            kiosk: new.kiosk.clone(),
        },
        lines: new
            .lines
            .iter()
            .map(|(bill_id, amount)| {
                let bill = &bills[bill_id];
                LineRow::on(bill, bill.agency_id, amount.as_i64())
            })
            .collect(),
    };
    // The answer is the rows as written, read the way a stored payment is.
    let record = rows.row.clone().record(rows.lines.clone(), Fils::ZERO)?;
    tx.defer_new_payment(rows);
    Ok(Inserted::New(Box::new(record)))
}

/// Moves a created payment to `pending` at the acquirer.
async fn mark_pending_in(
    tx: &mut Tx,
    id: Uuid,
    acquirer_ref: &str,
    next_url: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let row = lock_payment(tx, id).await?;
    let from = parse_state(&row.state, PaymentState::parse)?;
    if from != PaymentState::Created {
        // Say why: a state it cannot leave for pending, or a race.
        from.transition(PaymentState::Pending)?;
        return Err(Error::Conflict(format!(
            "payment {id} changed while it was sent to the acquirer"
        )));
    }
    let mut pending = row;
    pending.state = PaymentState::Pending.as_str().to_owned();
    pending.acquirer_ref = Some(acquirer_ref.to_owned());
    pending.next_url = Some(next_url.to_owned());
    pending.updated_at = at;
    tx.defer_payment(pending);
    Ok(())
}

/// Applies an acquirer's outcome in the caller's transaction; returns
/// whether it changed the payment (false: the same outcome was applied
/// before) and the payment's state after it. See [`Store::apply_outcome`].
async fn apply_outcome_in(
    tx: &mut Tx,
    payment_id: Uuid,
    outcome: &AcquirerOutcome,
) -> Result<(bool, PaymentState)> {
    let row = lock_payment(tx, payment_id).await?;
    if row.acquirer_ref.as_deref() != Some(outcome.acquirer_ref()) {
        return Err(Error::BadNotice(
            "the acquirer reference does not match the payment".into(),
        ));
    }
    let from = parse_state(&row.state, PaymentState::parse)?;
    let to = match outcome {
        AcquirerOutcome::Approved { .. } => PaymentState::Captured,
        AcquirerOutcome::Declined { .. } => PaymentState::Declined,
    };
    // Checked before the repeat test: a "repeat" with another amount is no repeat.
    if let AcquirerOutcome::Approved { amount, .. } = outcome {
        if amount.as_i64() != row.total_fils {
            return Err(Error::BadNotice(format!(
                "the acquirer approved {amount} BHD but the payment is for {} BHD",
                Fils::new(row.total_fils)
            )));
        }
    }
    if from == to {
        return Ok((false, to));
    }
    from.transition(to)?;
    let at = now();
    let lines = tx_lines(tx, payment_id).await?;
    match outcome {
        AcquirerOutcome::Declined { reason, .. } => {
            release_holds(tx, &lines, at).await?;
            set_payment_state(tx, &row, to, Some(reason), at);
        }
        AcquirerOutcome::Approved {
            card_brand,
            card_last4,
            ..
        } => {
            let mut by_bill: Vec<&LineRow> = lines.iter().collect();
            by_bill.sort_by_key(|l| l.bill_id);
            let mut bills_after = std::collections::BTreeMap::new();
            for line in by_bill {
                let bill_row = lock_bill(tx, line.bill_id)
                    .await?
                    .ok_or(Error::NotFound("bill"))?;
                let mut bill = bill_row.domain()?;
                let amount = Fils::new(line.amount_fils);
                bill.capture(amount)?;
                save_bill(tx, &bill_row, &bill, at);
                bills_after.insert(line.bill_id, bill.clone());
                let agency = AgencyCode::parse(&line.agency_code)?;
                // Cash sits in the kiosk's box; everything else with the acquirer.
                let entry = match (row.method.as_str(), row.kiosk.as_deref()) {
                    ("cash", Some(kiosk)) => JournalEntry::cash_capture(kiosk, &agency, amount)?,
                    _ => JournalEntry::capture(&row.acquirer, &agency, amount)?,
                };
                let refs = EntryRefs {
                    payment_id: Some(payment_id),
                    bill_id: Some(line.bill_id),
                    refund_id: None,
                };
                post_entry(tx, &entry, refs).await?;
            }
            tx.defer_rollups(lines.iter().map(|l| {
                let key = super::rollups::RollupKey {
                    day: super::rollups::local_day(at),
                    agency: l.agency_code.clone(),
                    service: l.service_code.clone(),
                    channel: row.channel.clone(),
                    method: row.method.clone(),
                };
                (
                    key,
                    super::rollups::RollupValues {
                        captured_count: 1,
                        captured_fils: l.amount_fils,
                        ..Default::default()
                    },
                )
            }));
            if row.fee_fils > 0 {
                let entry = JournalEntry::fee(&row.acquirer, Fils::new(row.fee_fils))?;
                let refs = EntryRefs {
                    payment_id: Some(payment_id),
                    bill_id: None,
                    refund_id: None,
                };
                post_entry(tx, &entry, refs).await?;
            }
            let receipt_no: i64 = match tx.issue_receipt(payment_id) {
                Some(no) => no,
                None => on_db!(tx tx, |c, pg| {
                    sqlx::query_scalar("INSERT INTO receipts (payment_id) VALUES ($1) RETURNING no")
                        .bind(payment_id)
                        .fetch_one(&mut *c)
                        .await?
                }),
            };
            let mut captured = row.clone();
            captured.state = to.as_str().to_owned();
            // Cash has no card.
            captured.card_brand = (!card_brand.is_empty()).then(|| card_brand.clone());
            captured.card_last4 = (!card_last4.is_empty()).then(|| card_last4.clone());
            captured.receipt_no = Some(receipt_no);
            captured.captured_at = Some(at);
            captured.updated_at = at;
            tx.defer_payment(captured);
            // Each agency hears of each of its bills, in the payment's own transaction.
            for line in &lines {
                let bill = &bills_after[&line.bill_id];
                let data = serde_json::json!({
                    "payment_id": payment_id,
                    "bill_id": line.bill_id,
                    "reference": line.reference,
                    "service": line.service_code,
                    "amount": Fils::new(line.amount_fils),
                    "bill_state": bill.state,
                    "bill_amount_paid": bill.amount_paid,
                    "channel": row.channel,
                    "method": row.method,
                    "receipt_number": receipt_number(receipt_no),
                    "captured_at": at,
                });
                super::events::emit(
                    tx,
                    line.agency_id,
                    Some(line.bill_id),
                    "payment.captured",
                    data,
                )
                .await?;
            }
        }
    }
    Ok((true, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite in a temporary file, and PostgreSQL in a fresh database when
    /// `TAHSEEL_TEST_DATABASE_URL` names a server.
    async fn stores() -> Vec<Store> {
        let dir = std::env::temp_dir().join(format!("tahseel-payments-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut stores = vec![
            Store::connect(&format!("sqlite://{}", dir.join("t.db").display()))
                .await
                .unwrap(),
        ];
        if let Ok(url) = std::env::var("TAHSEEL_TEST_DATABASE_URL") {
            let name = format!("tahseel_u_{}", Uuid::now_v7().simple());
            let admin = Store::connect(&url).await.unwrap();
            if let Store::Postgres(pool, _) = &admin {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap();
            stores.push(Store::connect(&format!("{base}/{name}")).await.unwrap());
        }
        stores
    }

    /// The commit writes a payment made and then changed in the same
    /// transaction once, as it ended: on PostgreSQL its statements run as
    /// one, where an UPDATE does not see the row an INSERT beside it made.
    #[tokio::test]
    async fn a_payment_made_and_captured_in_one_transaction_is_stored_captured() {
        for store in stores().await {
            store.migrate().await.unwrap();
            let bill = crate::demo::load(&store).await.unwrap()[0].id;
            let amount = store.bill(bill, None).await.unwrap().amount_payable_now;
            let id = Uuid::now_v7();
            let new = NewPayment {
                id,
                channel: Channel::Portal,
                method: Method::Debit,
                lines: vec![(bill, amount)],
                fee: Fils::ZERO,
                acquirer: "sim".into(),
                kiosk: None,
                idempotency_key: format!("one-tx-{id}"),
                request_hash: "hash".into(),
                session: Some(HostedSession {
                    acquirer_ref: format!("ref-{id}"),
                    next_url: "http://127.0.0.1/pay".into(),
                }),
            };
            // As in a shared transaction: the receipt number and journal
            // entry ids are read ahead, so every row waits for the commit.
            let mut tx = store.begin().await.unwrap();
            tx.prefetch(&Reads {
                payments: vec![],
                bills: vec![bill],
                keys: vec![new.idempotency_key.clone()],
                receipts: 1,
                entries: 4,
            })
            .await
            .unwrap();
            assert!(matches!(
                insert_payment_in(&mut tx, &new, amount).await.unwrap(),
                Inserted::New(_)
            ));
            let approved = AcquirerOutcome::Approved {
                acquirer_ref: format!("ref-{id}"),
                amount,
                card_brand: "visa".into(),
                card_last4: "1111".into(),
            };
            let (changed, state) = apply_outcome_in(&mut tx, id, &approved).await.unwrap();
            assert!(changed && state == PaymentState::Captured);
            tx.commit().await.unwrap();

            let stored = store.payment(id).await.unwrap();
            let backend = store.backend_name();
            assert_eq!(stored.state, PaymentState::Captured, "{backend}");
            assert!(
                stored.receipt_number.is_some(),
                "{backend}: the receipt is on the payment"
            );
            assert!(stored.captured_at.is_some(), "{backend}");
            assert_eq!(
                store.bill(bill, None).await.unwrap().amount_outstanding,
                Fils::ZERO,
                "{backend}"
            );
            assert!(
                store.verify_ledger().await.unwrap().is_empty(),
                "{backend}: the ledger balances"
            );
            store.close().await;
        }
    }

    /// On PostgreSQL a write transaction keeps one plan per statement and
    /// reaches rows by index even where a scan looks cheaper (an empty
    /// table); outside it, statements are planned as PostgreSQL chooses.
    #[tokio::test]
    async fn postgres_write_transactions_keep_plans_and_use_indexes_only_inside_themselves() {
        let settings =
            "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')";
        for store in stores().await {
            let Store::Postgres(pool, _) = &store else {
                continue;
            };
            store.migrate().await.unwrap();
            let mut tx = store.begin().await.unwrap();
            let crate::store::TxConn::Postgres(c) = &mut tx.conn else {
                unreachable!("a PostgreSQL store's transaction")
            };
            let inside: (String, String) =
                sqlx::query_as(settings).fetch_one(&mut **c).await.unwrap();
            assert_eq!(inside, ("force_generic_plan".into(), "off".into()));
            // Analyzed while empty, as a new hub's tables are: the planner
            // then prices a scan below any index.
            sqlx::query("ANALYZE payment_lines")
                .execute(&mut **c)
                .await
                .unwrap();
            let plan: Vec<String> = sqlx::query_scalar(
                "EXPLAIN SELECT payment_id, line_no FROM payment_lines WHERE payment_id = ANY($1)",
            )
            .bind(vec![Uuid::now_v7()])
            .fetch_all(&mut **c)
            .await
            .unwrap();
            assert!(
                plan.iter().all(|line| !line.contains("Seq Scan")),
                "{plan:?}"
            );
            tx.commit().await.unwrap();
            // The pool's one idle connection is the one just used.
            let after: (String, String) = sqlx::query_as(settings).fetch_one(pool).await.unwrap();
            assert_eq!(after, ("auto".into(), "on".into()));
        }
    }
}
