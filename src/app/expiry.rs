//! Unpaid online orders: reconciliation with the gateway (an order paid by a customer who never
//! came back, and whose webhook was lost, is confirmed; a payment captured for an order cancelled
//! in the meantime is refunded) and expiry (an order past its payment time is cancelled and its
//! stock released, unless the gateway says it was paid or cannot be asked, or holds a payment
//! that could not be applied; one that stays unknown a day past its deadline is flagged for an
//! admin, never cancelled). The background jobs loop over these, one order at a time.

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

/// How long past its payment deadline an order whose payment the gateway cannot tell us waits
/// before an admin is asked to look at it (it keeps being asked about after that).
pub const UNRESOLVED_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// What the gateway says about an unpaid order's payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayVerdict {
    /// A payment confirmed the order.
    Paid,
    /// Nothing that can pay the order.
    NotPaid,
    /// A payment that may pay the order could not be applied (the gateway or the database failed
    /// for a moment): whether it is paid is unknown until a later pass.
    Unknown,
}

/// Expires one unpaid order past its payment time. `Ok(true)` when this call cancelled it.
pub async fn expire_one(state: &AppState, order_id: &str, now: i64) -> Result<bool> {
    let Some(order) = state.store.order_by_id(order_id).await? else {
        return Ok(false);
    };
    // Never cancel an order the gateway might have been paid for: a failure to ask (an error
    // here) or to apply what it holds (`Unknown`) postpones it to the next pass.
    match settle_with_gateway(state, &order, now).await? {
        GatewayVerdict::Paid => return Ok(false),
        GatewayVerdict::Unknown => {
            flag_if_unresolved(state, &order, now).await?;
            return Ok(false);
        }
        GatewayVerdict::NotPaid => {}
    }
    match state
        .store
        .cancel_order(order_id, Actor::System, None, EXPIRY_REASON)
        .await
    {
        Ok(_) => Ok(true),
        // Paid or cancelled in the meantime, or another process expired it first.
        Err(Error::Conflict(..)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// An order still unpaid long past its deadline because its payment cannot be learned is not
/// cancelled (the customer may have paid) but flagged once for an admin, with an error in the log.
async fn flag_if_unresolved(state: &AppState, order: &Order, now: i64) -> Result<()> {
    let overdue = order
        .payment_expires_at
        .is_some_and(|deadline| now - deadline > UNRESOLVED_AFTER_MS);
    if overdue && state.store.flag_payment_unresolved(&order.id, now).await? {
        metrics::counter!("orders_payment_unresolved_total").increment(1);
        tracing::error!(
            order = %order.order_number,
            order_id = %order.id,
            "order past its payment time by more than a day, and the gateway still cannot say \
             whether it was paid: not cancelled, an admin must check it at the gateway"
        );
    }
    Ok(())
}

/// Applies every payment the gateway holds for `order` under the rule every path uses: a capture
/// (or an authorization, for an order still payable) confirms it; further captures, or captures
/// for an order no longer payable, are refunded, each once.
pub async fn settle_with_gateway(
    state: &AppState,
    order: &Order,
    now: i64,
) -> Result<GatewayVerdict> {
    let Some(gateway_order_id) = order.gateway_order_id.as_deref() else {
        return Ok(GatewayVerdict::NotPaid);
    };
    let payments = state.gateway.fetch_order_payments(gateway_order_id).await?;
    state.store.mark_gateway_checked(&order.id, now).await?;
    let workflow = state.payments();
    let mut paid = false;
    let mut unknown = false;
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
            Err(Error::Conflict(..) | Error::PaymentRequired(_)) => {
                metrics::counter!("payments_reconciled_total", "outcome" => "refused").increment(1);
            }
            Err(err) => {
                unknown = true;
                item_failed("reconciliation", &payment_id, &err);
            }
        }
    }
    Ok(if paid {
        GatewayVerdict::Paid
    } else if unknown {
        GatewayVerdict::Unknown
    } else {
        GatewayVerdict::NotPaid
    })
}
