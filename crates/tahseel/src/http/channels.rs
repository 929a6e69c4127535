//! Endpoints for the channels: the portal, the mobile apps and kiosks.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tahseel_core::agency::Names;
use tahseel_core::payer::PayerId;
use tahseel_core::payment::PaymentState;
use tahseel_core::time::to_local;
use tahseel_core::Fils;

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, IdPath, IdempotencyKey};
use super::AppState;
use crate::hub::PaymentRequest;
use crate::simulator::protocol::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::store::PaymentRecord;

pub async fn services(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({"services": state.store.services(None).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuesQuery {
    payer: String,
}

pub async fn dues_by_payer(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DuesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let payer = PayerId::parse(q.payer.trim()).map_err(crate::error::Error::from)?;
    let bills = state.store.open_dues(&payer).await?;
    let total =
        Fils::sum(bills.iter().map(|b| b.amount_outstanding)).map_err(crate::error::Error::from)?;
    Ok(Json(
        json!({"payer": payer, "total_outstanding": total, "bills": bills}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    /// The service, when the agency presents bills for several.
    service: Option<String>,
}

/// A bill by agency and reference; for services whose bills live in the
/// agency's own system, fetched from it (503 `agency_unavailable` when it
/// does not answer in time).
pub async fn due_by_reference(
    State(state): State<AppState>,
    Path((agency, reference)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<DueQuery>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        state
            .lookup_bill(&agency, &reference, q.service.as_deref())
            .await?,
    ))
}

/// 201 with the payment, `next_url` being the acquirer's card page. A
/// replay of the same key and body answers the same way, marked with
/// `Idempotent-Replayed: true`.
pub async fn create_payment(
    State(state): State<AppState>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(request): ApiJson<PaymentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let outcome = state.pay(&request, &key).await?;
    let replayed = if outcome.is_replay() { "true" } else { "false" };
    Ok((
        StatusCode::CREATED,
        [("idempotent-replayed", replayed)],
        Json(outcome.into_inner()),
    ))
}

pub async fn get_payment(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<Json<PaymentRecord>, ApiError> {
    Ok(Json(state.store.payment(id).await?))
}

#[derive(Serialize)]
struct Receipt {
    title: Names,
    receipt_number: String,
    payment_id: uuid::Uuid,
    payers: Vec<String>,
    lines: Vec<crate::store::LineRecord>,
    total: Fils,
    refunded: Fils,
    channel: tahseel_core::payment::Channel,
    method: tahseel_core::payment::Method,
    card: Option<crate::store::Card>,
    paid_at: chrono::DateTime<chrono::Utc>,
    /// The same instant in Bahrain time, as printed on the receipt.
    paid_at_local: String,
    /// The page that confirms the receipt is genuine (its QR code).
    verification_url: String,
}

pub async fn receipt(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    let p = state.store.payment(id).await?;
    let (Some(number), Some(paid_at), PaymentState::Captured) =
        (p.receipt_number.clone(), p.captured_at, p.state)
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "payment_not_captured",
            format!(
                "a receipt exists once a payment is captured; this one is {}",
                p.state
            ),
        ));
    };
    let mut payers: Vec<String> = p.lines.iter().map(|l| l.payer.clone()).collect();
    payers.dedup();
    let token = crate::portal::receipts::token(&state.store, p.id).await?;
    Ok(Json(Receipt {
        verification_url: format!("{}/verify/{token}", state.public_url),
        title: Names {
            en: "Payment receipt".into(),
            ar: "إيصال دفع".into(),
        },
        receipt_number: number,
        payment_id: p.id,
        payers,
        lines: p.lines,
        total: p.total,
        refunded: p.refunded,
        channel: p.channel,
        method: p.method,
        card: p.card,
        paid_at,
        paid_at_local: to_local(paid_at)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
    }))
}

/// Server-to-server notices from acquirers, signed over `timestamp.body`.
pub async fn acquirer_notice(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (payment_id, payment_state) = state
        .acquirer_notice(
            &name,
            &header(TIMESTAMP_HEADER),
            &header(SIGNATURE_HEADER),
            &body,
        )
        .await?;
    Ok(Json(
        json!({"payment_id": payment_id, "state": payment_state}),
    ))
}
