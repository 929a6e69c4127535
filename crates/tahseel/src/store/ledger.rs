//! Writing journal entries and checking the ledger.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tahseel_core::ledger::{JournalEntry, Side};
use tahseel_core::Fils;
use uuid::Uuid;

use super::columns::{PushRows, Rows};
use super::{at_commit, now, on_db, Store, Tx};
use crate::error::Result;

/// What an entry is about, stored beside it.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct EntryRefs {
    pub payment_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
    pub bill_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountBalance {
    pub account: String,
    pub debits: Fils,
    pub credits: Fils,
    /// Debits less credits.
    pub net_debit: Fils,
}

/// A disagreement `ledger verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LedgerFault {
    UnbalancedEntry {
        entry_id: i64,
        debits: Fils,
        credits: Fils,
    },
    BalanceMismatch {
        account: String,
        stored_debits: Fils,
        stored_credits: Fils,
        posted_debits: Fils,
        posted_credits: Fils,
    },
}

impl std::fmt::Display for LedgerFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerFault::UnbalancedEntry { entry_id, debits, credits } => {
                write!(f, "entry {entry_id} does not balance: debits {debits}, credits {credits}")
            }
            LedgerFault::BalanceMismatch { account, stored_debits, stored_credits, posted_debits, posted_credits } => write!(
                f,
                "account {account}: stored debits {stored_debits} / credits {stored_credits}, but its postings sum to debits {posted_debits} / credits {posted_credits}"
            ),
        }
    }
}

/// Appends a balanced entry in the caller's transaction; the running
/// totals of its accounts move when that transaction commits.
pub(super) async fn post_entry(tx: &mut Tx, entry: &JournalEntry, refs: EntryRefs) -> Result<i64> {
    let at = now();
    let deferred = tx.defer_entry(|id| NewEntry {
        id,
        kind: entry.kind().as_str(),
        refs,
        posted_at: at,
    });
    let entry_id = match deferred {
        Some(id) => id,
        None => on_db!(tx tx, |c, pg| {
            let entry_id: i64 = sqlx::query_scalar(
                "INSERT INTO journal_entries (kind, payment_id, refund_id, bill_id, posted_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(entry.kind().as_str())
            .bind(refs.payment_id)
            .bind(refs.refund_id)
            .bind(refs.bill_id)
            .bind(at)
            .fetch_one(&mut *c)
            .await?;
            entry_id
        }),
    };
    for p in entry.postings() {
        tx.defer_posting(NewPosting {
            entry_id,
            account: p.account.as_str().to_owned(),
            side: p.side,
            amount_fils: p.amount.as_i64(),
        });
    }
    Ok(entry_id)
}

/// A journal entry waiting for its transaction's commit, with its id.
#[derive(Debug, Clone)]
pub(super) struct NewEntry {
    pub id: i64,
    pub kind: &'static str,
    pub refs: EntryRefs,
    pub posted_at: DateTime<Utc>,
}

/// Inserts journal entries, before their postings, in one statement.
pub(super) async fn insert_entries(tx: &mut Tx, entries: &[NewEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push(
            "INSERT INTO journal_entries (id, kind, payment_id, refund_id, bill_id, posted_at) ",
        );
        qb.push_rows(Rows::of(entries, |r, e| {
            r.bigint(e.id)
                .text(e.kind)
                .opt_uuid(e.refs.payment_id)
                .opt_uuid(e.refs.refund_id)
                .opt_uuid(e.refs.bill_id)
                .time(e.posted_at);
        }));
    });
    Ok(())
}

/// A posting waiting for its transaction's commit (see `Tx::commit`).
#[derive(Debug, Clone)]
pub(super) struct NewPosting {
    pub entry_id: i64,
    pub account: String,
    pub side: Side,
    pub amount_fils: i64,
}

/// Inserts postings in one statement.
pub(super) async fn insert_postings(tx: &mut Tx, postings: &[NewPosting]) -> Result<()> {
    if postings.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push("INSERT INTO postings (entry_id, account, side, amount_fils) ");
        qb.push_rows(Rows::of(postings, |r, p| {
            r.bigint(p.entry_id)
                .text(&p.account)
                .text(p.side.as_str())
                .bigint(p.amount_fils);
        }));
    });
    Ok(())
}

/// Adds to accounts' running totals, in one statement, in name order so
/// that concurrent transactions lock them alike and cannot deadlock.
pub(super) async fn add_to_accounts(
    tx: &mut Tx,
    totals: &std::collections::BTreeMap<String, (i64, i64)>,
) -> Result<()> {
    if totals.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push("INSERT INTO ledger_accounts (name, debits_fils, credits_fils) ");
        qb.push_rows(Rows::of(totals, |r, (name, (debit, credit))| {
            r.text(name).bigint(*debit).bigint(*credit);
        }));
        qb.push(
            " ON CONFLICT (name) DO UPDATE SET debits_fils = ledger_accounts.debits_fils + excluded.debits_fils, \
             credits_fils = ledger_accounts.credits_fils + excluded.credits_fils",
        );
    });
    Ok(())
}

impl Store {
    pub async fn balances(&self) -> Result<Vec<AccountBalance>> {
        let rows: Vec<(String, i64, i64)> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT name, debits_fils, credits_fils FROM ledger_accounts ORDER BY name").fetch_all(c).await?
        });
        rows.into_iter()
            .map(|(account, d, cr)| {
                let (debits, credits) = (Fils::new(d), Fils::new(cr));
                Ok(AccountBalance {
                    account,
                    debits,
                    credits,
                    net_debit: debits.checked_sub(credits)?,
                })
            })
            .collect()
    }

    /// Recomputes every entry's balance and every account's totals from the
    /// postings and returns whatever disagrees. Both checks are single
    /// aggregate queries, so the database does the summing.
    pub async fn verify_ledger(&self) -> Result<Vec<LedgerFault>> {
        let unbalanced: Vec<(i64, i64, i64)> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT e.id, \
                   CAST(COALESCE(SUM(CASE WHEN p.side = 'debit' THEN p.amount_fils ELSE 0 END), 0) AS BIGINT), \
                   CAST(COALESCE(SUM(CASE WHEN p.side = 'credit' THEN p.amount_fils ELSE 0 END), 0) AS BIGINT) \
                 FROM journal_entries e LEFT JOIN postings p ON p.entry_id = e.id \
                 GROUP BY e.id \
                 HAVING COALESCE(SUM(CASE WHEN p.side = 'debit' THEN p.amount_fils ELSE 0 END), 0) \
                     <> COALESCE(SUM(CASE WHEN p.side = 'credit' THEN p.amount_fils ELSE 0 END), 0) \
                     OR COUNT(p.id) = 0 \
                 ORDER BY e.id",
            )
            .fetch_all(c)
            .await?
        });
        let mismatched: Vec<(String, i64, i64, i64, i64)> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT a.name, a.debits_fils, a.credits_fils, \
                   CAST(COALESCE(SUM(CASE WHEN p.side = 'debit' THEN p.amount_fils ELSE 0 END), 0) AS BIGINT) AS pd, \
                   CAST(COALESCE(SUM(CASE WHEN p.side = 'credit' THEN p.amount_fils ELSE 0 END), 0) AS BIGINT) AS pc \
                 FROM ledger_accounts a LEFT JOIN postings p ON p.account = a.name \
                 GROUP BY a.name, a.debits_fils, a.credits_fils \
                 HAVING a.debits_fils <> COALESCE(SUM(CASE WHEN p.side = 'debit' THEN p.amount_fils ELSE 0 END), 0) \
                     OR a.credits_fils <> COALESCE(SUM(CASE WHEN p.side = 'credit' THEN p.amount_fils ELSE 0 END), 0) \
                 ORDER BY a.name",
            )
            .fetch_all(c)
            .await?
        });
        let mut faults: Vec<LedgerFault> = unbalanced
            .into_iter()
            .map(|(entry_id, d, c)| LedgerFault::UnbalancedEntry {
                entry_id,
                debits: Fils::new(d),
                credits: Fils::new(c),
            })
            .collect();
        faults.extend(mismatched.into_iter().map(|(account, sd, sc, pd, pc)| {
            LedgerFault::BalanceMismatch {
                account,
                stored_debits: Fils::new(sd),
                stored_credits: Fils::new(sc),
                posted_debits: Fils::new(pd),
                posted_credits: Fils::new(pc),
            }
        }));
        Ok(faults)
    }
}
