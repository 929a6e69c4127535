//! Who owes a bill: a person by CPR number or a company by CR number.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PayerId {
    /// Central Population Register number: nine digits, the first four
    /// being the holder's year and month of birth (YYMM).
    Cpr(String),
    /// Commercial Registration number, optionally with its branch:
    /// `12345` or `12345-1`.
    Cr(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payer {0:?} is neither a CPR (nine digits, like 850101234) nor a CR number (like 12345 or 12345-1)")]
pub struct PayerError(pub String);

impl PayerId {
    pub fn parse(input: &str) -> Result<PayerId, PayerError> {
        let err = || PayerError(input.to_owned());
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if input.len() == 9 && all_digits(input) {
            let month: u32 = input[2..4].parse().map_err(|_| err())?;
            if !(1..=12).contains(&month) {
                return Err(err());
            }
            return Ok(PayerId::Cpr(input.to_owned()));
        }
        let (number, branch) = match input.split_once('-') {
            Some((n, b)) => (n, Some(b)),
            None => (input, None),
        };
        let number_ok = all_digits(number) && number.len() <= 6 && !number.starts_with('0');
        let branch_ok = branch.is_none_or(|b| all_digits(b) && b.len() <= 3);
        if number_ok && branch_ok {
            Ok(PayerId::Cr(input.to_owned()))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PayerId::Cpr(s) | PayerId::Cr(s) => s,
        }
    }
}

impl fmt::Display for PayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PayerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PayerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PayerId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_cpr_and_cr() {
        assert_eq!(
            PayerId::parse("850101234"),
            Ok(PayerId::Cpr("850101234".into()))
        );
        assert_eq!(PayerId::parse("12345"), Ok(PayerId::Cr("12345".into())));
        assert_eq!(PayerId::parse("12345-1"), Ok(PayerId::Cr("12345-1".into())));
    }

    #[test]
    fn rejects_the_rest() {
        for bad in [
            "",
            "85010123",
            "8501012345",
            "851301234",
            "85a101234",
            "012345",
            "1234567",
            "123-",
            "123-1234",
            "-1",
        ] {
            assert!(PayerId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
