//! Returns (CONTRACT §6): the customer asks within the return window; an admin approves, rejects
//! or completes; completing restocks and records the refund, which is sent at once (and again by
//! the refund job until the gateway accepts it).

use super::refunds::send_refund;
use super::AppState;
use crate::error::Result;
use crate::store::orders::{Order, ReturnAction};

/// The customer's request to return a delivered order, with its reason (1 to 200 characters).
pub async fn request_return(state: &AppState, order: &Order, reason: &str) -> Result<Order> {
    state
        .store
        .request_return(order, reason, state.config.return_window_days)
        .await
}

/// An admin's decision on a requested return; returns the order as it is now.
pub async fn decide_return(
    state: &AppState,
    order: &Order,
    action: ReturnAction,
    reason: Option<&str>,
    admin_id: &str,
) -> Result<Order> {
    let (order, refund_id) = state
        .store
        .process_return(&order.id, action, reason, admin_id)
        .await?;
    Ok(match refund_id {
        Some(refund_id) => {
            send_refund(&state.store, state.gateway.as_ref(), &refund_id).await?;
            state.store.order_by_id(&order.id).await?.unwrap_or(order)
        }
        None => order,
    })
}
