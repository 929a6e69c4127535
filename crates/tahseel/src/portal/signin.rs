//! Citizen sign-in through the national identity provider, by OpenID
//! Connect's authorization code flow: the provider is found from its issuer
//! URL (`/.well-known/openid-configuration`), the ID token is checked for
//! issuer, audience, expiry, nonce and signature, and the citizen's CPR
//! (the `cpr` claim, else `sub`) becomes the session's payer.
//!
//! ID tokens signed with HS256 under the client secret are verified here;
//! that is what the development provider issues.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::citizen::safe_back;
use super::layout::{Ui, SESSION_COOKIE};
use super::{cookie, set_cookie, PageError, PageResult};
use crate::http::AppState;
use crate::store::{NewSession, SessionKind};

/// The identity provider this hub trusts.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// How long a citizen stays signed in.
const SESSION_HOURS: i64 = 8;

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

async fn discover(state: &AppState, oidc: &OidcConfig) -> Result<Discovery, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        oidc.issuer.trim_end_matches('/')
    );
    let d: Discovery = state
        .agency_client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .error_for_status()
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if d.issuer.trim_end_matches('/') != oidc.issuer.trim_end_matches('/') {
        return Err(format!(
            "the provider says it is {:?}, not {:?}",
            d.issuer, oidc.issuer
        ));
    }
    Ok(d)
}

fn unavailable(ui: &Ui, detail: &str) -> PageError {
    tracing::warn!(%detail, "identity provider unavailable");
    PageError::new(
        ui.lang,
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        ui.t("error-signin-unavailable"),
    )
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/auth/callback", state.public_url)
}

#[derive(Deserialize)]
pub struct LoginQuery {
    back: Option<String>,
}

/// Sends the citizen to the provider, remembering state and nonce.
pub async fn login(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<LoginQuery>,
) -> PageResult {
    let Some(oidc) = state.portal.oidc.clone() else {
        return Err(PageError::new(
            ui.lang,
            axum::http::StatusCode::NOT_FOUND,
            ui.t("error-signin-off"),
        ));
    };
    let d = discover(&state, &oidc)
        .await
        .map_err(|e| unavailable(&ui, &e))?;
    let random = || hex::encode(crate::auth::random_bytes::<24>());
    let (login_state, nonce) = (random(), random());
    state
        .store
        .save_login(&login_state, &nonce, &safe_back(q.back.as_deref()))
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let mut url = reqwest::Url::parse(&d.authorization_endpoint)
        .map_err(|e| unavailable(&ui, &e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.client_id)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("scope", "openid profile")
        .append_pair("state", &login_state)
        .append_pair("nonce", &nonce)
        .append_pair("ui_locales", ui.lang.code());
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
}

/// What the hub reads from an ID token.
#[derive(Debug, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub aud: serde_json::Value,
    pub exp: i64,
    pub sub: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub cpr: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// Checks an HS256 ID token's signature and claims; returns its claims.
pub fn verify_id_token(
    token: &str,
    oidc: &OidcConfig,
    nonce: &str,
    now: i64,
) -> Result<IdClaims, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let [head, body, signature] = parts.as_slice() else {
        return Err("an ID token has three parts".into());
    };
    let header: serde_json::Value =
        serde_json::from_slice(&b64.decode(head).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if header["alg"] != "HS256" {
        return Err(format!(
            "ID token algorithm {} is not supported",
            header["alg"]
        ));
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(oidc.client_secret.as_bytes()).expect("any key length");
    mac.update(format!("{head}.{body}").as_bytes());
    mac.verify_slice(&b64.decode(signature).map_err(|e| e.to_string())?)
        .map_err(|_| "ID token signature does not verify".to_owned())?;
    let claims: IdClaims = serde_json::from_slice(&b64.decode(body).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if claims.iss.trim_end_matches('/') != oidc.issuer.trim_end_matches('/') {
        return Err("ID token from another issuer".into());
    }
    let audience_ok = match &claims.aud {
        serde_json::Value::String(a) => *a == oidc.client_id,
        serde_json::Value::Array(list) => list.iter().any(|a| *a == *oidc.client_id),
        _ => false,
    };
    if !audience_ok {
        return Err("ID token for another client".into());
    }
    if claims.exp <= now {
        return Err("ID token expired".into());
    }
    if claims.nonce.as_deref() != Some(nonce) {
        return Err("ID token nonce does not match the sign-in".into());
    }
    Ok(claims)
}

/// The provider sends the citizen back here with a code.
pub async fn callback(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<Callback>,
) -> PageResult {
    let Some(oidc) = state.portal.oidc.clone() else {
        return Err(PageError::new(
            ui.lang,
            axum::http::StatusCode::NOT_FOUND,
            ui.t("error-signin-off"),
        ));
    };
    let refused = || {
        PageError::new(
            ui.lang,
            axum::http::StatusCode::BAD_REQUEST,
            ui.t("error-signin-failed"),
        )
    };
    if q.error.is_some() {
        return Err(refused());
    }
    let (Some(code), Some(login_state)) = (q.code, q.state) else {
        return Err(refused());
    };
    let Some((nonce, back)) = state
        .store
        .take_login(&login_state)
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?
    else {
        return Err(refused());
    };
    let d = discover(&state, &oidc)
        .await
        .map_err(|e| unavailable(&ui, &e))?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("client_id", &oidc.client_id)
        .append_pair("client_secret", &oidc.client_secret)
        .finish();
    let tokens: TokenResponse = state
        .agency_client
        .post(&d.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| unavailable(&ui, &e.to_string()))?
        .error_for_status()
        .map_err(|e| {
            tracing::warn!(error = %e, "token endpoint refused the code");
            refused()
        })?
        .json()
        .await
        .map_err(|e| unavailable(&ui, &e.to_string()))?;
    let claims =
        verify_id_token(&tokens.id_token, &oidc, &nonce, Utc::now().timestamp()).map_err(|e| {
            tracing::warn!(error = %e, "ID token refused");
            refused()
        })?;
    let payer = claims.cpr.clone().unwrap_or(claims.sub.clone());
    let token = state
        .store
        .start_session(NewSession {
            kind: SessionKind::Citizen,
            payer: Some(&payer),
            name: claims.name.as_deref(),
            kiosk: None,
            lifetime: chrono::Duration::hours(SESSION_HOURS),
        })
        .await
        .map_err(|e| PageError::from_error(ui.lang, e))?;
    let secure = state.public_url.starts_with("https:");
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, &token, None, "Lax", secure),
        )],
        Redirect::to(&back),
    )
        .into_response())
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.store.end_session(&token).await {
            tracing::warn!(error = %e, "could not end a session");
        }
    }
    let secure = state.public_url.starts_with("https:");
    (
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", Some(0), "Lax", secure),
        )],
        Redirect::to("/"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: "https://id.example.bh".into(),
            client_id: "tahseel".into(),
            client_secret: "s3cret".into(),
        }
    }

    fn token(secret: &str, alg: &str, claims: serde_json::Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let head = b64.encode(serde_json::json!({"alg": alg, "typ": "JWT"}).to_string());
        let body = b64.encode(claims.to_string());
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{head}.{body}").as_bytes());
        format!("{head}.{body}.{}", b64.encode(mac.finalize().into_bytes()))
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({"iss": "https://id.example.bh", "aud": "tahseel", "exp": 2000, "sub": "850101234", "nonce": "n1", "name": "Fatima"})
    }

    #[test]
    fn a_good_token_gives_its_claims() {
        let c =
            verify_id_token(&token("s3cret", "HS256", claims()), &config(), "n1", 1000).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.name.as_deref()),
            ("850101234", Some("Fatima"))
        );
    }

    #[test]
    fn every_check_refuses_what_it_should() {
        let cfg = config();
        let with = |k: &str, v: serde_json::Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        let cases = [
            (token("other", "HS256", claims()), "signature"),
            (token("s3cret", "none", claims()), "algorithm"),
            (
                token(
                    "s3cret",
                    "HS256",
                    with("iss", "https://evil.example".into()),
                ),
                "issuer",
            ),
            (
                token("s3cret", "HS256", with("aud", "someone-else".into())),
                "client",
            ),
            (token("s3cret", "HS256", with("exp", 999.into())), "expired"),
            (
                token("s3cret", "HS256", with("nonce", "n2".into())),
                "nonce",
            ),
            ("a.b".to_owned(), "three parts"),
        ];
        for (t, why) in cases {
            let err = verify_id_token(&t, &cfg, "n1", 1000).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        let listed = token(
            "s3cret",
            "HS256",
            with("aud", serde_json::json!(["x", "tahseel"])),
        );
        assert!(verify_id_token(&listed, &cfg, "n1", 1000).is_ok());
    }
}
