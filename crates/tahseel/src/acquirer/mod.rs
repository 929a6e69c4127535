//! Card acquirers: the interface every acquirer implements, and the
//! built-in simulator.
//!
//! An acquirer hosts the card page (Tahseel never sees a card number), tells
//! Tahseel the outcome in a signed notice, and pays refunds back to cards.
//! Each acquirer lives in a file of its own; the hub picks one per payment
//! method from its routing table.

pub mod sim;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tahseel_core::payment::Method;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::error::Result;
use crate::store::AcquirerOutcome;

/// What the hub asks an acquirer to collect.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub payment_id: Uuid,
    pub amount: Fils,
    pub method: Method,
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

/// The acquirer's answer to a refund: its refund reference, or why it refused.
pub type RefundAnswer = std::result::Result<String, String>;

#[async_trait::async_trait]
pub trait Acquirer: Send + Sync {
    /// The name payments and ledger accounts carry (`acquirer:NAME:clearing`).
    fn name(&self) -> &str;

    /// Opens a hosted card page session for a payment.
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

    /// Pays `amount` of a captured payment back to the card.
    async fn refund(&self, acquirer_ref: &str, amount: Fils) -> Result<RefundAnswer>;
}

/// The acquirers this deployment talks to and which one takes each method.
#[derive(Clone, Default)]
pub struct Acquirers {
    by_name: BTreeMap<String, Arc<dyn Acquirer>>,
    routes: BTreeMap<Method, String>,
}

impl Acquirers {
    pub fn add(&mut self, acquirer: Arc<dyn Acquirer>, methods: &[Method]) {
        let name = acquirer.name().to_owned();
        for m in methods {
            self.routes.insert(*m, name.clone());
        }
        self.by_name.insert(name, acquirer);
    }

    pub fn for_method(&self, method: Method) -> Option<&Arc<dyn Acquirer>> {
        self.routes.get(&method).and_then(|n| self.by_name.get(n))
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<dyn Acquirer>> {
        self.by_name.get(name)
    }
}
