//! The one error type of the application layer. Domain errors pass through
//! unchanged; the HTTP edge (`http::error`) maps each variant to a status
//! and a stable code exactly once.

use tahseel_core::agency::CatalogError;
use tahseel_core::bill::BillError;
use tahseel_core::ledger::LedgerError;
use tahseel_core::money::MoneyError;
use tahseel_core::payer::PayerError;
use tahseel_core::payment::{PaymentError, RefundError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this Idempotency-Key was already used for a different request; use a new key for a new request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Bill(#[from] BillError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
    #[error(transparent)]
    Refund(#[from] RefundError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Payer(#[from] PayerError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the acquirer could not be reached: {0}")]
    Acquirer(String),
    #[error("the agency's billing system did not answer in time; try again in a few minutes")]
    AgencyUnavailable(String),
    #[error("acquirer notification refused: {0}")]
    BadNotice(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// True when this is a unique-constraint violation that names `what`:
    /// PostgreSQL reports the constraint's name, SQLite the columns in its
    /// message, so `what` is matched against both.
    pub fn is_unique_violation_of(&self, what: &str) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                e.constraint().is_some_and(|c| c.contains(what)) || e.message().contains(what)
            }
            _ => false,
        }
    }
}
