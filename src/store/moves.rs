//! The one gate of every state write on an order: its status, its stock state and its return
//! status. A move is checked against the domain's table (`TRANSITIONS`, `STOCK_TRANSITIONS`,
//! `RETURN_TRANSITIONS`) when it is made, and the conditional `UPDATE ... WHERE <column> = $from`
//! binds only the checked move's `from` and `to`, so no SQL string writes a state of its own.

use crate::domain::order::{transition_conflict, Actor, OrderStatus, ReturnStatus, StockState};
use crate::error::{Error, Result};

/// A lifecycle move `from -> to` that `TRANSITIONS` allows for the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusMove {
    from: OrderStatus,
    to: OrderStatus,
}

impl StatusMove {
    /// The move, or the 409 of CONTRACT §6 naming the allowed next states.
    pub fn checked(from: OrderStatus, to: OrderStatus, actor: Actor) -> Result<StatusMove> {
        if from.next_states(actor).contains(&to) {
            Ok(StatusMove { from, to })
        } else {
            Err(transition_conflict(from, to, actor).into())
        }
    }

    /// Every move `actor` may make into `to`, one per source state (the `status IN (...)` of a
    /// conditional update that accepts any of them).
    pub fn all_into(to: OrderStatus, actor: Actor) -> Vec<StatusMove> {
        OrderStatus::sources_of(to, actor)
            .into_iter()
            .map(|from| StatusMove { from, to })
            .collect()
    }

    pub fn from(self) -> OrderStatus {
        self.from
    }

    pub fn to(self) -> OrderStatus {
        self.to
    }
}

/// A move of an order's units that `STOCK_TRANSITIONS` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockStep {
    from: StockState,
    to: StockState,
}

impl StockStep {
    /// The step; one outside the table is a bug in the caller, not the client's doing.
    pub fn checked(from: StockState, to: StockState) -> Result<StockStep> {
        if from.can_move_to(to) {
            Ok(StockStep { from, to })
        } else {
            Err(Error::Internal(anyhow::anyhow!(
                "stock state {from} cannot move to {to}"
            )))
        }
    }

    pub fn from(self) -> StockState {
        self.from
    }

    pub fn to(self) -> StockState {
        self.to
    }
}

/// A move of the return sub-machine that `RETURN_TRANSITIONS` allows for the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnStep {
    from: ReturnStatus,
    to: ReturnStatus,
}

impl ReturnStep {
    /// The step; one outside the table is a bug in the caller (the client's requests map to
    /// listed steps, and a request whose row is elsewhere fails its conditional update instead).
    pub fn checked(from: ReturnStatus, to: ReturnStatus, actor: Actor) -> Result<ReturnStep> {
        if from.can_move_to(to, actor) {
            Ok(ReturnStep { from, to })
        } else {
            Err(Error::Internal(anyhow::anyhow!(
                "return status {from} cannot move to {to} by {actor:?}"
            )))
        }
    }

    pub fn from(self) -> ReturnStatus {
        self.from
    }

    pub fn to(self) -> ReturnStatus {
        self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_moves_can_be_made() {
        assert!(
            StatusMove::checked(OrderStatus::Pending, OrderStatus::Confirmed, Actor::System)
                .is_ok()
        );
        assert!(
            StatusMove::checked(OrderStatus::Pending, OrderStatus::Confirmed, Actor::Admin)
                .is_err()
        );
        assert!(StockStep::checked(StockState::Reserved, StockState::Committed).is_ok());
        assert!(StockStep::checked(StockState::Released, StockState::Committed).is_err());
        assert!(
            ReturnStep::checked(ReturnStatus::None, ReturnStatus::Requested, Actor::Customer)
                .is_ok()
        );
        assert!(ReturnStep::checked(
            ReturnStatus::Requested,
            ReturnStatus::Completed,
            Actor::Admin
        )
        .is_err());
        assert_eq!(
            StatusMove::all_into(OrderStatus::Cancelled, Actor::Customer)
                .into_iter()
                .map(StatusMove::from)
                .collect::<Vec<_>>(),
            vec![OrderStatus::Pending, OrderStatus::Confirmed]
        );
    }
}
