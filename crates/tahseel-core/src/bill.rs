//! A bill: what a payer owes an agency, and the rules for paying it.
//!
//! A bill's amounts move in three buckets: `due` (set by the agency), `paid`
//! (captured) and `held` (reserved by payments still at the acquirer). A
//! payment may only reserve what is neither paid nor held, which is what
//! keeps two channels from collecting the same bill twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::{Fils, MoneyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillState {
    Open,
    PartiallyPaid,
    Paid,
    Cancelled,
    Expired,
}

impl BillState {
    pub fn as_str(self) -> &'static str {
        match self {
            BillState::Open => "open",
            BillState::PartiallyPaid => "partially_paid",
            BillState::Paid => "paid",
            BillState::Cancelled => "cancelled",
            BillState::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => BillState::Open,
            "partially_paid" => BillState::PartiallyPaid,
            "paid" => BillState::Paid,
            "cancelled" => BillState::Cancelled,
            "expired" => BillState::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    #[error("the bill is {} and cannot be paid", .0.as_str())]
    NotPayable(BillState),
    #[error(
        "another payment for this bill is in progress; try again when it completes or expires"
    )]
    PaymentInProgress,
    #[error("{requested} BHD is more than the {outstanding} BHD outstanding on the bill")]
    Overpayment { requested: Fils, outstanding: Fils },
    #[error(
        "this service does not take partial payments: pay the full {outstanding} BHD outstanding"
    )]
    PartialNotAllowed { outstanding: Fils },
    #[error("the bill is {} and cannot be cancelled", .0.as_str())]
    NotCancellable(BillState),
    #[error(
        "a payment for this bill is in progress; cancel it after the payment completes or expires"
    )]
    CancelWhileHeld,
    #[error("amount must be greater than zero")]
    NotPositive,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The payable state of one bill, as the storage layer loads and saves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub state: BillState,
    pub amount_due: Fils,
    pub amount_paid: Fils,
    pub amount_held: Fils,
    pub expires_at: Option<DateTime<Utc>>,
    pub allow_partial: bool,
}

impl Bill {
    pub fn new(
        amount_due: Fils,
        expires_at: Option<DateTime<Utc>>,
        allow_partial: bool,
    ) -> Result<Self, BillError> {
        if !amount_due.is_positive() {
            return Err(BillError::NotPositive);
        }
        Ok(Bill {
            state: BillState::Open,
            amount_due,
            amount_paid: Fils::ZERO,
            amount_held: Fils::ZERO,
            expires_at,
            allow_partial,
        })
    }

    /// The state a reader should see: an unpaid bill past its expiry is
    /// expired even before anything has written that down.
    pub fn effective_state(&self, now: DateTime<Utc>) -> BillState {
        match self.state {
            BillState::Open | BillState::PartiallyPaid
                if self.expires_at.is_some_and(|e| e <= now) =>
            {
                BillState::Expired
            }
            state => state,
        }
    }

    pub fn outstanding(&self) -> Result<Fils, MoneyError> {
        self.amount_due.checked_sub(self.amount_paid)
    }

    /// What a new payment could still take now.
    pub fn available(&self) -> Result<Fils, MoneyError> {
        self.outstanding()?.checked_sub(self.amount_held)
    }

    /// Reserves `amount` for a payment on its way to the acquirer.
    pub fn reserve(&mut self, amount: Fils, now: DateTime<Utc>) -> Result<(), BillError> {
        if !amount.is_positive() {
            return Err(BillError::NotPositive);
        }
        let state = self.effective_state(now);
        if !matches!(state, BillState::Open | BillState::PartiallyPaid) {
            return Err(BillError::NotPayable(state));
        }
        let outstanding = self.outstanding()?;
        if amount > outstanding {
            return Err(BillError::Overpayment {
                requested: amount,
                outstanding,
            });
        }
        if !self.allow_partial && amount != outstanding {
            return Err(BillError::PartialNotAllowed { outstanding });
        }
        if amount > self.available()? {
            return Err(BillError::PaymentInProgress);
        }
        self.amount_held = self.amount_held.checked_add(amount)?;
        Ok(())
    }

    /// Turns a reservation into a payment. Allowed after expiry: the payer
    /// was charged while the bill was still open.
    pub fn capture(&mut self, amount: Fils) -> Result<(), BillError> {
        self.take_hold(amount)?;
        self.amount_paid = self.amount_paid.checked_add(amount)?;
        assert!(
            self.amount_paid <= self.amount_due,
            "a capture never exceeds what was reserved"
        );
        self.state = if self.amount_paid == self.amount_due {
            BillState::Paid
        } else {
            BillState::PartiallyPaid
        };
        Ok(())
    }

    /// Gives a reservation back (declined, failed, expired or cancelled payment).
    pub fn release(&mut self, amount: Fils) -> Result<(), BillError> {
        self.take_hold(amount)
    }

    fn take_hold(&mut self, amount: Fils) -> Result<(), BillError> {
        assert!(
            amount.is_positive() && amount <= self.amount_held,
            "only an amount that was reserved can be captured or released"
        );
        self.amount_held = self.amount_held.checked_sub(amount)?;
        Ok(())
    }

    pub fn cancel(&mut self, now: DateTime<Utc>) -> Result<(), BillError> {
        let state = self.effective_state(now);
        if !matches!(
            state,
            BillState::Open | BillState::PartiallyPaid | BillState::Expired
        ) {
            return Err(BillError::NotCancellable(state));
        }
        if self.amount_held.is_positive() {
            return Err(BillError::CancelWhileHeld);
        }
        self.state = BillState::Cancelled;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn bill(due: i64, partial: bool) -> Bill {
        Bill::new(Fils::new(due), None, partial).unwrap()
    }

    #[test]
    fn full_payment_reserves_then_captures() {
        let now = Utc::now();
        let mut b = bill(10_000, false);
        b.reserve(Fils::new(10_000), now).unwrap();
        assert_eq!(
            b.reserve(Fils::new(10_000), now),
            Err(BillError::PaymentInProgress)
        );
        b.capture(Fils::new(10_000)).unwrap();
        assert_eq!(b.state, BillState::Paid);
        assert_eq!(
            b.reserve(Fils::new(1), now),
            Err(BillError::NotPayable(BillState::Paid))
        );
    }

    #[test]
    fn partial_rules() {
        let now = Utc::now();
        let mut strict = bill(10_000, false);
        assert_eq!(
            strict.reserve(Fils::new(4_000), now),
            Err(BillError::PartialNotAllowed {
                outstanding: Fils::new(10_000)
            })
        );
        let mut open = bill(10_000, true);
        open.reserve(Fils::new(4_000), now).unwrap();
        open.reserve(Fils::new(6_000), now).unwrap();
        assert_eq!(
            open.reserve(Fils::new(1), now),
            Err(BillError::PaymentInProgress)
        );
        open.capture(Fils::new(4_000)).unwrap();
        assert_eq!(open.state, BillState::PartiallyPaid);
        open.release(Fils::new(6_000)).unwrap();
        assert_eq!(
            open.reserve(Fils::new(6_001), now),
            Err(BillError::Overpayment {
                requested: Fils::new(6_001),
                outstanding: Fils::new(6_000)
            })
        );
    }

    #[test]
    fn expiry_and_cancel() {
        let now = Utc::now();
        let mut b = Bill::new(Fils::new(1_000), Some(now - Duration::seconds(1)), false).unwrap();
        assert_eq!(b.effective_state(now), BillState::Expired);
        assert_eq!(
            b.reserve(Fils::new(1_000), now),
            Err(BillError::NotPayable(BillState::Expired))
        );
        let mut held = bill(1_000, false);
        held.reserve(Fils::new(1_000), now).unwrap();
        assert_eq!(held.cancel(now), Err(BillError::CancelWhileHeld));
        b.cancel(now).unwrap();
        assert_eq!(b.state, BillState::Cancelled);
        assert_eq!(
            b.cancel(now),
            Err(BillError::NotCancellable(BillState::Cancelled))
        );
    }
}
