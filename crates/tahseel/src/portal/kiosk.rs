//! Kiosk screens. A kiosk is activated once with its key (kept in a
//! cookie on the device), and every payment made on it records the kiosk.
//! Each person's visit is a session in the database: it ends when they
//! finish, or when the screen sees no touch for the idle timeout, which
//! clears the screen (a page refresh, no script needed) and the session.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tahseel_core::payer::PayerId;
use tahseel_core::payment::{Channel, Method};
use tahseel_core::Fils;
use uuid::Uuid;

use super::citizen::{
    already_sent, basket, basket_lines, card_methods, receipt_body, status_body,
    to_acquirer_or_status,
};
use super::layout::{page, Ui};
use super::{cookie, field, form_fields, set_cookie, PageError, PageResult};
use crate::http::AppState;
use crate::hub::{Origin, PaymentRequest};
use crate::store::{Kiosk, NewSession, SessionKind, WebSession};

/// The device cookie: the kiosk's key.
const DEVICE_COOKIE: &str = "tahseel_kiosk";
/// The visit cookie: one person's session at the kiosk.
const VISIT_COOKIE: &str = "tahseel_visit";
/// How long after it starts a kiosk payment's result can be shown.
const RESULT_MINUTES: i64 = 15;

async fn device(state: &AppState, headers: &HeaderMap) -> Option<Kiosk> {
    let key = cookie(headers, DEVICE_COOKIE)?;
    state.store.kiosk_by_key(&key).await.ok().flatten()
}

/// The live visit, or `None` when there is none or it went idle.
async fn visit(state: &AppState, headers: &HeaderMap, kiosk: &Kiosk) -> Option<WebSession> {
    let token = cookie(headers, VISIT_COOKIE)?;
    // The screen clears itself after the idle time; the server ends a
    // visit not heard from for twice that (a payer still typing on the
    // page has not made a request yet).
    let idle = chrono::Duration::from_std(state.portal.kiosk_idle * 2).ok();
    let session = state
        .store
        .session(&token, SessionKind::KioskVisit, idle)
        .await
        .ok()
        .flatten()?;
    (session.kiosk.as_deref() == Some(kiosk.code.as_str())).then_some(session)
}

/// Sets the screen to clear itself after the idle timeout.
fn idle_refresh(ui: &mut Ui, state: &AppState) {
    ui.refresh = Some((
        state.portal.kiosk_idle.as_secs().max(1),
        "/kiosk/end".into(),
    ));
}

fn idle_note(ui: &Ui, state: &AppState) -> maud::Markup {
    html! {
        p.hint { (ui.ta("kiosk-idle-note", &[("seconds", state.portal.kiosk_idle.as_secs().to_string())])) }
    }
}

pub async fn start(State(state): State<AppState>, ui: Ui, headers: HeaderMap) -> PageResult {
    let Some(kiosk) = device(&state, &headers).await else {
        let body = html! {
            p.notice { (ui.t("kiosk-not-activated")) }
            form method="post" action="/kiosk/activate" {
                label for="key" { (ui.t("kiosk-key")) }
                input id="key" name="key" type="password" autocomplete="off" required dir="ltr";
                button type="submit" { (ui.t("kiosk-activate")) }
            }
        };
        return Ok(page(&ui, &ui.t("kiosk-title"), body).into_response());
    };
    let body = html! {
        p.hint { (ui.name(&kiosk.name)) " · " span.ltr { (kiosk.code) } }
        form method="post" action="/kiosk/visit" {
            label for="payer" { (ui.t("field-payer")) }
            p.hint id="payer-hint" { (ui.t("field-payer-hint")) }
            input id="payer" name="payer" inputmode="numeric" autocomplete="off" required aria-describedby="payer-hint" dir="ltr";
            button type="submit" { (ui.t("action-find-dues")) }
        }
    };
    Ok(page(&ui, &ui.t("kiosk-welcome"), body).into_response())
}

pub async fn activate(State(state): State<AppState>, ui: Ui, body: Bytes) -> PageResult {
    let fields = form_fields(&body);
    let key = field(&fields, "key").unwrap_or_default().trim().to_owned();
    match state.store.kiosk_by_key(&key).await {
        Ok(Some(_)) => Ok((
            [(
                header::SET_COOKIE,
                // A year: the device keeps its identity until revoked.
                set_cookie(&state, DEVICE_COOKIE, &key, Some(31_536_000), "Lax"),
            )],
            Redirect::to("/kiosk"),
        )
            .into_response()),
        Ok(None) => Err(PageError::new(
            ui.lang,
            StatusCode::UNAUTHORIZED,
            ui.t("kiosk-bad-key"),
        )),
        Err(e) => Err(PageError::from_error(ui.lang, e)),
    }
}

pub async fn begin_visit(
    State(state): State<AppState>,
    ui: Ui,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let Some(kiosk) = device(&state, &headers).await else {
        return Ok(Redirect::to("/kiosk").into_response());
    };
    let fields = form_fields(&body);
    let payer = PayerId::parse(field(&fields, "payer").unwrap_or_default().trim())
        .map_err(|e| PageError::from_error(ui.lang, e.into()))?;
    let token = state
        .store
        .start_session(NewSession {
            kind: SessionKind::KioskVisit,
            payer: Some(&payer.to_string()),
            name: None,
            kiosk: Some(&kiosk.code),
            lifetime: chrono::Duration::minutes(30),
        })
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, VISIT_COOKIE, &token, None, "Lax"),
        )],
        Redirect::to("/kiosk/dues"),
    )
        .into_response())
}

pub async fn dues(State(state): State<AppState>, mut ui: Ui, headers: HeaderMap) -> PageResult {
    let Some(kiosk) = device(&state, &headers).await else {
        return Ok(Redirect::to("/kiosk").into_response());
    };
    let Some(session) = visit(&state, &headers, &kiosk).await else {
        return Ok(Redirect::to("/kiosk").into_response());
    };
    let payer = PayerId::parse(session.payer.as_deref().unwrap_or_default())
        .map_err(|e| PageError::from_error(ui.lang, e.into()))?;
    let bills = state
        .store
        .open_dues(&payer)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    idle_refresh(&mut ui, &state);
    let has_card = !card_methods(&state).is_empty();
    let form = basket(&ui, &state, &bills, "/kiosk/pay");
    let body = html! {
        p { (ui.ta("dues-for", &[("payer", payer.to_string())])) }
        (form)
        @if bills.iter().any(|b| b.amount_payable_now.is_positive()) {
            // The basket form's buttons, outside it.
            div.grid {
                @if has_card {
                    button type="submit" form="basket" name="method" value="card" { (ui.t("kiosk-pay-card")) }
                }
                div {
                    label for="cash" { (ui.t("kiosk-cash-inserted")) }
                    p.hint id="cash-hint" { (ui.t("kiosk-cash-hint")) }
                    input id="cash" name="cash" form="basket" inputmode="decimal" dir="ltr" aria-describedby="cash-hint";
                    button type="submit" form="basket" name="method" value="cash" { (ui.t("kiosk-pay-cash")) }
                }
            }
        }
        p { a.button.secondary href="/kiosk/end" { (ui.t("kiosk-finish")) } }
        (idle_note(&ui, &state))
    };
    Ok(page(&ui, &ui.t("dues-title"), body).into_response())
}

pub async fn pay(
    State(state): State<AppState>,
    ui: Ui,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let Some(kiosk) = device(&state, &headers).await else {
        return Ok(Redirect::to("/kiosk").into_response());
    };
    if visit(&state, &headers, &kiosk).await.is_none() {
        return Ok(Redirect::to("/kiosk").into_response());
    }
    let fields = form_fields(&body);
    if let Some(p) = already_sent(&state, ui.lang, &fields).await? {
        if p.kiosk.as_deref() == Some(kiosk.code.as_str()) {
            return Ok(to_acquirer_or_status(&p, "/kiosk/payments"));
        }
    }
    let lines = basket_lines(&state, ui.lang, &fields).await?;
    let key = field(&fields, "key").unwrap_or_default().to_owned();
    if field(&fields, "method") == Some("cash") {
        let total = Fils::sum(lines.iter().map(|l| l.amount))
            .map_err(|e| PageError::from_error(ui.lang, e.into()))?;
        let inserted =
            Fils::parse(field(&fields, "cash").unwrap_or_default().trim()).map_err(|_| {
                PageError::new(
                    ui.lang,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ui.t("kiosk-cash-invalid"),
                )
            })?;
        if inserted < total {
            return Err(PageError::new(
                ui.lang,
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.ta("kiosk-cash-short", &[("amount", ui.money(total))]),
            ));
        }
        let payment = state
            .pay_cash(&kiosk.code, &lines, &key)
            .await
            .map_err(|e| PageError::from_error(ui.lang, e))?
            .into_inner();
        let change = inserted.checked_sub(total).unwrap_or(Fils::ZERO);
        return Ok(
            Redirect::to(&format!("/kiosk/payments/{}?change={change}", payment.id))
                .into_response(),
        );
    }
    let method = card_methods(&state)
        .first()
        .copied()
        .unwrap_or(Method::Debit);
    let request = PaymentRequest {
        channel: Channel::Kiosk,
        method,
        lines,
        return_url: None,
    };
    let origin = Origin {
        kiosk: Some(kiosk.code.clone()),
        return_url: Some(format!("{}/kiosk/return", state.public_url)),
    };
    let payment = state
        .pay_from(&request, &key, &origin)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?
        .into_inner();
    Ok(to_acquirer_or_status(&payment, "/kiosk/payments"))
}

#[derive(Deserialize)]
pub struct ReturnQuery {
    payment_id: Uuid,
}

/// The acquirer's card page sends the payer back here.
pub async fn card_return(Query(q): Query<ReturnQuery>) -> Response {
    Redirect::to(&format!("/kiosk/payments/{}", q.payment_id)).into_response()
}

#[derive(Deserialize)]
pub struct PaymentQuery {
    change: Option<String>,
}

pub async fn payment(
    State(state): State<AppState>,
    mut ui: Ui,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<PaymentQuery>,
) -> PageResult {
    let Some(kiosk) = device(&state, &headers).await else {
        return Ok(Redirect::to("/kiosk").into_response());
    };
    let p = state
        .store
        .payment(id)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    if p.kiosk.as_deref() != Some(kiosk.code.as_str()) {
        return Err(PageError::new(
            ui.lang,
            StatusCode::NOT_FOUND,
            ui.t("error-not_found"),
        ));
    }
    // Entering a card on the acquirer's page may take longer than the idle
    // timeout; the payer coming back still sees their fresh payment.
    let fresh = chrono::Utc::now() - p.created_at < chrono::Duration::minutes(RESULT_MINUTES);
    if visit(&state, &headers, &kiosk).await.is_none() && !fresh {
        return Ok(Redirect::to("/kiosk").into_response());
    }
    idle_refresh(&mut ui, &state);
    let change = q
        .change
        .as_deref()
        .and_then(|c| Fils::parse(c).ok())
        .filter(|c| c.is_positive());
    let body = if p.state == tahseel_core::payment::PaymentState::Captured {
        let receipt = receipt_body(&ui, &state, id).await?;
        html! {
            div.notice.ok role="status" { p { strong { (ui.t("status-paid")) } } }
            @if let Some(change) = change {
                p.notice { (ui.ta("kiosk-change", &[("amount", ui.money(change))])) }
            }
            (receipt)
            p { a.button href="/kiosk/end" { (ui.t("kiosk-finish")) } }
            (idle_note(&ui, &state))
        }
    } else {
        let status = status_body(&ui, &state, &p, "/kiosk/pay", "#");
        html! {
            (status)
            p { a.button.secondary href="/kiosk/end" { (ui.t("kiosk-finish")) } }
            (idle_note(&ui, &state))
        }
    };
    Ok(page(&ui, &ui.t("status-title"), body).into_response())
}

/// Ends the visit and clears the screen.
pub async fn end(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, VISIT_COOKIE) {
        if let Err(e) = state.store.end_session(&token).await {
            tracing::warn!(error = %e, "could not end a kiosk visit");
        }
    }
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, VISIT_COOKIE, "", Some(0), "Lax"),
        )],
        Redirect::to("/kiosk"),
    )
        .into_response()
}
