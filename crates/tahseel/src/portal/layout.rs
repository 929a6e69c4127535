//! The page frame every screen shares, and how amounts, times and names
//! are written in each language.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use tahseel_core::agency::Names;
use tahseel_core::time::to_local;
use tahseel_core::Fils;

use super::{cookie, LANG_COOKIE};
use crate::http::AppState;
use crate::i18n::{self, Lang};
use crate::store::{SessionKind, WebSession};

/// The citizen session cookie.
pub const SESSION_COOKIE: &str = "tahseel_session";

/// What every page needs: its language, where it is (for the language
/// switch), and the signed-in citizen, if any.
pub struct Ui {
    pub lang: Lang,
    /// The path and query of this page.
    pub here: String,
    pub citizen: Option<WebSession>,
    /// Kiosk screens: bigger targets, no site navigation.
    pub kiosk: bool,
    /// Seconds until the screen clears itself (kiosks).
    pub refresh: Option<(u64, String)>,
}

#[derive(serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = Query::<LangQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang)
            .and_then(|l| Lang::parse(&l))
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(|l| Lang::parse(&l)))
            .unwrap_or_default();
        let citizen = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(token) => state
                .store
                .session(&token, SessionKind::Citizen, None)
                .await
                .unwrap_or(None),
            None => None,
        };
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        Ok(Ui {
            lang,
            here,
            citizen,
            kiosk: parts.uri.path().starts_with("/kiosk"),
            refresh: None,
        })
    }
}

impl Ui {
    /// A frame for pages that have no request at hand (errors).
    pub fn bare(lang: Lang) -> Ui {
        Ui {
            lang,
            here: "/".into(),
            citizen: None,
            kiosk: false,
            refresh: None,
        }
    }

    pub fn t(&self, id: &str) -> String {
        i18n::t(self.lang, id, &[])
    }

    pub fn ta(&self, id: &str, args: &[(&str, String)]) -> String {
        i18n::t(self.lang, id, args)
    }

    /// BHD with three decimals, the currency where each language puts it.
    pub fn money(&self, amount: Fils) -> String {
        match self.lang {
            Lang::En => format!("BHD {amount}"),
            Lang::Ar => format!("{amount} د.ب"),
        }
    }

    /// A time as the payer's clock in Bahrain shows it.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        to_local(t).format("%Y-%m-%d %H:%M").to_string()
    }

    pub fn name<'a>(&self, names: &'a Names) -> &'a str {
        match self.lang {
            Lang::Ar => &names.ar,
            Lang::En => &names.en,
        }
    }

    /// The other language, for the switch.
    pub fn other(&self) -> Lang {
        match self.lang {
            Lang::Ar => Lang::En,
            Lang::En => Lang::Ar,
        }
    }
}

/// The language switch link: one click, back to the same page.
fn switch(ui: &Ui) -> Markup {
    let other = ui.other();
    let label = match other {
        Lang::En => "English",
        Lang::Ar => "العربية",
    };
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("back", &strip_lang(&ui.here));
    html! {
        a.lang-switch href={ "/lang/" (other.code()) "?" (back.finish()) } lang=(other.code()) hreflang=(other.code()) { (label) }
    }
}

/// The page's address without a `lang=` parameter, so the cookie decides.
fn strip_lang(here: &str) -> String {
    let Some((path, query)) = here.split_once('?') else {
        return here.to_owned();
    };
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "lang")
        .collect();
    if kept.is_empty() {
        return path.to_owned();
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.extend_pairs(kept);
    format!("{path}?{}", q.finish())
}

/// A whole page in the hub's frame.
pub fn page(ui: &Ui, title: &str, body: Markup) -> Html<String> {
    let dir = if ui.lang.is_rtl() { "rtl" } else { "ltr" };
    let brand = ui.t("portal-name");
    let markup = html! {
        (DOCTYPE)
        html lang=(ui.lang.code()) dir=(dir) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some((seconds, url)) = &ui.refresh {
                    // Goes to `url` after `seconds` without a touch or a key;
                    // without script, a plain refresh does the same.
                    noscript { meta http-equiv="refresh" content={ (seconds) ";url=" (url) }; }
                    // Fifteen seconds before, a warning any touch dismisses.
                    script {
                        (PreEscaped(format!(
                            "(function(){{var t,w;function warn(){{var d=document.getElementById('still-there');if(d)d.hidden=false;}}\
                             function arm(){{clearTimeout(t);clearTimeout(w);var d=document.getElementById('still-there');if(d)d.hidden=true;\
                             if({ms}>20000)w=setTimeout(warn,{ms}-15000);t=setTimeout(function(){{location.href={url:?};}},{ms});}}\
                             ['pointerdown','keydown','touchstart','input'].forEach(function(e){{document.addEventListener(e,arm,{{passive:true}});}});arm();}})();",
                            ms = seconds * 1000
                        )))
                    }
                }
                title { (title) " · " (brand) }
                link rel="stylesheet" href="/static/portal.css";
            }
            body.kiosk[ui.kiosk] {
                a.skip href="#main" { (ui.t("skip-to-content")) }
                header.site {
                    div.bar {
                        @if ui.kiosk {
                            span.brand { span.mark aria-hidden="true" { "ت" } (brand) }
                        } @else {
                            a.brand href="/" { span.mark aria-hidden="true" { "ت" } (brand) }
                        }
                        nav aria-label=(ui.t("nav-label")) {
                            @if !ui.kiosk {
                                a href="/" { (ui.t("nav-home")) }
                                @if ui.citizen.is_some() {
                                    a href="/account" { (ui.t("nav-account")) }
                                }
                            }
                            (switch(ui))
                        }
                    }
                    p.tagline { (ui.t("portal-tagline")) }
                }
                main id="main" tabindex="-1" {
                    @if ui.refresh.is_some() && ui.kiosk {
                        div #still-there .notice role="alertdialog" aria-labelledby="still-there-text" hidden {
                            p #still-there-text { strong { (ui.t("kiosk-still-there")) } }
                            button type="button" { (ui.t("kiosk-continue")) }
                        }
                    }
                    h1 { (title) }
                    (body)
                }
                footer.site {
                    p { (ui.t("footer-secure")) }
                }
            }
        }
    };
    Html(markup.into_string())
}

/// Styles: government blue on white, large type, clear focus, print-ready.
pub async fn stylesheet() -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        "text/css; charset=utf-8".parse().unwrap(),
    );
    headers.insert(
        header::CACHE_CONTROL,
        "public, max-age=3600".parse().unwrap(),
    );
    (headers, PreEscaped(STYLE).into_string())
}

const STYLE: &str = r#"
:root{--ink:#1b1b1b;--muted:#4a4a4a;--brand:#0b4f6c;--brand-dark:#083a50;--line:#c9d3da;--bg:#f4f7f9;--ok:#0a6b2d;--bad:#a4001c;--focus:#ffbf47}
*{box-sizing:border-box}
html{font-size:100%}
body{margin:0;font-family:"Noto Sans Arabic","Noto Sans",system-ui,sans-serif;color:var(--ink);background:var(--bg);line-height:1.6}
a{color:var(--brand)}a:hover{color:var(--brand-dark)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;inset-inline-start:-999px;top:0;background:var(--focus);color:#000;padding:.5rem 1rem;z-index:2}
.skip:focus{inset-inline-start:0}
header.site{background:var(--brand);color:#fff;padding:.75rem 1rem}
header.site .bar{max-width:60rem;margin:0 auto;display:flex;flex-wrap:wrap;gap:1rem;align-items:center;justify-content:space-between}
header.site a{color:#fff}
.brand{font-weight:700;font-size:1.25rem;text-decoration:none;display:flex;align-items:center;gap:.5rem;color:#fff}
.mark{display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:50%;background:#fff;color:var(--brand);font-weight:700}
nav{display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
.lang-switch{border:1px solid #fff;border-radius:4px;padding:.2rem .6rem;text-decoration:none}
.tagline{max-width:60rem;margin:.25rem auto 0;font-size:.95rem}
main{max-width:60rem;margin:0 auto;padding:1rem;background:#fff;min-height:60vh}
main:focus{outline:none}
h1{font-size:1.6rem;margin:.5rem 0 1rem;color:var(--brand-dark)}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
section.card{border:1px solid var(--line);border-radius:6px;padding:1rem;margin:1rem 0;background:#fff}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input,select{font:inherit;padding:.55rem .6rem;border:2px solid #5f6b73;border-radius:4px;width:100%;max-width:24rem;background:#fff;color:var(--ink)}
input[type=checkbox]{width:1.4rem;height:1.4rem;vertical-align:middle}
.hint{color:var(--muted);font-size:.95rem;margin:.1rem 0}
button,.button{font:inherit;font-weight:600;display:inline-block;margin-top:1rem;padding:.65rem 1.4rem;background:var(--brand);color:#fff;border:0;border-radius:4px;cursor:pointer;text-decoration:none}
button:hover,.button:hover{background:var(--brand-dark);color:#fff}
button.secondary,.button.secondary{background:#fff;color:var(--brand);border:2px solid var(--brand)}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid var(--line);padding:.5rem;text-align:start;vertical-align:top}
th{background:var(--bg)}
td.amount,th.amount{text-align:end;white-space:nowrap;font-variant-numeric:tabular-nums}
.total{font-weight:700;font-size:1.15rem}
.notice{border-inline-start:6px solid var(--brand);background:var(--bg);padding:.75rem 1rem;margin:1rem 0}
.notice.ok{border-color:var(--ok)}.notice.error{border-color:var(--bad)}
.status-captured{color:var(--ok);font-weight:700}.status-declined,.status-failed,.status-expired{color:var(--bad);font-weight:700}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr))}
.receipt dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
.receipt dt{font-weight:600}.receipt dd{margin:0}
.qr svg{width:9rem;height:9rem}
.ltr{direction:ltr;unicode-bidi:embed}
span.ltr{white-space:nowrap}
.grid>button{align-self:start}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
footer.site{max-width:60rem;margin:0 auto;padding:1rem;color:var(--muted);font-size:.9rem}
body.kiosk{font-size:1.35rem}
body.kiosk main{max-width:48rem}
body.kiosk button,body.kiosk .button{min-height:3.5rem;min-width:12rem;font-size:1.4rem}
body.kiosk input{font-size:1.6rem;min-height:3.5rem}
body.kiosk input[type=checkbox]{width:2.2rem;height:2.2rem}
@media (max-width:40rem){main{padding:.75rem}th,td{padding:.4rem}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.stack tr{display:block;border-bottom:1px solid var(--line);padding:.4rem 0}
table.stack td,table.stack th{display:block;border:0;padding:.1rem .25rem;text-align:start}
table.stack td.amount{text-align:start;font-weight:700}
header.site .bar{gap:.5rem}.brand{font-size:1.05rem}}
@media print{header.site nav,.skip,footer.site,.no-print,button,.button{display:none!important}body{background:#fff}main{max-width:none}header.site{background:#fff;color:#000}header.site a,.brand{color:#000}}
"#;
