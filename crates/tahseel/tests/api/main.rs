//! End-to-end tests: each starts the real server on port 0 and talks HTTP.
//! Every scenario runs on a fresh SQLite file and, when
//! `TAHSEEL_TEST_DATABASE_URL` names a PostgreSQL server, again on a fresh
//! PostgreSQL database there.

mod helpers;

mod acquirers;
mod analytics;
mod browser;
mod bulk;
mod catalog;
mod channels;
mod concurrency;
mod crash;
mod errors;
mod fetch;
mod ledger;
mod payments;
mod refunds;
mod settlement;
mod simulation;
mod statements;
mod webhooks;
