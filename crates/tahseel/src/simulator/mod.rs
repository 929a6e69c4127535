//! A simulated card acquirer, run as its own HTTP server
//! (`tahseel acquirer-sim`, or inside `tahseel serve --demo`). It behaves
//! like a real one towards Tahseel: a hosted card page with test cards and
//! a 3-D Secure step, signed server-to-server notices, a status inquiry, a
//! refund endpoint and a daily settlement file. Fault switches make it
//! hostile: notices dropped, delayed, doubled, reordered, with a wrong
//! amount, a bad signature or a stale timestamp; a failing or hanging
//! status endpoint; refused refunds.
//!
//! Its state lives in its own memory, as an external acquirer's would; it
//! is a test peer, not part of the hub.

pub mod cards;
mod pages;
pub mod protocol;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tahseel_core::time::to_local;
use tahseel_core::Fils;
use uuid::Uuid;

use cards::{decide, Attempt, CHALLENGE_CODE};
use protocol::*;

pub struct SimOptions {
    /// Authenticates the merchant's calls and signs notices.
    pub secret: String,
    /// Where payers' browsers reach the simulator.
    pub public_url: String,
    /// How long a card page session stays open.
    pub session_ttl: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFault {
    #[default]
    Ok,
    /// The status endpoint answers 503.
    Fail,
    /// The status endpoint never answers.
    Hang,
}

/// Switches that make the simulator misbehave, set with `PUT /control/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub drop_callbacks: bool,
    pub duplicate_callbacks: bool,
    pub delay_callback_ms: u64,
    /// Send the next notice only after the one after it.
    pub reorder_callbacks: bool,
    pub wrong_amount: bool,
    pub bad_signature: bool,
    pub stale_timestamp: bool,
    pub status: StatusFault,
    pub refuse_refunds: bool,
}

#[derive(Debug, Clone)]
struct Session {
    session_ref: String,
    merchant_ref: String,
    amount: Fils,
    callback_url: String,
    return_url: String,
    status: SessionStatus,
    in_challenge: bool,
    card_brand: Option<String>,
    card_last4: Option<String>,
    reason: Option<String>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

impl Session {
    /// A session nobody finished is expired once its time is up.
    fn refresh(&mut self, now: DateTime<Utc>) {
        if self.status == SessionStatus::Pending && now >= self.expires_at {
            self.status = SessionStatus::Expired;
            self.in_challenge = false;
        }
    }

    fn view(&self) -> SessionView {
        SessionView {
            session_ref: self.session_ref.clone(),
            merchant_ref: self.merchant_ref.clone(),
            status: self.status,
            amount: self.amount,
            card_brand: self.card_brand.clone(),
            card_last4: self.card_last4.clone(),
            reason: self.reason.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct RefundRecord {
    refund_id: String,
    refund_ref: String,
    session_ref: String,
    amount: Fils,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct Ledger {
    sessions: HashMap<String, Session>,
    by_merchant_ref: HashMap<String, String>,
    refunds: HashMap<String, RefundRecord>,
}

/// A signed notice ready to send.
#[derive(Clone)]
struct Outgoing {
    url: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

pub struct Simulator {
    options: SimOptions,
    ledger: Mutex<Ledger>,
    faults: Mutex<Faults>,
    held: Mutex<Option<Outgoing>>,
    client: reqwest::Client,
}

/// The most attempts to deliver one notice, and the first back-off.
const DELIVERY_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF_MS: u64 = 100;

impl Simulator {
    pub fn new(options: SimOptions) -> Arc<Self> {
        Arc::new(Simulator {
            options,
            ledger: Mutex::default(),
            faults: Mutex::default(),
            held: Mutex::default(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client builds"),
        })
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }

    fn faults(&self) -> Faults {
        self.faults.lock().unwrap().clone()
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let expected = format!("Bearer {}", self.options.secret);
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
    }

    fn with_session<T>(&self, session_ref: &str, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let mut ledger = self.ledger.lock().unwrap();
        let session = ledger.sessions.get_mut(session_ref)?;
        session.refresh(Utc::now());
        Some(f(session))
    }

    /// Builds the notice of a decided session, bent by the fault switches.
    fn notice(&self, s: &Session, faults: &Faults) -> Outgoing {
        let amount = if faults.wrong_amount {
            s.amount.checked_add(Fils::new(1)).unwrap_or(s.amount)
        } else {
            s.amount
        };
        let notice = Notice {
            event_id: Uuid::now_v7().to_string(),
            merchant_ref: s.merchant_ref.clone(),
            session_ref: s.session_ref.clone(),
            status: s.status,
            amount,
            card_brand: s.card_brand.clone(),
            card_last4: s.card_last4.clone(),
            reason: s.reason.clone(),
        };
        let body = serde_json::to_vec(&notice).expect("notice serializes");
        let now = Utc::now().timestamp();
        let timestamp = if faults.stale_timestamp {
            now - 3600
        } else {
            now
        }
        .to_string();
        let signature = if faults.bad_signature {
            sign(b"not-the-secret", &timestamp, &body)
        } else {
            sign(self.options.secret.as_bytes(), &timestamp, &body)
        };
        Outgoing {
            url: s.callback_url.clone(),
            timestamp,
            signature,
            body,
        }
    }

    async fn deliver(&self, out: &Outgoing) {
        let mut backoff = FIRST_BACKOFF_MS;
        for attempt in 1..=DELIVERY_ATTEMPTS {
            let sent = self
                .client
                .post(&out.url)
                .header(TIMESTAMP_HEADER, &out.timestamp)
                .header(SIGNATURE_HEADER, &out.signature)
                .header("content-type", "application/json")
                .body(out.body.clone())
                .send()
                .await;
            match sent {
                // A 4xx is the merchant refusing this notice: sending it again will not help.
                Ok(r) if r.status().is_success() || r.status().is_client_error() => return,
                Ok(r) => {
                    tracing::info!(attempt, status = %r.status(), "notice not accepted; retrying")
                }
                Err(e) => tracing::info!(attempt, error = %e, "notice not delivered; retrying"),
            }
            tokio::time::sleep(Duration::from_millis(backoff)).await;
            backoff *= 2;
        }
        tracing::warn!(url = %out.url, "notice given up after {DELIVERY_ATTEMPTS} attempts");
    }

    /// Sends the notice of a decided session as the faults say.
    async fn notify(self: &Arc<Self>, session: &Session) {
        let faults = self.faults();
        if faults.drop_callbacks {
            tracing::info!(session = %session.session_ref, "fault: notice dropped");
            return;
        }
        let out = self.notice(session, &faults);
        let mut batch = vec![out.clone()];
        if faults.duplicate_callbacks {
            batch.push(out);
        }
        if faults.reorder_callbacks {
            let held = self.held.lock().unwrap().take();
            match held {
                // The earlier notice goes after this one.
                Some(earlier) => batch.push(earlier),
                None => {
                    *self.held.lock().unwrap() = Some(batch.remove(0));
                    if batch.is_empty() {
                        return;
                    }
                }
            }
        }
        let sim = self.clone();
        let send = async move {
            for out in &batch {
                sim.deliver(out).await;
            }
        };
        if faults.delay_callback_ms > 0 {
            let delay = Duration::from_millis(faults.delay_callback_ms);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                send.await;
            });
        } else {
            send.await;
        }
    }

    /// Expires every session still waiting for the payer.
    pub fn expire_open_sessions(&self) {
        let mut ledger = self.ledger.lock().unwrap();
        for s in ledger.sessions.values_mut() {
            if s.status == SessionStatus::Pending {
                s.expires_at = Utc::now();
                s.refresh(s.expires_at);
            }
        }
    }

    /// Sends a notice held back by `reorder_callbacks`, if any.
    pub async fn flush_held(&self) {
        let held = self.held.lock().unwrap().take();
        if let Some(out) = held {
            self.deliver(&out).await;
        }
    }

    /// The settlement file for a Bahrain-time business day: every approved
    /// session and every refund of that day.
    pub fn settlement_csv(&self, day: NaiveDate) -> String {
        let ledger = self.ledger.lock().unwrap();
        let on_day = |t: DateTime<Utc>| to_local(t).date_naive() == day;
        let mut rows: Vec<(DateTime<Utc>, String)> = Vec::new();
        for s in ledger.sessions.values() {
            if let (SessionStatus::Approved, Some(at)) = (s.status, s.decided_at) {
                if on_day(at) {
                    rows.push((
                        at,
                        format!(
                            "{day},capture,{},{},{},BHD",
                            s.session_ref, s.merchant_ref, s.amount
                        ),
                    ));
                }
            }
        }
        for r in ledger.refunds.values() {
            if on_day(r.at) {
                rows.push((
                    r.at,
                    format!(
                        "{day},refund,{},{},{},BHD",
                        r.refund_id, r.refund_ref, r.amount
                    ),
                ));
            }
        }
        rows.sort();
        let mut csv = String::from(SETTLEMENT_HEADER);
        csv.push('\n');
        for (_, row) in rows {
            csv.push_str(&row);
            csv.push('\n');
        }
        csv
    }
}

pub fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/api/sessions", post(create_session))
        .route("/api/sessions/{session_ref}", get(session_status))
        .route("/api/refunds", post(refund))
        .route("/api/settlements/{day}", get(settlement))
        .route("/control/faults", get(get_faults).put(put_faults))
        .route("/control/flush", post(flush))
        .route("/control/expire-open-sessions", post(expire_open))
        .route("/pay/{session_ref}", get(card_page).post(submit_card))
        .route("/pay/{session_ref}/challenge", post(submit_challenge))
        .with_state(sim)
}

/// Binds `listen` and serves the simulator in the background.
pub async fn start(
    listen: SocketAddr,
    secret: String,
    session_ttl: Duration,
    public_url: Option<String>,
) -> std::io::Result<(
    SocketAddr,
    Arc<Simulator>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
    let sim = Simulator::new(SimOptions {
        secret,
        public_url,
        session_ttl,
    });
    let app = router(sim.clone());
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, sim, task))
}

type Sim = State<Arc<Simulator>>;

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({"error": "bad merchant key"})),
    )
        .into_response()
}

async fn create_session(
    State(sim): Sim,
    headers: HeaderMap,
    Json(req): Json<SessionRequest>,
) -> Response {
    if !sim.authorized(&headers) {
        return unauthorized();
    }
    if req.currency != "BHD" || !req.amount.is_positive() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({"error": "amount must be a positive BHD amount"})),
        )
            .into_response();
    }
    let mut ledger = sim.ledger.lock().unwrap();
    let session_ref = match ledger.by_merchant_ref.get(&req.merchant_ref) {
        Some(existing) => existing.clone(),
        None => {
            let session_ref = format!("sim_{}", Uuid::now_v7().simple());
            let session = Session {
                session_ref: session_ref.clone(),
                merchant_ref: req.merchant_ref.clone(),
                amount: req.amount,
                callback_url: req.callback_url,
                return_url: req.return_url,
                status: SessionStatus::Pending,
                in_challenge: false,
                card_brand: None,
                card_last4: None,
                reason: None,
                expires_at: Utc::now() + sim.options.session_ttl,
                decided_at: None,
            };
            ledger.sessions.insert(session_ref.clone(), session);
            ledger
                .by_merchant_ref
                .insert(req.merchant_ref, session_ref.clone());
            session_ref
        }
    };
    let redirect_url = format!("{}/pay/{session_ref}", sim.options.public_url);
    (
        StatusCode::CREATED,
        Json(SessionCreated {
            session_ref,
            redirect_url,
        }),
    )
        .into_response()
}

async fn session_status(
    State(sim): Sim,
    headers: HeaderMap,
    Path(session_ref): Path<String>,
) -> Response {
    if !sim.authorized(&headers) {
        return unauthorized();
    }
    match sim.faults().status {
        StatusFault::Ok => {}
        StatusFault::Fail => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "status service unavailable",
            )
                .into_response()
        }
        StatusFault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    match sim.with_session(&session_ref, |s| s.view()) {
        Some(view) => Json(view).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no such session"})),
        )
            .into_response(),
    }
}

async fn refund(State(sim): Sim, headers: HeaderMap, Json(req): Json<RefundCall>) -> Response {
    if !sim.authorized(&headers) {
        return unauthorized();
    }
    let refused = |reason: &str| {
        Json(RefundAnswerBody {
            refund_id: String::new(),
            status: "declined".into(),
            reason: Some(reason.into()),
        })
        .into_response()
    };
    if sim.faults().refuse_refunds {
        return refused("refunds_suspended");
    }
    let mut ledger = sim.ledger.lock().unwrap();
    if let Some(done) = ledger.refunds.get(&req.refund_ref) {
        return Json(RefundAnswerBody {
            refund_id: done.refund_id.clone(),
            status: "refunded".into(),
            reason: None,
        })
        .into_response();
    }
    let Some(session) = ledger.sessions.get(&req.session_ref) else {
        return refused("unknown_session");
    };
    if session.status != SessionStatus::Approved {
        return refused("not_captured");
    }
    let already = Fils::sum(
        ledger
            .refunds
            .values()
            .filter(|r| r.session_ref == req.session_ref)
            .map(|r| r.amount),
    )
    .unwrap_or(Fils::ZERO);
    if already
        .checked_add(req.amount)
        .map_or(true, |total| total > session.amount)
    {
        return refused("exceeds_captured");
    }
    let record = RefundRecord {
        refund_id: format!("simrf_{}", Uuid::now_v7().simple()),
        refund_ref: req.refund_ref.clone(),
        session_ref: req.session_ref,
        amount: req.amount,
        at: Utc::now(),
    };
    let refund_id = record.refund_id.clone();
    ledger.refunds.insert(req.refund_ref, record);
    Json(RefundAnswerBody {
        refund_id,
        status: "refunded".into(),
        reason: None,
    })
    .into_response()
}

async fn settlement(State(sim): Sim, headers: HeaderMap, Path(day): Path<String>) -> Response {
    if !sim.authorized(&headers) {
        return unauthorized();
    }
    let Ok(day) = NaiveDate::parse_from_str(day.trim_end_matches(".csv"), "%Y-%m-%d") else {
        return (StatusCode::BAD_REQUEST, "day must be YYYY-MM-DD").into_response();
    };
    (
        [("content-type", "text/csv; charset=utf-8")],
        sim.settlement_csv(day),
    )
        .into_response()
}

async fn get_faults(State(sim): Sim) -> Json<Faults> {
    Json(sim.faults())
}

async fn put_faults(State(sim): Sim, Json(faults): Json<Faults>) -> Json<Faults> {
    sim.set_faults(faults);
    Json(sim.faults())
}

/// Lets time pass for every open session: each one still waiting for the
/// payer is expired now, as it would be when its time ran out.
async fn expire_open(State(sim): Sim) -> StatusCode {
    sim.expire_open_sessions();
    StatusCode::NO_CONTENT
}

async fn flush(State(sim): Sim) -> StatusCode {
    sim.flush_held().await;
    StatusCode::NO_CONTENT
}

fn gone() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::message(
            "This payment session is not valid.",
            "جلسة الدفع هذه غير صالحة.",
        )),
    )
        .into_response()
}

async fn card_page(State(sim): Sim, Path(session_ref): Path<String>) -> Response {
    match sim.with_session(&session_ref, |s| s.clone()) {
        Some(s) if s.status == SessionStatus::Pending => {
            Html(pages::card_form(&s.session_ref, s.amount, None)).into_response()
        }
        Some(s) => Redirect::to(&s.return_url).into_response(),
        None => gone(),
    }
}

#[derive(Deserialize)]
pub struct CardForm {
    card_number: String,
    expiry: String,
    cvv: String,
}

async fn submit_card(
    State(sim): Sim,
    Path(session_ref): Path<String>,
    Form(form): Form<CardForm>,
) -> Response {
    let Some(session) = sim.with_session(&session_ref, |s| s.clone()) else {
        return gone();
    };
    if session.status != SessionStatus::Pending || session.in_challenge {
        // Decided already (a double click, a second tab): back to the merchant.
        return Redirect::to(&session.return_url).into_response();
    }
    let attempt = match decide(&form.card_number, &form.expiry, &form.cvv, Utc::now()) {
        Ok(a) => a,
        Err(msg) => {
            return (
                StatusCode::BAD_REQUEST,
                Html(pages::card_form(&session_ref, session.amount, Some(msg))),
            )
                .into_response()
        }
    };
    match attempt {
        Attempt::Approved { brand, last4 } => {
            finish(
                &sim,
                &session_ref,
                SessionStatus::Approved,
                Some(brand),
                last4,
                None,
            )
            .await
        }
        Attempt::Declined { reason, last4 } => {
            finish(
                &sim,
                &session_ref,
                SessionStatus::Declined,
                None,
                last4,
                Some(reason),
            )
            .await
        }
        Attempt::Challenge { brand, last4 } => {
            sim.with_session(&session_ref, |s| {
                s.in_challenge = true;
                s.card_brand = Some(brand);
                s.card_last4 = Some(last4);
            });
            Html(pages::challenge_form(&session_ref, session.amount, None)).into_response()
        }
        Attempt::NoAnswer { last4 } => {
            sim.with_session(&session_ref, |s| s.card_last4 = Some(last4));
            Html(pages::message(
                "Your bank has not answered yet. You may close this page; you will not be charged unless the payment completes.",
                "لم يرد البنك بعد. يمكنك إغلاق هذه الصفحة؛ لن يتم الخصم ما لم تكتمل العملية.",
            ))
            .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct ChallengeForm {
    code: String,
}

async fn submit_challenge(
    State(sim): Sim,
    Path(session_ref): Path<String>,
    Form(form): Form<ChallengeForm>,
) -> Response {
    let Some(session) = sim.with_session(&session_ref, |s| s.clone()) else {
        return gone();
    };
    if session.status != SessionStatus::Pending || !session.in_challenge {
        return Redirect::to(&session.return_url).into_response();
    }
    let last4 = session.card_last4.clone().unwrap_or_default();
    if form.code.trim() == CHALLENGE_CODE {
        finish(
            &sim,
            &session_ref,
            SessionStatus::Approved,
            session.card_brand.clone(),
            last4,
            None,
        )
        .await
    } else {
        finish(
            &sim,
            &session_ref,
            SessionStatus::Declined,
            None,
            last4,
            Some("authentication_failed".into()),
        )
        .await
    }
}

/// Records the decision, notifies the merchant, and sends the payer back.
async fn finish(
    sim: &Arc<Simulator>,
    session_ref: &str,
    status: SessionStatus,
    brand: Option<String>,
    last4: String,
    reason: Option<String>,
) -> Response {
    let decided = sim.with_session(session_ref, |s| {
        if s.status != SessionStatus::Pending {
            return None;
        }
        s.status = status;
        s.in_challenge = false;
        s.card_brand = brand;
        s.card_last4 = Some(last4);
        s.reason = reason;
        s.decided_at = Some(Utc::now());
        Some(s.clone())
    });
    let Some(Some(session)) = decided else {
        return match sim.with_session(session_ref, |s| s.return_url.clone()) {
            Some(url) => Redirect::to(&url).into_response(),
            None => gone(),
        };
    };
    sim.notify(&session).await;
    Redirect::to(&session.return_url).into_response()
}
