//! Agencies that collect through the hub, and the services they collect for.

use serde::{Deserialize, Serialize};

use crate::money::Fils;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("agency code {0:?} must be 2 to 10 capital letters or digits, like GDT")]
    AgencyCode(String),
    #[error("service code {0:?} must be 2 to 40 lower-case letters, digits or dashes, like vehicle-registration")]
    ServiceCode(String),
    #[error("IBAN {0:?} is not valid: it must be a Bahraini IBAN of 22 characters (BH, two check digits, bank code, account) whose check digits agree")]
    Iban(String),
    #[error("a fee service needs a positive fee from its schedule")]
    FeeMissing,
    #[error("a bill service has no fixed fee: the agency sets each bill's amount")]
    FeeNotAllowed,
    #[error("{0} must not be empty")]
    EmptyName(&'static str),
}

/// The short code an agency is known by (`GDT`, `MOJ`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyCode(String);

impl AgencyCode {
    pub fn parse(input: &str) -> Result<Self, CatalogError> {
        let ok = (2..=10).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(AgencyCode(input.to_owned()))
        } else {
            Err(CatalogError::AgencyCode(input.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AgencyCode {
    type Error = CatalogError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AgencyCode::parse(&s)
    }
}

impl From<AgencyCode> for String {
    fn from(c: AgencyCode) -> String {
        c.0
    }
}

/// A service's code within its agency (`vehicle-registration`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceCode(String);

impl ServiceCode {
    pub fn parse(input: &str) -> Result<Self, CatalogError> {
        let ok = (2..=40).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !input.starts_with('-')
            && !input.ends_with('-');
        if ok {
            Ok(ServiceCode(input.to_owned()))
        } else {
            Err(CatalogError::ServiceCode(input.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServiceCode {
    type Error = CatalogError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ServiceCode::parse(&s)
    }
}

impl From<ServiceCode> for String {
    fn from(c: ServiceCode) -> String {
        c.0
    }
}

/// Checks a Bahraini IBAN (`BH67BMAG00001299123456`): country, length and
/// the ISO 13616 mod-97 check digits. Spaces are ignored.
pub fn parse_iban(input: &str) -> Result<String, CatalogError> {
    let err = || CatalogError::Iban(input.to_owned());
    let compact: String = input.chars().filter(|c| *c != ' ').collect();
    let upper = compact.to_ascii_uppercase();
    if upper.len() != 22
        || !upper.starts_with("BH")
        || !upper.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(err());
    }
    let rearranged = format!("{}{}", &upper[4..], &upper[..4]);
    let mut remainder: u32 = 0;
    for c in rearranged.chars() {
        let value = c.to_digit(36).ok_or_else(err)?;
        let width = if value >= 10 { 100 } else { 10 };
        remainder = (remainder * width + value) % 97;
    }
    if remainder == 1 {
        Ok(upper)
    } else {
        Err(err())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// The agency sets each bill's amount (a fine, a utility bill).
    Bill,
    /// A fixed fee from the service's schedule (an ID card).
    Fee,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Bill => "bill",
            ServiceKind::Fee => "fee",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bill" => Some(ServiceKind::Bill),
            "fee" => Some(ServiceKind::Fee),
            _ => None,
        }
    }
}

/// The terms a service is offered on, checked together so that a fee
/// service always has its fee and a bill service never has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTerms {
    pub kind: ServiceKind,
    pub fee: Option<Fils>,
    pub allow_partial: bool,
}

impl ServiceTerms {
    pub fn new(
        kind: ServiceKind,
        fee: Option<Fils>,
        allow_partial: bool,
    ) -> Result<Self, CatalogError> {
        match (kind, fee) {
            (ServiceKind::Fee, Some(f)) if f.is_positive() => {}
            (ServiceKind::Fee, _) => return Err(CatalogError::FeeMissing),
            (ServiceKind::Bill, Some(_)) => return Err(CatalogError::FeeNotAllowed),
            (ServiceKind::Bill, None) => {}
        }
        Ok(ServiceTerms {
            kind,
            fee,
            allow_partial,
        })
    }
}

/// A name in both of the hub's languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub en: String,
    pub ar: String,
}

impl Names {
    pub fn new(en: &str, ar: &str) -> Result<Self, CatalogError> {
        if en.trim().is_empty() {
            return Err(CatalogError::EmptyName("the English name"));
        }
        if ar.trim().is_empty() {
            return Err(CatalogError::EmptyName("the Arabic name"));
        }
        Ok(Names {
            en: en.trim().to_owned(),
            ar: ar.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(AgencyCode::parse("GDT").is_ok());
        assert!(AgencyCode::parse("gdt").is_err());
        assert!(AgencyCode::parse("G").is_err());
        assert!(ServiceCode::parse("vehicle-registration").is_ok());
        assert!(ServiceCode::parse("-x").is_err());
        assert!(ServiceCode::parse("Vehicle").is_err());
    }

    #[test]
    fn iban_check_digits() {
        assert_eq!(
            parse_iban("BH67 BMAG 0000 1299 1234 56").unwrap(),
            "BH67BMAG00001299123456"
        );
        assert!(parse_iban("BH68BMAG00001299123456").is_err());
        assert!(parse_iban("GB82WEST12345698765432").is_err());
    }

    #[test]
    fn terms_fit_the_kind() {
        assert!(ServiceTerms::new(ServiceKind::Fee, Some(Fils::new(2000)), false).is_ok());
        assert_eq!(
            ServiceTerms::new(ServiceKind::Fee, None, false),
            Err(CatalogError::FeeMissing)
        );
        assert_eq!(
            ServiceTerms::new(ServiceKind::Bill, Some(Fils::new(1)), false),
            Err(CatalogError::FeeNotAllowed)
        );
    }
}
