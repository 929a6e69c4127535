//! Row shapes shared by both backends. `FromRow` is derived generically,
//! so each struct decodes from a SQLite or a PostgreSQL row alike. The
//! rows a shared transaction reads ahead also decode from JSON: SQLite
//! returns them as one JSON array per query (see `prefetch.rs`).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(super) struct AgencyRow {
    pub id: Uuid,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub iban: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ServiceRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agency_code: String,
    pub code: String,
    pub name_en: String,
    pub name_ar: String,
    pub kind: String,
    pub fee_fils: Option<i64>,
    pub allow_partial: bool,
    pub fetch_url: Option<String>,
}

#[derive(sqlx::FromRow, serde::Deserialize, Clone)]
pub(super) struct BillRow {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agency_code: String,
    pub agency_name_en: String,
    pub agency_name_ar: String,
    pub service_code: String,
    pub service_name_en: String,
    pub service_name_ar: String,
    pub allow_partial: bool,
    pub reference: String,
    pub payer: String,
    pub amount_due_fils: i64,
    pub amount_paid_fils: i64,
    pub amount_held_fils: i64,
    pub due_date: NaiveDate,
    pub expires_at: Option<DateTime<Utc>>,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow, serde::Deserialize, Clone)]
pub(super) struct PaymentRow {
    pub id: Uuid,
    pub request_hash: String,
    pub channel: String,
    pub method: String,
    pub acquirer: String,
    pub acquirer_ref: Option<String>,
    pub next_url: Option<String>,
    pub total_fils: i64,
    pub fee_fils: i64,
    pub state: String,
    pub failure_reason: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub receipt_no: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub captured_at: Option<DateTime<Utc>>,
    pub kiosk: Option<String>,
}

#[derive(sqlx::FromRow, serde::Deserialize, Clone)]
pub(super) struct LineRow {
    pub bill_id: Uuid,
    pub agency_id: Uuid,
    pub agency_code: String,
    pub agency_name_en: String,
    pub agency_name_ar: String,
    pub service_code: String,
    pub service_name_en: String,
    pub service_name_ar: String,
    pub reference: String,
    pub payer: String,
    pub amount_fils: i64,
}

impl LineRow {
    /// A line of `amount_fils` on `bill`, showing the bill's agency,
    /// service, reference and payer.
    pub fn on(bill: &BillRow, agency_id: Uuid, amount_fils: i64) -> LineRow {
        LineRow {
            bill_id: bill.id,
            agency_id,
            agency_code: bill.agency_code.clone(),
            agency_name_en: bill.agency_name_en.clone(),
            agency_name_ar: bill.agency_name_ar.clone(),
            service_code: bill.service_code.clone(),
            service_name_en: bill.service_name_en.clone(),
            service_name_ar: bill.service_name_ar.clone(),
            reference: bill.reference.clone(),
            payer: bill.payer.clone(),
            amount_fils,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RefundRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub agency_id: Uuid,
    pub bill_id: Option<Uuid>,
    pub request_hash: String,
    pub amount_fils: i64,
    pub state: String,
    pub reason: String,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
