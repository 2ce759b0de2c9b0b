//! Background work: thin loops over the workflows of `crate::app` (`expiry`, `refunds` and
//! `retention`), each run by the one node holding its lease (`leader`):
//! - reconciliation: unpaid online orders are checked with the gateway, so an order paid by a
//!   customer who never came back (and whose webhook was lost) is confirmed, and a payment captured
//!   for an order cancelled in the meantime is refunded;
//! - expiry: unpaid orders past their payment time are cancelled and their stock released, unless
//!   the gateway says they were paid (then they are confirmed) or cannot be asked (then they wait);
//! - webhook events whose processing failed (or died with its process) are processed again;
//! - refunds recorded but not yet accepted by the gateway are sent again, with back-off;
//! - records past their use are deleted (`app::retention`): idempotency keys after 24 hours,
//!   remembered webhook events after 30 days, rate-limit counters once their window has ended.
//! - the email outbox is sent (`crate::app::mailer`) by a loop of its own that wakes every
//!   second, so mail goes out within seconds rather than every `JOB_INTERVAL_SECONDS`; it runs on
//!   the node holding the `mail` lease, taken among the nodes with `SMTP_URL` set (whatever
//!   `JOBS_ENABLED` says, so a node that runs no jobs can still send), each row claimed by one.
//!
//! Each order or refund is handled on its own: one that fails (the gateway down, a database error)
//! is logged with its id, counted in `jobs_item_failures_total`, and tried again on a later pass;
//! it never stops the rest of the pass.
//!
//! The periodic pass runs on the node holding the `jobs` lease, among the nodes with
//! `JOBS_ENABLED`. Should two overlap for a moment (a leader cut off, clocks apart), each step is
//! still a conditional update (an order is cancelled only while still `pending`, a refund is
//! recorded only while still `requested`), so whichever process gets there first does the work
//! and the others change nothing.

use crate::app::expiry::{
    error_kind, expire_one, item_failed, settle_with_gateway, RECHECK_MS, RECONCILE_AFTER_MS,
};
use crate::app::gateway_events::process_due;
use crate::app::mailer::send_due;
use crate::app::refunds::send_refund;
use crate::app::retention::purge_expired_records;
use crate::app::AppState;
use crate::domain::time::now_millis;
use crate::error::Result;
use leader::Lease;
use std::sync::Arc;
use std::time::Duration;

pub mod leader;

pub use crate::app::expiry::EXPIRY_REASON;

/// How many orders or refunds one pass handles; the next pass takes the rest.
const BATCH: i64 = 200;

/// Runs the jobs every `interval` while this node holds `lease`, until the returned handle is
/// aborted.
pub fn spawn(
    state: AppState,
    interval: Duration,
    lease: Arc<Lease>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !lease.is_held() {
                continue;
            }
            if let Err(err) = run_once(&state, now_millis()).await {
                metrics::counter!("jobs_pass_failures_total").increment(1);
                tracing::warn!(kind = error_kind(&err), error = %err, "background job pass could not list its work; retrying next tick");
            }
        }
    })
}

/// How often the email sender looks for due rows.
pub const MAIL_INTERVAL: Duration = Duration::from_secs(1);

/// Sends the email outbox every `MAIL_INTERVAL` while this node holds `lease`, until the handle
/// is aborted; `None` when no SMTP server is configured.
pub fn spawn_mail_sender(
    state: AppState,
    lease: Arc<Lease>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mailer = state.mailer.clone()?;
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(MAIL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if !lease.is_held() {
                continue;
            }
            if let Err(err) = send_due(&state, &mailer).await {
                metrics::counter!("jobs_pass_failures_total").increment(1);
                tracing::warn!(kind = error_kind(&err), error = %err, "email sender could not reach the database; retrying next tick");
            }
        }
    }))
}

/// One pass of every job, as of `now`. Returns how many orders were expired. An error here is a
/// failure to list the work (the database unreachable); single items never fail the pass.
pub async fn run_once(state: &AppState, now: i64) -> Result<usize> {
    process_webhooks(state, now).await?;
    reconcile_payments(state, now).await?;
    let expired = expire_unpaid_orders(state, now).await?;
    resend_refunds(state, now).await?;
    purge_expired_records(state, now).await?;
    // Stock moved here is visible on this node at once, not only when the change feed delivers.
    state.live.catalog.flush();
    state.live.carts.flush();
    Ok(expired)
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

/// Processes webhook events recorded but not yet processed (their first attempt failed or died
/// with its process) that are due again.
pub async fn process_webhooks(state: &AppState, now: i64) -> Result<()> {
    for event_id in state.store.due_webhooks(now, BATCH).await? {
        if let Err(err) = process_due(state, &event_id, now).await {
            item_failed("webhooks", &event_id, &err);
        }
    }
    Ok(())
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
