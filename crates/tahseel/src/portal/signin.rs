//! Citizen sign-in through the national identity provider, by OpenID
//! Connect's authorization code flow: the provider is found from its issuer
//! URL (`/.well-known/openid-configuration`), the ID token is checked for
//! issuer, audience, expiry, nonce and signature, and the citizen's CPR
//! (the `cpr` claim, else `sub`) becomes the session's payer.
//!
//! ID tokens are verified with the provider's published keys (`jwks_uri`:
//! RS256/384/512, PS256, ES256/384, EdDSA) or, for HS256, the client
//! secret, which is what the development provider issues.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

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
    #[serde(default)]
    jwks_uri: Option<String>,
}

async fn discover(state: &AppState, oidc: &OidcConfig) -> Result<Discovery, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        oidc.issuer.trim_end_matches('/')
    );
    let d: Discovery = get_json(state, &url).await?;
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

/// The identity provider's settings, or a 404 page when sign-in is off.
fn configured(state: &AppState, ui: &Ui) -> Result<OidcConfig, PageError> {
    state.portal.oidc.clone().ok_or_else(|| {
        PageError::new(
            ui.lang,
            axum::http::StatusCode::NOT_FOUND,
            ui.t("error-signin-off"),
        )
    })
}

/// Sends the citizen to the provider, remembering state and nonce.
pub async fn login(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<LoginQuery>,
) -> PageResult {
    let oidc = configured(&state, &ui)?;
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

/// Checks an ID token's signature (with `keys` from the provider's
/// `jwks_uri`, or the client secret for HS256) and its issuer, audience,
/// expiry (a minute's leeway) and nonce; returns its claims.
pub fn verify_id_token(
    token: &str,
    oidc: &OidcConfig,
    nonce: &str,
    keys: Option<&JwkSet>,
) -> Result<IdClaims, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("ID token header: {e}"))?;
    let key = match header.alg {
        Algorithm::HS256 => DecodingKey::from_secret(oidc.client_secret.as_bytes())
            .map_err(|e| format!("client secret: {e}"))?,
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::ES256
        | Algorithm::ES384
        | Algorithm::EdDSA => {
            let keys = keys.ok_or("the provider publishes no keys (jwks_uri)")?;
            let jwk = match &header.kid {
                Some(kid) => keys.find(kid),
                None => keys.keys.first(),
            }
            .ok_or("no published key matches the ID token's kid")?;
            DecodingKey::from_jwk(jwk).map_err(|e| format!("provider key: {e}"))?
        }
        other => return Err(format!("ID token algorithm {other:?} is not supported")),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&oidc.client_id]);
    let issuer = oidc.issuer.trim_end_matches('/');
    validation.set_issuer(&[issuer.to_owned(), format!("{issuer}/")]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(|e| format!("ID token refused: {e:?}"))?
        .claims;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err("ID token nonce does not match the sign-in".into());
    }
    Ok(claims)
}

/// A token signed with the client secret needs no published keys.
fn signed_with_secret(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| h.alg == Algorithm::HS256)
}

/// A JSON document from the provider, any failure said with its address.
async fn get_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    url: &str,
) -> Result<T, String> {
    state
        .agency_client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .error_for_status()
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))
}

/// The provider sends the citizen back here with a code.
pub async fn callback(
    State(state): State<AppState>,
    ui: Ui,
    Query(q): Query<Callback>,
) -> PageResult {
    let oidc = configured(&state, &ui)?;
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
    let keys = match &d.jwks_uri {
        Some(uri) if !signed_with_secret(&tokens.id_token) => Some(
            get_json::<JwkSet>(&state, uri)
                .await
                .map_err(|e| unavailable(&ui, &e))?,
        ),
        _ => None,
    };
    let claims = verify_id_token(&tokens.id_token, &oidc, &nonce, keys.as_ref()).map_err(|e| {
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
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, &token, None, "Lax"),
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
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", Some(0), "Lax"),
        )],
        Redirect::to("/"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use jsonwebtoken::{EncodingKey, Header};

    const ISSUER: &str = "https://id.example.bh";
    /// A key made for these tests only; `TEST_N` is its public modulus.
    const TEST_KEY: &str = include_str!("testdata/idp-test-key.pem");
    const TEST_N: &str = "pquDN22rHkf2p_F_1pnyDg0_kXdOacNg9pgoUEaN76oozdGJMyV6uRLoeyJKpjkB7T4_kpy0eaMD91nRHoDgG9PYuYgyTXWFFLbAULfHXuz5rKPNbPViDHrrIcT9hPO9awGSpzvWxVk6spRgB-5POsKjIJ9881HZsP3cO96jSdykjsrmpr0sewKeo-MRloN11Gl1Et9qlC7aePFloj3diPT4vMctAIZn3wXKqH2eoYcKX25Vj_Kn8XziNr--h6KYNTsQ2LP0OiRt2B9Klgm4wzA6eIL70exHp5b1MVvfs97kEkoHbUIRlLsoYQjAz0DaOahcnSPddUgB68dgYpaTtQ";

    fn config() -> OidcConfig {
        OidcConfig {
            issuer: ISSUER.into(),
            client_id: "tahseel".into(),
            client_secret: "s3cret-s3cret-s3cret-s3cret-s3cret".into(),
        }
    }

    fn claims() -> serde_json::Value {
        let exp = Utc::now().timestamp() + 300;
        serde_json::json!({"iss": ISSUER, "aud": "tahseel", "exp": exp, "sub": "850101234", "nonce": "n1", "name": "Fatima"})
    }

    fn hs256(secret: &str, claims: &serde_json::Value) -> String {
        let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
    }

    fn rs256(kid: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        let key = EncodingKey::from_rsa_pem(TEST_KEY.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn keys() -> JwkSet {
        serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": TEST_N, "e": "AQAB"}
        ]}))
        .unwrap()
    }

    #[test]
    fn good_tokens_give_their_claims() {
        let cfg = config();
        let token = hs256(&cfg.client_secret, &claims());
        assert!(signed_with_secret(&token) && !signed_with_secret(&rs256("k1", &claims())));
        let c = verify_id_token(&token, &cfg, "n1", None).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.name.as_deref()),
            ("850101234", Some("Fatima"))
        );
        let c = verify_id_token(&rs256("k1", &claims()), &cfg, "n1", Some(&keys())).unwrap();
        assert_eq!(c.sub, "850101234");
    }

    #[test]
    fn every_check_refuses_what_it_should() {
        let cfg = config();
        let with = |k: &str, v: serde_json::Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        let secret = cfg.client_secret.clone();
        let stale = Utc::now().timestamp() - 600;
        let cases = [
            (
                hs256("another-secret-another-secret-xx", &claims()),
                None,
                "InvalidSignature",
            ),
            (
                hs256(&secret, &with("iss", "https://evil.example".into())),
                None,
                "InvalidIssuer",
            ),
            (
                hs256(&secret, &with("aud", "someone-else".into())),
                None,
                "InvalidAudience",
            ),
            (
                hs256(&secret, &with("exp", stale.into())),
                None,
                "ExpiredSignature",
            ),
            (hs256(&secret, &with("nonce", "n2".into())), None, "nonce"),
            (rs256("k1", &claims()), None, "publishes no keys"),
            (rs256("k2", &claims()), Some(keys()), "kid"),
            ("a.b".to_owned(), None, "header"),
        ];
        for (token, keys, why) in cases {
            let err = verify_id_token(&token, &cfg, "n1", keys.as_ref()).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
        // An RS256 header over a body signed with the secret does not pass.
        let rs = rs256("k1", &claims());
        let hs = hs256(&secret, &claims());
        let (rs_head, _) = rs.split_once('.').unwrap();
        let (_, hs_rest) = hs.split_once('.').unwrap();
        let forged = format!("{rs_head}.{hs_rest}");
        assert!(verify_id_token(&forged, &cfg, "n1", Some(&keys())).is_err());
        let listed = hs256(&secret, &with("aud", serde_json::json!(["x", "tahseel"])));
        assert!(verify_id_token(&listed, &cfg, "n1", None).is_ok());
    }
}
