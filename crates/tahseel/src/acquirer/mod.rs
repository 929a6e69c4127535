//! Card acquirers: the interface every acquirer connector implements, the
//! routing of payment methods to acquirers, and per-method fees.
//!
//! An acquirer hosts the card page (Tahseel never sees a card number), tells
//! Tahseel the outcome in a signed notice, answers status inquiries, and
//! pays refunds back to cards. Each connector lives in a file of its own.

pub mod simulated;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tahseel_core::payment::Method;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::AcquirerOutcome;

/// What the hub asks an acquirer to collect.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub payment_id: Uuid,
    pub amount: Fils,
    pub method: Method,
    /// Where the acquirer sends its signed notice.
    pub callback_url: String,
    /// Where the payer's browser goes back to when the card page is done.
    pub return_url: String,
}

/// The acquirer's session for one payment.
#[derive(Debug, Clone)]
pub struct HostedSession {
    pub acquirer_ref: String,
    /// The acquirer's card page, to which the payer is sent.
    pub next_url: String,
}

/// A notice whose signature, timestamp and shape were checked.
#[derive(Debug, Clone)]
pub struct VerifiedNotice {
    pub payment_id: Uuid,
    pub outcome: AcquirerOutcome,
}

/// The acquirer's answer to "what became of this payment?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inquiry {
    Decided(AcquirerOutcome),
    /// Still on the card page or with the issuer.
    Pending,
    /// Abandoned; nothing was charged.
    Expired,
}

/// The acquirer's answer to a refund: its refund reference, or why it refused.
pub type RefundAnswer = std::result::Result<String, String>;

#[async_trait::async_trait]
pub trait Acquirer: Send + Sync {
    /// The name payments and ledger accounts carry (`acquirer:NAME:clearing`).
    fn name(&self) -> &str;

    /// Opens a hosted card page session for a payment. Calling it again for
    /// the same payment returns the same session.
    async fn start(&self, request: &StartRequest) -> Result<HostedSession>;

    /// Checks a server-to-server notice: its signature over the timestamp
    /// and body, the timestamp's freshness, and its fields.
    fn verify_notice(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotice>;

    /// Asks what became of a session.
    async fn inquire(&self, acquirer_ref: &str) -> Result<Inquiry>;

    /// Pays `amount` of a captured payment back to the card. The same
    /// `refund_id` twice is one refund.
    async fn refund(
        &self,
        acquirer_ref: &str,
        refund_id: Uuid,
        amount: Fils,
    ) -> Result<RefundAnswer>;
}

/// The acquirers this deployment talks to, which one takes each method,
/// and the fee each method carries on top of the bills.
#[derive(Clone, Default)]
pub struct Acquirers {
    by_name: BTreeMap<String, Arc<dyn Acquirer>>,
    routes: BTreeMap<Method, String>,
    fees: BTreeMap<Method, Fils>,
}

impl Acquirers {
    pub fn add(&mut self, acquirer: Arc<dyn Acquirer>) {
        self.by_name.insert(acquirer.name().to_owned(), acquirer);
    }

    /// Sends `method` to the acquirer `name`.
    pub fn route(&mut self, method: Method, name: &str) -> Result<()> {
        if !self.by_name.contains_key(name) {
            return Err(Error::Invalid(format!(
                "route {method}={name}: no acquirer named {name}"
            )));
        }
        if method == Method::Cash {
            return Err(Error::Invalid(
                "cash is taken at counters and kiosks, not through an acquirer".into(),
            ));
        }
        self.routes.insert(method, name.to_owned());
        Ok(())
    }

    /// A fee charged to the payer on top of the bills for `method`.
    pub fn set_fee(&mut self, method: Method, fee: Fils) {
        if fee.is_positive() {
            self.fees.insert(method, fee);
        } else {
            self.fees.remove(&method);
        }
    }

    pub fn fee(&self, method: Method) -> Fils {
        self.fees.get(&method).copied().unwrap_or(Fils::ZERO)
    }

    pub fn for_method(&self, method: Method) -> Option<&Arc<dyn Acquirer>> {
        self.routes.get(&method).and_then(|n| self.by_name.get(n))
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<dyn Acquirer>> {
        self.by_name.get(name)
    }
}
