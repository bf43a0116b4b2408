//! The one rule every balance change obeys, whoever asks for it: the ledger applies it inside
//! the lock, the Update form's live preview applies it to what was typed (docs/concepts.md,
//! "Invariants").

use super::{format_credits, Change, MAX_BALANCE};

/// Why a change cannot be applied to a balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    #[error("There is nothing to change: the balance is already {} credits.", format_credits(*.balance))]
    NothingToChange { balance: i64 },
    #[error(
        "Below zero: the balance is {} credits, and removing {} would leave {}.",
        format_credits(*.balance),
        format_credits(.delta.saturating_neg()),
        format_credits(.balance.saturating_add(*.delta))
    )]
    BelowZero { balance: i64, delta: i64 },
    #[error(
        "Above the maximum: the balance is {} credits, and adding {} would pass the maximum of 1,000,000,000,000.",
        format_credits(*.balance),
        format_credits(*.delta)
    )]
    AboveMaximum { balance: i64, delta: i64 },
}

/// The balance after adding `delta` (negative: removing) to `balance`, if the result is a
/// real change that stays within 0 ..= 10^12.
pub fn apply_delta(balance: i64, delta: i64) -> Result<i64, BalanceError> {
    if delta == 0 {
        return Err(BalanceError::NothingToChange { balance });
    }
    match balance.checked_add(delta) {
        Some(after) if after < 0 => Err(BalanceError::BelowZero { balance, delta }),
        Some(after) if after <= MAX_BALANCE => Ok(after),
        _ => Err(BalanceError::AboveMaximum { balance, delta }),
    }
}

/// What `change` does to `balance`: the signed delta and the balance after it.
pub fn apply(balance: i64, change: Change) -> Result<(i64, i64), BalanceError> {
    let delta = change.delta_from(balance);
    apply_delta(balance, delta).map(|after| (delta, after))
}

/// What a change does to the number of accounts holding credit: +1 when a balance leaves 0,
/// -1 when it comes back to 0, else nothing.
pub fn holder_change(before: i64, after: i64) -> i64 {
    match (before > 0, after > 0) {
        (false, true) => 1,
        (true, false) => -1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn says_why_in_words() {
        assert_eq!(apply(120, Change::SetTo(170)), Ok((50, 170)));
        assert_eq!(apply(120, Change::By(-20)), Ok((-20, 100)));
        assert_eq!(
            apply(120, Change::SetTo(120)).unwrap_err().to_string(),
            "There is nothing to change: the balance is already 120 credits."
        );
        assert_eq!(
            apply(120, Change::By(-121)).unwrap_err().to_string(),
            "Below zero: the balance is 120 credits, and removing 121 would leave -1."
        );
        assert!(apply(5, Change::By(MAX_BALANCE))
            .unwrap_err()
            .to_string()
            .starts_with("Above the maximum"));
        assert_eq!(
            apply_delta(i64::MAX, 1),
            Err(BalanceError::AboveMaximum {
                balance: i64::MAX,
                delta: 1
            })
        );
    }

    proptest! {
        #[test]
        fn an_applied_change_keeps_the_bounds(
            balance in 0..=MAX_BALANCE,
            set in any::<bool>(),
            amount in -2 * MAX_BALANCE..=2 * MAX_BALANCE,
        ) {
            let change = if set { Change::SetTo(amount) } else { Change::By(amount) };
            let delta = change.delta_from(balance);
            match apply(balance, change) {
                Ok((d, after)) => {
                    prop_assert_eq!(d, delta);
                    prop_assert_eq!(after, balance + delta);
                    prop_assert!(delta != 0 && (0..=MAX_BALANCE).contains(&after));
                }
                Err(BalanceError::NothingToChange { .. }) => prop_assert_eq!(delta, 0),
                Err(BalanceError::BelowZero { .. }) => prop_assert!(balance + delta < 0),
                Err(BalanceError::AboveMaximum { .. }) => prop_assert!(balance + delta > MAX_BALANCE),
            }
        }
    }
}
