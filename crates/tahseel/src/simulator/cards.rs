//! The simulator's test cards and how it decides an attempt.
//!
//! | card | outcome |
//! |---|---|
//! | 4111 1111 1111 1111 | approved (visa) |
//! | 5555 5555 5555 4444 | approved (mastercard) |
//! | 4000 0000 0000 3220 | 3-D Secure challenge; code 123456 approves, anything else declines |
//! | 4000 0000 0000 0002 | declined: card_declined |
//! | 4000 0000 0000 9995 | declined: insufficient_funds |
//! | 4000 0000 0000 0119 | no answer: stays processing until the session expires |
//! | any other valid number | declined: unknown_test_card |

use chrono::{DateTime, Datelike, Utc};

pub const APPROVE_VISA: &str = "4111111111111111";
pub const APPROVE_MASTERCARD: &str = "5555555555554444";
pub const CHALLENGE: &str = "4000000000003220";
pub const DECLINE: &str = "4000000000000002";
pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const NO_ANSWER: &str = "4000000000000119";
/// The one-time code that passes the 3-D Secure challenge.
pub const CHALLENGE_CODE: &str = "123456";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Approved { brand: String, last4: String },
    Declined { reason: String, last4: String },
    Challenge { brand: String, last4: String },
    NoAnswer { last4: String },
}

fn luhn_ok(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

const BAD_EXPIRY: &str = "Expiry must be MM/YY. · يجب أن يكون تاريخ الانتهاء بصيغة MM/YY.";

/// Checks what the payer typed and decides. An `Err` is a message for the
/// form, in English and Arabic.
pub fn decide(
    card_number: &str,
    expiry: &str,
    cvv: &str,
    today: DateTime<Utc>,
) -> Result<Attempt, &'static str> {
    let number: String = card_number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(12..=19).contains(&number.len())
        || !number.bytes().all(|b| b.is_ascii_digit())
        || !luhn_ok(&number)
    {
        return Err("The card number is not valid. · رقم البطاقة غير صحيح.");
    }
    let (mm, yy) = expiry.trim().split_once('/').ok_or(BAD_EXPIRY)?;
    let month: u32 = mm.trim().parse().map_err(|_| BAD_EXPIRY)?;
    let year: i32 = yy.trim().parse().map_err(|_| BAD_EXPIRY)?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) {
        return Err(BAD_EXPIRY);
    }
    if (year, month) < (today.year(), today.month()) {
        return Err("The card has expired. · البطاقة منتهية الصلاحية.");
    }
    let cvv = cvv.trim();
    if !(3..=4).contains(&cvv.len()) || !cvv.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            "The security code must be 3 or 4 digits. · رمز الأمان يجب أن يكون 3 أو 4 أرقام.",
        );
    }
    let last4 = number[number.len() - 4..].to_owned();
    let declined = |reason: &str| Attempt::Declined {
        reason: reason.to_owned(),
        last4: last4.clone(),
    };
    Ok(match number.as_str() {
        APPROVE_VISA => Attempt::Approved {
            brand: "visa".into(),
            last4,
        },
        APPROVE_MASTERCARD => Attempt::Approved {
            brand: "mastercard".into(),
            last4,
        },
        CHALLENGE => Attempt::Challenge {
            brand: "visa".into(),
            last4,
        },
        DECLINE => declined("card_declined"),
        INSUFFICIENT_FUNDS => declined("insufficient_funds"),
        NO_ANSWER => Attempt::NoAnswer { last4 },
        _ => declined("unknown_test_card"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards() {
        let now = Utc::now();
        let exp = format!("12/{}", (now.year() + 1) % 100);
        assert!(matches!(
            decide("4111 1111 1111 1111", &exp, "123", now),
            Ok(Attempt::Approved { .. })
        ));
        assert!(matches!(
            decide(DECLINE, &exp, "123", now),
            Ok(Attempt::Declined { .. })
        ));
        assert!(matches!(
            decide(CHALLENGE, &exp, "123", now),
            Ok(Attempt::Challenge { .. })
        ));
        assert!(matches!(
            decide(NO_ANSWER, &exp, "123", now),
            Ok(Attempt::NoAnswer { .. })
        ));
        assert!(decide("4111111111111112", &exp, "123", now).is_err());
        assert!(decide(APPROVE_VISA, "01/20", "123", now).is_err());
        assert!(decide(APPROVE_VISA, &exp, "12", now).is_err());
    }
}
