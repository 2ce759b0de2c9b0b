//! Background work, run by every API process:
//! - reconciliation: unpaid online orders are checked with the gateway, so an order paid by a
//!   customer who never came back (and whose webhook was lost) is confirmed, and a payment captured
//!   for an order cancelled in the meantime is refunded;
//! - expiry: unpaid orders past their payment time are cancelled and their stock released, unless
//!   the gateway says they were paid (then they are confirmed) or cannot be asked (then they wait);
//! - refunds recorded but not yet accepted by the gateway are sent again.
//!
//! Several processes may share one PostgreSQL: each step is a conditional update (an order is
//! cancelled only while still `pending`, a refund is recorded only while still `requested`), so
//! whichever process gets there first does the work and the others change nothing.

use crate::domain::order::Actor;
use crate::domain::time::now_millis;
use crate::error::{Error, Result};
use crate::http::orders::{finish_confirmation, RefundDispatch};
use crate::http::AppState;
use crate::payments::refunds::send_refund;
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
                tracing::warn!(error = %err, "background job pass failed; retrying next tick");
            }
        }
    })
}

/// One pass of every job, as of `now`. Returns how many orders were expired.
pub async fn run_once(state: &AppState, now: i64) -> Result<usize> {
    reconcile_payments(state, now).await?;
    let expired = expire_unpaid_orders(state, now).await?;
    resend_refunds(state).await?;
    // Stock moved here is visible on this node at once, not only when the change feed delivers.
    state.live.catalog.flush();
    state.live.carts.flush();
    Ok(expired)
}

/// Cancels every unpaid order whose payment time has passed.
pub async fn expire_unpaid_orders(state: &AppState, now: i64) -> Result<usize> {
    let mut expired = 0;
    for order_id in state.store.expired_unpaid_orders(now, BATCH).await? {
        let Some(order) = state.store.order_by_id(&order_id).await? else {
            continue;
        };
        match settle_with_gateway(state, &order, now).await {
            // Paid after all: confirmed instead of cancelled.
            Ok(true) => continue,
            Ok(false) => {}
            Err(err) => {
                // Never cancel an order the gateway might have been paid for; ask again next pass.
                tracing::warn!(order = %order.order_number, error = %err, "gateway unreachable; expiry postponed");
                continue;
            }
        }
        match state
            .store
            .cancel_order(&order_id, Actor::System, None, EXPIRY_REASON)
            .await
        {
            Ok(_) => {
                expired += 1;
                metrics::counter!("orders_expired_total").increment(1);
            }
            // Paid or cancelled in the meantime, or another process expired it first.
            Err(Error::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    if expired > 0 {
        tracing::info!(expired, "cancelled unpaid orders past their payment time");
    }
    Ok(expired)
}

/// Sends refunds that were recorded but not accepted by the gateway yet.
pub async fn resend_refunds(state: &AppState) -> Result<()> {
    for ledger_id in state.store.unsent_refunds(BATCH).await? {
        send_refund(&state.store, state.gateway.as_ref(), &ledger_id).await?;
    }
    Ok(())
}

/// Asks the gateway about unpaid online orders: pending ones past a grace period, and ones
/// cancelled unpaid in the last day.
pub async fn reconcile_payments(state: &AppState, now: i64) -> Result<()> {
    let orders = state
        .store
        .orders_to_reconcile(now, now - RECONCILE_AFTER_MS, RECHECK_MS, BATCH)
        .await?;
    for order in orders {
        if let Err(err) = settle_with_gateway(state, &order, now).await {
            tracing::warn!(order = %order.order_number, error = %err, "reconciliation could not reach the gateway");
        }
    }
    Ok(())
}

/// Looks for a captured payment of `order` at the gateway and confirms with it (which refunds it
/// instead if the order was cancelled meanwhile). `Ok(true)` when a capture was found.
async fn settle_with_gateway(state: &AppState, order: &Order, now: i64) -> Result<bool> {
    let Some(gateway_order_id) = order.gateway_order_id.as_deref() else {
        return Ok(false);
    };
    let payments = state.gateway.fetch_order_payments(gateway_order_id).await?;
    state.store.mark_gateway_checked(&order.id, now).await?;
    let Some(captured) = payments.iter().find(|p| p.status == "captured") else {
        return Ok(false);
    };
    if captured.amount != order.total_amount {
        tracing::error!(order = %order.order_number, captured = captured.amount, expected = order.total_amount,
            "captured amount differs from the order total; left for an operator");
        return Ok(false);
    }
    match finish_confirmation(
        state,
        &order.id,
        &captured.id,
        "reconciliation",
        RefundDispatch::Inline,
    )
    .await
    {
        Ok(_) => {
            metrics::counter!("payments_reconciled_total", "outcome" => "confirmed").increment(1);
            Ok(true)
        }
        Err(Error::Conflict(_)) => {
            metrics::counter!("payments_reconciled_total", "outcome" => "refunded").increment(1);
            Ok(true)
        }
        Err(other) => Err(other),
    }
}
