//! Administrator endpoints: agencies, services, API keys and the ledger.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tahseel_core::agency::{parse_iban, AgencyCode, Names, ServiceCode, ServiceKind, ServiceTerms};
use tahseel_core::Fils;

use super::error::ApiError;
use super::extract::{AdminAuth, ApiJson, ApiQuery, IdPath};
use super::AppState;
use crate::error::Error;
use crate::store::{NewAgency, NewService};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddAgency {
    code: String,
    name_en: String,
    name_ar: String,
    #[serde(default)]
    iban: Option<String>,
}

pub async fn add_agency(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiJson(b): ApiJson<AddAgency>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewAgency {
        code: AgencyCode::parse(&b.code).map_err(Error::from)?,
        name: Names::new(&b.name_en, &b.name_ar).map_err(Error::from)?,
        iban: b
            .iban
            .as_deref()
            .map(parse_iban)
            .transpose()
            .map_err(Error::from)?,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.add_agency(new).await?),
    ))
}

pub async fn list_agencies(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({"agencies": state.store.agencies().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddService {
    agency: String,
    code: String,
    name_en: String,
    name_ar: String,
    kind: ServiceKind,
    #[serde(default)]
    fee: Option<Fils>,
    #[serde(default)]
    allow_partial: bool,
}

pub async fn add_service(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiJson(b): ApiJson<AddService>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewService {
        agency: AgencyCode::parse(&b.agency).map_err(Error::from)?,
        code: ServiceCode::parse(&b.code).map_err(Error::from)?,
        name: Names::new(&b.name_en, &b.name_ar).map_err(Error::from)?,
        terms: ServiceTerms::new(b.kind, b.fee, b.allow_partial).map_err(Error::from)?,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.store.add_service(new).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceQuery {
    agency: Option<String>,
}

pub async fn list_services(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiQuery(q): ApiQuery<ServiceQuery>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        json!({"services": state.store.services(q.agency.as_deref()).await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// An agency code for an agency key; left out for an administrator key.
    #[serde(default)]
    agency: Option<String>,
}

/// The key is in the answer once; only its hash is stored.
pub async fn create_key(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiJson(b): ApiJson<CreateKey>,
) -> Result<impl IntoResponse, ApiError> {
    let (record, key) = state.store.create_api_key(b.agency.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"api_key": record, "key": key})),
    ))
}

pub async fn list_keys(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({"api_keys": state.store.api_keys().await?})))
}

pub async fn revoke_key(
    State(state): State<AppState>,
    _: AdminAuth,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    state.store.revoke_api_key(id).await?;
    Ok(Json(json!({"id": id, "revoked": true})))
}

pub async fn balances(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({"accounts": state.store.balances().await?})))
}

pub async fn verify(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<impl IntoResponse, ApiError> {
    let faults = state.store.verify_ledger().await?;
    Ok(Json(json!({"ok": faults.is_empty(), "faults": faults})))
}

pub async fn exceptions(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        json!({"exceptions": state.store.exceptions(200).await?}),
    ))
}

pub async fn reconciliations(
    State(state): State<AppState>,
    _: AdminAuth,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(
        json!({"reconciliations": state.store.reconciliations(None).await?}),
    ))
}

pub async fn reconciliation(
    State(state): State<AppState>,
    _: AdminAuth,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse, ApiError> {
    let found = state
        .store
        .reconciliations(Some(id))
        .await?
        .into_iter()
        .next();
    Ok(Json(found.ok_or(Error::NotFound("reconciliation"))?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    period: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    compare: Option<String>,
    by: Option<String>,
    #[serde(default)]
    net: bool,
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// With `statement=true`: the press-release text in `lang` (ar or en).
    #[serde(default)]
    statement: bool,
    lang: Option<String>,
}

/// Collections for a period against a comparison period, from the rollups.
pub async fn report(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<axum::response::Response, ApiError> {
    use crate::report::{build, parse_dimensions, statement, Period, ReportRequest};
    use crate::store::Dimension;
    let period = match (&q.period, q.from, q.to) {
        (Some(p), None, None) => Period::parse(p)?,
        (None, Some(from), Some(to)) => Period::between(from, to)?,
        _ => {
            return Err(Error::Invalid(
                "give period=2018-H1 (or 2018, 2018-Q2, 2018-03), or from and to".into(),
            )
            .into())
        }
    };
    let compare = q.compare.as_deref().map(Period::parse).transpose()?;
    let by =
        q.by.as_deref()
            .map(parse_dimensions)
            .transpose()?
            .unwrap_or_default();
    let request = |by: Vec<Dimension>| ReportRequest {
        period: period.clone(),
        compare: compare.clone(),
        by,
        net: q.net,
    };
    if q.statement {
        let lang = crate::i18n::Lang::parse(q.lang.as_deref().unwrap_or("ar"))
            .ok_or_else(|| Error::Invalid("lang must be ar or en".into()))?;
        let total = build(&state.store, request(vec![])).await?;
        let by_service = build(&state.store, request(vec![Dimension::Service])).await?;
        let by_channel = build(&state.store, request(vec![Dimension::Channel])).await?;
        let text = statement(&total, &by_service, &by_channel, lang);
        return Ok(Json(json!({"lang": lang, "statement": text})).into_response());
    }
    let report = build(&state.store, request(by)).await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(report).into_response()),
        "csv" => Ok((
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            report.csv(),
        )
            .into_response()),
        other => Err(Error::Invalid(format!("format {other:?} is not json or csv")).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartQuery {
    period: String,
    by: String,
    lang: Option<String>,
    /// `svg` (default) or `png`.
    format: Option<String>,
}

fn lang_of(q: Option<&str>) -> Result<crate::i18n::Lang, ApiError> {
    Ok(crate::i18n::Lang::parse(q.unwrap_or("ar"))
        .ok_or_else(|| Error::Invalid("lang must be ar or en".into()))?)
}

/// A report drawn as SVG or PNG.
pub async fn chart(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiQuery(q): ApiQuery<ChartQuery>,
) -> Result<axum::response::Response, ApiError> {
    use crate::report::{build, parse_dimensions, Period, ReportRequest};
    let lang = lang_of(q.lang.as_deref())?;
    let report = build(
        &state.store,
        ReportRequest {
            period: Period::parse(&q.period)?,
            compare: None,
            by: parse_dimensions(&q.by)?,
            net: false,
        },
    )
    .await?;
    let svg = crate::charts::svg(&report, lang)?;
    match q.format.as_deref().unwrap_or("svg") {
        "svg" => Ok(([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()),
        "png" => Ok((
            [(axum::http::header::CONTENT_TYPE, "image/png")],
            crate::charts::png(&svg)?,
        )
            .into_response()),
        other => Err(Error::Invalid(format!("format {other:?} is not svg or png")).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    period: String,
    lang: Option<String>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The collections dashboard: the statement, the totals, and the charts
/// by month, channel and service, in one page.
pub async fn dashboard(
    State(state): State<AppState>,
    _: AdminAuth,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> Result<axum::response::Response, ApiError> {
    use crate::report::{build, statement, Period, ReportRequest};
    use crate::store::Dimension;
    let lang = lang_of(q.lang.as_deref())?;
    let period = Period::parse(&q.period)?;
    let request = |by: Vec<Dimension>| ReportRequest {
        period: period.clone(),
        compare: None,
        by,
        net: false,
    };
    let total = build(&state.store, request(vec![])).await?;
    let by_service = build(&state.store, request(vec![Dimension::Service])).await?;
    let by_channel = build(&state.store, request(vec![Dimension::Channel])).await?;
    let by_month = build(&state.store, request(vec![Dimension::Month])).await?;
    let text = statement(&total, &by_service, &by_channel, lang);
    let mut charts = String::new();
    for r in [&by_month, &by_channel, &by_service] {
        charts.push_str(&format!(
            "<figure>{}</figure>",
            crate::charts::svg(r, lang)?
        ));
    }
    let dir = if lang.is_rtl() { "rtl" } else { "ltr" };
    let html = format!(
        "<!doctype html><html lang=\"{code}\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Tahseel</title><style>body{{font-family:system-ui,'Noto Sans Arabic',sans-serif;max-width:64rem;margin:1.5rem auto;padding:0 1rem;color:#1b1b1b}}\
         figure{{margin:1.5rem 0}}svg{{max-width:100%;height:auto}}pre{{white-space:pre-wrap;background:#f4f6f8;padding:1rem;overflow:auto}}</style></head>\
         <body><h1>{title}</h1><p>{statement}</p><pre>{table}</pre>{charts}</body></html>",
        code = lang.code(),
        title = escape(&total.period.describe(lang)),
        statement = escape(&text),
        table = escape(&by_service.text(lang)),
    );
    Ok(axum::response::Html(html).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFetch {
    /// The agency's endpoint for this service's bills; null to stop fetching.
    fetch_url: Option<String>,
}

/// Makes a service present its bills from the agency's system at lookup.
pub async fn set_fetch(
    State(state): State<AppState>,
    _: AdminAuth,
    axum::extract::Path((agency, service)): axum::extract::Path<(String, String)>,
    ApiJson(b): ApiJson<SetFetch>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(url) = &b.fetch_url {
        super::agency::check_webhook_url(url)?;
    }
    let agency = state.store.agency_by_code(&agency).await?;
    let service = state.store.service(agency.id, &service).await?;
    state
        .store
        .set_fetch_url(service.id, b.fetch_url.as_deref())
        .await?;
    Ok(Json(
        json!({"agency": agency.code, "service": service.code, "fetch_url": b.fetch_url}),
    ))
}
