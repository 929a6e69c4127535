//! Bahraini dinar amounts held as integer fils (1 BHD = 1000 fils).
//!
//! There is no floating point anywhere on this path: amounts are parsed from
//! and formatted to decimal strings digit by digit, and every arithmetic
//! operation is checked so that an overflow is an error instead of a wrap.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Fils per dinar.
pub const FILS_PER_BHD: i64 = 1000;

/// An amount of money in fils. Signed, so that ledger balances and net
/// figures can be negative; request amounts go through [`Fils::parse_amount`],
/// which only accepts positive values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fils(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount {0:?} is not a BHD amount; write it like \"12.500\" (at most three decimals)")]
    Malformed(String),
    #[error(
        "amount {0:?} has more than three decimals; BHD amounts are exact to the fils (0.001)"
    )]
    TooManyDecimals(String),
    #[error("amount {0:?} is too large")]
    TooLarge(String),
    #[error("amount must be greater than zero, got {0}")]
    NotPositive(Fils),
    #[error("amount arithmetic overflowed")]
    Overflow,
}

impl Fils {
    pub const ZERO: Fils = Fils(0);

    pub const fn new(fils: i64) -> Self {
        Fils(fils)
    }

    pub const fn as_i64(self) -> i64 {
        self.0
    }

    pub fn from_bhd(dinars: i64) -> Result<Self, MoneyError> {
        dinars
            .checked_mul(FILS_PER_BHD)
            .map(Fils)
            .ok_or(MoneyError::Overflow)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Fils) -> Result<Fils, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Fils)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Fils) -> Result<Fils, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Fils)
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_neg(self) -> Result<Fils, MoneyError> {
        self.0.checked_neg().map(Fils).ok_or(MoneyError::Overflow)
    }

    /// Sums amounts, failing on overflow rather than wrapping.
    pub fn sum<I: IntoIterator<Item = Fils>>(items: I) -> Result<Fils, MoneyError> {
        items
            .into_iter()
            .try_fold(Fils::ZERO, |acc, x| acc.checked_add(x))
    }

    /// Parses `"12.345"`, `"12.5"`, `"12"` or `"-0.250"`. At most three
    /// decimals; no exponent, no grouping separators, no leading `+`.
    pub fn parse(input: &str) -> Result<Fils, MoneyError> {
        let malformed = || MoneyError::Malformed(input.to_owned());
        let (negative, body) = match input.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let (whole, frac) = match body.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (body, None),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let frac = frac.unwrap_or("");
        if body.contains('.') && frac.is_empty() {
            return Err(malformed());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        if frac.len() > 3 {
            return Err(MoneyError::TooManyDecimals(input.to_owned()));
        }
        let too_large = || MoneyError::TooLarge(input.to_owned());
        // Accumulate as a negative number when the sign is negative so that
        // i64::MIN fils parses without overflowing on the way.
        let sign: i64 = if negative { -1 } else { 1 };
        let mut fils: i64 = 0;
        let digits = whole
            .bytes()
            .chain(frac.bytes())
            .chain(std::iter::repeat_n(b'0', 3 - frac.len()));
        for digit in digits {
            let d = i64::from(digit - b'0');
            fils = fils
                .checked_mul(10)
                .and_then(|v| v.checked_add(sign * d))
                .ok_or_else(too_large)?;
        }
        Ok(Fils(fils))
    }

    /// Parses an amount that a payer or agency asks to move: it must be
    /// strictly positive.
    pub fn parse_amount(input: &str) -> Result<Fils, MoneyError> {
        let fils = Fils::parse(input)?;
        if !fils.is_positive() {
            return Err(MoneyError::NotPositive(fils));
        }
        Ok(fils)
    }
}

impl fmt::Display for Fils {
    /// Always three decimals: `12.500`, `-0.005`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = FILS_PER_BHD as u64;
        write!(f, "{sign}{}.{:03}", abs / per, abs % per)
    }
}

impl FromStr for Fils {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fils::parse(s)
    }
}

/// Amounts travel as strings with three decimals, never as JSON numbers,
/// so no client can round them through a float.
impl Serialize for Fils {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fils {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Fils;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a BHD amount as a string with up to three decimals, like \"12.500\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fils, E> {
                Fils::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_exactly() {
        let cases = [
            ("12.345", 12_345),
            ("12.5", 12_500),
            ("12", 12_000),
            ("0.001", 1),
            ("-0.250", -250),
            ("0", 0),
        ];
        for (text, fils) in cases {
            assert_eq!(Fils::parse(text), Ok(Fils(fils)), "{text}");
        }
        assert_eq!(Fils(12_500).to_string(), "12.500");
        assert_eq!(Fils(-5).to_string(), "-0.005");
        assert_eq!(Fils(i64::MIN).to_string(), "-9223372036854775.808");
    }

    #[test]
    fn rejects_what_is_not_an_exact_amount() {
        for bad in [
            "", ".5", "1.", "1.2.3", "+1", "1e3", "1,000", " 1", "abc", "--1", "-",
        ] {
            assert!(
                matches!(Fils::parse(bad), Err(MoneyError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Fils::parse("1.2345"),
            Err(MoneyError::TooManyDecimals(_))
        ));
        assert!(matches!(
            Fils::parse("9223372036854776"),
            Err(MoneyError::TooLarge(_))
        ));
        assert_eq!(
            Fils::parse_amount("-1.000"),
            Err(MoneyError::NotPositive(Fils(-1000)))
        );
        assert_eq!(
            Fils::parse_amount("0.000"),
            Err(MoneyError::NotPositive(Fils(0)))
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            Fils(i64::MAX).checked_add(Fils(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Fils(i64::MIN).checked_sub(Fils(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Fils(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(Fils::sum([Fils(1), Fils(2)]), Ok(Fils(3)));
        assert_eq!(
            Fils::sum([Fils(i64::MAX), Fils(1)]),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn json_amounts_are_strings() {
        assert_eq!(serde_json::to_string(&Fils(12_500)).unwrap(), "\"12.500\"");
        assert_eq!(serde_json::from_str::<Fils>("\"1.5\"").unwrap(), Fils(1500));
        assert!(serde_json::from_str::<Fils>("1.5").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(fils in any::<i64>()) {
            let text = Fils(fils).to_string();
            prop_assert_eq!(Fils::parse(&text), Ok(Fils(fils)));
        }

        #[test]
        fn parse_then_format_is_canonical(whole in 0u64..10_000_000, frac in 0u32..1000, digits in 1usize..=3) {
            // "12.5" and "12.500" are the same amount and format the same way.
            let frac_text = format!("{frac:03}");
            let text = format!("{whole}.{}", &frac_text[..digits]);
            let parsed = Fils::parse(&text).unwrap();
            let scaled = frac_text[..digits].parse::<i64>().unwrap() * 10_i64.pow(3 - digits as u32);
            prop_assert_eq!(parsed.as_i64(), whole as i64 * 1000 + scaled);
            prop_assert_eq!(Fils::parse(&parsed.to_string()), Ok(parsed));
        }
    }
}
