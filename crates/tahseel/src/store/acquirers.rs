//! What the reconciler and the settlement check read and keep: payments
//! and refunds waiting on an acquirer, refused notices, settlement reports.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tahseel_core::ledger::AccountId;
use tahseel_core::payment::PaymentState;
use tahseel_core::Fils;
use uuid::Uuid;

use super::{now, on_db, Store};
use crate::error::{Error, Result};

/// A payment still waiting on its acquirer.
#[derive(Debug, Clone)]
pub struct WaitingPayment {
    pub id: Uuid,
    pub acquirer: String,
    pub acquirer_ref: Option<String>,
    pub state: PaymentState,
}

/// A refund granted but not yet answered by the acquirer.
#[derive(Debug, Clone)]
pub struct WaitingRefund {
    pub id: Uuid,
    pub acquirer: String,
    pub acquirer_ref: Option<String>,
    pub amount: Fils,
}

#[derive(Debug, Clone, Serialize)]
pub struct AcquirerException {
    pub id: Uuid,
    pub acquirer: String,
    pub kind: String,
    pub payment_id: Option<Uuid>,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

/// One movement as the ledger has it, keyed as the acquirer's file keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerMovement {
    pub record_type: &'static str,
    pub acquirer_ref: String,
    pub amount: Fils,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredReconciliation {
    pub id: Uuid,
    pub acquirer: String,
    pub settlement_date: NaiveDate,
    pub source: String,
    pub matched: i32,
    pub mismatched: i32,
    pub report: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// The most rows one reconciler pass takes of each kind.
pub const RECONCILE_BATCH: i64 = 200;

impl Store {
    /// Payments created or pending whose last change is older than `before`.
    pub async fn waiting_payments(&self, before: DateTime<Utc>) -> Result<Vec<WaitingPayment>> {
        let rows: Vec<(Uuid, String, Option<String>, String)> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT id, acquirer, acquirer_ref, state FROM payments WHERE state IN ('created', 'pending') AND updated_at < $1 \
                 ORDER BY updated_at LIMIT $2",
            )
            .bind(before)
            .bind(RECONCILE_BATCH)
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(|(id, acquirer, acquirer_ref, state)| {
                let state = PaymentState::parse(&state)
                    .ok_or_else(|| Error::Invalid(format!("stored state {state:?}")))?;
                Ok(WaitingPayment {
                    id,
                    acquirer,
                    acquirer_ref,
                    state,
                })
            })
            .collect()
    }

    /// Refunds still `requested` whose last change is older than `before`.
    pub async fn waiting_refunds(&self, before: DateTime<Utc>) -> Result<Vec<WaitingRefund>> {
        let rows: Vec<(Uuid, String, Option<String>, i64)> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT r.id, p.acquirer, p.acquirer_ref, r.amount_fils FROM refunds r JOIN payments p ON p.id = r.payment_id \
                 WHERE r.state = 'requested' AND r.updated_at < $1 ORDER BY r.updated_at LIMIT $2",
            )
            .bind(before)
            .bind(RECONCILE_BATCH)
            .fetch_all(c)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, acquirer, acquirer_ref, amount)| WaitingRefund {
                id,
                acquirer,
                acquirer_ref,
                amount: Fils::new(amount),
            })
            .collect())
    }

    pub async fn record_exception(
        &self,
        acquirer: &str,
        kind: &str,
        payment_id: Option<Uuid>,
        detail: &str,
    ) -> Result<()> {
        on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO acquirer_exceptions (id, acquirer, kind, payment_id, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(Uuid::now_v7())
                .bind(acquirer)
                .bind(kind)
                .bind(payment_id)
                .bind(detail)
                .bind(now())
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// The newest exceptions first.
    pub async fn exceptions(&self, limit: i64) -> Result<Vec<AcquirerException>> {
        type Row = (Uuid, String, String, Option<Uuid>, String, DateTime<Utc>);
        let rows: Vec<Row> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT id, acquirer, kind, payment_id, detail, created_at FROM acquirer_exceptions ORDER BY created_at DESC LIMIT $1")
                .bind(limit.clamp(1, 1000))
                .fetch_all(c)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, acquirer, kind, payment_id, detail, created_at)| AcquirerException {
                    id,
                    acquirer,
                    kind,
                    payment_id,
                    detail,
                    created_at,
                },
            )
            .collect())
    }

    /// What the ledger says moved through an acquirer's clearing account
    /// in `[from, to)`: each captured payment (its lines and fee) and each
    /// refund paid out, by the acquirer's reference.
    pub async fn ledger_movements(
        &self,
        acquirer: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LedgerMovement>> {
        let account = AccountId::acquirer_clearing(acquirer);
        let captures: Vec<(Option<String>, i64)> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT p.acquirer_ref, CAST(SUM(po.amount_fils) AS BIGINT) FROM journal_entries e \
                 JOIN postings po ON po.entry_id = e.id JOIN payments p ON p.id = e.payment_id \
                 WHERE e.kind IN ('capture', 'fee') AND po.account = $1 AND po.side = 'debit' AND e.posted_at >= $2 AND e.posted_at < $3 \
                 GROUP BY p.acquirer_ref",
            )
            .bind(account.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await?
        });
        let refunds: Vec<(Option<String>, i64)> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT r.acquirer_ref, CAST(SUM(po.amount_fils) AS BIGINT) FROM journal_entries e \
                 JOIN postings po ON po.entry_id = e.id JOIN refunds r ON r.id = e.refund_id \
                 WHERE e.kind = 'refund_paid' AND po.account = $1 AND po.side = 'credit' AND e.posted_at >= $2 AND e.posted_at < $3 \
                 GROUP BY r.acquirer_ref",
            )
            .bind(account.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await?
        });
        let tag = |record_type: &'static str| {
            move |(r, amount): (Option<String>, i64)| LedgerMovement {
                record_type,
                acquirer_ref: r.unwrap_or_default(),
                amount: Fils::new(amount),
            }
        };
        let mut out: Vec<LedgerMovement> = captures.into_iter().map(tag("capture")).collect();
        out.extend(refunds.into_iter().map(tag("refund")));
        Ok(out)
    }

    pub async fn save_reconciliation(&self, r: &StoredReconciliation) -> Result<()> {
        let report = serde_json::to_string(&r.report).expect("report serializes");
        on_db!(pool self, |c, pg| {
            sqlx::query(
                "INSERT INTO settlement_reconciliations (id, acquirer, settlement_date, source, matched, mismatched, report, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(r.id)
            .bind(&r.acquirer)
            .bind(r.settlement_date)
            .bind(&r.source)
            .bind(r.matched)
            .bind(r.mismatched)
            .bind(&report)
            .bind(r.created_at)
            .execute(c)
            .await?;
        });
        Ok(())
    }

    pub async fn reconciliations(&self, id: Option<Uuid>) -> Result<Vec<StoredReconciliation>> {
        type Row = (
            Uuid,
            String,
            NaiveDate,
            String,
            i32,
            i32,
            String,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT id, acquirer, settlement_date, source, matched, mismatched, report, created_at FROM settlement_reconciliations \
                 WHERE ($1 IS NULL OR id = $1) ORDER BY created_at DESC LIMIT 100",
            )
            .bind(id)
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(
                |(
                    id,
                    acquirer,
                    settlement_date,
                    source,
                    matched,
                    mismatched,
                    report,
                    created_at,
                )| {
                    Ok(StoredReconciliation {
                        id,
                        acquirer,
                        settlement_date,
                        source,
                        matched,
                        mismatched,
                        report: serde_json::from_str(&report)
                            .map_err(|e| Error::Invalid(format!("stored report: {e}")))?,
                        created_at,
                    })
                },
            )
            .collect()
    }
}
