//! The one place errors become HTTP responses: a status and a JSON body
//! `{"error": {"code", "message"}}` whose `code` is stable and whose
//! message says what to change. Database details stay in the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tahseel_core::bill::BillError;
use tahseel_core::payment::{PaymentError, RefundError};

use crate::error::Error;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Per-line problems of a bulk request, sent as `lines` beside `error`.
    pub lines: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            lines: None,
        }
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a valid API key as `Authorization: Bearer <key>`",
        )
    }
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this API key may not use this endpoint",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(lines) = self.lines {
            body["lines"] = lines;
        }
        let body = Json(body);
        (self.status, body).into_response()
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        let (status, code) = match &e {
            Error::NotFound(what) => (S::NOT_FOUND, not_found_code(what)),
            Error::Invalid(_) => (S::UNPROCESSABLE_ENTITY, "invalid_request"),
            Error::Conflict(_) => (S::CONFLICT, "conflict"),
            Error::IdempotencyMismatch => (S::CONFLICT, "idempotency_key_reused"),
            Error::Bill(b) => match b {
                BillError::NotPayable(_) => (S::CONFLICT, "bill_not_payable"),
                BillError::PaymentInProgress => (S::CONFLICT, "bill_payment_in_progress"),
                BillError::Overpayment { .. } => (S::UNPROCESSABLE_ENTITY, "overpayment"),
                BillError::PartialNotAllowed { .. } => {
                    (S::UNPROCESSABLE_ENTITY, "partial_payment_not_allowed")
                }
                BillError::NotCancellable(_) | BillError::CancelWhileHeld => {
                    (S::CONFLICT, "bill_not_cancellable")
                }
                BillError::NotPositive | BillError::Money(_) => {
                    (S::UNPROCESSABLE_ENTITY, "invalid_amount")
                }
            },
            Error::Payment(p) => match p {
                PaymentError::Transition { .. } => (S::CONFLICT, "invalid_transition"),
                PaymentError::Money(_) => (S::UNPROCESSABLE_ENTITY, "invalid_amount"),
                _ => (S::UNPROCESSABLE_ENTITY, "invalid_basket"),
            },
            Error::Refund(r) => match r {
                RefundError::NotCaptured(_) => (S::CONFLICT, "payment_not_captured"),
                RefundError::Exceeds { .. } => (S::UNPROCESSABLE_ENTITY, "refund_exceeds_captured"),
                RefundError::Transition { .. } => (S::CONFLICT, "invalid_transition"),
                RefundError::NotPositive | RefundError::Money(_) => {
                    (S::UNPROCESSABLE_ENTITY, "invalid_amount")
                }
            },
            Error::Catalog(_) => (S::UNPROCESSABLE_ENTITY, "invalid_request"),
            Error::Payer(_) => (S::UNPROCESSABLE_ENTITY, "invalid_payer"),
            Error::Money(_) => (S::UNPROCESSABLE_ENTITY, "invalid_amount"),
            Error::Acquirer(_) => (S::BAD_GATEWAY, "acquirer_unavailable"),
            Error::BadNotice(_) => (S::BAD_REQUEST, "notice_rejected"),
            Error::AgencyUnavailable(detail) => {
                tracing::warn!(%detail, "agency bill fetch failed");
                (S::SERVICE_UNAVAILABLE, "agency_unavailable")
            }
            Error::Ledger(_) | Error::Database(_) | Error::Migrate(_) => {
                tracing::error!(error = ?e, "internal error");
                return ApiError::new(S::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side; the request can be retried with the same Idempotency-Key");
            }
        };
        ApiError::new(status, code, msg)
    }
}

fn not_found_code(what: &str) -> &'static str {
    match what {
        "bill" => "bill_not_found",
        "payment" => "payment_not_found",
        "refund" => "refund_not_found",
        "agency" => "agency_not_found",
        "service" => "service_not_found",
        "acquirer" => "acquirer_not_found",
        "reconciliation" => "reconciliation_not_found",
        _ => "not_found",
    }
}
