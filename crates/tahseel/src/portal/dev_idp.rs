//! A development identity provider at `/dev-idp`, for the demo and the
//! tests: it speaks enough OpenID Connect (discovery, authorize, token) for
//! the portal's sign-in, and lets anyone "sign in" as any CPR. Never turn
//! it on where real people pay.
//!
//! Codes are signed and self-contained, so any node can redeem one.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use maud::html;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::form_fields;
use super::signin::OidcConfig;
use crate::http::AppState;

/// The client the demo portal is registered as.
pub const CLIENT_ID: &str = "tahseel-portal";
/// The name of the shared secret the demo client uses.
pub const SECRET_NAME: &str = "dev_idp_client_secret";

/// The provider's configuration for a hub at `public_url`, its client
/// secret kept in the database so every node agrees.
pub async fn config(
    store: &crate::store::Store,
    public_url: &str,
) -> crate::error::Result<OidcConfig> {
    Ok(OidcConfig {
        issuer: format!("{}/dev-idp", public_url.trim_end_matches('/')),
        client_id: CLIENT_ID.into(),
        client_secret: store.hub_secret(SECRET_NAME).await?,
    })
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dev-idp/.well-known/openid-configuration", get(discovery))
        .route("/dev-idp/authorize", get(authorize_form).post(authorize))
        .route("/dev-idp/token", axum::routing::post(token))
}

fn issuer(state: &AppState) -> String {
    format!("{}/dev-idp", state.public_url)
}

async fn discovery(State(state): State<AppState>) -> Json<serde_json::Value> {
    let iss = issuer(&state);
    Json(serde_json::json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "scopes_supported": ["openid", "profile"],
    }))
}

#[derive(Deserialize, Serialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    #[serde(default)]
    ui_locales: Option<String>,
}

async fn authorize_form(Query(q): Query<AuthorizeQuery>) -> Response {
    let ar = q.ui_locales.as_deref() == Some("ar");
    let (lang, dir) = if ar { ("ar", "rtl") } else { ("en", "ltr") };
    let markup = html! {
        (maud::DOCTYPE)
        html lang=(lang) dir=(dir) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Development identity provider" }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                main id="main" {
                    h1 { @if ar { "مزوّد الهوية التجريبي" } @else { "Development identity provider" } }
                    p.notice { @if ar { "للتجربة فقط: اختر أي رقم شخصي." } @else { "For trying Tahseel out only: sign in as any CPR." } }
                    form method="post" action="/dev-idp/authorize" {
                        input type="hidden" name="client_id" value=(q.client_id);
                        input type="hidden" name="redirect_uri" value=(q.redirect_uri);
                        input type="hidden" name="state" value=(q.state);
                        input type="hidden" name="nonce" value=(q.nonce);
                        label for="cpr" { @if ar { "الرقم الشخصي" } @else { "CPR number" } }
                        input id="cpr" name="cpr" value="850101234" inputmode="numeric" dir="ltr" required;
                        label for="name" { @if ar { "الاسم" } @else { "Name" } }
                        input id="name" name="name" value="Fatima Al-Sayed" required;
                        button type="submit" { @if ar { "تسجيل الدخول" } @else { "Sign in" } }
                    }
                }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

#[derive(Serialize, Deserialize)]
struct Code {
    cpr: String,
    name: String,
    nonce: String,
    client_id: String,
    redirect_uri: String,
    exp: i64,
}

fn sign(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

async fn authorize(State(state): State<AppState>, body: Bytes) -> Response {
    let fields = form_fields(&body);
    let get = |k: &str| super::field(&fields, k).unwrap_or_default().to_owned();
    if get("client_id") != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let Ok(secret) = state.store.hub_secret(SECRET_NAME).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let code = Code {
        cpr: get("cpr").trim().to_owned(),
        name: get("name").trim().to_owned(),
        nonce: get("nonce"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        exp: Utc::now().timestamp() + 120,
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64.encode(serde_json::to_vec(&code).expect("serializes"));
    let code_text = format!("{payload}.{}", sign(&secret, &payload));
    let Ok(mut back) = reqwest::Url::parse(&code.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    back.query_pairs_mut()
        .append_pair("code", &code_text)
        .append_pair("state", &get("state"));
    Redirect::to(back.as_str()).into_response()
}

async fn token(State(state): State<AppState>, body: Bytes) -> Response {
    let fields = form_fields(&body);
    let get = |k: &str| super::field(&fields, k).unwrap_or_default().to_owned();
    let Ok(secret) = state.store.hub_secret(SECRET_NAME).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let invalid = || {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response()
    };
    if get("client_id") != CLIENT_ID || get("client_secret") != secret {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let code_text = get("code");
    let Some((payload, signature)) = code_text.split_once('.') else {
        return invalid();
    };
    if sign(&secret, payload) != signature {
        return invalid();
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(code) = b64
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice::<Code>(&b).ok())
    else {
        return invalid();
    };
    let now = Utc::now().timestamp();
    if code.exp < now || code.redirect_uri != get("redirect_uri") {
        return invalid();
    }
    let claims = serde_json::json!({
        "iss": issuer(&state),
        "aud": CLIENT_ID,
        "sub": code.cpr,
        "cpr": code.cpr,
        "name": code.name,
        "nonce": code.nonce,
        "iat": now,
        "exp": now + 300,
    });
    let Ok(id_token) = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).and_then(|key| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &key,
        )
    }) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    Json(serde_json::json!({
        "access_token": hex::encode(crate::auth::random_bytes::<16>()),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}
