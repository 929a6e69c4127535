//! The admin area: agencies, services, kiosks and API keys, and payment
//! search with a CSV export that streams every matching line, however many.
//! Operators sign in with an admin API key; the session cookie is
//! `SameSite=Strict`, so other sites cannot post these forms.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use tahseel_core::agency::{parse_iban, AgencyCode, Names, ServiceCode, ServiceKind, ServiceTerms};
use tahseel_core::time::to_local;
use tahseel_core::Fils;
use uuid::Uuid;

use super::layout::{page, Ui};
use super::{cookie, field, form_fields, set_cookie, PageError, PageResult};
use crate::http::AppState;
use crate::store::{
    receipt_number, FoundLine, NewAgency, NewService, NewSession, PaymentSearch, Principal,
    SessionKind,
};

const ADMIN_COOKIE: &str = "tahseel_admin";
/// Lines per page of search results, and per round trip of an export.
const PAGE_LINES: u32 = 100;
const EXPORT_CHUNK: u32 = 2_000;

async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = cookie(headers, ADMIN_COOKIE) else {
        return false;
    };
    let idle = Some(chrono::Duration::minutes(30));
    matches!(
        state.store.session(&token, SessionKind::Admin, idle).await,
        Ok(Some(_))
    )
}

fn to_home() -> Response {
    Redirect::to("/admin").into_response()
}

/// An operator signed in to the admin area; any other request is sent to
/// its sign-in page.
pub struct AdminSession;

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if signed_in(state, &parts.headers).await {
            Ok(AdminSession)
        } else {
            Err(to_home())
        }
    }
}

fn fail(ui: &Ui, e: crate::error::Error) -> PageError {
    PageError::from_error(ui.lang, e)
}

pub async fn home(State(state): State<AppState>, ui: Ui, headers: HeaderMap) -> PageResult {
    if !signed_in(&state, &headers).await {
        let body = html! {
            form method="post" action="/admin/login" {
                label for="key" { (ui.t("admin-key")) }
                input id="key" name="key" type="password" autocomplete="off" required dir="ltr";
                button type="submit" { (ui.t("sign-in")) }
            }
        };
        return Ok(page(&ui, &ui.t("admin-title"), body).into_response());
    }
    let body = overview(&ui, &state, None).await?;
    Ok(page(&ui, &ui.t("admin-title"), body).into_response())
}

/// Everything the admin manages, with `shown` (a key shown once) on top.
async fn overview(ui: &Ui, state: &AppState, shown: Option<Markup>) -> Result<Markup, PageError> {
    let agencies = state.store.agencies().await.map_err(|e| fail(ui, e))?;
    let services = state.store.services(None).await.map_err(|e| fail(ui, e))?;
    let kiosks = state.store.kiosks().await.map_err(|e| fail(ui, e))?;
    let keys = state.store.api_keys().await.map_err(|e| fail(ui, e))?;
    Ok(html! {
        @if let Some(shown) = shown { (shown) }
        p {
            a.button href="/admin/payments" { (ui.t("admin-payments")) }
            " "
            form method="post" action="/admin/logout" style="display:inline" {
                button.secondary type="submit" { (ui.t("sign-out")) }
            }
        }
        h2 id="agencies" { (ui.t("admin-agencies")) }
        table {
            thead { tr { th scope="col" { (ui.t("col-code")) } th scope="col" { (ui.t("col-name")) } th scope="col" { "IBAN" } } }
            tbody { @for a in &agencies { tr { td.ltr { (a.code) } td { (ui.name(&a.name)) } td.ltr { (a.iban.clone().unwrap_or_default()) } } } }
        }
        details {
            summary { (ui.t("admin-add-agency")) }
            form method="post" action="/admin/agencies" {
                label for="a-code" { (ui.t("col-code")) }
                input id="a-code" name="code" required dir="ltr";
                label for="a-en" { (ui.t("field-name-en")) }
                input id="a-en" name="name_en" required dir="ltr";
                label for="a-ar" { (ui.t("field-name-ar")) }
                input id="a-ar" name="name_ar" required dir="rtl";
                label for="a-iban" { "IBAN" }
                input id="a-iban" name="iban" dir="ltr";
                button type="submit" { (ui.t("action-add")) }
            }
        }
        h2 id="services" { (ui.t("admin-services")) }
        table {
            thead { tr { th scope="col" { (ui.t("field-agency")) } th scope="col" { (ui.t("col-code")) } th scope="col" { (ui.t("col-name")) } } }
            tbody { @for s in &services { tr { td.ltr { (s.agency) } td.ltr { (s.code) } td { (ui.name(&s.name)) } } } }
        }
        details {
            summary { (ui.t("admin-add-service")) }
            form method="post" action="/admin/services" {
                label for="s-agency-code" { (ui.t("field-agency")) }
                select id="s-agency-code" name="agency" required {
                    @for a in &agencies { option value=(a.code) { (a.code) " — " (ui.name(&a.name)) } }
                }
                label for="s-code" { (ui.t("col-code")) }
                input id="s-code" name="code" required dir="ltr" placeholder="licence-renewal";
                label for="s-en" { (ui.t("field-name-en")) }
                input id="s-en" name="name_en" required dir="ltr";
                label for="s-ar" { (ui.t("field-name-ar")) }
                input id="s-ar" name="name_ar" required dir="rtl";
                label for="s-kind" { (ui.t("admin-service-kind")) }
                select id="s-kind" name="kind" {
                    option value="bill" { (ui.t("admin-service-bill")) }
                    option value="fee" { (ui.t("admin-service-fee")) }
                }
                label for="s-fee" { (ui.t("admin-service-fee-amount")) }
                input id="s-fee" name="fee" inputmode="decimal" dir="ltr" placeholder="25.000";
                label style="font-weight:400" {
                    input type="checkbox" name="partial" value="yes";
                    " " (ui.t("admin-service-partial"))
                }
                button type="submit" { (ui.t("action-add")) }
            }
        }
        h2 id="kiosks" { (ui.t("admin-kiosks")) }
        table {
            thead { tr { th scope="col" { (ui.t("col-code")) } th scope="col" { (ui.t("col-name")) } th scope="col" { (ui.t("col-state")) } th scope="col" { span.sr { (ui.t("col-actions")) } } } }
            tbody {
                @for k in &kiosks {
                    tr {
                        td.ltr { (k.code) }
                        td { (ui.name(&k.name)) }
                        (revocable(ui, k.revoked_at.is_some(), &format!("/admin/kiosks/{}/revoke", k.code), &k.code))
                    }
                }
            }
        }
        details {
            summary { (ui.t("admin-add-kiosk")) }
            form method="post" action="/admin/kiosks" {
                label for="k-code" { (ui.t("col-code")) }
                input id="k-code" name="code" required dir="ltr" placeholder="MUH-01";
                label for="k-en" { (ui.t("field-name-en")) }
                input id="k-en" name="name_en" required dir="ltr";
                label for="k-ar" { (ui.t("field-name-ar")) }
                input id="k-ar" name="name_ar" required dir="rtl";
                button type="submit" { (ui.t("action-add")) }
            }
        }
        h2 id="keys" { (ui.t("admin-keys")) }
        table {
            thead { tr { th scope="col" { (ui.t("admin-key-prefix")) } th scope="col" { (ui.t("admin-key-role")) } th scope="col" { (ui.t("col-date")) } th scope="col" { (ui.t("col-state")) } th scope="col" { span.sr { (ui.t("col-actions")) } } } }
            tbody {
                @for k in &keys {
                    tr {
                        td.ltr { (k.prefix) "…" }
                        td.ltr { (k.role) @if let Some(a) = &k.agency { " " (a) } }
                        td.ltr { (ui.time(k.created_at)) }
                        (revocable(ui, k.revoked_at.is_some(), &format!("/admin/keys/{}/revoke", k.id), &k.prefix))
                    }
                }
            }
        }
        details {
            summary { (ui.t("admin-add-key")) }
            form method="post" action="/admin/keys" {
                label for="key-agency" { (ui.t("field-agency")) }
                select id="key-agency" name="agency" {
                    option value="" { (ui.t("admin-key-admin")) }
                    @for a in &agencies { option value=(a.code) { (a.code) " — " (ui.name(&a.name)) } }
                }
                button type="submit" { (ui.t("action-add")) }
            }
        }
    })
}

/// A secret shown once, with the warning that it will not be shown again.
/// A kiosk's or key's state cell, and a revoke button while it is active.
fn revocable(ui: &Ui, revoked: bool, revoke_path: &str, name: &str) -> Markup {
    html! {
        td { @if revoked { (ui.t("admin-revoked")) } @else { (ui.t("admin-active")) } }
        td { @if !revoked {
            form method="post" action=(revoke_path) {
                button.secondary type="submit" aria-label={ (ui.t("action-revoke")) " " (name) } { (ui.t("action-revoke")) }
            }
        } }
    }
}

fn shown_once(ui: &Ui, what: &str, secret: &str) -> Markup {
    html! {
        div.notice.ok role="status" {
            p { strong { (what) } }
            p { code.ltr { (secret) } }
            p { (ui.t("admin-shown-once")) }
        }
    }
}

pub async fn login(State(state): State<AppState>, ui: Ui, body: Bytes) -> PageResult {
    let fields = form_fields(&body);
    let key = field(&fields, "key").unwrap_or_default().trim();
    match state
        .store
        .authenticate(key)
        .await
        .map_err(|e| fail(&ui, e))?
    {
        Some(Principal::Admin) => {}
        _ => {
            return Err(PageError::new(
                ui.lang,
                StatusCode::UNAUTHORIZED,
                ui.t("admin-bad-key"),
            ))
        }
    }
    let token = state
        .store
        .start_session(NewSession {
            kind: SessionKind::Admin,
            payer: None,
            name: None,
            kiosk: None,
            lifetime: chrono::Duration::hours(8),
        })
        .await
        .map_err(|e| fail(&ui, e))?;
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, ADMIN_COOKIE, &token, None, "Strict"),
        )],
        Redirect::to("/admin"),
    )
        .into_response())
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, ADMIN_COOKIE) {
        if let Err(e) = state.store.end_session(&token).await {
            tracing::warn!(error = %e, "could not end an admin session");
        }
    }
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, ADMIN_COOKIE, "", Some(0), "Strict"),
        )],
        Redirect::to("/admin"),
    )
        .into_response()
}

pub async fn add_agency(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    body: Bytes,
) -> PageResult {
    let fields = form_fields(&body);
    let get = |k: &str| field(&fields, k).unwrap_or_default().trim().to_owned();
    let iban = match get("iban") {
        s if s.is_empty() => None,
        s => Some(parse_iban(&s).map_err(|e| fail(&ui, e.into()))?),
    };
    let name = Names {
        en: get("name_en"),
        ar: get("name_ar"),
    };
    if name.en.is_empty() || name.ar.is_empty() {
        return Err(PageError::new(
            ui.lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            ui.t("error-names"),
        ));
    }
    state
        .store
        .add_agency(NewAgency {
            code: AgencyCode::parse(&get("code")).map_err(|e| fail(&ui, e.into()))?,
            name,
            iban,
        })
        .await
        .map_err(|e| fail(&ui, e))?;
    Ok(Redirect::to("/admin#agencies").into_response())
}

pub async fn add_service(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    body: Bytes,
) -> PageResult {
    let fields = form_fields(&body);
    let get = |k: &str| field(&fields, k).unwrap_or_default().trim().to_owned();
    let kind = if get("kind") == "fee" {
        ServiceKind::Fee
    } else {
        ServiceKind::Bill
    };
    let fee = match get("fee") {
        f if f.is_empty() => None,
        f => Some(Fils::parse_amount(&f).map_err(|e| fail(&ui, e.into()))?),
    };
    let name = Names {
        en: get("name_en"),
        ar: get("name_ar"),
    };
    if name.en.is_empty() || name.ar.is_empty() {
        return Err(PageError::new(
            ui.lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            ui.t("error-names"),
        ));
    }
    state
        .store
        .add_service(NewService {
            agency: AgencyCode::parse(&get("agency")).map_err(|e| fail(&ui, e.into()))?,
            code: ServiceCode::parse(&get("code")).map_err(|e| fail(&ui, e.into()))?,
            name,
            terms: ServiceTerms::new(kind, fee, get("partial") == "yes")
                .map_err(|e| fail(&ui, e.into()))?,
        })
        .await
        .map_err(|e| fail(&ui, e))?;
    Ok(Redirect::to("/admin#services").into_response())
}

pub async fn add_kiosk(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    body: Bytes,
) -> PageResult {
    let fields = form_fields(&body);
    let get = |k: &str| field(&fields, k).unwrap_or_default().trim().to_owned();
    let (kiosk, key) = state
        .store
        .add_kiosk(
            &get("code"),
            Names {
                en: get("name_en"),
                ar: get("name_ar"),
            },
        )
        .await
        .map_err(|e| fail(&ui, e))?;
    let shown = shown_once(
        &ui,
        &ui.ta("admin-kiosk-key", &[("kiosk", kiosk.code)]),
        &key,
    );
    let body = overview(&ui, &state, Some(shown)).await?;
    Ok(page(&ui, &ui.t("admin-title"), body).into_response())
}

pub async fn revoke_kiosk(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    Path(code): Path<String>,
) -> PageResult {
    state
        .store
        .revoke_kiosk(&code)
        .await
        .map_err(|e| fail(&ui, e))?;
    Ok(Redirect::to("/admin#kiosks").into_response())
}

pub async fn add_key(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    body: Bytes,
) -> PageResult {
    let fields = form_fields(&body);
    let agency = field(&fields, "agency")
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let (record, key) = state
        .store
        .create_api_key(agency)
        .await
        .map_err(|e| fail(&ui, e))?;
    let shown = shown_once(
        &ui,
        &ui.ta("admin-new-key", &[("role", record.role.clone())]),
        &key,
    );
    let body = overview(&ui, &state, Some(shown)).await?;
    Ok(page(&ui, &ui.t("admin-title"), body).into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    Path(id): Path<Uuid>,
) -> PageResult {
    state
        .store
        .revoke_api_key(id)
        .await
        .map_err(|e| fail(&ui, e))?;
    Ok(Redirect::to("/admin#keys").into_response())
}

#[derive(serde::Deserialize)]
pub struct SearchQuery {
    #[serde(flatten)]
    search: PaymentSearch,
    after: Option<String>,
}

fn parse_cursor(after: Option<&str>) -> Option<(Uuid, i32)> {
    let (id, line) = after?.split_once(':')?;
    Some((Uuid::parse_str(id).ok()?, line.parse().ok()?))
}

fn search_query_string(q: &PaymentSearch) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let pairs = [
        ("agency", q.agency.clone()),
        ("state", q.state.clone()),
        ("channel", q.channel.clone()),
        ("method", q.method.clone()),
        ("kiosk", q.kiosk.clone()),
        ("reference", q.reference.clone()),
        ("payer", q.payer.clone()),
        ("from", q.from.map(|d| d.to_string())),
        ("to", q.to.map(|d| d.to_string())),
    ];
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            s.append_pair(k, &v);
        }
    }
    s.finish()
}

pub async fn payments(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let after = parse_cursor(q.after.as_deref());
    let found = state
        .store
        .search_payments(&q.search, PAGE_LINES, after)
        .await
        .map_err(|e| fail(&ui, e))?;
    let qs = search_query_string(&q.search);
    let s = &q.search;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        p { a href="/admin" { (ui.t("admin-title")) } }
        form method="get" action="/admin/payments" {
            div.grid {
                div { label for="s-agency" { (ui.t("field-agency")) } input id="s-agency" name="agency" value=(text(&s.agency)) dir="ltr"; }
                div { label for="s-reference" { (ui.t("field-reference")) } input id="s-reference" name="reference" value=(text(&s.reference)) dir="ltr"; }
                div { label for="s-payer" { (ui.t("field-payer")) } input id="s-payer" name="payer" value=(text(&s.payer)) dir="ltr"; }
                div { label for="s-state" { (ui.t("col-state")) } input id="s-state" name="state" value=(text(&s.state)) dir="ltr" placeholder="captured"; }
                div { label for="s-channel" { (ui.t("receipt-channel")) } input id="s-channel" name="channel" value=(text(&s.channel)) dir="ltr" placeholder="portal"; }
                div { label for="s-kiosk" { (ui.t("receipt-kiosk")) } input id="s-kiosk" name="kiosk" value=(text(&s.kiosk)) dir="ltr"; }
                div { label for="s-from" { (ui.t("field-from")) } input id="s-from" name="from" type="date" value=(s.from.map(|d| d.to_string()).unwrap_or_default()); }
                div { label for="s-to" { (ui.t("field-to")) } input id="s-to" name="to" type="date" value=(s.to.map(|d| d.to_string()).unwrap_or_default()); }
            }
            button type="submit" { (ui.t("action-search")) }
            " "
            a.button.secondary href={ "/admin/payments.csv?" (qs) } { (ui.t("action-export-csv")) }
        }
        table {
            thead { tr {
                th scope="col" { (ui.t("col-date")) }
                th scope="col" { (ui.t("receipt-number")) }
                th scope="col" { (ui.t("field-agency")) }
                th scope="col" { (ui.t("col-reference")) }
                th scope="col" { (ui.t("field-payer")) }
                th scope="col" { (ui.t("receipt-channel")) }
                th scope="col" { (ui.t("col-state")) }
                th.amount scope="col" { (ui.t("line-amount")) }
            } }
            tbody {
                @for l in &found {
                    tr {
                        td.ltr { (ui.time(l.created_at)) }
                        td.ltr { (l.receipt_no.map(receipt_number).unwrap_or_default()) }
                        td.ltr { (l.agency) "/" (l.service) }
                        td.ltr { (l.reference) }
                        td.ltr { (l.payer) }
                        td { (l.channel) @if let Some(k) = &l.kiosk { " " span.ltr { (k) } } " · " (l.method) }
                        td { (ui.t(&format!("state-{}", l.state))) }
                        td.amount { (ui.money(Fils::new(l.amount_fils))) }
                    }
                }
            }
        }
        @if found.len() as u32 == PAGE_LINES {
            @let last = found.last().expect("a full page");
            p { a.button.secondary href={ "/admin/payments?" (qs) "&after=" (last.payment_id) ":" (last.line_no) } { (ui.t("action-next-page")) } }
        }
    };
    Ok(page(&ui, &ui.t("admin-payments"), body).into_response())
}

fn csv_rows(lines: &[FoundLine], header: bool) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    if header {
        w.write_record([
            "payment_id",
            "line",
            "receipt_number",
            "created_at",
            "created_at_bahrain",
            "captured_at",
            "state",
            "channel",
            "method",
            "kiosk",
            "agency",
            "service",
            "reference",
            "payer",
            "amount",
            "payment_total",
        ])
        .expect("writes to memory");
    }
    for l in lines {
        w.write_record([
            l.payment_id.to_string(),
            l.line_no.to_string(),
            l.receipt_no.map(receipt_number).unwrap_or_default(),
            l.created_at.to_rfc3339(),
            to_local(l.created_at).to_rfc3339(),
            l.captured_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            l.state.clone(),
            l.channel.clone(),
            l.method.clone(),
            l.kiosk.clone().unwrap_or_default(),
            l.agency.clone(),
            l.service.clone(),
            l.reference.clone(),
            l.payer.clone(),
            Fils::new(l.amount_fils).to_string(),
            Fils::new(l.total_fils).to_string(),
        ])
        .expect("writes to memory");
    }
    Bytes::from(w.into_inner().expect("flushes to memory"))
}

/// Every matching payment line as CSV, streamed in chunks read page by
/// page, so memory stays flat however large the agency.
pub async fn payments_csv(
    State(state): State<AppState>,
    ui: Ui,
    _: AdminSession,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    // A bad filter is reported before the download starts.
    let first = state
        .store
        .search_payments(&q.search, EXPORT_CHUNK, None)
        .await
        .map_err(|e| fail(&ui, e))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = state.store.clone();
    let search = q.search.clone();
    tokio::spawn(async move {
        let mut chunk = first;
        let mut header = true;
        loop {
            let full = chunk.len() as u32 == EXPORT_CHUNK;
            let next = chunk.last().map(|l| (l.payment_id, l.line_no));
            if tx.send(Ok(csv_rows(&chunk, header))).await.is_err() {
                return; // the client went away
            }
            header = false;
            if !full {
                return;
            }
            chunk = match store.search_payments(&search, EXPORT_CHUNK, next).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "payment export stopped");
                    let _ = tx.send(Err(std::io::Error::other("export stopped"))).await;
                    return;
                }
            };
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"payments.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
