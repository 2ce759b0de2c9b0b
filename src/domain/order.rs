//! The order lifecycle (CONTRACT §6) as an enum with guarded transitions:
//!
//! ```text
//! pending -> confirmed -> processing -> shipped -> delivered
//! pending | confirmed | processing -> cancelled      (by admin; customers: pending | confirmed only)
//! delivered -> returned                               (through the return flow only)
//! ```
//! `confirmed -> shipped` skips processing. Every other move is refused with the allowed next states.

use super::error::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
    Returned,
}

/// Who asks for a move; each may make a different subset of the lifecycle's moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Customer,
    Vendor,
    Admin,
    /// Payment confirmation, expiry and the return flow: moves made by the server itself.
    System,
}

/// The lifecycle's edges, with who may take each. The single source of truth: transition checks,
/// the 409 messages and the exhaustive transition tests all read it.
pub const TRANSITIONS: &[(OrderStatus, OrderStatus, &[Actor])] = {
    use Actor::*;
    use OrderStatus::*;
    &[
        (Pending, Confirmed, &[System]),
        (Confirmed, Processing, &[Admin, Vendor]),
        (Confirmed, Shipped, &[Admin, Vendor]),
        (Processing, Shipped, &[Admin, Vendor]),
        // The customer's "received" moves a shipped order to delivered too.
        (Shipped, Delivered, &[Admin, Vendor, Customer]),
        (Pending, Cancelled, &[Admin, Customer, System]),
        (Confirmed, Cancelled, &[Admin, Customer]),
        (Processing, Cancelled, &[Admin]),
        (Delivered, Returned, &[System]),
    ]
};

impl OrderStatus {
    /// Whether an order in this status is a sale the dashboard counts: paid online or cash on
    /// delivery (confirmed onwards), not still waiting for its payment and not cancelled. Every
    /// figure of the dashboard is over this one set (issue 21).
    pub fn is_sale(self) -> bool {
        !matches!(self, OrderStatus::Pending | OrderStatus::Cancelled)
    }

    /// Whether the shop still has to send an order in this status.
    pub fn is_to_fulfil(self) -> bool {
        matches!(self, OrderStatus::Confirmed | OrderStatus::Processing)
    }

    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Processing => "processing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Returned => "returned",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The states `actor` may move an order in this state to.
    pub fn next_states(self, actor: Actor) -> Vec<OrderStatus> {
        TRANSITIONS
            .iter()
            .filter(|(from, _, actors)| *from == self && actors.contains(&actor))
            .map(|(_, to, _)| *to)
            .collect()
    }

    /// The states an order must be in for `actor` to move it to `to` (the `WHERE status IN (...)`
    /// of the conditional update that makes the move).
    pub fn sources_of(to: OrderStatus, actor: Actor) -> Vec<OrderStatus> {
        TRANSITIONS
            .iter()
            .filter(|(_, target, actors)| *target == to && actors.contains(&actor))
            .map(|(from, _, _)| *from)
            .collect()
    }

    /// Checks one move; the error is the 409 of CONTRACT §6 naming the allowed next states.
    pub fn check_transition(self, to: OrderStatus, actor: Actor) -> Result<(), DomainError> {
        if self.next_states(actor).contains(&to) {
            return Ok(());
        }
        Err(transition_conflict(self, to, actor))
    }

    /// The history line written when an order enters this state.
    pub fn description(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Order placed",
            OrderStatus::Confirmed => "Order confirmed",
            OrderStatus::Processing => "Order is being prepared",
            OrderStatus::Shipped => "Order shipped",
            OrderStatus::Delivered => "Order delivered",
            OrderStatus::Cancelled => "Order cancelled",
            OrderStatus::Returned => "Order returned",
        }
    }
}

pub fn transition_conflict(from: OrderStatus, to: OrderStatus, actor: Actor) -> DomainError {
    let allowed: Vec<&str> = from
        .next_states(actor)
        .into_iter()
        .map(OrderStatus::as_str)
        .collect();
    let allowed = if allowed.is_empty() {
        "none".to_string()
    } else {
        allowed.join(", ")
    };
    DomainError::Conflict {
        code: ErrorCode::InvalidTransition,
        message: format!(
            "Cannot change order status from {} to {}; allowed next states: {allowed}",
            from.as_str(),
            to.as_str()
        ),
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

text_enum! {
    /// How an order is paid (CONTRACT §6): every method but `cod` (cash on delivery) takes the
    /// gateway path.
    pub enum PaymentMethod {
        Cod = "cod",
        Razorpay = "razorpay",
        Card = "card",
        CreditCard = "credit_card",
        DebitCard = "debit_card",
        Upi = "upi",
        Netbanking = "netbanking",
        Wallet = "wallet",
    }
}

impl PaymentMethod {
    pub fn is_online(self) -> bool {
        self != PaymentMethod::Cod
    }
}

/// The online methods of CONTRACT §6; all take the gateway path. `cod` is cash on delivery.
pub const ONLINE_METHODS: &[&str] = &[
    "razorpay",
    "card",
    "credit_card",
    "debit_card",
    "upi",
    "netbanking",
    "wallet",
];

pub fn is_online_method(method: &str) -> bool {
    PaymentMethod::parse(method).is_some_and(PaymentMethod::is_online)
}

text_enum! {
    /// Whether an order's money has arrived: an online order is `pending` until its capture,
    /// cash on delivery until delivery; refunds that add up to the total make it `refunded`.
    pub enum PaymentStatus {
        Pending = "pending",
        Completed = "completed",
        Failed = "failed",
        Refunded = "refunded",
    }
}

text_enum! {
    /// Where an order's units are: held for an unpaid order (`reserved`), sold (`committed`), or
    /// given back (`released` from a reservation, `restocked` after a sale).
    pub enum StockState {
        Reserved = "reserved",
        Committed = "committed",
        Released = "released",
        Restocked = "restocked",
    }
}

/// The stock sub-machine's edges. Cash on delivery and zero totals sell at checkout: the order
/// is written `committed`, the move `reserved -> committed` made at once.
pub const STOCK_TRANSITIONS: &[(StockState, StockState)] = {
    use StockState::*;
    &[
        (Reserved, Committed),
        (Reserved, Released),
        (Committed, Restocked),
    ]
};

impl StockState {
    pub fn can_move_to(self, to: StockState) -> bool {
        STOCK_TRANSITIONS.contains(&(self, to))
    }

    /// The state an order's units move to when the order gives them back, if any.
    pub fn given_back(self) -> Option<StockState> {
        match self {
            StockState::Reserved => Some(StockState::Released),
            StockState::Committed => Some(StockState::Restocked),
            StockState::Released | StockState::Restocked => None,
        }
    }
}

text_enum! {
    /// The return sub-machine of a delivered order (CONTRACT §6).
    pub enum ReturnStatus {
        None = "none",
        Requested = "requested",
        Approved = "approved",
        Rejected = "rejected",
        Completed = "completed",
    }
}

/// The return sub-machine's edges, with who may take each. Completing a return also moves the
/// order `delivered -> returned` (by `System`, through `TRANSITIONS`).
pub const RETURN_TRANSITIONS: &[(ReturnStatus, ReturnStatus, Actor)] = {
    use ReturnStatus::*;
    &[
        (None, Requested, Actor::Customer),
        (Requested, Approved, Actor::Admin),
        (Requested, Rejected, Actor::Admin),
        (Approved, Completed, Actor::Admin),
    ]
};

impl ReturnStatus {
    pub fn can_move_to(self, to: ReturnStatus, actor: Actor) -> bool {
        RETURN_TRANSITIONS.contains(&(self, to, actor))
    }
}

/// `ORD` + 13 digits: 10 of the millisecond clock, so numbers rise, and 3 of a per-process
/// sequence, so one process never repeats a number unless it makes over 1000 orders in one
/// millisecond. The sequence starts at a random point, so two nodes rarely step on each other in
/// the same millisecond; when they do, the unique index refuses the second and checkout picks a
/// new number (`Placed::NumberTaken`).
pub fn new_order_number(now_millis: i64) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static SEQUENCE: OnceLock<AtomicU32> = OnceLock::new();
    let sequence = SEQUENCE
        .get_or_init(|| AtomicU32::new(rand::random::<u32>() % 1000))
        .fetch_add(1, Ordering::Relaxed)
        % 1000;
    let clock = now_millis.rem_euclid(10_000_000_000);
    format!("ORD{clock:010}{sequence:03}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Actor::*;
    use OrderStatus::*;

    #[test]
    fn lifecycle_moves_follow_the_contract() {
        assert!(Pending.check_transition(Confirmed, System).is_ok());
        assert!(Confirmed.check_transition(Shipped, Vendor).is_ok());
        assert!(Processing.check_transition(Cancelled, Admin).is_ok());
        assert!(Processing.check_transition(Cancelled, Customer).is_err());
        assert!(Shipped.check_transition(Cancelled, Admin).is_err());
        assert!(Delivered.check_transition(Returned, Admin).is_err());
        assert!(Pending.check_transition(Shipped, Admin).is_err());
    }

    #[test]
    fn every_pair_outside_the_table_is_refused() {
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                for actor in [Customer, Vendor, Admin, System] {
                    let listed = TRANSITIONS
                        .iter()
                        .any(|(f, t, a)| *f == from && *t == to && a.contains(&actor));
                    assert_eq!(
                        from.check_transition(to, actor).is_ok(),
                        listed,
                        "{from:?}->{to:?} by {actor:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn conflict_names_the_allowed_states() {
        let err = Confirmed.check_transition(Delivered, Admin).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot change order status from confirmed to delivered; allowed next states: processing, shipped, cancelled"
        );
        let err = Cancelled.check_transition(Confirmed, Admin).unwrap_err();
        assert!(err.to_string().ends_with("allowed next states: none"));
    }

    #[test]
    fn order_numbers_made_in_one_millisecond_do_not_repeat() {
        let numbers: std::collections::HashSet<String> = (0..1000)
            .map(|_| new_order_number(1_705_312_800_123))
            .collect();
        assert_eq!(numbers.len(), 1000);
    }

    #[test]
    fn order_numbers_have_the_contract_shape() {
        let n = new_order_number(1_705_312_800_123);
        assert_eq!(n.len(), 16);
        assert!(n.starts_with("ORD") && n[3..].bytes().all(|b| b.is_ascii_digit()));
    }
}
