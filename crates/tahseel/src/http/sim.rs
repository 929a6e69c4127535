//! The simulated acquirer's hosted card page. It belongs to the acquirer,
//! not to Tahseel: the card number posted here is used to decide the
//! outcome and is dropped; only the brand and last four digits go into the
//! signed notice.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use tahseel_core::Fils;

use super::AppState;
use crate::acquirer::sim::{decide, SessionToken, NAME};

pub fn routes() -> Router<AppState> {
    Router::new().route("/pay/{token}", get(card_page).post(submit_card))
}

#[derive(Deserialize)]
pub struct CardForm {
    card_number: String,
    expiry: String,
    cvv: String,
}

fn page(token: &SessionToken, sealed: &str, error: Option<&str>) -> Html<String> {
    let amount = Fils::new(token.amount_fils);
    let error = error
        .map(|e| format!(r#"<p role="alert" class="error">{e}</p>"#))
        .unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Card payment — Simulated acquirer</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}label{{display:block;margin-top:1rem}}input{{font-size:1.1rem;width:100%;padding:.4rem}}button{{margin-top:1.5rem;font-size:1.1rem;padding:.6rem 1.2rem}}.error{{color:#a00}}</style>
</head><body>
<h1>Simulated acquirer</h1>
<p>Amount: <strong>BHD {amount}</strong> · <span lang="ar" dir="rtl">المبلغ: {amount} د.ب</span></p>
{error}
<form method="post" action="/sim/acquirer/pay/{sealed}">
<label for="card_number">Card number · رقم البطاقة</label><input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" required>
<label for="expiry">Expiry (MM/YY) · تاريخ الانتهاء</label><input id="expiry" name="expiry" autocomplete="cc-exp" placeholder="12/30" required>
<label for="cvv">Security code · رمز الأمان</label><input id="cvv" name="cvv" inputmode="numeric" autocomplete="cc-csc" required>
<button type="submit">Pay BHD {amount} · ادفع</button>
</form></body></html>"#
    ))
}

fn sim(state: &AppState) -> Option<&crate::acquirer::sim::SimAcquirer> {
    state.sim.as_deref()
}

fn expired() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><p>This payment session is not valid.</p>".to_owned()),
    )
        .into_response()
}

async fn card_page(State(state): State<AppState>, Path(sealed): Path<String>) -> Response {
    match sim(&state).and_then(|s| s.open(&sealed)) {
        Some(token) => page(&token, &sealed, None).into_response(),
        None => expired(),
    }
}

async fn submit_card(
    State(state): State<AppState>,
    Path(sealed): Path<String>,
    Form(form): Form<CardForm>,
) -> Response {
    let Some(sim) = sim(&state) else {
        return expired();
    };
    let Some(token) = sim.open(&sealed) else {
        return expired();
    };
    let now = Utc::now();
    let decision = match decide(&form.card_number, &form.expiry, &form.cvv, now) {
        Ok(d) => d,
        Err(message) => {
            return (
                StatusCode::BAD_REQUEST,
                page(&token, &sealed, Some(message)),
            )
                .into_response()
        }
    };
    let (timestamp, signature, body) = sim.notice_for(&token, &decision, now);
    // Delivered in process; the notice is still signed and verified the
    // same way as one arriving at /api/v1/acquirers/sim/notices.
    if let Err(e) = state
        .acquirer_notice(NAME, &timestamp, &signature, &body)
        .await
    {
        tracing::warn!(payment = %token.payment_id, error = %e, "simulated notice not applied");
    }
    Redirect::to(&token.return_url).into_response()
}
