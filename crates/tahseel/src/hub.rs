//! The hub: what happens between a channel, the store and an acquirer.
//! Handlers call this; it calls the store (one transaction per state
//! change) and the acquirers (never inside a database transaction).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tahseel_core::payment::{Channel, Method, PaymentState};
use tahseel_core::Fils;
use uuid::Uuid;

use std::time::Duration;

use crate::acquirer::{Acquirers, HostedSession, Inquiry, StartRequest};
use crate::auth;
use crate::error::{Error, Result};
use crate::store::{NewPayment, NewRefund, PaymentRecord, RefundRecord, Replayable, Store};

/// A channel's request to pay one or more bills.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub channel: Channel,
    pub method: Method,
    pub lines: Vec<LineRequest>,
    /// Where the acquirer sends the payer back, such as an app's deep link
    /// (`bh-gov-app://payments`); `payment_id` is added to it. Left out,
    /// the payer comes back to the portal's status page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// Where a payment request came from, beyond what its body says.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The kiosk's code, when a kiosk made the request.
    pub kiosk: Option<String>,
    /// Overrides the request's `return_url`.
    pub return_url: Option<String>,
}

/// The method name cash payments are recorded under as their "acquirer":
/// the kiosk's cash box, never an outside party.
pub const CASH: &str = "cash";

/// The longest return URL accepted.
const MAX_RETURN_URL_LEN: usize = 500;

/// A cash payment's reference in place of an acquirer's.
fn cash_ref(payment_id: Uuid) -> String {
    format!("cash-{payment_id}")
}

/// A return URL with the payment's id added, or an error a developer can act on.
fn return_url_for(template: &str, payment_id: Uuid) -> Result<String> {
    let mut url = reqwest::Url::parse(template).map_err(|e| {
        Error::Invalid(format!(
            "return_url {template:?} is not an absolute URL ({e}); give an https:// address or an app link such as bh-gov-app://payments"
        ))
    })?;
    if template.len() > MAX_RETURN_URL_LEN
        || matches!(url.scheme(), "javascript" | "data" | "file" | "blob")
    {
        return Err(Error::Invalid(format!(
            "return_url must be an https:// address or an app link of at most {MAX_RETURN_URL_LEN} characters"
        )));
    }
    url.query_pairs_mut()
        .append_pair("payment_id", &payment_id.to_string());
    Ok(url.into())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub bill_id: Uuid,
    pub amount: Fils,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub amount: Fils,
    pub reason: String,
    /// The bill line refunded; may be left out when the payment pays one
    /// bill of the agency.
    #[serde(default)]
    pub bill_id: Option<Uuid>,
}

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

pub fn check_idempotency_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Error::Invalid(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters, such as a UUID"
        )));
    }
    Ok(())
}

pub struct Hub {
    pub store: Store,
    pub acquirers: Acquirers,
    /// The URL payers' browsers reach this hub at, for return links.
    pub public_url: String,
    /// Fetches bills from agencies' own systems (and talks to the identity
    /// provider), with a short timeout.
    pub agency_client: reqwest::Client,
    pub portal: crate::portal::PortalConfig,
}

/// What an agency's bill endpoint answers for a reference.
#[derive(Debug, Deserialize)]
struct FetchedBill {
    payer: tahseel_core::payer::PayerId,
    #[serde(default)]
    amount: Option<Fils>,
    due_date: chrono::NaiveDate,
    #[serde(default)]
    expires_at: Option<chrono::DateTime<Utc>>,
}

/// When the reconciler looks at what is waiting on an acquirer.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileConfig {
    /// Ask the acquirer about a pending payment (or retry a refund) once it
    /// has not changed for this long.
    pub pending_after: Duration,
    /// Expire a payment that never reached the acquirer after this long.
    pub created_after: Duration,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            pending_after: Duration::from_secs(120),
            created_after: Duration::from_secs(900),
        }
    }
}

/// What one reconciler pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileSummary {
    pub captured: u32,
    pub declined: u32,
    pub expired: u32,
    pub still_pending: u32,
    pub refunds_finished: u32,
    pub errors: u32,
}

impl Hub {
    /// A bill by agency and reference: from the hub's own bills, or, for a
    /// service that presents its bills on lookup, from the agency's system,
    /// which is then kept like a pushed bill.
    pub async fn lookup_bill(
        &self,
        agency: &str,
        reference: &str,
        service: Option<&str>,
    ) -> Result<crate::store::BillRecord> {
        let agency = self.store.agency_by_code(agency).await?;
        match self.store.bill_by_reference(agency.id, reference).await {
            Err(Error::NotFound(_)) => {}
            found => return found,
        }
        let fetching: Vec<crate::store::Service> = self
            .store
            .services(Some(&agency.code))
            .await?
            .into_iter()
            .filter(|s| s.fetch_url.is_some() && service.is_none_or(|code| code == s.code))
            .collect();
        let service = match fetching.as_slice() {
            [] => return Err(Error::NotFound("bill")),
            [one] => one,
            _ => {
                return Err(Error::Invalid(
                    "this agency presents bills for several services: add ?service=CODE".into(),
                ))
            }
        };
        let url = service.fetch_url.as_deref().expect("filtered on fetch_url");
        let timestamp = Utc::now().timestamp().to_string();
        let mut target = reqwest::Url::parse(url)
            .map_err(|e| Error::AgencyUnavailable(format!("fetch url {url:?}: {e}")))?;
        target
            .query_pairs_mut()
            .append_pair("reference", reference)
            .append_pair("service", &service.code);
        let mut request = self.agency_client.get(target.clone());
        // Signed like webhooks, so the agency knows the hub is asking.
        let target = format!("GET {target}");
        let secrets = self.store.webhook_secrets(agency.id, Utc::now()).await?;
        let signature: Vec<String> = secrets
            .iter()
            .map(|s| {
                format!(
                    "v1={}",
                    crate::simulator::protocol::sign(s.as_bytes(), &timestamp, target.as_bytes())
                )
            })
            .collect();
        request = request
            .header("tahseel-timestamp", &timestamp)
            .header("tahseel-signature", signature.join(","));
        let response = request
            .send()
            .await
            .map_err(|e| Error::AgencyUnavailable(format!("{}: {e}", agency.code)))?;
        match response.status() {
            s if s == reqwest::StatusCode::NOT_FOUND => return Err(Error::NotFound("bill")),
            s if !s.is_success() => {
                return Err(Error::AgencyUnavailable(format!(
                    "{} answered {s}",
                    agency.code
                )))
            }
            _ => {}
        }
        let fetched: FetchedBill = response.json().await.map_err(|e| {
            Error::AgencyUnavailable(format!(
                "{} sent a bill Tahseel cannot read: {e}",
                agency.code
            ))
        })?;
        let new = crate::store::NewBill {
            service: service.code.clone(),
            reference: reference.to_owned(),
            payer: fetched.payer,
            amount: fetched.amount,
            due_date: fetched.due_date,
            expires_at: fetched.expires_at.map(tahseel_core::time::truncate_micros),
        };
        Ok(self.store.create_bill(agency.id, new).await?.0)
    }

    /// Creates a payment (or replays it), then opens the acquirer's card
    /// page session. The payment is committed before the acquirer is
    /// called, so a crash in between leaves a `created` payment holding its
    /// bills until it expires, never a charge without a record.
    pub async fn pay(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
    ) -> Result<Replayable<PaymentRecord>> {
        self.pay_from(request, idempotency_key, &Origin::default())
            .await
    }

    /// [`Hub::pay`] for a request whose origin (a kiosk, the portal's own
    /// pages) the hub knows from elsewhere than the body.
    pub async fn pay_from(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
        origin: &Origin,
    ) -> Result<Replayable<PaymentRecord>> {
        check_idempotency_key(idempotency_key)?;
        if let Some(template) = origin.return_url.as_ref().or(request.return_url.as_ref()) {
            // Checked before anything is stored.
            return_url_for(template, Uuid::nil())?;
        }
        let acquirer = self
            .acquirers
            .for_method(request.method)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "payment method {} is not accepted online",
                    request.method
                ))
            })?
            .clone();
        let hash = auth::request_hash(&serde_json::to_vec(request).expect("request serializes"));
        let mut new = NewPayment {
            id: Uuid::now_v7(),
            channel: request.channel,
            method: request.method,
            lines: request
                .lines
                .iter()
                .map(|l| (l.bill_id, l.amount))
                .collect(),
            fee: self.acquirers.fee(request.method),
            acquirer: acquirer.name().to_owned(),
            kiosk: origin.kiosk.clone(),
            idempotency_key: idempotency_key.to_owned(),
            request_hash: hash,
            session: None,
        };
        // The session is opened first, so that the payment is stored once,
        // already `pending`: one durable write instead of two. If storing
        // it is then refused (a bill paid meanwhile), or the key turns out
        // to be a repeat's (answered with the payment stored for it), the
        // payer is never sent to the new session, and the acquirer lets it
        // expire unused. The key is not looked up first: repeats are rare,
        // and a read before every payment cost more than an unused session
        // now and then.
        let start = StartRequest {
            payment_id: new.id,
            amount: new.total()?,
            method: request.method,
            callback_url: format!(
                "{}/api/v1/acquirers/{}/notices",
                self.public_url,
                acquirer.name()
            ),
            return_url: match origin.return_url.as_ref().or(request.return_url.as_ref()) {
                Some(template) => return_url_for(template, new.id)?,
                None => format!("{}/payments/{}", self.public_url, new.id),
            },
        };
        match acquirer.start(&start).await {
            Ok(session) => {
                new.session = Some(session);
                self.store.create_payment(new).await
            }
            Err(e) => {
                // Kept as a failed payment, so that the attempt and why it
                // failed can be seen, and a repeat of the request is told
                // the same.
                tracing::warn!(payment = %new.id, error = %e, "acquirer did not open a session");
                let id = new.id;
                match self.store.create_payment(new).await? {
                    Replayable::Replayed(p) => return Ok(Replayable::Replayed(p)),
                    Replayable::New(_) => {}
                }
                self.store
                    .close_payment(id, PaymentState::Failed, "acquirer_unavailable")
                    .await?;
                Err(e)
            }
        }
    }

    /// A payment in cash at a kiosk, whose cash acceptor has taken the
    /// money: recorded and captured at once into the kiosk's cash box. The
    /// kiosk repeats the call with the same key until it has an answer; a
    /// payment a crash left open is finished by the repeat or by the
    /// reconciler, since the cash was in the box before the call.
    pub async fn pay_cash(
        &self,
        kiosk: &str,
        lines: &[LineRequest],
        idempotency_key: &str,
    ) -> Result<Replayable<PaymentRecord>> {
        check_idempotency_key(idempotency_key)?;
        let request = PaymentRequest {
            channel: Channel::Kiosk,
            method: Method::Cash,
            lines: lines.to_vec(),
            return_url: None,
        };
        let hash = auth::request_hash(&serde_json::to_vec(&request).expect("request serializes"));
        let id = Uuid::now_v7();
        let created = self
            .store
            .create_payment(NewPayment {
                id,
                channel: Channel::Kiosk,
                method: Method::Cash,
                lines: lines.iter().map(|l| (l.bill_id, l.amount)).collect(),
                fee: Fils::ZERO,
                acquirer: CASH.to_owned(),
                kiosk: Some(kiosk.to_owned()),
                idempotency_key: idempotency_key.to_owned(),
                request_hash: hash,
                // The cash is already in the box: stored pending at once.
                session: Some(HostedSession {
                    acquirer_ref: cash_ref(id),
                    next_url: String::new(),
                }),
            })
            .await?;
        let replayed = created.is_replay();
        let payment = self.finish_cash(created.into_inner()).await?;
        Ok(if replayed {
            Replayable::Replayed(payment)
        } else {
            Replayable::New(payment)
        })
    }

    /// Brings an open cash payment to `captured`; a finished one is returned as it is.
    async fn finish_cash(&self, mut payment: PaymentRecord) -> Result<PaymentRecord> {
        let acquirer_ref = cash_ref(payment.id);
        // Cash payments are stored `pending`; older ones may be `created`.
        if payment.state == PaymentState::Created {
            payment = self.store.mark_pending(payment, &acquirer_ref, "").await?;
        }
        if payment.state == PaymentState::Pending {
            let outcome = crate::store::AcquirerOutcome::Approved {
                acquirer_ref,
                amount: payment.total,
                card_brand: String::new(),
                card_last4: String::new(),
            };
            payment = self
                .store
                .apply_outcome(payment.id, &outcome)
                .await?
                .into_inner();
        }
        Ok(payment)
    }

    /// Applies a server-to-server notice from an acquirer after checking it;
    /// returns the payment and its state after it.
    pub async fn acquirer_notice(
        &self,
        acquirer: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(Uuid, PaymentState)> {
        let acq = self
            .acquirers
            .by_name(acquirer)
            .ok_or(Error::NotFound("acquirer"))?;
        let notice = match acq.verify_notice(timestamp, signature, body, Utc::now()) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(acquirer, error = %e, "acquirer notice refused");
                self.store
                    .record_exception(acquirer, "notice_refused", None, &e.to_string())
                    .await?;
                return Err(e);
            }
        };
        let applied = self
            .store
            .record_outcome(notice.payment_id, notice.outcome.clone())
            .await;
        let applied = match applied {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(acquirer, payment = %notice.payment_id, error = %e, "acquirer notice not applied");
                if !matches!(e, Error::Database(_)) {
                    self.store
                        .record_exception(
                            acquirer,
                            "notice_not_applied",
                            Some(notice.payment_id),
                            &e.to_string(),
                        )
                        .await?;
                }
                return Err(e);
            }
        };
        if applied.is_replay() {
            tracing::info!(acquirer, payment = %notice.payment_id, "repeated acquirer notice ignored");
        }
        Ok((notice.payment_id, applied.into_inner()))
    }

    /// Grants a refund, asks the acquirer to pay it, and records the answer.
    /// A refund left `requested` by a crash or an unreachable acquirer
    /// keeps its ledger posting as owed to the payer.
    pub async fn refund(
        &self,
        agency_id: Uuid,
        payment_id: Uuid,
        request: &RefundRequest,
        idempotency_key: &str,
    ) -> Result<Replayable<RefundRecord>> {
        check_idempotency_key(idempotency_key)?;
        let reason = request.reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            return Err(Error::Invalid("reason must be 1 to 500 characters".into()));
        }
        let hash = auth::request_hash(&serde_json::to_vec(request).expect("request serializes"));
        let refund = match self
            .store
            .request_refund(NewRefund {
                agency_id,
                payment_id,
                bill_id: request.bill_id,
                amount: request.amount,
                reason,
                idempotency_key,
                request_hash: &hash,
            })
            .await?
        {
            Replayable::Replayed(r) => return Ok(Replayable::Replayed(r)),
            Replayable::New(r) => r,
        };
        let payment = self.store.payment(payment_id).await?;
        let acquirer = self
            .acquirers
            .by_name(&payment.acquirer)
            .ok_or(Error::NotFound("acquirer"))?;
        let acquirer_ref = payment
            .acquirer_ref
            .as_deref()
            .ok_or(Error::NotFound("acquirer reference"))?;
        match acquirer
            .refund(acquirer_ref, refund.id, refund.amount)
            .await
        {
            Ok(answer) => Ok(Replayable::New(
                self.store.finish_refund(refund.id, answer).await?,
            )),
            Err(e) => {
                tracing::warn!(refund = %refund.id, error = %e, "acquirer refund call failed; refund stays requested");
                Ok(Replayable::New(refund))
            }
        }
    }
}

impl Hub {
    /// One pass of the reconciler: asks the acquirer about every payment
    /// pending too long and applies its answer, expires payments that never
    /// reached an acquirer, and retries refunds left `requested`. Every step
    /// is idempotent, so several nodes may run it at once.
    pub async fn reconcile_once(&self, config: ReconcileConfig) -> Result<ReconcileSummary> {
        let mut summary = ReconcileSummary::default();
        let now = Utc::now();
        let pending_cutoff = now - config.pending_after;
        let created_cutoff = now - config.created_after;
        for p in self.store.waiting_payments(pending_cutoff).await? {
            match self.settle_waiting(&p, created_cutoff).await {
                Ok(Some(PaymentState::Captured)) => summary.captured += 1,
                Ok(Some(PaymentState::Declined)) => summary.declined += 1,
                Ok(Some(_)) => summary.expired += 1,
                Ok(None) => summary.still_pending += 1,
                Err(e) => {
                    summary.errors += 1;
                    tracing::warn!(payment = %p.id, error = %e, "reconciler could not settle payment");
                }
            }
        }
        for r in self.store.waiting_refunds(pending_cutoff).await? {
            let (Some(acquirer), Some(acquirer_ref)) = (
                self.acquirers.by_name(&r.acquirer),
                r.acquirer_ref.as_deref(),
            ) else {
                summary.errors += 1;
                continue;
            };
            match acquirer.refund(acquirer_ref, r.id, r.amount).await {
                Ok(answer) => {
                    self.store.finish_refund(r.id, answer).await?;
                    summary.refunds_finished += 1;
                }
                Err(e) => {
                    summary.errors += 1;
                    tracing::warn!(refund = %r.id, error = %e, "reconciler could not reach the acquirer for a refund");
                }
            }
        }
        if summary != ReconcileSummary::default() {
            tracing::info!(?summary, "reconciler pass");
        }
        Ok(summary)
    }

    /// Brings one waiting payment to its end if the acquirer knows it;
    /// returns the state it ended in, or `None` while it is still open.
    async fn settle_waiting(
        &self,
        p: &crate::store::WaitingPayment,
        created_cutoff: chrono::DateTime<Utc>,
    ) -> Result<Option<PaymentState>> {
        if p.acquirer == CASH {
            let payment = self.store.payment(p.id).await?;
            return Ok(Some(self.finish_cash(payment).await?.state));
        }
        let Some(acquirer_ref) = p.acquirer_ref.as_deref() else {
            // Never reached the acquirer (a crash between commit and session,
            // or an acquirer that would not open one): nobody can have paid it.
            if self.store.payment(p.id).await?.updated_at < created_cutoff {
                let closed = self
                    .store
                    .close_payment(p.id, PaymentState::Expired, "no_acquirer_session")
                    .await?;
                return Ok(Some(closed.state));
            }
            return Ok(None);
        };
        let acquirer = self
            .acquirers
            .by_name(&p.acquirer)
            .ok_or(Error::NotFound("acquirer"))?;
        match acquirer.inquire(acquirer_ref).await? {
            Inquiry::Pending => Ok(None),
            Inquiry::Expired => Ok(Some(
                self.store
                    .close_payment(p.id, PaymentState::Expired, "abandoned")
                    .await?
                    .state,
            )),
            Inquiry::Decided(outcome) => match self.store.apply_outcome(p.id, &outcome).await {
                Ok(applied) => Ok(Some(applied.into_inner().state)),
                Err(e) => {
                    self.store
                        .record_exception(
                            &p.acquirer,
                            "inquiry_not_applied",
                            Some(p.id),
                            &e.to_string(),
                        )
                        .await?;
                    Err(e)
                }
            },
        }
    }

    /// Runs the reconciler every `every` until the process ends.
    pub async fn run_reconciler(
        self: std::sync::Arc<Self>,
        every: Duration,
        config: ReconcileConfig,
    ) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.reconcile_once(config).await {
                tracing::warn!(error = %e, "reconciler pass failed");
            }
        }
    }
}
