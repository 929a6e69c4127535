//! Tahseel: a national e-payment collection hub.
//!
//! # Layout
//! - `tahseel_core` (its own crate): money, bills, payments, the ledger
//!   rules; pure, no I/O.
//! - [`store`]: SQLite and PostgreSQL storage; every state change in one
//!   transaction with its ledger entries.
//! - [`acquirer`]: the acquirer interface and the simulated acquirer.
//! - [`hub`]: the payment flow between channels, store and acquirers.
//! - [`http`]: the JSON API and the simulator's card page.
//! - [`cli`]: the `tahseel` command; [`app`] wires a server; [`demo`] the
//!   demo agencies and bills.

pub mod acquirer;
pub mod app;
pub mod auth;
pub mod cli;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod store;
