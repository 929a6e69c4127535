//! The HTTP API (axum). `router` builds the whole application so tests can
//! drive it over a real socket; `serve` binds and runs it until shutdown.
//!
//! - `channels`: what the portal, apps and kiosks call (dues, payments, receipts)
//! - `agency`: agency endpoints, scoped to the agency of the API key
//! - `admin`: the catalog, API keys and the ledger
//! - `error`, `extract`: the JSON error shape and the extractors that use it

mod admin;
pub mod agency;
mod channels;
pub mod error;
mod extract;

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::hub::Hub;
use error::ApiError;

pub type AppState = Arc<Hub>;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The largest bulk bill upload (10,000 lines), in bytes.
pub const MAX_BULK_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The OpenAPI document, kept beside the code it describes.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/services", get(channels::services))
        .route("/dues", get(channels::dues_by_payer))
        .route(
            "/dues/{agency}/{reference}",
            get(channels::due_by_reference),
        )
        .route("/payments", post(channels::create_payment))
        .route("/payments/{id}", get(channels::get_payment))
        .route("/payments/{id}/receipt", get(channels::receipt))
        .route("/acquirers/{name}/notices", post(channels::acquirer_notice))
        .route(
            "/agency/bills",
            post(agency::create_bill).get(agency::list_bills),
        )
        .route("/agency/bills/{id}", get(agency::get_bill))
        .route("/agency/bills/{id}/cancel", post(agency::cancel_bill))
        .route("/agency/payments", get(agency::list_payments))
        .route("/agency/payments/{id}", get(agency::get_payment))
        .route("/agency/payments/{id}/refunds", post(agency::refund))
        .route("/agency/refunds/{id}", get(agency::get_refund))
        .route("/agency/events", get(agency::events))
        .route("/agency/statements/{day}", get(agency::statement))
        .route("/agency/webhook", axum::routing::put(agency::set_webhook))
        .route("/agency/webhook/secrets", post(agency::rotate_secret))
        .route(
            "/admin/agencies",
            get(admin::list_agencies).post(admin::add_agency),
        )
        .route(
            "/admin/services",
            get(admin::list_services).post(admin::add_service),
        )
        .route(
            "/admin/services/{agency}/{service}/fetch",
            axum::routing::put(admin::set_fetch),
        )
        .route(
            "/admin/api-keys",
            get(admin::list_keys).post(admin::create_key),
        )
        .route("/admin/api-keys/{id}/revoke", post(admin::revoke_key))
        .route("/admin/ledger/balances", get(admin::balances))
        .route("/admin/ledger/verify", get(admin::verify))
        .route("/admin/acquirer-exceptions", get(admin::exceptions))
        .route("/admin/reports", get(admin::report))
        .route("/admin/charts", get(admin::chart))
        .route("/admin/dashboard", get(admin::dashboard))
        .route("/admin/reconciliations", get(admin::reconciliations))
        .route("/admin/reconciliations/{id}", get(admin::reconciliation))
        // Every route so far takes small bodies; bulk uploads get their own limit.
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .route(
            "/agency/bills/bulk",
            post(agency::create_bills).layer(RequestBodyLimitLayer::new(MAX_BULK_BODY_BYTES)),
        );
    let mut pages = crate::portal::router();
    if state.portal.dev_idp {
        pages = pages.merge(crate::portal::dev_idp::router());
    }
    Router::new()
        .merge(pages.layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .nest("/api/v1", api)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /api/v1/openapi.json",
            )
        })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": state.store.backend_name()})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
        }
    }
}

/// Serves on an already bound listener until `shutdown` completes, then
/// lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
