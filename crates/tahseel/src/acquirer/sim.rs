//! The simulated acquirer: a hosted card page with documented test cards,
//! notices signed with HMAC-SHA256 over `timestamp.body`, and refunds.
//!
//! Its session state travels in a signed token inside the card page URL,
//! so any node can serve any payer's card page.
//!
//! Test cards (any future expiry, any 3-digit CVV):
//!
//! | card | outcome |
//! |---|---|
//! | 4111 1111 1111 1111 | approved (visa) |
//! | 5555 5555 5555 4444 | approved (mastercard) |
//! | 4000 0000 0000 0002 | declined: card_declined |
//! | 4000 0000 0000 9995 | declined: insufficient_funds |
//! | any other valid number | declined: unknown_test_card |

use base64::Engine;
use chrono::{DateTime, Datelike, Utc};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use tahseel_core::Fils;
use uuid::Uuid;

use super::{Acquirer, HostedSession, RefundAnswer, StartRequest, VerifiedNotice};
use crate::error::{Error, Result};
use crate::store::AcquirerOutcome;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

pub const NAME: &str = "sim";
/// How old a notice's timestamp may be, in seconds, either way.
pub const NOTICE_WINDOW_SECS: i64 = 300;
pub const TIMESTAMP_HEADER: &str = "x-acquirer-timestamp";
pub const SIGNATURE_HEADER: &str = "x-acquirer-signature";

pub struct SimAcquirer {
    secret: Vec<u8>,
    /// Base URL under which the card page is served (`…/sim/acquirer`).
    base_url: String,
}

/// What the card page URL carries, signed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionToken {
    pub payment_id: Uuid,
    pub acquirer_ref: String,
    pub amount_fils: i64,
    pub return_url: String,
}

/// The body of a notice the simulator sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub payment_id: Uuid,
    pub acquirer_ref: String,
    pub status: String,
    pub amount: Fils,
    #[serde(default)]
    pub card_brand: Option<String>,
    #[serde(default)]
    pub card_last4: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of a card the payer typed, decided by the acquirer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardDecision {
    Approved { brand: String, last4: String },
    Declined { reason: String, last4: String },
}

impl SimAcquirer {
    pub fn new(secret: &[u8], base_url: &str) -> Self {
        SimAcquirer {
            secret: secret.to_vec(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        for p in parts {
            mac.update(p);
        }
        mac
    }

    pub fn seal(&self, token: &SessionToken) -> String {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(token).expect("token serializes"));
        let sig = hex::encode(self.mac(&[body.as_bytes()]).finalize().into_bytes());
        format!("{body}.{sig}")
    }

    pub fn open(&self, sealed: &str) -> Option<SessionToken> {
        let (body, sig) = sealed.split_once('.')?;
        self.mac(&[body.as_bytes()])
            .verify_slice(&hex::decode(sig).ok()?)
            .ok()?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Signs a notice body for the given timestamp (seconds since the epoch).
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        hex::encode(
            self.mac(&[timestamp.as_bytes(), b".", body])
                .finalize()
                .into_bytes(),
        )
    }

    /// Builds the signed notice for a card decision: (timestamp, signature, body).
    pub fn notice_for(
        &self,
        token: &SessionToken,
        decision: &CardDecision,
        now: DateTime<Utc>,
    ) -> (String, String, Vec<u8>) {
        let notice = match decision {
            CardDecision::Approved { brand, last4 } => Notice {
                payment_id: token.payment_id,
                acquirer_ref: token.acquirer_ref.clone(),
                status: "approved".into(),
                amount: Fils::new(token.amount_fils),
                card_brand: Some(brand.clone()),
                card_last4: Some(last4.clone()),
                reason: None,
            },
            CardDecision::Declined { reason, last4 } => Notice {
                payment_id: token.payment_id,
                acquirer_ref: token.acquirer_ref.clone(),
                status: "declined".into(),
                amount: Fils::new(token.amount_fils),
                card_brand: None,
                card_last4: Some(last4.clone()),
                reason: Some(reason.clone()),
            },
        };
        let body = serde_json::to_vec(&notice).expect("notice serializes");
        let timestamp = now.timestamp().to_string();
        let signature = self.sign(&timestamp, &body);
        (timestamp, signature, body)
    }
}

/// Luhn check digit validation.
fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Validates what the payer typed on the card page and decides the
/// outcome. An `Err` is a message to show on the form, in English and Arabic.
pub fn decide(
    card_number: &str,
    expiry: &str,
    cvv: &str,
    today: DateTime<Utc>,
) -> std::result::Result<CardDecision, &'static str> {
    let number: String = card_number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(12..=19).contains(&number.len())
        || !number.bytes().all(|b| b.is_ascii_digit())
        || !luhn_ok(&number)
    {
        return Err("The card number is not valid. / رقم البطاقة غير صحيح.");
    }
    let (mm, yy) = expiry
        .trim()
        .split_once('/')
        .ok_or("Expiry must be MM/YY. / يجب أن يكون تاريخ الانتهاء بصيغة MM/YY.")?;
    let month: u32 = mm
        .trim()
        .parse()
        .map_err(|_| "Expiry must be MM/YY. / يجب أن يكون تاريخ الانتهاء بصيغة MM/YY.")?;
    let year: i32 = yy
        .trim()
        .parse()
        .map_err(|_| "Expiry must be MM/YY. / يجب أن يكون تاريخ الانتهاء بصيغة MM/YY.")?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) || (year, month) < (today.year(), today.month()) {
        return Err("The card has expired. / البطاقة منتهية الصلاحية.");
    }
    if !(3..=4).contains(&cvv.trim().len()) || !cvv.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "The security code must be 3 or 4 digits. / رمز الأمان يجب أن يكون 3 أو 4 أرقام.",
        );
    }
    let last4 = number[number.len() - 4..].to_owned();
    let declined = |reason: &str| CardDecision::Declined {
        reason: reason.to_owned(),
        last4: last4.clone(),
    };
    Ok(match number.as_str() {
        "4111111111111111" => CardDecision::Approved {
            brand: "visa".into(),
            last4,
        },
        "5555555555554444" => CardDecision::Approved {
            brand: "mastercard".into(),
            last4,
        },
        "4000000000000002" => declined("card_declined"),
        "4000000000009995" => declined("insufficient_funds"),
        _ => declined("unknown_test_card"),
    })
}

#[async_trait::async_trait]
impl Acquirer for SimAcquirer {
    fn name(&self) -> &str {
        NAME
    }

    async fn start(&self, request: &StartRequest) -> Result<HostedSession> {
        let token = SessionToken {
            payment_id: request.payment_id,
            acquirer_ref: format!("sim_{}", Uuid::new_v4().simple()),
            amount_fils: request.amount.as_i64(),
            return_url: request.return_url.clone(),
        };
        Ok(HostedSession {
            next_url: format!("{}/pay/{}", self.base_url, self.seal(&token)),
            acquirer_ref: token.acquirer_ref,
        })
    }

    fn verify_notice(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedNotice> {
        let sig =
            hex::decode(signature).map_err(|_| Error::BadNotice("signature is not hex".into()))?;
        self.mac(&[timestamp.as_bytes(), b".", body])
            .verify_slice(&sig)
            .map_err(|_| Error::BadNotice("signature does not match".into()))?;
        let sent: i64 = timestamp
            .parse()
            .map_err(|_| Error::BadNotice("timestamp is not a number".into()))?;
        if (now.timestamp() - sent).abs() > NOTICE_WINDOW_SECS {
            return Err(Error::BadNotice(format!(
                "timestamp is outside the {NOTICE_WINDOW_SECS} s window"
            )));
        }
        let notice: Notice =
            serde_json::from_slice(body).map_err(|e| Error::BadNotice(format!("body: {e}")))?;
        let outcome = match notice.status.as_str() {
            "approved" => AcquirerOutcome::Approved {
                acquirer_ref: notice.acquirer_ref,
                amount: notice.amount,
                card_brand: notice
                    .card_brand
                    .ok_or_else(|| Error::BadNotice("approved notice without card_brand".into()))?,
                card_last4: notice
                    .card_last4
                    .filter(|l| l.len() == 4 && l.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        Error::BadNotice("approved notice without four-digit card_last4".into())
                    })?,
            },
            "declined" => AcquirerOutcome::Declined {
                acquirer_ref: notice.acquirer_ref,
                reason: notice.reason.unwrap_or_else(|| "declined".into()),
            },
            other => return Err(Error::BadNotice(format!("unknown status {other:?}"))),
        };
        Ok(VerifiedNotice {
            payment_id: notice.payment_id,
            outcome,
        })
    }

    async fn refund(&self, acquirer_ref: &str, _amount: Fils) -> Result<RefundAnswer> {
        Ok(Ok(format!("{acquirer_ref}_rf_{}", Uuid::new_v4().simple())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim() -> SimAcquirer {
        SimAcquirer::new(b"secret", "http://127.0.0.1/sim/acquirer")
    }

    #[test]
    fn tokens_are_tamper_evident() {
        let s = sim();
        let token = SessionToken {
            payment_id: Uuid::nil(),
            acquirer_ref: "r".into(),
            amount_fils: 5,
            return_url: "u".into(),
        };
        let sealed = s.seal(&token);
        assert_eq!(s.open(&sealed), Some(token));
        let forged = sealed.replacen('e', "f", 1);
        assert_eq!(s.open(&forged), None);
    }

    #[test]
    fn notices_verify_only_when_signed_and_fresh() {
        let s = sim();
        let token = SessionToken {
            payment_id: Uuid::nil(),
            acquirer_ref: "r".into(),
            amount_fils: 5,
            return_url: "u".into(),
        };
        let now = Utc::now();
        let decision = CardDecision::Approved {
            brand: "visa".into(),
            last4: "1111".into(),
        };
        let (ts, sig, body) = s.notice_for(&token, &decision, now);
        assert!(s.verify_notice(&ts, &sig, &body, now).is_ok());
        assert!(s.verify_notice(&ts, &sig, b"{}", now).is_err());
        let late = now + chrono::Duration::seconds(NOTICE_WINDOW_SECS + 1);
        assert!(s.verify_notice(&ts, &sig, &body, late).is_err());
    }

    #[test]
    fn test_cards() {
        let now = Utc::now();
        let next_year = format!("12/{}", (now.year() + 1) % 100);
        assert!(matches!(
            decide("4111 1111 1111 1111", &next_year, "123", now),
            Ok(CardDecision::Approved { .. })
        ));
        assert!(matches!(
            decide("4000000000000002", &next_year, "123", now),
            Ok(CardDecision::Declined { .. })
        ));
        assert!(decide("4111111111111112", &next_year, "123", now).is_err());
        assert!(decide("4111111111111111", "01/20", "123", now).is_err());
        assert!(decide("4111111111111111", &next_year, "12", now).is_err());
    }
}
