//! Tahseel: a national e-payment collection hub.
//!
//! # Layout
//! - `tahseel_core` (its own crate): money, bills, payments, the ledger
//!   rules; pure, no I/O.
//! - [`store`]: SQLite and PostgreSQL storage; every state change in one
//!   transaction with its ledger entries.
//! - [`acquirer`]: the acquirer interface, method routing and fees, and the
//!   connector for the simulated acquirer.
//! - [`simulator`]: the simulated acquirer itself, a separate HTTP server.
//! - [`reconcile`]: matching an acquirer's settlement file to the ledger.
//! - [`hub`]: the payment flow between channels, store and acquirers, and
//!   the reconciler that settles what an acquirer left waiting.
//! - [`http`]: the JSON API.
//! - [`portal`]: the server-rendered portal, kiosk screens and admin area.
//! - [`cli`]: the `tahseel` command; [`app`] wires a server; [`demo`] the
//!   demo agencies and bills.

pub mod acquirer;
pub mod app;
pub mod auth;
pub mod bench;
pub mod charts;
pub mod cli;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod i18n;
pub mod import;
pub mod portal;
pub mod reconcile;
pub mod report;
pub mod simulate;
pub mod simulator;
pub mod statement;
pub mod store;
pub mod webhooks;
