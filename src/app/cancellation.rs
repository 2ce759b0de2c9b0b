//! Cancellation (CONTRACT §6) by the customer, an admin, a vendor or the server: the store puts
//! the stock back and records the refund of a completed payment in one transaction; the refund is
//! then sent at once (and again by the refund job until the gateway accepts it).

use super::refunds::send_refund;
use super::AppState;
use crate::domain::order::Actor;
use crate::error::{Error, Result};
use crate::store::orders::Order;

/// The reason written when the customer gives none.
pub const CUSTOMER_REASON: &str = "Cancelled by the customer";

/// Cancels `order` for `actor` and sends any refund it decided; returns the order as it is now.
pub async fn cancel_and_refund(
    state: &AppState,
    order: &Order,
    actor: Actor,
    actor_id: &str,
    reason: &str,
) -> Result<Order> {
    let (order, refund_id) = state
        .store
        .cancel_order(&order.id, actor, Some(actor_id), reason)
        .await?;
    if let Some(refund_id) = refund_id {
        // The cancel is committed: whatever happens to the refund now, the answer is the
        // cancelled order. A refund that fails or does not finish in the request's time is left
        // to the refund job (its claim is given back when this send is dropped).
        let send = send_refund(&state.store, state.gateway.as_ref(), &refund_id);
        let sent = match crate::payments::deadline::left(REFUND_RESERVE) {
            Some(left) => tokio::time::timeout(left, send)
                .await
                .unwrap_or_else(|_| Err(Error::ServiceUnavailable("out of time".into()))),
            None => send.await,
        };
        if let Err(err) = sent {
            tracing::warn!(refund_id, error = %err, "refund of a cancelled order left to the refund job");
        }
        return Ok(state
            .store
            .order_by_id(&order.id)
            .await
            .ok()
            .flatten()
            .unwrap_or(order));
    }
    Ok(order)
}

/// Of the request's time, what the inline refund leaves for reading back and answering.
const REFUND_RESERVE: std::time::Duration = std::time::Duration::from_millis(500);
