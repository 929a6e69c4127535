//! Payments, their channels and methods, and the state machine they follow.

use serde::{Deserialize, Serialize};

use crate::money::{Fils, MoneyError};

/// Generates a string-backed enum with `as_str`/`parse` and the same
/// spelling in JSON, in the database and on the command line.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $( #[serde(rename = $text)] $variant ),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// Where the payer paid.
    Channel { Portal => "portal", Mobile => "mobile", Kiosk => "kiosk", Counter => "counter", Import => "import" }
}

text_enum! {
    /// How the payer paid.
    Method { Debit => "debit", Credit => "credit", Wallet => "wallet", Cash => "cash" }
}

text_enum! {
    /// created → pending (at the acquirer) → captured, or one of the
    /// other terminal states. See [`PaymentState::can_become`].
    PaymentState {
        Created => "created",
        Pending => "pending",
        Captured => "captured",
        Declined => "declined",
        Failed => "failed",
        Expired => "expired",
        Cancelled => "cancelled",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("a payment cannot go from {from} to {to}")]
    Transition {
        from: PaymentState,
        to: PaymentState,
    },
    #[error("a payment needs at least one bill line")]
    NoLines,
    #[error("a payment may carry at most {max} bill lines")]
    TooManyLines { max: usize },
    #[error("the same bill appears twice in one payment")]
    DuplicateBill,
    #[error("every line amount must be greater than zero")]
    NotPositive,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The most bills one payment may settle at once.
pub const MAX_LINES: usize = 50;

impl PaymentState {
    /// The explicit transition table.
    pub fn can_become(self, to: PaymentState) -> bool {
        use PaymentState::*;
        matches!(
            (self, to),
            (Created, Pending | Failed | Cancelled | Expired)
                | (Pending, Captured | Declined | Failed | Expired | Cancelled)
        )
    }

    pub fn transition(self, to: PaymentState) -> Result<PaymentState, PaymentError> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(PaymentError::Transition { from: self, to })
        }
    }

    /// While a payment is created or pending, its amounts are held on its bills.
    pub fn holds_bills(self) -> bool {
        matches!(self, PaymentState::Created | PaymentState::Pending)
    }

    pub fn is_terminal(self) -> bool {
        !self.holds_bills()
    }
}

/// Validates a basket's shape (before any bill is looked at) and returns
/// its total.
pub fn basket_total<K: PartialEq>(lines: &[(K, Fils)]) -> Result<Fils, PaymentError> {
    if lines.is_empty() {
        return Err(PaymentError::NoLines);
    }
    if lines.len() > MAX_LINES {
        return Err(PaymentError::TooManyLines { max: MAX_LINES });
    }
    for (i, (key, amount)) in lines.iter().enumerate() {
        if !amount.is_positive() {
            return Err(PaymentError::NotPositive);
        }
        if lines[..i].iter().any(|(k, _)| k == key) {
            return Err(PaymentError::DuplicateBill);
        }
    }
    Ok(Fils::sum(lines.iter().map(|(_, a)| *a))?)
}

text_enum! {
    /// requested (posted as owed to the payer) → refunded by the acquirer,
    /// or failed (the posting is reversed).
    RefundState { Requested => "requested", Refunded => "refunded", Failed => "failed" }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("only a captured payment can be refunded; this one is {0}")]
    NotCaptured(PaymentState),
    #[error("{requested} BHD is more than the {refundable} BHD still refundable")]
    Exceeds { requested: Fils, refundable: Fils },
    #[error("a refund amount must be greater than zero")]
    NotPositive,
    #[error("a refund cannot go from {from} to {to}")]
    Transition { from: RefundState, to: RefundState },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl RefundState {
    pub fn transition(self, to: RefundState) -> Result<RefundState, RefundError> {
        match (self, to) {
            (RefundState::Requested, RefundState::Refunded | RefundState::Failed) => Ok(to),
            _ => Err(RefundError::Transition { from: self, to }),
        }
    }
    /// Requested and refunded refunds both count against what is refundable.
    pub fn counts_against_capture(self) -> bool {
        !matches!(self, RefundState::Failed)
    }
}

/// Checks that a new refund fits in what was captured less what is already
/// refunded or being refunded.
pub fn check_refund(
    state: PaymentState,
    captured: Fils,
    already: Fils,
    requested: Fils,
) -> Result<(), RefundError> {
    if state != PaymentState::Captured {
        return Err(RefundError::NotCaptured(state));
    }
    if !requested.is_positive() {
        return Err(RefundError::NotPositive);
    }
    let refundable = captured.checked_sub(already)?;
    if requested > refundable {
        return Err(RefundError::Exceeds {
            requested,
            refundable,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_table() {
        use PaymentState::*;
        assert!(Created.can_become(Pending));
        assert!(Pending.can_become(Captured));
        for from in PaymentState::ALL {
            if from.is_terminal() {
                for to in PaymentState::ALL {
                    assert!(!from.can_become(*to), "{from} -> {to}");
                }
            }
        }
        assert_eq!(
            Created.transition(Captured),
            Err(PaymentError::Transition {
                from: Created,
                to: Captured
            })
        );
    }

    #[test]
    fn basket_shape() {
        assert_eq!(basket_total::<u8>(&[]), Err(PaymentError::NoLines));
        assert_eq!(
            basket_total(&[(1, Fils::new(5)), (1, Fils::new(5))]),
            Err(PaymentError::DuplicateBill)
        );
        assert_eq!(
            basket_total(&[(1, Fils::new(5)), (2, Fils::new(0))]),
            Err(PaymentError::NotPositive)
        );
        assert_eq!(
            basket_total(&[(1, Fils::new(5)), (2, Fils::new(7))]),
            Ok(Fils::new(12))
        );
    }

    #[test]
    fn refunds_never_exceed_capture() {
        let c = PaymentState::Captured;
        assert!(check_refund(c, Fils::new(10), Fils::new(4), Fils::new(6)).is_ok());
        assert_eq!(
            check_refund(c, Fils::new(10), Fils::new(4), Fils::new(7)),
            Err(RefundError::Exceeds {
                requested: Fils::new(7),
                refundable: Fils::new(6)
            })
        );
        assert_eq!(
            check_refund(
                PaymentState::Pending,
                Fils::new(10),
                Fils::ZERO,
                Fils::new(1)
            ),
            Err(RefundError::NotCaptured(PaymentState::Pending))
        );
    }
}
