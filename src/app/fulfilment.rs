//! Fulfilment (CONTRACT §6): the status moves an admin or a vendor makes (processing, shipped with
//! its tracking, delivered, or a cancellation by the shop) and the customer's "received".

use super::cancellation::cancel_and_refund;
use super::AppState;
use crate::domain::order::{Actor, OrderStatus};
use crate::domain::text::{optional_text, MAX_REASON_CHARS};
use crate::error::{Error, Result};
use crate::store::orders::Order;

/// A status move as an admin or a vendor asks for it, its fields already parsed.
pub struct StatusMove<'a> {
    pub status: OrderStatus,
    pub tracking_number: Option<&'a str>,
    /// Milliseconds since the epoch.
    pub estimated_delivery: Option<i64>,
    /// Why, for a cancellation; the shop's default when absent.
    pub reason: Option<&'a str>,
}

/// Applies a status move asked for by an admin or a vendor: cancellation goes through the cancel
/// flow (stock back, refund), every other move through the state machine.
pub async fn apply_status(
    state: &AppState,
    order: &Order,
    change: StatusMove<'_>,
    actor: Actor,
    actor_id: &str,
) -> Result<Order> {
    if change.status == OrderStatus::Cancelled {
        order
            .status
            .check_transition(OrderStatus::Cancelled, actor)?;
        let reason = optional_text(change.reason, MAX_REASON_CHARS)
            .map_err(|too_long| Error::invalid("reason", too_long.problem(), too_long.value))?
            .unwrap_or("Cancelled by the shop");
        return cancel_and_refund(state, order, actor, actor_id, reason).await;
    }
    state
        .store
        .move_order(
            order,
            change.status,
            actor,
            actor_id,
            Some((change.tracking_number, change.estimated_delivery)),
        )
        .await
}

/// The customer confirms a shipped (or delivered) order arrived.
pub async fn mark_received(state: &AppState, order: &Order, customer_id: &str) -> Result<Order> {
    if order.status == OrderStatus::Delivered {
        state.store.mark_received(order).await
    } else {
        state
            .store
            .move_order(
                order,
                OrderStatus::Delivered,
                Actor::Customer,
                customer_id,
                None,
            )
            .await
    }
}
