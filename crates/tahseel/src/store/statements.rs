//! What a statement and a settlement read: the postings to an agency's
//! payable account in a span of time, with what each one was for.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tahseel_core::agency::AgencyCode;
use tahseel_core::ledger::{AccountId, JournalEntry};
use tahseel_core::Fils;
use uuid::Uuid;

use super::ledger::{post_entry, EntryRefs};
use super::{now, on_db, Store};
use crate::error::Result;

/// One posting to an agency's payable account.
#[derive(Debug, Clone, Serialize)]
pub struct PayableMovement {
    pub entry_id: i64,
    /// capture, refund_requested, refund_reversed or settlement.
    pub kind: String,
    pub posted_at: DateTime<Utc>,
    /// Credit: owed to the agency; debit: taken off what is owed.
    pub side: String,
    pub amount: Fils,
    pub payment_id: Option<Uuid>,
    pub bill_id: Option<Uuid>,
    pub reference: Option<String>,
    pub service: Option<String>,
    pub channel: Option<String>,
    pub method: Option<String>,
}

type MovementRow = (
    i64,
    String,
    DateTime<Utc>,
    String,
    i64,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Postings to `agency:CODE:payable` in `[from, to)`, in posting order.
    pub async fn payable_movements(
        &self,
        agency: &AgencyCode,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PayableMovement>> {
        let account = AccountId::agency_payable(agency);
        let rows: Vec<MovementRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT e.id, e.kind, e.posted_at, po.side, po.amount_fils, COALESCE(e.payment_id, r.payment_id), b.id, b.reference, s.code, p.channel, p.method \
                 FROM postings po JOIN journal_entries e ON e.id = po.entry_id \
                 LEFT JOIN refunds r ON r.id = e.refund_id \
                 LEFT JOIN payments p ON p.id = COALESCE(e.payment_id, r.payment_id) \
                 LEFT JOIN bills b ON b.id = COALESCE(e.bill_id, r.bill_id) \
                 LEFT JOIN services s ON s.id = b.service_id \
                 WHERE po.account = $1 AND e.posted_at >= $2 AND e.posted_at < $3 ORDER BY e.id",
            )
            .bind(account.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    entry_id,
                    kind,
                    posted_at,
                    side,
                    amount,
                    payment_id,
                    bill_id,
                    reference,
                    service,
                    channel,
                    method,
                )| PayableMovement {
                    entry_id,
                    kind,
                    posted_at,
                    side,
                    amount: Fils::new(amount),
                    payment_id,
                    bill_id,
                    reference,
                    service,
                    channel,
                    method,
                },
            )
            .collect())
    }

    /// What the agency was owed before `at`: credits less debits of its payable account.
    pub async fn payable_before(&self, agency: &AgencyCode, at: DateTime<Utc>) -> Result<Fils> {
        let account = AccountId::agency_payable(agency);
        let owed: i64 = on_db!(pool self, |c, pg| {
            sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(CASE WHEN po.side = 'credit' THEN po.amount_fils ELSE -po.amount_fils END), 0) AS BIGINT) \
                 FROM postings po JOIN journal_entries e ON e.id = po.entry_id WHERE po.account = $1 AND e.posted_at < $2",
            )
            .bind(account.as_str())
            .bind(at)
            .fetch_one(c)
            .await?
        });
        Ok(Fils::new(owed))
    }

    /// Records the settlement of an agency's business day and, when
    /// something is owed, posts it from payable to the bank — once: a
    /// second call for the same agency and day changes nothing and returns
    /// `None`.
    pub async fn settle_day(
        &self,
        agency_id: Uuid,
        agency: &AgencyCode,
        day: NaiveDate,
        amount: Fils,
    ) -> Result<Option<Option<i64>>> {
        let mut tx = self.begin().await?;
        let inserted = on_db!(tx &mut tx, |c, pg| {
            sqlx::query(
                "INSERT INTO settlements (agency_id, business_day, amount_fils, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (agency_id, business_day) DO NOTHING",
            )
            .bind(agency_id)
            .bind(day)
            .bind(amount.as_i64())
            .bind(now())
            .execute(&mut *c)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Ok(None);
        }
        let mut entry_id = None;
        if amount.is_positive() {
            let id = post_entry(
                &mut tx,
                &JournalEntry::settlement(agency, amount)?,
                EntryRefs::default(),
            )
            .await?;
            on_db!(tx &mut tx, |c, pg| {
                sqlx::query("UPDATE settlements SET entry_id = $1 WHERE agency_id = $2 AND business_day = $3")
                    .bind(id)
                    .bind(agency_id)
                    .bind(day)
                    .execute(&mut *c)
                    .await?;
            });
            entry_id = Some(id);
        }
        tx.commit().await?;
        Ok(Some(entry_id))
    }
}
