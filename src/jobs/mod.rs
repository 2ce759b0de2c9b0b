//! Background work, run by every API process:
//! - reconciliation: unpaid online orders are checked with the gateway, so an order paid by a
//!   customer who never came back (and whose webhook was lost) is confirmed, and a payment captured
//!   for an order cancelled in the meantime is refunded;
//! - expiry: unpaid orders past their payment time are cancelled and their stock released, unless
//!   the gateway says they were paid (then they are confirmed) or cannot be asked (then they wait);
//! - refunds recorded but not yet accepted by the gateway are sent again, with back-off.
//!
//! Each order or refund is handled on its own: one that fails (the gateway down, a database error)
//! is logged with its id, counted in `jobs_item_failures_total`, and tried again on a later pass;
//! it never stops the rest of the pass.
//!
//! Several processes may share one PostgreSQL: each step is a conditional update (an order is
//! cancelled only while still `pending`, a refund is recorded only while still `requested`), so
//! whichever process gets there first does the work and the others change nothing.

use crate::app::payments::PaymentSource;
use crate::app::AppState;
use crate::app::refunds::send_refund;
use crate::domain::order::Actor;
use crate::domain::time::now_millis;
use crate::error::{Error, Result};
use crate::store::orders::Order;
use std::time::Duration;

/// The reason written on orders the server cancels (CONTRACT §6).
pub const EXPIRY_REASON: &str = "payment not received in time";

/// How many orders or refunds one pass handles; the next pass takes the rest.
const BATCH: i64 = 200;

/// Unpaid orders younger than this are left to the customer's own verify-payment.
const RECONCILE_AFTER_MS: i64 = 2 * 60 * 1000;

/// An unpaid order is asked about at most this often.
const RECHECK_MS: i64 = 5 * 60 * 1000;

/// Runs the jobs every `interval` until the returned handle is aborted.
pub fn spawn(state: AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = run_once(&state, now_millis()).await {
                metrics::counter!("jobs_pass_failures_total").increment(1);
                tracing::warn!(kind = error_kind(&err), error = %err, "background job pass could not list its work; retrying next tick");
            }
        }
    })
}

/// One pass of every job, as of `now`. Returns how many orders were expired. An error here is a
/// failure to list the work (the database unreachable); single items never fail the pass.
pub async fn run_once(state: &AppState, now: i64) -> Result<usize> {
    reconcile_payments(state, now).await?;
    let expired = expire_unpaid_orders(state, now).await?;
    resend_refunds(state, now).await?;
    // Stock moved here is visible on this node at once, not only when the change feed delivers.
    state.live.catalog.flush();
    state.live.carts.flush();
    Ok(expired)
}

/// Logs and counts one item's failure; the pass goes on.
fn item_failed(job: &'static str, id: &str, err: &Error) {
    metrics::counter!("jobs_item_failures_total", "job" => job, "kind" => error_kind(err))
        .increment(1);
    tracing::warn!(job, id, kind = error_kind(err), error = %err, "background item failed; retried on a later pass");
}

/// What kind of failure, named for what it is (a database error is not "the gateway").
fn error_kind(err: &Error) -> &'static str {
    match err {
        Error::ServiceUnavailable(_) | Error::BadGateway(_) => "gateway",
        Error::Contention(_) => "database_conflict",
        Error::Internal(_) => "database_or_internal",
        _ => "rule",
    }
}

/// Cancels every unpaid order whose payment time has passed.
pub async fn expire_unpaid_orders(state: &AppState, now: i64) -> Result<usize> {
    let mut expired = 0;
    for order_id in state.store.expired_unpaid_orders(now, BATCH).await? {
        match expire_one(state, &order_id, now).await {
            Ok(true) => {
                expired += 1;
                metrics::counter!("orders_expired_total").increment(1);
            }
            Ok(false) => {}
            Err(err) => item_failed("expiry", &order_id, &err),
        }
    }
    if expired > 0 {
        tracing::info!(expired, "cancelled unpaid orders past their payment time");
    }
    Ok(expired)
}

/// `Ok(true)` when this call cancelled the order.
async fn expire_one(state: &AppState, order_id: &str, now: i64) -> Result<bool> {
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

/// Sends refunds that were recorded but not accepted by the gateway yet and are due again.
pub async fn resend_refunds(state: &AppState, now: i64) -> Result<()> {
    for ledger_id in state.store.unsent_refunds(now, BATCH).await? {
        if let Err(err) = send_refund(&state.store, state.gateway.as_ref(), &ledger_id).await {
            item_failed("refunds", &ledger_id, &err);
        }
    }
    Ok(())
}

/// Asks the gateway about unpaid online orders: pending ones past a grace period, and ones
/// cancelled unpaid within the reconciliation window.
pub async fn reconcile_payments(state: &AppState, now: i64) -> Result<()> {
    let window_ms = state.config.payment_reconcile_window_days * 24 * 60 * 60 * 1000;
    let orders = state
        .store
        .orders_to_reconcile(now, now - RECONCILE_AFTER_MS, RECHECK_MS, window_ms, BATCH)
        .await?;
    for order in orders {
        if let Err(err) = settle_with_gateway(state, &order, now).await {
            item_failed("reconciliation", &order.id, &err);
        }
    }
    Ok(())
}

/// Applies every payment the gateway holds for `order` under the rule every path uses: a capture
/// (or an authorization, for an order still payable) confirms it; further captures, or captures
/// for an order no longer payable, are refunded, each once. `Ok(true)` when the order is paid.
async fn settle_with_gateway(state: &AppState, order: &Order, now: i64) -> Result<bool> {
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
