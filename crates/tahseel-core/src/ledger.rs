//! Double-entry ledger rules.
//!
//! Every movement of money is a [`JournalEntry`] whose debits equal its
//! credits; an unbalanced entry cannot be constructed. Entries are only
//! ever added: a mistake is corrected by a new entry, never by changing an
//! old one. Balances are sums of postings; storage keeps running totals per
//! account and `ledger verify` recomputes them from the postings.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::agency::AgencyCode;
use crate::money::{Fils, MoneyError};
use crate::payment::text_enum;

/// An account name such as `agency:GDT:payable`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountId(String);

impl AccountId {
    /// Money an acquirer has taken from payers and owes the hub (an asset).
    pub fn acquirer_clearing(acquirer: &str) -> Self {
        AccountId(format!("acquirer:{acquirer}:clearing"))
    }
    /// Money the hub owes an agency until it settles (a liability).
    pub fn agency_payable(agency: &AgencyCode) -> Self {
        AccountId(format!("agency:{}:payable", agency.as_str()))
    }
    /// Refunds granted to payers and not yet paid out by the acquirer (a liability).
    pub fn refunds_payable() -> Self {
        AccountId("refunds:payable".to_owned())
    }
    /// Fees the hub charged payers on top of their bills (revenue).
    pub fn fee_revenue() -> Self {
        AccountId("fees:revenue".to_owned())
    }
    /// The hub's settlement bank account (an asset).
    pub fn settlement_bank() -> Self {
        AccountId("bank:settlement".to_owned())
    }
    /// Cash a kiosk has taken and holds in its cash box until it is
    /// collected (an asset).
    pub fn kiosk_cash(kiosk: &str) -> Self {
        AccountId(format!("kiosk:{kiosk}:cash"))
    }
    /// Differences between counted cash boxes and the ledger: a debit
    /// balance is cash missing, a credit balance cash found over.
    pub fn cash_over_short() -> Self {
        AccountId("cash:over_short".to_owned())
    }
    pub fn from_stored(name: String) -> Self {
        AccountId(name)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

text_enum! {
    Side { Debit => "debit", Credit => "credit" }
}

text_enum! {
    /// Why an entry was posted.
    EntryKind {
        Capture => "capture",
        Fee => "fee",
        RefundRequested => "refund_requested",
        RefundPaid => "refund_paid",
        RefundReversed => "refund_reversed",
        Settlement => "settlement",
        CashCollected => "cash_collected",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: AccountId,
    pub side: Side,
    pub amount: Fils,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("journal entry does not balance: debits {debits}, credits {credits}")]
    Unbalanced { debits: Fils, credits: Fils },
    #[error("journal entry needs at least one debit and one credit")]
    OneSided,
    #[error("posting amounts must be greater than zero")]
    NotPositive,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// A balanced set of postings. The only way to build one is [`JournalEntry::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    kind: EntryKind,
    postings: Vec<Posting>,
}

impl JournalEntry {
    pub fn new(kind: EntryKind, postings: Vec<Posting>) -> Result<Self, LedgerError> {
        if postings.iter().any(|p| !p.amount.is_positive()) {
            return Err(LedgerError::NotPositive);
        }
        let side_total =
            |side| Fils::sum(postings.iter().filter(|p| p.side == side).map(|p| p.amount));
        let (debits, credits) = (side_total(Side::Debit)?, side_total(Side::Credit)?);
        if debits.is_positive() != credits.is_positive() || !debits.is_positive() {
            return Err(LedgerError::OneSided);
        }
        if debits != credits {
            return Err(LedgerError::Unbalanced { debits, credits });
        }
        Ok(JournalEntry { kind, postings })
    }

    /// A simple entry moving `amount` from `credit` to `debit`.
    fn transfer(
        kind: EntryKind,
        debit: AccountId,
        credit: AccountId,
        amount: Fils,
    ) -> Result<Self, LedgerError> {
        JournalEntry::new(
            kind,
            vec![
                Posting {
                    account: debit,
                    side: Side::Debit,
                    amount,
                },
                Posting {
                    account: credit,
                    side: Side::Credit,
                    amount,
                },
            ],
        )
    }

    /// A captured bill line: the acquirer now owes us, we now owe the agency.
    pub fn capture(acquirer: &str, agency: &AgencyCode, amount: Fils) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::Capture,
            AccountId::acquirer_clearing(acquirer),
            AccountId::agency_payable(agency),
            amount,
        )
    }

    /// A bill line paid in cash at a kiosk: the cash box holds it, we owe
    /// the agency.
    pub fn cash_capture(
        kiosk: &str,
        agency: &AgencyCode,
        amount: Fils,
    ) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::Capture,
            AccountId::kiosk_cash(kiosk),
            AccountId::agency_payable(agency),
            amount,
        )
    }

    /// A kiosk's cash box emptied into the bank: the box account is cleared
    /// of what the ledger says it held (`expected`), the bank gets what was
    /// counted, and any difference goes to over/short.
    pub fn cash_collected(kiosk: &str, expected: Fils, counted: Fils) -> Result<Self, LedgerError> {
        let mut postings = vec![
            Posting {
                account: AccountId::settlement_bank(),
                side: Side::Debit,
                amount: counted,
            },
            Posting {
                account: AccountId::kiosk_cash(kiosk),
                side: Side::Credit,
                amount: expected,
            },
        ];
        if counted < expected {
            postings.push(Posting {
                account: AccountId::cash_over_short(),
                side: Side::Debit,
                amount: expected.checked_sub(counted)?,
            });
        } else if counted > expected {
            postings.push(Posting {
                account: AccountId::cash_over_short(),
                side: Side::Credit,
                amount: counted.checked_sub(expected)?,
            });
        }
        postings.retain(|p| p.amount > Fils::ZERO);
        Self::new(EntryKind::CashCollected, postings)
    }

    /// A payment's fee: collected with the bills, owed to no agency.
    pub fn fee(acquirer: &str, amount: Fils) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::Fee,
            AccountId::acquirer_clearing(acquirer),
            AccountId::fee_revenue(),
            amount,
        )
    }

    /// A refund granted: the agency's money now belongs to the payer.
    pub fn refund_requested(agency: &AgencyCode, amount: Fils) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::RefundRequested,
            AccountId::agency_payable(agency),
            AccountId::refunds_payable(),
            amount,
        )
    }

    /// The acquirer paid the refund back to the payer's card.
    pub fn refund_paid(acquirer: &str, amount: Fils) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::RefundPaid,
            AccountId::refunds_payable(),
            AccountId::acquirer_clearing(acquirer),
            amount,
        )
    }

    /// The acquirer refused the refund: the money goes back to the agency.
    pub fn refund_reversed(agency: &AgencyCode, amount: Fils) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::RefundReversed,
            AccountId::refunds_payable(),
            AccountId::agency_payable(agency),
            amount,
        )
    }

    /// Paying an agency out of the settlement bank account.
    pub fn settlement(agency: &AgencyCode, amount: Fils) -> Result<Self, LedgerError> {
        Self::transfer(
            EntryKind::Settlement,
            AccountId::agency_payable(agency),
            AccountId::settlement_bank(),
            amount,
        )
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

/// Debit and credit totals of one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccountTotals {
    pub debits: Fils,
    pub credits: Fils,
}

impl AccountTotals {
    pub fn add(&mut self, side: Side, amount: Fils) -> Result<(), MoneyError> {
        match side {
            Side::Debit => self.debits = self.debits.checked_add(amount)?,
            Side::Credit => self.credits = self.credits.checked_add(amount)?,
        }
        Ok(())
    }
    /// Debits less credits: positive for an asset holding money, negative
    /// for a liability owing it.
    pub fn net_debit(&self) -> Result<Fils, MoneyError> {
        self.debits.checked_sub(self.credits)
    }
}

/// Running totals per account, built by applying entries in order. Used by
/// the property tests and by anything that replays entries in memory.
#[derive(Debug, Clone, Default)]
pub struct Balances {
    accounts: BTreeMap<AccountId, AccountTotals>,
}

impl Balances {
    pub fn apply(&mut self, entry: &JournalEntry) -> Result<(), MoneyError> {
        for p in entry.postings() {
            self.accounts
                .entry(p.account.clone())
                .or_default()
                .add(p.side, p.amount)?;
        }
        Ok(())
    }

    pub fn get(&self, account: &AccountId) -> AccountTotals {
        self.accounts.get(account).copied().unwrap_or_default()
    }

    /// True when all debits ever posted equal all credits.
    pub fn is_balanced(&self) -> Result<bool, MoneyError> {
        let debits = Fils::sum(self.accounts.values().map(|t| t.debits))?;
        let credits = Fils::sum(self.accounts.values().map(|t| t.credits))?;
        Ok(debits == credits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bill::Bill;
    use crate::payment::{check_refund, PaymentState};
    use proptest::prelude::*;

    fn gdt() -> AgencyCode {
        AgencyCode::parse("GDT").unwrap()
    }

    #[test]
    fn an_unbalanced_entry_cannot_be_built() {
        let p = |side, amount| Posting {
            account: AccountId::settlement_bank(),
            side,
            amount: Fils::new(amount),
        };
        assert_eq!(
            JournalEntry::new(
                EntryKind::Capture,
                vec![p(Side::Debit, 5), p(Side::Credit, 4)]
            ),
            Err(LedgerError::Unbalanced {
                debits: Fils::new(5),
                credits: Fils::new(4)
            })
        );
        assert_eq!(
            JournalEntry::new(EntryKind::Capture, vec![p(Side::Debit, 5)]),
            Err(LedgerError::OneSided)
        );
        assert_eq!(
            JournalEntry::new(
                EntryKind::Capture,
                vec![p(Side::Debit, 0), p(Side::Credit, 0)]
            ),
            Err(LedgerError::NotPositive)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Pay {
            agency: usize,
            amount: i64,
        },
        Refund {
            payment: usize,
            amount: i64,
            acquirer_pays: bool,
        },
        Settle {
            agency: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3usize, 1..5_000_000i64).prop_map(|(agency, amount)| Op::Pay { agency, amount }),
            (0..50usize, 1..5_000_000i64, any::<bool>()).prop_map(
                |(payment, amount, acquirer_pays)| Op::Refund {
                    payment,
                    amount,
                    acquirer_pays
                }
            ),
            (0..3usize).prop_map(|agency| Op::Settle { agency }),
        ]
    }

    proptest! {
        /// Any sequence of payments, refunds and settlements, each allowed
        /// by the domain rules, keeps the ledger balanced, never refunds
        /// more than was captured, and leaves each agency's payable equal
        /// to captures less refunds less settlements.
        #[test]
        fn payments_and_refunds_keep_the_ledger_balanced(ops in proptest::collection::vec(op(), 1..60)) {
            let agencies = [gdt(), AgencyCode::parse("MOJ").unwrap(), AgencyCode::parse("EWA").unwrap()];
            let mut balances = Balances::default();
            // (agency, captured, refunded)
            let mut payments: Vec<(usize, Fils, Fils)> = Vec::new();
            let mut expected_payable = [Fils::ZERO; 3];
            let now = chrono::Utc::now();
            for op in ops {
                match op {
                    Op::Pay { agency, amount } => {
                        let mut bill = Bill::new(Fils::new(amount), None, false).unwrap();
                        bill.reserve(Fils::new(amount), now).unwrap();
                        bill.capture(Fils::new(amount)).unwrap();
                        balances.apply(&JournalEntry::capture("sim", &agencies[agency], Fils::new(amount)).unwrap()).unwrap();
                        payments.push((agency, Fils::new(amount), Fils::ZERO));
                        expected_payable[agency] = expected_payable[agency].checked_add(Fils::new(amount)).unwrap();
                    }
                    Op::Refund { payment, amount, acquirer_pays } => {
                        let Some((agency, captured, refunded)) = payments.get_mut(payment) else { continue };
                        let amount = Fils::new(amount);
                        if check_refund(PaymentState::Captured, *captured, *refunded, amount).is_err() {
                            prop_assert!(refunded.checked_add(amount).unwrap() > *captured);
                            continue;
                        }
                        let code = &agencies[*agency];
                        balances.apply(&JournalEntry::refund_requested(code, amount).unwrap()).unwrap();
                        if acquirer_pays {
                            balances.apply(&JournalEntry::refund_paid("sim", amount).unwrap()).unwrap();
                            *refunded = refunded.checked_add(amount).unwrap();
                            expected_payable[*agency] = expected_payable[*agency].checked_sub(amount).unwrap();
                        } else {
                            balances.apply(&JournalEntry::refund_reversed(code, amount).unwrap()).unwrap();
                        }
                        prop_assert!(*refunded <= *captured);
                    }
                    Op::Settle { agency } => {
                        let owed = balances.get(&AccountId::agency_payable(&agencies[agency])).net_debit().unwrap().checked_neg().unwrap();
                        if owed.is_positive() {
                            balances.apply(&JournalEntry::settlement(&agencies[agency], owed).unwrap()).unwrap();
                            expected_payable[agency] = Fils::ZERO;
                        }
                    }
                }
                prop_assert!(balances.is_balanced().unwrap());
            }
            for (i, code) in agencies.iter().enumerate() {
                let payable = balances.get(&AccountId::agency_payable(code)).net_debit().unwrap().checked_neg().unwrap();
                prop_assert_eq!(payable, expected_payable[i]);
            }
            prop_assert_eq!(balances.get(&AccountId::refunds_payable()).net_debit().unwrap(), Fils::ZERO);
        }
    }

    proptest! {
        /// Counting a kiosk's box always empties its account in the ledger
        /// and keeps the books balanced, whatever was counted.
        #[test]
        fn a_cash_up_empties_the_box_and_balances(
            payments in proptest::collection::vec(1i64..500_000, 0..20),
            counted in 0i64..5_000_000,
        ) {
            let agency = AgencyCode::parse("GDT").unwrap();
            let mut balances = Balances::default();
            for p in &payments {
                balances.apply(&JournalEntry::cash_capture("K-1", &agency, Fils::new(*p)).unwrap()).unwrap();
            }
            let expected = Fils::new(payments.iter().sum());
            let counted = Fils::new(counted);
            if expected.is_positive() || counted.is_positive() {
                let entry = JournalEntry::cash_collected("K-1", expected, counted).unwrap();
                balances.apply(&entry).unwrap();
            }
            prop_assert!(balances.is_balanced().unwrap());
            prop_assert_eq!(balances.get(&AccountId::kiosk_cash("K-1")).net_debit().unwrap(), Fils::ZERO);
            prop_assert_eq!(balances.get(&AccountId::settlement_bank()).net_debit().unwrap(), counted);
            prop_assert_eq!(
                balances.get(&AccountId::cash_over_short()).net_debit().unwrap(),
                expected.checked_sub(counted).unwrap()
            );
        }
    }
}
