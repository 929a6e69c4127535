//! Writing journal entries and checking the ledger.

use serde::Serialize;
use tahseel_core::ledger::{JournalEntry, Side};
use tahseel_core::Fils;
use uuid::Uuid;

use super::{now, on_db, Store, Tx};
use crate::error::Result;

/// What an entry is about, stored beside it.
#[derive(Default, Clone, Copy)]
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

/// Appends a balanced entry and moves the running totals of its accounts,
/// in the caller's transaction. Accounts are touched in name order so that
/// concurrent postings lock them in the same order and cannot deadlock.
pub(super) async fn post_entry(tx: &mut Tx, entry: &JournalEntry, refs: EntryRefs) -> Result<i64> {
    let at = now();
    let mut postings: Vec<_> = entry.postings().iter().collect();
    postings.sort_by(|a, b| a.account.cmp(&b.account));
    on_db!(tx tx, |c, pg| {
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
        for p in postings {
            let (debit, credit) = match p.side {
                Side::Debit => (p.amount.as_i64(), 0),
                Side::Credit => (0, p.amount.as_i64()),
            };
            sqlx::query(
                "INSERT INTO ledger_accounts (name, debits_fils, credits_fils) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET debits_fils = ledger_accounts.debits_fils + excluded.debits_fils, \
                 credits_fils = ledger_accounts.credits_fils + excluded.credits_fils",
            )
            .bind(p.account.as_str())
            .bind(debit)
            .bind(credit)
            .execute(&mut *c)
            .await?;
            sqlx::query("INSERT INTO postings (entry_id, account, side, amount_fils) VALUES ($1, $2, $3, $4)")
                .bind(entry_id)
                .bind(p.account.as_str())
                .bind(p.side.as_str())
                .bind(p.amount.as_i64())
                .execute(&mut *c)
                .await?;
        }
        Ok(entry_id)
    })
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
