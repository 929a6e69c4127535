//! The wire protocol between a merchant (Tahseel) and the simulated
//! acquirer: JSON requests authenticated with a bearer key, and notices
//! signed with HMAC-SHA256 over `timestamp.body`.

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use tahseel_core::Fils;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const TIMESTAMP_HEADER: &str = "x-acquirer-timestamp";
pub const SIGNATURE_HEADER: &str = "x-acquirer-signature";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The merchant's own id for the payment; a second request with the
    /// same one returns the same session.
    pub merchant_ref: String,
    pub amount: Fils,
    pub currency: String,
    pub method: String,
    pub callback_url: String,
    pub return_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionCreated {
    pub session_ref: String,
    pub redirect_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for the payer, or for the issuer's answer.
    Pending,
    Approved,
    Declined,
    /// The payer never completed it; nothing was charged.
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    pub session_ref: String,
    pub merchant_ref: String,
    pub status: SessionStatus,
    pub amount: Fils,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundCall {
    pub session_ref: String,
    pub amount: Fils,
    /// The merchant's refund id: the same one twice is one refund.
    pub refund_ref: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundAnswerBody {
    pub refund_id: String,
    pub status: String,
    pub reason: Option<String>,
}

/// The body of a server-to-server notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub event_id: String,
    pub merchant_ref: String,
    pub session_ref: String,
    pub status: SessionStatus,
    pub amount: Fils,
    #[serde(default)]
    pub card_brand: Option<String>,
    #[serde(default)]
    pub card_last4: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// The hex HMAC-SHA256 of `timestamp.body`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Checks a signature in constant time.
pub fn signature_ok(secret: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(sig) = hex::decode(signature) else {
        return false;
    };
    let mut m = mac(secret);
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&sig).is_ok()
}

/// Settlement file columns, in order.
pub const SETTLEMENT_HEADER: &str =
    "settlement_date,record_type,acquirer_ref,merchant_ref,amount,currency";
