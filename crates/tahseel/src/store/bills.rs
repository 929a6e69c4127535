//! Bills: created by agencies, looked up by payers, paid through payments.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tahseel_core::agency::{Names, ServiceKind};
use tahseel_core::bill::{Bill, BillError, BillState};
use tahseel_core::payer::PayerId;
use tahseel_core::Fils;
use uuid::Uuid;

use super::columns::{PushRows, Rows};
use super::rows::BillRow;
use super::{at_commit, now, on_db, Store, Tx};
use crate::error::{Error, Result};

/// The most bills one list call returns.
pub const MAX_PAGE: i64 = 500;

/// A bill as the API shows it. `state` is the effective state: an unpaid
/// bill past its expiry reads as expired.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BillRecord {
    pub id: Uuid,
    pub agency: String,
    pub agency_name: Names,
    pub service: String,
    pub service_name: Names,
    pub reference: String,
    pub payer: String,
    pub amount_due: Fils,
    pub amount_paid: Fils,
    pub amount_outstanding: Fils,
    /// What a new payment can take now: outstanding less what payments in
    /// progress hold.
    pub amount_payable_now: Fils,
    pub allow_partial: bool,
    pub state: BillState,
    pub due_date: NaiveDate,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub agency_id: Uuid,
}

pub struct NewBill {
    pub service: String,
    pub reference: String,
    pub payer: PayerId,
    /// Required for bill services; for fee services it may be left out and
    /// must otherwise equal the fee.
    pub amount: Option<Fils>,
    pub due_date: NaiveDate,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The most bills one bulk request may carry.
pub const MAX_BULK: usize = 10_000;

/// The lines of a bulk request: each line's number, and its bill or why it could not be read.
pub type BulkInput = Vec<(usize, std::result::Result<NewBill, String>)>;

/// One line of a bulk request that cannot be applied.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// One line of a bulk request, applied.
#[derive(Debug, Clone, Serialize)]
pub struct BulkLine {
    pub line: usize,
    pub id: Uuid,
    pub reference: String,
    /// False when the same bill was already there.
    pub created: bool,
}

/// Checks a new bill against its service's terms: the amount (a fee
/// service's is its fee) and the reference.
fn prepare_bill(service: &crate::store::Service, new: &NewBill) -> Result<Bill> {
    let amount = match (service.kind, new.amount) {
        (ServiceKind::Bill, Some(a)) => a,
        (ServiceKind::Bill, None) => return Err(Error::Invalid("amount is required for this service".into())),
        (ServiceKind::Fee, None) => service.fee.ok_or(Error::Invalid("the service has no fee".into()))?,
        (ServiceKind::Fee, Some(a)) if Some(a) == service.fee => a,
        (ServiceKind::Fee, Some(a)) => {
            return Err(Error::Invalid(format!(
                "this service charges a fixed fee of {} BHD; leave amount out or send exactly that, not {a}",
                service.fee.unwrap_or_default()
            )))
        }
    };
    let reference = new.reference.trim();
    if reference.is_empty() || reference.len() > 64 {
        return Err(Error::Invalid(
            "reference must be 1 to 64 characters".into(),
        ));
    }
    Ok(Bill::new(amount, new.expires_at, service.allow_partial)?)
}

fn same_details(stored: &BillRecord, service: &str, new: &NewBill, amount: Fils) -> bool {
    stored.service == service
        && stored.payer == new.payer.as_str()
        && stored.amount_due == amount
        && stored.due_date == new.due_date
        && stored.expires_at == new.expires_at
}

/// Inserts a bill unless its reference exists; true when it was inserted.
async fn insert_bill(
    tx: &mut Tx,
    agency_id: Uuid,
    service_id: Uuid,
    new: &NewBill,
    bill: &Bill,
) -> Result<bool> {
    let n = on_db!(tx tx, |c, pg| {
        sqlx::query(
            "INSERT INTO bills (id, agency_id, service_id, reference, payer, amount_due_fils, amount_paid_fils, amount_held_fils, due_date, expires_at, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, $9, $10, $10) ON CONFLICT (agency_id, reference) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(agency_id)
        .bind(service_id)
        .bind(new.reference.trim())
        .bind(new.payer.as_str())
        .bind(bill.amount_due.as_i64())
        .bind(new.due_date)
        .bind(new.expires_at)
        .bind(bill.state.as_str())
        .bind(now())
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

#[derive(Default)]
pub struct BillFilter {
    pub state: Option<BillState>,
    pub payer: Option<String>,
    pub after: Option<Uuid>,
    pub limit: Option<i64>,
}

macro_rules! bill_select {
    () => {
        "SELECT b.id, b.agency_id, a.code AS agency_code, a.name_en AS agency_name_en, a.name_ar AS agency_name_ar, \
         s.code AS service_code, s.name_en AS service_name_en, s.name_ar AS service_name_ar, s.allow_partial, \
         b.reference, b.payer, b.amount_due_fils, b.amount_paid_fils, b.amount_held_fils, b.due_date, b.expires_at, \
         b.state, b.created_at, b.updated_at \
         FROM bills b JOIN agencies a ON a.id = b.agency_id JOIN services s ON s.id = b.service_id "
    };
}
pub(super) use bill_select;

impl BillRow {
    pub(super) fn domain(&self) -> Result<Bill> {
        let state = BillState::parse(&self.state)
            .ok_or_else(|| Error::Invalid(format!("stored bill state {:?}", self.state)))?;
        Ok(Bill {
            state,
            amount_due: Fils::new(self.amount_due_fils),
            amount_paid: Fils::new(self.amount_paid_fils),
            amount_held: Fils::new(self.amount_held_fils),
            expires_at: self.expires_at,
            allow_partial: self.allow_partial,
        })
    }

    pub(super) fn record(self, at: DateTime<Utc>) -> Result<BillRecord> {
        let bill = self.domain()?;
        Ok(BillRecord {
            id: self.id,
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
            amount_due: bill.amount_due,
            amount_paid: bill.amount_paid,
            amount_outstanding: bill.outstanding()?,
            amount_payable_now: bill.available()?,
            allow_partial: bill.allow_partial,
            state: bill.effective_state(at),
            due_date: self.due_date,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            agency_id: self.agency_id,
        })
    }
}

/// Reads a bill inside a write transaction, locking its row on PostgreSQL.
pub(super) async fn lock_bill(tx: &mut Tx, id: Uuid) -> Result<Option<BillRow>> {
    if let Some(row) = tx.changed_bill(id).or_else(|| tx.prefetched.take_bill(id)) {
        return Ok(Some(row));
    }
    Ok(on_db!(tx tx, |c, pg| {
        let sql = if pg {
            concat!(bill_select!(), "WHERE b.id = $1 FOR UPDATE OF b")
        } else {
            concat!(bill_select!(), "WHERE b.id = $1")
        };
        sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?
    }))
}

/// Writes back the amounts and state of a bill changed by the domain
/// rules, when the transaction commits. `row` is the bill as read.
pub(super) fn save_bill(tx: &mut Tx, row: &BillRow, bill: &Bill, at: DateTime<Utc>) {
    let mut changed = row.clone();
    changed.amount_paid_fils = bill.amount_paid.as_i64();
    changed.amount_held_fils = bill.amount_held.as_i64();
    changed.state = bill.state.as_str().to_owned();
    changed.updated_at = at;
    tx.defer_bill(changed);
}

/// Writes the bills a transaction changed, in one statement.
pub(super) async fn save_bills(tx: &mut Tx, bills: &BTreeMap<Uuid, BillRow>) -> Result<()> {
    if bills.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push("WITH changed (id, paid, held, state, at) AS (");
        qb.push_rows(Rows::of(bills.values(), |r, row| {
            r.uuid(row.id)
                .bigint(row.amount_paid_fils)
                .bigint(row.amount_held_fils)
                .text(&row.state)
                .time(row.updated_at);
        }));
        qb.push(
            ") UPDATE bills SET amount_paid_fils = changed.paid, amount_held_fils = changed.held, \
             state = changed.state, updated_at = changed.at FROM changed WHERE bills.id = changed.id",
        );
    });
    Ok(())
}

impl Store {
    /// Creates a bill for an agency. Creating the same reference again with
    /// the same details returns the existing bill (`false` in the second
    /// field), so an agency can safely retry; other details are a conflict.
    pub async fn create_bill(&self, agency_id: Uuid, new: NewBill) -> Result<(BillRecord, bool)> {
        let service = self
            .service(agency_id, &new.service)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound("service"),
                e => e,
            })?;
        let bill = prepare_bill(&service, &new)?;
        let reference = new.reference.trim();
        let mut tx = self.begin().await?;
        let inserted = insert_bill(&mut tx, agency_id, service.id, &new, &bill).await?;
        tx.commit().await?;
        let stored = self.bill_by_reference(agency_id, reference).await?;
        if inserted {
            return Ok((stored, true));
        }
        if same_details(&stored, &service.code, &new, bill.amount_due) {
            Ok((stored, false))
        } else {
            Err(Error::Conflict(format!(
                "a bill with reference {reference:?} already exists with other details; references are unique per agency"
            )))
        }
    }

    /// Creates many bills at once, all or nothing. Every line is checked
    /// first; if any is wrong, nothing is written and each wrong line is
    /// named. Lines whose reference already exists with the same details
    /// count as existing, as with [`Store::create_bill`].
    pub async fn create_bills(
        &self,
        agency_id: Uuid,
        lines: BulkInput,
    ) -> Result<std::result::Result<Vec<BulkLine>, Vec<LineError>>> {
        if lines.len() > MAX_BULK {
            return Err(Error::Invalid(format!(
                "a bulk request holds at most {MAX_BULK} bills; split the file"
            )));
        }
        let services: std::collections::HashMap<String, crate::store::Service> = self
            .services(None)
            .await?
            .into_iter()
            .filter(|s| s.agency_id == agency_id)
            .map(|s| (s.code.clone(), s))
            .collect();
        let mut errors = Vec::new();
        let mut ready = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (line, parsed) in lines {
            let new = match parsed {
                Ok(n) => n,
                Err(message) => {
                    errors.push(LineError { line, message });
                    continue;
                }
            };
            let Some(service) = services.get(&new.service) else {
                errors.push(LineError {
                    line,
                    message: format!(
                        "service {:?} is not one of this agency's services",
                        new.service
                    ),
                });
                continue;
            };
            match prepare_bill(service, &new) {
                Err(e) => errors.push(LineError {
                    line,
                    message: e.to_string(),
                }),
                Ok(_) if !seen.insert(new.reference.trim().to_owned()) => errors.push(LineError {
                    line,
                    message: format!(
                        "reference {:?} appears twice in this request",
                        new.reference.trim()
                    ),
                }),
                Ok(bill) => ready.push((line, service, new, bill)),
            }
        }
        // Compare with what already exists, so that a clash is a line error, not half a file.
        let mut existing = std::collections::HashMap::new();
        for (line, service, new, bill) in &ready {
            match self
                .bill_by_reference(agency_id, new.reference.trim())
                .await
            {
                Ok(stored) if same_details(&stored, &service.code, new, bill.amount_due) => {
                    existing.insert(*line, stored);
                }
                Ok(_) => errors.push(LineError {
                    line: *line,
                    message: format!(
                        "reference {:?} already exists with other details",
                        new.reference.trim()
                    ),
                }),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Ok(Err(errors));
        }
        let mut tx = self.begin().await?;
        for (line, service, new, bill) in &ready {
            if !existing.contains_key(line)
                && !insert_bill(&mut tx, agency_id, service.id, new, bill).await?
            {
                return Err(Error::Conflict(format!(
                    "line {line}: reference {:?} was created by another request meanwhile; send the file again",
                    new.reference.trim()
                )));
            }
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(ready.len());
        for (line, _, new, _) in &ready {
            let created = !existing.contains_key(line);
            let stored = match existing.remove(line) {
                Some(s) => s,
                None => {
                    self.bill_by_reference(agency_id, new.reference.trim())
                        .await?
                }
            };
            out.push(BulkLine {
                line: *line,
                id: stored.id,
                reference: stored.reference,
                created,
            });
        }
        Ok(Ok(out))
    }

    /// A bill by id; with `agency_id`, only that agency's bill (another
    /// agency's reads as not found).
    pub async fn bill(&self, id: Uuid, agency_id: Option<Uuid>) -> Result<BillRecord> {
        let row: Option<BillRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(concat!(bill_select!(), "WHERE b.id = $1 AND ($2 IS NULL OR b.agency_id = $2)"))
                .bind(id)
                .bind(agency_id)
                .fetch_optional(c)
                .await?
        });
        row.ok_or(Error::NotFound("bill"))?.record(now())
    }

    pub async fn bill_by_reference(&self, agency_id: Uuid, reference: &str) -> Result<BillRecord> {
        let row: Option<BillRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(concat!(bill_select!(), "WHERE b.agency_id = $1 AND b.reference = $2"))
                .bind(agency_id)
                .bind(reference)
                .fetch_optional(c)
                .await?
        });
        row.ok_or(Error::NotFound("bill"))?.record(now())
    }

    /// A page of an agency's bills, oldest first; `after` continues from a bill id.
    pub async fn bills(&self, agency_id: Uuid, filter: BillFilter) -> Result<Vec<BillRecord>> {
        let limit = filter.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let state = filter.state.map(BillState::as_str);
        let rows: Vec<BillRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(concat!(
                bill_select!(),
                "WHERE b.agency_id = $1 AND ($2 IS NULL OR b.payer = $2) AND ($3 IS NULL OR b.state = $3) \
                 AND ($4 IS NULL OR (b.created_at, b.id) > (SELECT created_at, id FROM bills WHERE id = $4)) \
                 ORDER BY b.created_at, b.id LIMIT $5"
            ))
            .bind(agency_id)
            .bind(filter.payer.as_deref())
            .bind(state)
            .bind(filter.after)
            .bind(limit)
            .fetch_all(c)
            .await?
        });
        let at = now();
        rows.into_iter().map(|r| r.record(at)).collect()
    }

    /// Bills a payer can pay now, across every agency.
    pub async fn open_dues(&self, payer: &PayerId) -> Result<Vec<BillRecord>> {
        let rows: Vec<BillRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(concat!(
                bill_select!(),
                "WHERE b.payer = $1 AND b.state IN ('open', 'partially_paid') ORDER BY b.due_date, a.code, b.reference LIMIT 500"
            ))
            .bind(payer.as_str())
            .fetch_all(c)
            .await?
        });
        let at = now();
        let bills: Result<Vec<BillRecord>> = rows.into_iter().map(|r| r.record(at)).collect();
        Ok(bills?
            .into_iter()
            .filter(|b| matches!(b.state, BillState::Open | BillState::PartiallyPaid))
            .collect())
    }

    pub async fn cancel_bill(&self, agency_id: Uuid, id: Uuid) -> Result<BillRecord> {
        let mut tx = self.begin().await?;
        let row = lock_bill(&mut tx, id)
            .await?
            .filter(|r| r.agency_id == agency_id)
            .ok_or(Error::NotFound("bill"))?;
        let mut bill = row.domain()?;
        let at = now();
        bill.cancel(at).map_err(|e| match e {
            BillError::CancelWhileHeld => Error::Conflict(e.to_string()),
            e => Error::Bill(e),
        })?;
        save_bill(&mut tx, &row, &bill, at);
        let data = serde_json::json!({"bill_id": id, "reference": row.reference, "bill_state": bill.state, "cancelled_at": at});
        super::events::emit(&mut tx, agency_id, Some(id), "bill.cancelled", data).await?;
        tx.commit().await?;
        self.bill(id, Some(agency_id)).await
    }
}
