//! Agency endpoints. Every query is scoped to the API key's agency; another
//! agency's bill, payment or refund reads as not found.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use tahseel_core::bill::BillState;
use tahseel_core::payer::PayerId;
use tahseel_core::payment::PaymentState;
use tahseel_core::Fils;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{AgencyAuth, ApiJson, ApiQuery, IdPath, IdempotencyKey};
use super::AppState;
use crate::error::Error;
use crate::hub::RefundRequest;
use crate::store::{BillFilter, NewBill};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBill {
    service: String,
    reference: String,
    payer: PayerId,
    /// Left out for a fee service, whose amount is its fee.
    #[serde(default)]
    amount: Option<Fils>,
    due_date: NaiveDate,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

/// 201 with the new bill; 200 with the existing one when the same
/// reference is sent again with the same details.
pub async fn create_bill(
    State(state): State<AppState>,
    agency: AgencyAuth,
    ApiJson(body): ApiJson<CreateBill>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewBill {
        service: body.service,
        reference: body.reference,
        payer: body.payer,
        amount: body.amount,
        due_date: body.due_date,
        expires_at: body.expires_at.map(tahseel_core::time::truncate_micros),
    };
    let (bill, created) = state.store.create_bill(agency.id, new).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(bill)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillQuery {
    state: Option<String>,
    payer: Option<String>,
    after: Option<Uuid>,
    limit: Option<i64>,
}

pub async fn list_bills(
    State(state): State<AppState>,
    agency: AgencyAuth,
    ApiQuery(q): ApiQuery<BillQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let bill_state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(BillState::parse(s).ok_or_else(|| {
            Error::Invalid(format!(
                "state {s:?} is not one of open, partially_paid, paid, cancelled, expired"
            ))
        })?),
    };
    let filter = BillFilter {
        state: bill_state,
        payer: q.payer,
        after: q.after,
        limit: q.limit,
    };
    let bills = state.store.bills(agency.id, filter).await?;
    let next_after = bills.last().map(|b| b.id);
    Ok(Json(json!({"bills": bills, "next_after": next_after})))
}

pub async fn get_bill(
    State(state): State<AppState>,
    agency: AgencyAuth,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(state.store.bill(id, Some(agency.id)).await?))
}

pub async fn cancel_bill(
    State(state): State<AppState>,
    agency: AgencyAuth,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(state.store.cancel_bill(agency.id, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentQuery {
    state: Option<String>,
    limit: Option<i64>,
}

pub async fn list_payments(
    State(state): State<AppState>,
    agency: AgencyAuth,
    ApiQuery(q): ApiQuery<PaymentQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let payment_state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(
            PaymentState::parse(s)
                .ok_or_else(|| Error::Invalid(format!("state {s:?} is not a payment state")))?,
        ),
    };
    let payments = state
        .store
        .agency_payments(agency.id, payment_state, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!({"payments": payments})))
}

pub async fn get_payment(
    State(state): State<AppState>,
    agency: AgencyAuth,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(state.store.payment_for_agency(id, agency.id).await?))
}

pub async fn refund(
    State(state): State<AppState>,
    agency: AgencyAuth,
    IdPath(payment_id): IdPath,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<RefundRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let outcome = state.refund(agency.id, payment_id, &body, &key).await?;
    let replayed = if outcome.is_replay() { "true" } else { "false" };
    Ok((
        StatusCode::CREATED,
        [("idempotent-replayed", replayed)],
        Json(outcome.into_inner()),
    ))
}

pub async fn get_refund(
    State(state): State<AppState>,
    agency: AgencyAuth,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    let refund = state.store.refund(id).await?;
    if refund.agency_id != agency.id {
        return Err(Error::NotFound("refund").into());
    }
    Ok(Json(refund))
}

/// A webhook URL must be absolute http(s).
pub fn check_webhook_url(url: &str) -> Result<(), Error> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
        _ => Err(Error::Invalid(format!(
            "webhook url {url:?} must be an absolute https:// (or http://) URL"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// The agency's events after `after` (its own sequence), oldest first: the
/// same events its webhook receives, for agencies that poll.
pub async fn events(
    State(state): State<AppState>,
    agency: AgencyAuth,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let events = state
        .store
        .events_after(agency.id, q.after, q.limit.unwrap_or(100))
        .await?;
    let next_after = events.last().map(|e| e.seq).unwrap_or(q.after);
    Ok(Json(json!({"events": events, "next_after": next_after})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// Left out (or null) to stop deliveries; events can still be polled.
    url: Option<String>,
}

/// Sets the webhook; the first time, answers with the signing secret.
pub async fn set_webhook(
    State(state): State<AppState>,
    agency: AgencyAuth,
    ApiJson(b): ApiJson<SetWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(url) = &b.url {
        check_webhook_url(url)?;
    }
    state.store.set_webhook(agency.id, b.url.as_deref()).await?;
    let secret = if b.url.is_some()
        && state
            .store
            .webhook_secrets(agency.id, chrono::Utc::now())
            .await?
            .is_empty()
    {
        Some(
            state
                .store
                .rotate_webhook_secret(agency.id, chrono::Duration::zero())
                .await?,
        )
    } else {
        None
    };
    Ok(Json(json!({"url": b.url, "secret": secret})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// How long the old secret keeps signing beside the new one (default a day).
    #[serde(default = "default_overlap")]
    overlap_secs: i64,
}

fn default_overlap() -> i64 {
    86_400
}

/// A new signing secret; deliveries carry a signature with each secret still active.
pub async fn rotate_secret(
    State(state): State<AppState>,
    agency: AgencyAuth,
    ApiJson(b): ApiJson<Rotate>,
) -> Result<impl IntoResponse, ApiError> {
    if !(0..=30 * 86_400).contains(&b.overlap_secs) {
        return Err(Error::Invalid("overlap_secs must be between 0 and 30 days".into()).into());
    }
    let secret = state
        .store
        .rotate_webhook_secret(agency.id, chrono::Duration::seconds(b.overlap_secs))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"secret": secret, "overlap_secs": b.overlap_secs})),
    ))
}

impl CreateBill {
    fn into_new(self) -> NewBill {
        NewBill {
            service: self.service,
            reference: self.reference,
            payer: self.payer,
            amount: self.amount,
            due_date: self.due_date,
            expires_at: self.expires_at.map(tahseel_core::time::truncate_micros),
        }
    }
}

/// Reads a bulk body: a JSON array of bills (line = position, from 1) or a
/// CSV file with a header `service,reference,payer,amount,due_date[,expires_at]`
/// (line = line of the file, the header being line 1).
fn bulk_lines(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<crate::store::BulkInput, ApiError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        let items: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body must be a JSON array of bills: {e}"),
            )
        })?;
        Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    i + 1,
                    serde_json::from_value::<CreateBill>(v)
                        .map(CreateBill::into_new)
                        .map_err(|e| e.to_string()),
                )
            })
            .collect())
    } else if content_type.starts_with("text/csv") {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(body);
        Ok(reader
            .deserialize::<CsvBill>()
            .enumerate()
            .map(|(i, r)| {
                (
                    i + 2,
                    r.map_err(|e| e.to_string()).and_then(CsvBill::into_new),
                )
            })
            .collect())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a JSON array (Content-Type: application/json) or a CSV file (Content-Type: text/csv)",
        ))
    }
}

#[derive(Deserialize)]
struct CsvBill {
    service: String,
    reference: String,
    payer: String,
    #[serde(default)]
    amount: Option<String>,
    due_date: String,
    #[serde(default)]
    expires_at: Option<String>,
}

impl CsvBill {
    fn into_new(self) -> Result<NewBill, String> {
        Ok(NewBill {
            service: self.service,
            reference: self.reference,
            payer: PayerId::parse(&self.payer).map_err(|e| e.to_string())?,
            amount: self
                .amount
                .filter(|a| !a.is_empty())
                .map(|a| Fils::parse(&a))
                .transpose()
                .map_err(|e| e.to_string())?,
            due_date: NaiveDate::parse_from_str(&self.due_date, "%Y-%m-%d")
                .map_err(|_| format!("due_date {:?} must be YYYY-MM-DD", self.due_date))?,
            expires_at: self
                .expires_at
                .filter(|e| !e.is_empty())
                .map(|e| {
                    DateTime::parse_from_rfc3339(&e)
                        .map(|t| tahseel_core::time::truncate_micros(t.with_timezone(&Utc)))
                })
                .transpose()
                .map_err(|_| "expires_at must be RFC 3339 with an offset".to_owned())?,
        })
    }
}

/// Many bills in one request, all or nothing: 201 with each line's bill, or
/// 422 naming every wrong line, with nothing applied.
pub async fn create_bills(
    State(state): State<AppState>,
    agency: AgencyAuth,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let lines = bulk_lines(&headers, &body)?;
    if lines.is_empty() {
        return Err(Error::Invalid("the request holds no bills".into()).into());
    }
    match state.store.create_bills(agency.id, lines).await? {
        Ok(applied) => {
            let created = applied.iter().filter(|l| l.created).count();
            Ok((
                StatusCode::CREATED,
                Json(
                    json!({"created": created, "existing": applied.len() - created, "bills": applied}),
                ),
            ))
        }
        Err(wrong) => {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_lines",
                format!("{} line(s) cannot be applied; nothing was applied — fix them and send the whole request again", wrong.len()),
            );
            e.lines = Some(serde_json::to_value(&wrong).expect("lines serialize"));
            Err(e)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// json (default), csv or camt053.
    format: Option<String>,
}

/// The agency's settlement statement for a Bahrain business day.
pub async fn statement(
    State(state): State<AppState>,
    agency: AgencyAuth,
    axum::extract::Path(day): axum::extract::Path<String>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<axum::response::Response, ApiError> {
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|_| Error::Invalid(format!("date {day:?} must be YYYY-MM-DD")))?;
    let statement = crate::statement::build(&state.store, &agency.code, day).await?;
    use axum::http::header::CONTENT_TYPE;
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => Json(statement).into_response(),
        "csv" => ([(CONTENT_TYPE, "text/csv; charset=utf-8")], statement.csv()).into_response(),
        "camt053" => ([(CONTENT_TYPE, "application/xml")], statement.camt053()).into_response(),
        other => {
            return Err(
                Error::Invalid(format!("format {other:?} is not json, csv or camt053")).into(),
            )
        }
    })
}
