//! Extractors whose rejections are `ApiError`s, so that malformed input
//! gets the same JSON error shape as everything else.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;
use super::AppState;
use crate::store::Principal;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", text)
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", text)
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        other => ApiError::new(other.status(), "invalid_body", text),
    }
}

pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
            })
    }
}

/// A path of one id.
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<Uuid>::from_request_parts(parts, state)
            .await
            .map(|p| IdPath(p.0))
            .map_err(|r: PathRejection| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("{}; ids are UUIDs", r.body_text()),
                )
            })
    }
}

/// The `Idempotency-Key` header, required on requests that move money.
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let value = parts.headers.get("idempotency-key").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "send an Idempotency-Key header (a new UUID per payment); resend the same key to retry safely",
            )
        })?;
        let key = value.to_str().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Idempotency-Key must be visible ASCII",
            )
        })?;
        crate::hub::check_idempotency_key(key).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
        })?;
        Ok(IdempotencyKey(key.to_owned()))
    }
}

async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(ApiError::unauthorized)?;
    let key = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    state
        .store
        .authenticate(key)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// An agency's API key: every agency endpoint is scoped to this agency.
pub struct AgencyAuth {
    pub id: Uuid,
    pub code: String,
}

impl FromRequestParts<AppState> for AgencyAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match principal(parts, state).await? {
            Principal::Agency { id, code } => Ok(AgencyAuth { id, code }),
            Principal::Admin => Err(ApiError::forbidden()),
        }
    }
}

/// An administrator's API key.
pub struct AdminAuth;

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match principal(parts, state).await? {
            Principal::Admin => Ok(AdminAuth),
            Principal::Agency { .. } => Err(ApiError::forbidden()),
        }
    }
}
