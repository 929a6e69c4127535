//! The connector for the simulated acquirer (`tahseel acquirer-sim`),
//! speaking its HTTP protocol as Tahseel would speak a real acquirer's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tahseel_core::Fils;
use uuid::Uuid;

use super::{Acquirer, HostedSession, Inquiry, RefundAnswer, StartRequest, VerifiedNotice};
use crate::error::{Error, Result};
use crate::simulator::protocol::{
    signature_ok, Notice, RefundAnswerBody, RefundCall, SessionCreated, SessionRequest,
    SessionStatus, SessionView,
};
use crate::store::AcquirerOutcome;

/// How old a notice's timestamp may be, in seconds, either way.
pub const NOTICE_WINDOW_SECS: i64 = 300;

pub struct SimulatedAcquirer {
    name: String,
    base_url: String,
    secret: String,
    client: reqwest::Client,
}

impl SimulatedAcquirer {
    pub fn new(name: &str, base_url: &str, secret: &str, timeout: Duration) -> Self {
        SimulatedAcquirer {
            name: name.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret: secret.to_owned(),
            client: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("HTTP client builds"),
        }
    }

    fn unreachable(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Acquirer(format!("{} {what}: {e}", self.name))
    }
}

fn outcome(
    view_status: SessionStatus,
    session_ref: String,
    amount: Fils,
    brand: Option<String>,
    last4: Option<String>,
    reason: Option<String>,
) -> Result<Option<AcquirerOutcome>> {
    Ok(match view_status {
        SessionStatus::Approved => Some(AcquirerOutcome::Approved {
            acquirer_ref: session_ref,
            amount,
            card_brand: brand
                .ok_or_else(|| Error::BadNotice("approved without card_brand".into()))?,
            card_last4: last4
                .filter(|l| l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    Error::BadNotice("approved without a four-digit card_last4".into())
                })?,
        }),
        SessionStatus::Declined => Some(AcquirerOutcome::Declined {
            acquirer_ref: session_ref,
            reason: reason.unwrap_or_else(|| "declined".into()),
        }),
        SessionStatus::Pending | SessionStatus::Expired => None,
    })
}

#[async_trait::async_trait]
impl Acquirer for SimulatedAcquirer {
    fn name(&self) -> &str {
        &self.name
    }

    async fn start(&self, request: &StartRequest) -> Result<HostedSession> {
        let body = SessionRequest {
            merchant_ref: request.payment_id.to_string(),
            amount: request.amount,
            currency: "BHD".into(),
            method: request.method.to_string(),
            callback_url: request.callback_url.clone(),
            return_url: request.return_url.clone(),
        };
        let resp = self
            .client
            .post(format!("{}/api/sessions", self.base_url))
            .bearer_auth(&self.secret)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.unreachable("session", e))?;
        if !resp.status().is_success() {
            return Err(self.unreachable("session", resp.status()));
        }
        let created: SessionCreated = resp
            .json()
            .await
            .map_err(|e| self.unreachable("session", e))?;
        Ok(HostedSession {
            acquirer_ref: created.session_ref,
            next_url: created.redirect_url,
        })
    }

    fn verify_notice(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotice> {
        if !signature_ok(self.secret.as_bytes(), timestamp, body, signature) {
            return Err(Error::BadNotice("signature does not match".into()));
        }
        let sent: i64 = timestamp
            .parse()
            .map_err(|_| Error::BadNotice("timestamp is not a number".into()))?;
        if (now.timestamp() - sent).abs() > NOTICE_WINDOW_SECS {
            return Err(Error::BadNotice(format!(
                "timestamp is outside the {NOTICE_WINDOW_SECS} s window"
            )));
        }
        let n: Notice =
            serde_json::from_slice(body).map_err(|e| Error::BadNotice(format!("body: {e}")))?;
        let payment_id = Uuid::parse_str(&n.merchant_ref)
            .map_err(|_| Error::BadNotice("merchant_ref is not a payment id".into()))?;
        let outcome = outcome(
            n.status,
            n.session_ref,
            n.amount,
            n.card_brand,
            n.card_last4,
            n.reason,
        )?
        .ok_or_else(|| Error::BadNotice(format!("a notice must be final, not {:?}", n.status)))?;
        Ok(VerifiedNotice {
            payment_id,
            outcome,
        })
    }

    async fn inquire(&self, acquirer_ref: &str) -> Result<Inquiry> {
        let resp = self
            .client
            .get(format!("{}/api/sessions/{acquirer_ref}", self.base_url))
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(|e| self.unreachable("status", e))?;
        if !resp.status().is_success() {
            return Err(self.unreachable("status", resp.status()));
        }
        let v: SessionView = resp
            .json()
            .await
            .map_err(|e| self.unreachable("status", e))?;
        if v.session_ref != acquirer_ref {
            return Err(Error::BadNotice(
                "status answer is for another session".into(),
            ));
        }
        Ok(match v.status {
            SessionStatus::Pending => Inquiry::Pending,
            SessionStatus::Expired => Inquiry::Expired,
            status => Inquiry::Decided(
                outcome(
                    status,
                    v.session_ref,
                    v.amount,
                    v.card_brand,
                    v.card_last4,
                    v.reason,
                )?
                .expect("approved or declined"),
            ),
        })
    }

    async fn refund(
        &self,
        acquirer_ref: &str,
        refund_id: Uuid,
        amount: Fils,
    ) -> Result<RefundAnswer> {
        let call = RefundCall {
            session_ref: acquirer_ref.to_owned(),
            amount,
            refund_ref: refund_id.to_string(),
        };
        let resp = self
            .client
            .post(format!("{}/api/refunds", self.base_url))
            .bearer_auth(&self.secret)
            .json(&call)
            .send()
            .await
            .map_err(|e| self.unreachable("refund", e))?;
        if !resp.status().is_success() {
            return Err(self.unreachable("refund", resp.status()));
        }
        let answer: RefundAnswerBody = resp
            .json()
            .await
            .map_err(|e| self.unreachable("refund", e))?;
        Ok(match answer.status.as_str() {
            "refunded" => Ok(answer.refund_id),
            _ => Err(answer.reason.unwrap_or_else(|| "declined".into())),
        })
    }
}
