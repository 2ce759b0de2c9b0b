//! What a verified payment-gateway event (a Razorpay webhook) changes: a capture or authorization
//! goes through payment confirmation like every other path; a failed payment is recorded on its
//! order; a refund's outcome is recorded on its ledger entry. Each effect is an exactly-once
//! store operation, so events may come in any order and any number of times.
//!
//! A webhook is answered once it is recorded (`Store::record_webhook`); its effects run after, in
//! a task of their own (`run_claimed`), and an event whose processing failed (the gateway slow or
//! down) is processed again by the jobs (`process_due`) with back-off until it is done.

use super::payments::PaymentSource;
use super::AppState;
use crate::domain::ledger::LedgerStatus;
use crate::domain::time::now_millis;
use crate::error::{Error, Result};
use crate::payments::is_gateway_id;
use crate::payments::razorpay::{parse_webhook_event, WebhookEvent};

/// How long an attempt holds its event before another process may take it over (an attempt
/// that died with its process is retried after this).
pub const WEBHOOK_CLAIM_MS: i64 = 60_000;

/// The wait before attempt `attempts + 1` after `attempts` failed: 10 s doubling, at most an hour.
fn retry_delay_ms(attempts: i64) -> i64 {
    let doublings = attempts.clamp(1, 10) - 1;
    (10_000_i64 << doublings).min(60 * 60 * 1000)
}

/// Processes a recorded event its caller has claimed (`attempts` counts this one): on success it
/// is marked processed; on failure it is given back, due again after a back-off, and the jobs
/// retry it. Returns the outcome (`processed` or `ignored`).
pub async fn run_claimed(
    state: &AppState,
    event_id: &str,
    body: &str,
    attempts: i64,
) -> Result<&'static str> {
    let outcome = match parse_webhook_event(body.as_bytes()) {
        Ok(event) => apply(state, &event).await,
        // It was read when it was received; a body that no longer reads is nothing to retry.
        Err(_) => Ok("ignored"),
    };
    match outcome {
        Ok(outcome) => {
            state
                .store
                .webhook_processed(event_id, now_millis())
                .await?;
            metrics::counter!("payments_webhooks_total", "outcome" => outcome).increment(1);
            Ok(outcome)
        }
        Err(err) => {
            metrics::counter!("payments_webhooks_total", "outcome" => "retry").increment(1);
            tracing::warn!(event_id, attempts, error = %err, "webhook processing failed; retried by the jobs");
            state
                .store
                .webhook_failed(event_id, now_millis() + retry_delay_ms(attempts))
                .await?;
            Err(err)
        }
    }
}

/// Claims and processes one recorded event if it is still unprocessed and due at `now`;
/// `Ok(None)` when another process has it or it is done.
pub async fn process_due(
    state: &AppState,
    event_id: &str,
    now: i64,
) -> Result<Option<&'static str>> {
    let Some((body, attempts)) = state
        .store
        .claim_webhook(event_id, now, now + WEBHOOK_CLAIM_MS)
        .await?
    else {
        return Ok(None);
    };
    run_claimed(state, event_id, &body, attempts)
        .await
        .map(Some)
}

/// Applies one verified gateway event; returns `processed` or `ignored`. An error (the gateway
/// unreachable) leaves the event to be handled again when it is delivered again.
pub async fn apply(state: &AppState, event: &WebhookEvent) -> Result<&'static str> {
    match event.event.as_str() {
        // The payment is fetched from the gateway and held to the same rule as every other path
        // (its order, amount, currency, captured; an authorized one is captured first), so even a
        // webhook signed with a leaked secret cannot confirm money the gateway does not hold.
        "payment.captured" | "payment.authorized" | "order.paid" => {
            let Some(payment) = event.payment.as_ref() else {
                return Ok("ignored");
            };
            let gateway_order_id = payment
                .order_id
                .clone()
                .or_else(|| event.order.as_ref().map(|o| o.id.clone()));
            let Some(order) = (match gateway_order_id {
                Some(id) if is_gateway_id("order", &id) => {
                    state.store.order_by_gateway_order(&id).await?
                }
                _ => None,
            }) else {
                // Not an order of this shop (or not made through checkout).
                return Ok("ignored");
            };
            match state
                .payments()
                .confirm_reported(&order, &payment.id, PaymentSource::Webhook)
                .await
            {
                // Confirmed, or refused and refunded, or not captured money: either way handled.
                Ok(_)
                | Err(Error::Conflict(..))
                | Err(Error::PaymentRequired(_))
                | Err(Error::Validation { .. }) => Ok("processed"),
                // Gateway unreachable: not remembered, so Razorpay's retry is handled again.
                Err(other) => Err(other),
            }
        }
        "payment.failed" => {
            let Some(payment) = event.payment.as_ref() else {
                return Ok("ignored");
            };
            let Some(order_id) = payment.order_id.as_deref() else {
                return Ok("ignored");
            };
            let Some(order) = state.store.order_by_gateway_order(order_id).await? else {
                return Ok("ignored");
            };
            let reason = payment
                .error_description
                .as_deref()
                .unwrap_or("payment failed at the gateway");
            state
                .store
                .record_payment_failure(&order, &payment.id, payment.amount, reason)
                .await?;
            Ok("processed")
        }
        "refund.processed" | "refund.failed" => {
            let Some(refund) = event.refund.as_ref() else {
                return Ok("ignored");
            };
            let Some(entry) = state
                .store
                .refund_entry(&refund.id, &refund.payment_id, refund.amount)
                .await?
            else {
                return Ok("ignored");
            };
            let status = if event.event == "refund.processed" {
                LedgerStatus::Processed
            } else {
                LedgerStatus::Failed
            };
            state
                .store
                .record_refund_result(&entry.id, Some(&refund.id), status)
                .await?;
            Ok("processed")
        }
        _ => Ok("ignored"),
    }
}
