//! The server-rendered channels: the national portal, kiosks and the admin
//! area, in Arabic (right to left, the default) and English.
//!
//! Pages are plain HTML forms rendered with maud; nothing needs JavaScript.
//! Every string goes through Fluent ([`crate::i18n`]); amounts print as BHD
//! with three decimals and times in Bahrain time.
//!
//! - `layout`: the page frame, styles and formatting helpers
//! - `citizen`: lookup, basket, payment status, receipts and their verification
//! - `signin`: OpenID Connect sign-in for citizens; `dev_idp` the development provider
//! - `kiosk`: the large-touch kiosk screens, their idle timeout and cash
//! - `admin`: agencies, services, kiosks, keys and payment search with CSV export
//! - `receipts`: signing receipt ids for the QR code

mod admin;
mod citizen;
pub mod dev_idp;
mod kiosk;
mod layout;
pub mod receipts;
pub mod signin;

use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::Error;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::i18n::Lang;
pub use layout::Ui;

/// How the browser channels behave.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// A kiosk screen clears itself after this long without a touch.
    pub kiosk_idle: Duration,
    /// The national identity provider; `None` offers no sign-in.
    pub oidc: Option<signin::OidcConfig>,
    /// Serve the development identity provider at `/dev-idp`.
    pub dev_idp: bool,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            kiosk_idle: Duration::from_secs(90),
            oidc: None,
            dev_idp: false,
        }
    }
}

/// The language cookie's name.
const LANG_COOKIE: &str = "tahseel_lang";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(citizen::home))
        .route("/lang/{code}", get(citizen::switch_language))
        .route("/dues", get(citizen::dues_by_payer))
        .route("/bill", get(citizen::bill_by_reference))
        .route("/pay", post(citizen::pay))
        .route("/payments/{id}", get(citizen::status))
        .route("/receipts/{id}", get(citizen::receipt))
        .route("/verify/{token}", get(citizen::verify))
        .route("/account", get(citizen::account))
        .route("/login", get(signin::login))
        .route("/auth/callback", get(signin::callback))
        .route("/logout", post(signin::logout))
        .route("/kiosk", get(kiosk::start))
        .route("/kiosk/activate", post(kiosk::activate))
        .route("/kiosk/visit", post(kiosk::begin_visit))
        .route("/kiosk/dues", get(kiosk::dues))
        .route("/kiosk/pay", post(kiosk::pay))
        .route("/kiosk/return", get(kiosk::card_return))
        .route("/kiosk/payments/{id}", get(kiosk::payment))
        .route("/kiosk/end", get(kiosk::end))
        .route("/admin", get(admin::home))
        .route("/admin/login", post(admin::login))
        .route("/admin/logout", post(admin::logout))
        .route("/admin/agencies", post(admin::add_agency))
        .route("/admin/services", post(admin::add_service))
        .route("/admin/kiosks", post(admin::add_kiosk))
        .route("/admin/kiosks/{code}/revoke", post(admin::revoke_kiosk))
        .route("/admin/keys", post(admin::add_key))
        .route("/admin/keys/{id}/revoke", post(admin::revoke_key))
        .route("/admin/payments", get(admin::payments))
        .route("/admin/payments.csv", get(admin::payments_csv))
        .route("/static/portal.css", get(layout::stylesheet))
}

/// A cookie's value from the request headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, path `/`, `Secure` when the hub's
/// public URL is https. `max_age` 0 deletes it; `None` keeps it for the
/// browser session.
fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
    same_site: &str,
) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.public_url.starts_with("https:") {
        c.push_str("; Secure");
    }
    c
}

/// A form body's fields in order, repeated names kept (several `bill`s).
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An error as a page: the same status and message the API would give,
/// in the page's language where the message is the hub's own.
pub struct PageError {
    pub lang: Lang,
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    fn new(lang: Lang, status: StatusCode, message: impl Into<String>) -> Self {
        PageError {
            lang,
            status,
            message: message.into(),
        }
    }
    fn from_error(lang: Lang, e: Error) -> Self {
        let api = ApiError::from(e);
        // The hub's own words where the catalog has them; the API's message otherwise.
        let id = if api.code.ends_with("_not_found") {
            "error-not_found".to_owned()
        } else {
            format!("error-{}", api.code)
        };
        let message = crate::i18n::try_t(lang, &id, &[]).unwrap_or(api.message);
        PageError::new(lang, api.status, message)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ui = Ui::bare(self.lang);
        let body = maud::html! {
            div.notice.error role="alert" {
                h2 { (ui.t("error-title")) }
                p { (self.message) }
            }
            p { a href="/" { (ui.t("nav-home")) } }
        };
        (self.status, layout::page(&ui, &ui.t("error-title"), body)).into_response()
    }
}

type PageResult = Result<Response, PageError>;
