//! The hub: what happens between a channel, the store and an acquirer.
//! Handlers call this; it calls the store (one transaction per state
//! change) and the acquirers (never inside a database transaction).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tahseel_core::payment::{Channel, Method, PaymentState};
use tahseel_core::Fils;
use uuid::Uuid;

use crate::acquirer::{Acquirers, StartRequest};
use crate::auth;
use crate::error::{Error, Result};
use crate::store::{NewPayment, PaymentRecord, RefundRecord, Replayable, Store};

/// A channel's request to pay one or more bills.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub channel: Channel,
    pub method: Method,
    pub lines: Vec<LineRequest>,
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
    /// The built-in simulated acquirer, when this node hosts its card page.
    pub sim: Option<std::sync::Arc<crate::acquirer::sim::SimAcquirer>>,
}

impl Hub {
    /// Creates a payment (or replays it), then opens the acquirer's card
    /// page session. The payment is committed before the acquirer is
    /// called, so a crash in between leaves a `created` payment holding its
    /// bills until it expires, never a charge without a record.
    pub async fn pay(
        &self,
        request: &PaymentRequest,
        idempotency_key: &str,
    ) -> Result<Replayable<PaymentRecord>> {
        check_idempotency_key(idempotency_key)?;
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
        let new = NewPayment {
            channel: request.channel,
            method: request.method,
            lines: request
                .lines
                .iter()
                .map(|l| (l.bill_id, l.amount))
                .collect(),
            acquirer: acquirer.name().to_owned(),
            idempotency_key: idempotency_key.to_owned(),
            request_hash: hash,
        };
        let payment = match self.store.create_payment(new).await? {
            Replayable::Replayed(p) => return Ok(Replayable::Replayed(p)),
            Replayable::New(p) => p,
        };
        assert_eq!(payment.state, PaymentState::Created);
        let start = StartRequest {
            payment_id: payment.id,
            amount: payment.total,
            method: payment.method,
            return_url: format!("{}/api/v1/payments/{}", self.public_url, payment.id),
        };
        match acquirer.start(&start).await {
            Ok(session) => Ok(Replayable::New(
                self.store
                    .mark_pending(payment.id, &session.acquirer_ref, &session.next_url)
                    .await?,
            )),
            Err(e) => {
                tracing::warn!(payment = %payment.id, error = %e, "acquirer did not open a session");
                self.store
                    .close_payment(payment.id, PaymentState::Failed, "acquirer_unavailable")
                    .await?;
                Err(e)
            }
        }
    }

    /// Applies a server-to-server notice from an acquirer after checking it.
    pub async fn acquirer_notice(
        &self,
        acquirer: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<PaymentRecord> {
        let acq = self
            .acquirers
            .by_name(acquirer)
            .ok_or(Error::NotFound("acquirer"))?;
        let notice = acq
            .verify_notice(timestamp, signature, body, Utc::now())
            .inspect_err(|e| {
                tracing::warn!(acquirer, error = %e, "acquirer notice refused");
            })?;
        let applied = self.store.apply_outcome(notice.payment_id, &notice.outcome).await.inspect_err(|e| {
            tracing::warn!(acquirer, payment = %notice.payment_id, error = %e, "acquirer notice not applied");
        })?;
        if applied.is_replay() {
            tracing::info!(acquirer, payment = %notice.payment_id, "repeated acquirer notice ignored");
        }
        Ok(applied.into_inner())
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
            .request_refund(
                agency_id,
                payment_id,
                request.amount,
                reason,
                idempotency_key,
                &hash,
            )
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
        match acquirer.refund(acquirer_ref, refund.amount).await {
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
