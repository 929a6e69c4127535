//! The domain core of Tahseel, the government e-payment collection hub.
//!
//! Everything here is pure: no database, no network, no clock reads except
//! where a caller passes `now` in. Storage, HTTP and acquirers live in the
//! `tahseel` crate and call these rules inside their transactions.
//!
//! # Layout
//! - [`money`]: `Fils`, BHD amounts as integer fils with checked arithmetic.
//! - [`payer`]: CPR and CR payer identifiers.
//! - [`agency`]: agency and service codes, names, service terms, IBANs.
//! - [`bill`]: a bill's amounts (due, paid, held) and the rules to pay it.
//! - [`payment`]: channels, methods, the payment and refund state machines.
//! - [`ledger`]: balanced journal entries and account totals.
//! - [`time`]: Bahrain local time, in which periods and receipts are read.

pub mod agency;
pub mod bill;
pub mod ledger;
pub mod money;
pub mod payer;
pub mod payment;
pub mod time;

pub use money::Fils;
