//! What a verified payment-gateway event (a Razorpay webhook) changes: a capture or authorization
//! goes through payment confirmation like every other path; a failed payment is recorded on its
//! order; a refund's outcome is recorded on its ledger entry. Each effect is an exactly-once
//! store operation, so events may come in any order and any number of times.

use super::payments::PaymentSource;
use super::AppState;
use crate::domain::ledger::LedgerStatus;
use crate::error::{Error, Result};
use crate::payments::is_gateway_id;
use crate::payments::razorpay::WebhookEvent;

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
                | Err(Error::Conflict(_))
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
