//! The portal's citizen pages: find dues, pay several in one payment, see
//! the payment's outcome, keep a receipt and check one.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use tahseel_core::payer::PayerId;
use tahseel_core::payment::{Channel, Method, PaymentState};
use tahseel_core::Fils;
use uuid::Uuid;

use super::layout::{page, Ui};
use super::{field, form_fields, receipts, set_cookie, PageError, PageResult, LANG_COOKIE};
use crate::error::Error;
use crate::http::AppState;
use crate::hub::{LineRequest, Origin, PaymentRequest};
use crate::i18n::Lang;
use crate::store::{BillRecord, PaymentRecord};

/// Card methods the hub has an acquirer for, in the order offered.
pub(super) fn card_methods(state: &AppState) -> Vec<Method> {
    [Method::Debit, Method::Credit, Method::Wallet]
        .into_iter()
        .filter(|m| state.acquirers.for_method(*m).is_some())
        .collect()
}

pub async fn home(State(state): State<AppState>, ui: Ui) -> PageResult {
    let services = state
        .store
        .services(None)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let agencies = state
        .store
        .agencies()
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let body = html! {
        @if let Some(c) = &ui.citizen {
            p.notice { (ui.ta("signed-in-as", &[("name", c.name.clone().unwrap_or_default())])) " · " a href="/account" { (ui.t("nav-account")) } }
        } @else if state.portal.oidc.is_some() {
            p.notice { a href="/login?back=/account" { (ui.t("sign-in")) } " — " (ui.t("sign-in-why")) }
        }
        div.grid {
            section.card aria-labelledby="by-payer" {
                h2 id="by-payer" { (ui.t("lookup-by-payer")) }
                form method="get" action="/dues" {
                    label for="payer" { (ui.t("field-payer")) }
                    p.hint id="payer-hint" { (ui.t("field-payer-hint")) }
                    input id="payer" name="payer" inputmode="numeric" autocomplete="off" required aria-describedby="payer-hint" dir="ltr";
                    button type="submit" { (ui.t("action-find-dues")) }
                }
            }
            section.card aria-labelledby="by-reference" {
                h2 id="by-reference" { (ui.t("lookup-by-reference")) }
                form method="get" action="/bill" {
                    label for="agency" { (ui.t("field-agency")) }
                    select id="agency" name="agency" required {
                        @for a in &agencies {
                            option value=(a.code) { (ui.name(&a.name)) }
                        }
                    }
                    label for="reference" { (ui.t("field-reference")) }
                    input id="reference" name="reference" required autocomplete="off" dir="ltr";
                    button type="submit" { (ui.t("action-find-bill")) }
                }
            }
        }
        h2 { (ui.t("services-title")) }
        @for a in &agencies {
            section.card {
                h3 { (ui.name(&a.name)) }
                ul {
                    @for s in services.iter().filter(|s| s.agency == a.code) {
                        li { (ui.name(&s.name)) }
                    }
                }
            }
        }
    };
    Ok(page(&ui, &ui.t("home-title"), body).into_response())
}

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// Only a path on this site, never another host.
pub(super) fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b.to_owned(),
        _ => "/".to_owned(),
    }
}

pub async fn switch_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, LANG_COOKIE, lang.code(), Some(31_536_000), "Lax"),
        )],
        Redirect::to(&safe_back(q.back.as_deref())),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct PayerQuery {
    payer: String,
}

pub async fn dues_by_payer(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<PayerQuery>,
) -> PageResult {
    let payer = PayerId::parse(q.payer.trim())
        .map_err(|e| PageError::from_error(ui.lang, Error::from(e)))?;
    let bills = state
        .store
        .open_dues(&payer)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let body = html! {
        p { (ui.ta("dues-for", &[("payer", payer.to_string())])) }
        (basket(&ui, &state, &bills, "/pay"))
    };
    Ok(page(&ui, &ui.t("dues-title"), body).into_response())
}

#[derive(Deserialize)]
pub struct ReferenceQuery {
    agency: String,
    reference: String,
}

pub async fn bill_by_reference(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<ReferenceQuery>,
) -> PageResult {
    let bill = state
        .lookup_bill(q.agency.trim(), q.reference.trim(), None)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let bills = vec![bill];
    let body = basket(&ui, &state, &bills, "/pay");
    Ok(page(&ui, &ui.t("dues-title"), body).into_response())
}

/// The dues as a form: tick the ones to pay, choose how, pay. The form
/// carries a fresh idempotency key, so a double click pays once. Its id is
/// `basket`, for buttons placed outside it (the kiosk's).
pub(super) fn basket(ui: &Ui, state: &AppState, bills: &[BillRecord], action: &str) -> Markup {
    let payable: Vec<&BillRecord> = bills
        .iter()
        .filter(|b| b.amount_payable_now.is_positive())
        .collect();
    let total = Fils::sum(payable.iter().map(|b| b.amount_payable_now)).unwrap_or(Fils::ZERO);
    let methods = card_methods(state);
    html! {
        @if payable.is_empty() {
            p.notice { (ui.t("dues-none")) }
        } @else {
            form #basket method="post" action=(action) {
                input type="hidden" name="key" value=(Uuid::new_v4());
                table.stack {
                    caption.hint { (ui.t("dues-caption")) }
                    thead { tr {
                        th scope="col" { (ui.t("col-pay")) }
                        th scope="col" { (ui.t("col-service")) }
                        th scope="col" { (ui.t("col-due-date")) }
                        th.amount scope="col" { (ui.t("line-amount")) }
                    } }
                    tbody {
                        @for b in &payable {
                            tr {
                                td {
                                    input type="checkbox" name="bill" value=(b.id) id={ "bill-" (b.id) } checked;
                                    " "
                                    label for={ "bill-" (b.id) } style="display:inline" { span.ltr { (b.reference) } }
                                }
                                td { (ui.name(&b.agency_name)) " — " (ui.name(&b.service_name)) }
                                td { (b.due_date) }
                                td.amount { (ui.money(b.amount_payable_now)) }
                            }
                        }
                    }
                    tfoot { tr {
                        th scope="row" colspan="3" { (ui.t("col-total-listed")) }
                        td.amount.total { (ui.money(total)) }
                    } }
                }
                @if !ui.kiosk {
                    fieldset {
                        legend { (ui.t("field-method")) }
                        @for (i, m) in methods.iter().enumerate() {
                            label style="font-weight:400" {
                                input type="radio" name="method" value=(m.as_str()) checked[i == 0] style="width:auto";
                                " " (ui.t(&format!("method-{}", m.as_str())))
                            }
                        }
                    }
                    button type="submit" { (ui.t("action-pay")) }
                    p.hint { (ui.t("pay-hint")) }
                }
            }
        }
    }
}

/// The bills and method a basket form sent, priced from the hub's own
/// records (never from the form).
pub(super) async fn basket_lines(
    state: &AppState,
    lang: Lang,
    fields: &[(String, String)],
) -> Result<Vec<LineRequest>, PageError> {
    let mut lines = Vec::new();
    for (k, v) in fields {
        if k != "bill" {
            continue;
        }
        let id = Uuid::parse_str(v).map_err(|_| {
            PageError::new(
                lang,
                StatusCode::BAD_REQUEST,
                crate::i18n::t(lang, "error-basket", &[]),
            )
        })?;
        let bill = state
            .store
            .bill(id, None)
            .await
            .map_err(|e| PageError::from_error(lang, e))?;
        lines.push(LineRequest {
            bill_id: id,
            amount: bill.amount_payable_now,
        });
    }
    if lines.is_empty() {
        return Err(PageError::new(
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::i18n::t(lang, "error-basket-empty", &[]),
        ));
    }
    Ok(lines)
}

/// A basket form sent again (a double click, a reload): its payment, found
/// by the form's key before the bills are priced again, since a payment in
/// progress changes what they show as payable.
pub(super) async fn already_sent(
    state: &AppState,
    lang: Lang,
    fields: &[(String, String)],
) -> Result<Option<PaymentRecord>, PageError> {
    match field(fields, "key") {
        Some(key) if !key.is_empty() => state
            .store
            .payment_by_key(key)
            .await
            .map_err(|e| PageError::from_error(lang, e)),
        _ => Ok(None),
    }
}

pub async fn pay(State(state): State<AppState>, ui: Ui, body: Bytes) -> PageResult {
    let fields = form_fields(&body);
    if let Some(p) = already_sent(&state, ui.lang, &fields).await? {
        return Ok(to_acquirer_or_status(&p, "/payments"));
    }
    let lines = basket_lines(&state, ui.lang, &fields).await?;
    let method = field(&fields, "method")
        .and_then(Method::parse)
        .unwrap_or(Method::Debit);
    let key = field(&fields, "key").unwrap_or_default().to_owned();
    let request = PaymentRequest {
        channel: Channel::Portal,
        method,
        lines,
        return_url: None,
    };
    let payment = state
        .pay_from(&request, &key, &Origin::default())
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?
        .into_inner();
    Ok(to_acquirer_or_status(&payment, "/payments"))
}

/// After a (possibly replayed) payment: to the card page while it waits
/// for one, else to its status page under `status_base`.
pub(super) fn to_acquirer_or_status(payment: &PaymentRecord, status_base: &str) -> Response {
    match (&payment.state, &payment.next_url) {
        (PaymentState::Pending, Some(url)) if !url.is_empty() => Redirect::to(url).into_response(),
        _ => Redirect::to(&format!("{status_base}/{}", payment.id)).into_response(),
    }
}

pub async fn status(State(state): State<AppState>, mut ui: Ui, Path(id): Path<Uuid>) -> PageResult {
    let p = state
        .store
        .payment(id)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    if matches!(p.state, PaymentState::Created | PaymentState::Pending) {
        // The acquirer's answer is on its way: look again shortly.
        ui.refresh = Some((3, format!("/payments/{id}")));
    }
    let body = status_body(&ui, &state, &p, "/pay", &format!("/receipts/{id}"));
    Ok(page(&ui, &ui.t("status-title"), body).into_response())
}

/// What became of a payment, and what the payer can do next.
pub(super) fn status_body(
    ui: &Ui,
    state: &AppState,
    p: &PaymentRecord,
    retry_action: &str,
    receipt_href: &str,
) -> Markup {
    let state_text = ui.t(&format!("state-{}", p.state.as_str()));
    html! {
        @match p.state {
            PaymentState::Captured => {
                div.notice.ok role="status" {
                    p { strong { (ui.t("status-paid")) } }
                    p { (ui.ta("status-receipt-number", &[("number", p.receipt_number.clone().unwrap_or_default())])) }
                }
                p { a.button href=(receipt_href) { (ui.t("action-receipt")) } }
            }
            PaymentState::Created | PaymentState::Pending => {
                div.notice role="status" { p { (ui.t("status-waiting")) } }
                p { a.button.secondary href=(ui.here) { (ui.t("action-check-again")) } }
            }
            _ => {
                div.notice.error role="alert" {
                    p { strong { (state_text) } }
                    @if let Some(reason) = &p.failure_reason {
                        p { (crate::i18n::try_t(ui.lang, &format!("reason-{reason}"), &[]).unwrap_or_else(|| reason.clone())) }
                    }
                }
                form method="post" action=(retry_action) {
                    input type="hidden" name="key" value=(Uuid::new_v4());
                    @for l in &p.lines {
                        input type="hidden" name="bill" value=(l.bill_id);
                    }
                    @if ui.kiosk {
                        input type="hidden" name="method" value="card";
                    } @else {
                        label for="method" { (ui.t("field-method")) }
                        select id="method" name="method" {
                            @for m in card_methods(state) {
                                option value=(m.as_str()) selected[m == p.method] { (ui.t(&format!("method-{}", m.as_str()))) }
                            }
                        }
                    }
                    button type="submit" { (ui.t("action-try-again")) }
                }
            }
        }
        (lines_table(ui, p))
    }
}

fn lines_table(ui: &Ui, p: &PaymentRecord) -> Markup {
    html! {
        table.stack {
            thead { tr {
                th scope="col" { (ui.t("col-service")) }
                th scope="col" { (ui.t("col-reference")) }
                th.amount scope="col" { (ui.t("line-amount")) }
            } }
            tbody {
                @for l in &p.lines {
                    tr {
                        td { (ui.name(&l.agency_name)) " — " (ui.name(&l.service_name)) }
                        td { span.ltr { (l.reference) } }
                        td.amount { (ui.money(l.amount)) }
                    }
                }
                @if p.fee.is_positive() {
                    tr {
                        td colspan="2" { (ui.t("col-fee")) }
                        td.amount { (ui.money(p.fee)) }
                    }
                }
            }
            tfoot { tr {
                th scope="row" colspan="2" { (ui.t("col-total")) }
                td.amount.total { (ui.money(p.total)) }
            } }
        }
    }
}

pub async fn receipt(State(state): State<AppState>, ui: Ui, Path(id): Path<Uuid>) -> PageResult {
    let body = receipt_body(&ui, &state, id).await?;
    Ok(page(&ui, &ui.t("receipt-title"), body).into_response())
}

/// A captured payment's receipt, with the QR code that verifies it.
pub(super) async fn receipt_body(ui: &Ui, state: &AppState, id: Uuid) -> Result<Markup, PageError> {
    let p = state
        .store
        .payment(id)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let (Some(number), Some(paid_at), PaymentState::Captured) =
        (p.receipt_number.clone(), p.captured_at, p.state)
    else {
        return Err(PageError::new(
            ui.lang,
            StatusCode::CONFLICT,
            ui.t("error-no-receipt"),
        ));
    };
    let token = receipts::token(&state.store, p.id)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let verify_url = format!("{}/verify/{token}", state.public_url);
    let mut payers: Vec<&str> = p.lines.iter().map(|l| l.payer.as_str()).collect();
    payers.dedup();
    let method = match &p.card {
        Some(card) => format!(
            "{} ({} •••• {})",
            ui.t(&format!("method-{}", p.method.as_str())),
            card.brand,
            card.last4
        ),
        None => ui.t(&format!("method-{}", p.method.as_str())),
    };
    Ok(html! {
        article.receipt {
            dl {
                dt { (ui.t("receipt-number")) } dd { span.ltr { (number) } }
                dt { (ui.t("receipt-payer")) } dd { span.ltr { (payers.join(", ")) } }
                dt { (ui.t("receipt-paid-at")) } dd { span.ltr { (ui.time(paid_at)) } " " (ui.t("bahrain-time")) }
                dt { (ui.t("receipt-method")) } dd { (method) }
                dt { (ui.t("receipt-channel")) } dd { (ui.t(&format!("channel-{}", p.channel.as_str()))) }
                @if let Some(kiosk) = &p.kiosk {
                    dt { (ui.t("receipt-kiosk")) } dd { span.ltr { (kiosk) } }
                }
            }
            (lines_table(ui, &p))
            @if p.refunded.is_positive() {
                p.notice { (ui.ta("receipt-refunded", &[("amount", ui.money(p.refunded))])) }
            }
            div.qr {
                (PreEscaped(qr_markup(&verify_url, &ui.t("receipt-qr"))))
                p.hint { (ui.t("receipt-verify-hint")) br; a.ltr href=(verify_url) { (verify_url) } }
            }
            p.no-print {
                button type="button" onclick="window.print()" { (ui.t("action-print")) }
            }
        }
    })
}

/// The QR code as inline SVG, named for screen readers.
fn qr_markup(url: &str, label: &str) -> String {
    let svg = receipts::qr_svg(url);
    let start = svg.find("<svg").unwrap_or(0);
    let label = maud::html! { (label) }.into_string();
    svg[start..].replacen(
        "<svg",
        &format!("<svg role=\"img\" aria-label=\"{label}\""),
        1,
    )
}

pub async fn verify(
    State(state): State<AppState>,
    ui: Ui,
    Path(token): Path<String>,
) -> PageResult {
    let id = receipts::verify(&state.store, &token)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let payment = match id {
        Some(id) => state.store.payment(id).await.ok(),
        None => None,
    };
    let Some(p) = payment.filter(|p| p.state == PaymentState::Captured) else {
        let body = html! {
            div.notice.error role="alert" {
                p { strong { (ui.t("verify-bad")) } }
                p { (ui.t("verify-bad-hint")) }
            }
        };
        return Ok((
            StatusCode::NOT_FOUND,
            page(&ui, &ui.t("verify-title"), body),
        )
            .into_response());
    };
    let body = html! {
        div.notice.ok role="status" {
            p { strong { (ui.t("verify-good")) } }
        }
        dl.receipt {
            dt { (ui.t("receipt-number")) } dd { span.ltr { (p.receipt_number.clone().unwrap_or_default()) } }
            dt { (ui.t("receipt-paid-at")) } dd { span.ltr { (p.captured_at.map(|t| ui.time(t)).unwrap_or_default()) } }
            dt { (ui.t("col-total")) } dd { (ui.money(p.total)) }
            @if p.refunded.is_positive() {
                dt { (ui.t("receipt-refunded-label")) } dd { (ui.money(p.refunded)) }
            }
        }
        (lines_table(&ui, &p))
    };
    Ok(page(&ui, &ui.t("verify-title"), body).into_response())
}

/// A signed-in citizen's dues and past payments.
pub async fn account(State(state): State<AppState>, ui: Ui) -> PageResult {
    let Some(citizen) = &ui.citizen else {
        return Ok(Redirect::to("/login?back=/account").into_response());
    };
    let payer = citizen.payer.clone().unwrap_or_default();
    let dues = match PayerId::parse(&payer) {
        Ok(p) => state
            .store
            .open_dues(&p)
            .await
            .map_err(|e| PageError::from_error(ui.lang, e))?,
        Err(_) => vec![],
    };
    let search = crate::store::PaymentSearch {
        payer: Some(payer.clone()),
        ..Default::default()
    };
    let past = state
        .store
        .search_payments(&search, 50, None)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let body = html! {
        p { (ui.ta("signed-in-as", &[("name", citizen.name.clone().unwrap_or_default())])) " (" span.ltr { (payer) } ")" }
        form method="post" action="/logout" { button.secondary type="submit" { (ui.t("sign-out")) } }
        h2 { (ui.t("account-dues")) }
        (basket(&ui, &state, &dues, "/pay"))
        h2 { (ui.t("account-payments")) }
        @if past.is_empty() {
            p { (ui.t("account-no-payments")) }
        } @else {
            table.stack {
                thead { tr {
                    th scope="col" { (ui.t("col-date")) }
                    th scope="col" { (ui.t("col-service")) }
                    th scope="col" { (ui.t("col-reference")) }
                    th scope="col" { (ui.t("col-state")) }
                    th.amount scope="col" { (ui.t("line-amount")) }
                } }
                tbody {
                    @for l in &past {
                        tr {
                            td { span.ltr { (ui.time(l.created_at)) } }
                            td { (l.agency) " / " (l.service) }
                            td { span.ltr { (l.reference) } }
                            td {
                                @if l.state == "captured" {
                                    a href={ "/receipts/" (l.payment_id) } { (ui.t("state-captured")) }
                                } @else {
                                    a href={ "/payments/" (l.payment_id) } { (ui.t(&format!("state-{}", l.state))) }
                                }
                            }
                            td.amount { (ui.money(Fils::new(l.amount_fils))) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&ui, &ui.t("account-title"), body).into_response())
}
