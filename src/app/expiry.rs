//! Unpaid online orders: reconciliation with the gateway (an order paid by a customer who never
//! came back, and whose webhook was lost, is confirmed; a payment captured for an order cancelled
//! in the meantime is refunded) and expiry (an order past its payment time is cancelled and its
//! stock released, unless the gateway says it was paid or cannot be asked). The background jobs
//! loop over these, one order at a time.

use super::payments::PaymentSource;
use super::AppState;
use crate::domain::order::Actor;
use crate::error::{Error, Result};
use crate::store::orders::Order;

/// The reason written on orders the server cancels (CONTRACT §6).
pub const EXPIRY_REASON: &str = "payment not received in time";

/// Unpaid orders younger than this are left to the customer's own verify-payment.
pub const RECONCILE_AFTER_MS: i64 = 2 * 60 * 1000;

/// An unpaid order is asked about at most this often.
pub const RECHECK_MS: i64 = 5 * 60 * 1000;

/// Logs and counts one item's failure; the pass goes on.
pub fn item_failed(job: &'static str, id: &str, err: &Error) {
    metrics::counter!("jobs_item_failures_total", "job" => job, "kind" => error_kind(err))
        .increment(1);
    tracing::warn!(job, id, kind = error_kind(err), error = %err, "background item failed; retried on a later pass");
}

/// What kind of failure, named for what it is (a database error is not "the gateway").
pub fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::ServiceUnavailable(_) | Error::BadGateway(_) => "gateway",
        Error::Contention(_) => "database_conflict",
        Error::Internal(_) => "database_or_internal",
        _ => "rule",
    }
}

/// Expires one unpaid order past its payment time. `Ok(true)` when this call cancelled it.
pub async fn expire_one(state: &AppState, order_id: &str, now: i64) -> Result<bool> {
    let Some(order) = state.store.order_by_id(order_id).await? else {
        return Ok(false);
    };
    // Never cancel an order the gateway might have been paid for: a failure to ask postpones it.
    if settle_with_gateway(state, &order, now).await? {
        return Ok(false);
    }
    match state
        .store
        .cancel_order(order_id, Actor::System, None, EXPIRY_REASON)
        .await
    {
        Ok(_) => Ok(true),
        // Paid or cancelled in the meantime, or another process expired it first.
        Err(Error::Conflict(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Applies every payment the gateway holds for `order` under the rule every path uses: a capture
/// (or an authorization, for an order still payable) confirms it; further captures, or captures
/// for an order no longer payable, are refunded, each once. `Ok(true)` when the order is paid.
pub async fn settle_with_gateway(state: &AppState, order: &Order, now: i64) -> Result<bool> {
    let Some(gateway_order_id) = order.gateway_order_id.as_deref() else {
        return Ok(false);
    };
    let payments = state.gateway.fetch_order_payments(gateway_order_id).await?;
    state.store.mark_gateway_checked(&order.id, now).await?;
    let workflow = state.payments();
    let mut paid = false;
    for payment in payments {
        if !matches!(payment.status.as_str(), "captured" | "authorized") {
            continue;
        }
        let payment_id = payment.id.clone();
        match workflow
            .settle(order, payment, PaymentSource::Reconciliation)
            .await
        {
            Ok(_) => {
                paid = true;
                metrics::counter!("payments_reconciled_total", "outcome" => "confirmed")
                    .increment(1);
            }
            // Refunded (or left to lapse), or not captured money: nothing more to do here.
            Err(Error::Conflict(_) | Error::PaymentRequired(_)) => {
                metrics::counter!("payments_reconciled_total", "outcome" => "refused").increment(1);
            }
            Err(err) => item_failed("reconciliation", &payment_id, &err),
        }
    }
    Ok(paid)
}
