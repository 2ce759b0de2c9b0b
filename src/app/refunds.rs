//! Sending recorded refunds to the gateway. A refund is first written to the ledger inside the
//! transaction that decided it (cancel, return, an extra capture), with a unique idempotency key;
//! it is sent after commit and again by the background job until the gateway accepts it. The same
//! key goes out as `X-Refund-Idempotency`, so a retry never refunds twice.
//!
//! Temporary or ambiguous failures (gateway down, a timeout, 5xx, 429, an unreadable answer, our
//! credentials refused) are retried with a growing pause; only the gateway's clear "bad request"
//! (more than is refundable, an already refunded payment) ends a refund as failed at once. After
//! `MAX_ATTEMPTS` it is failed too, and an admin sees it in `GET /admin/refunds?status=failed`
//! and can retry it.

use crate::domain::ledger::LedgerStatus;
use crate::domain::order::PaymentMethod;
use crate::domain::time::now_millis;
use crate::error::{Error, ErrorCode, Result};
use crate::payments::{GatewayError, GatewayRefundStatus, PaymentGateway, RefundRequest};
use crate::store::Store;

/// Gateway calls a refund gets before it needs an admin.
pub const MAX_ATTEMPTS: i64 = 10;

/// Pause before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn retry_delay_ms(attempts: i64) -> i64 {
    let exponent = attempts.clamp(0, 7) as u32;
    (30_000_i64 << exponent).min(60 * 60 * 1000)
}

/// How long a sender holds a refund: longer than the gateway client can spend on one call with
/// its retries (at most 3 attempts of `RAZORPAY_TIMEOUT_MS`, itself at most 120 s). A claim
/// older than this belongs to a sender that died or was dropped; the refund job takes it over
/// (the idempotency key keeps the gateway from refunding twice even then).
pub const SEND_CLAIM_MS: i64 = 7 * 60 * 1000;

/// Sends one requested refund; a failure is recorded on the refund for the next attempt. Only
/// one party sends a refund at a time: a refund another sender holds is left to it.
pub async fn send_refund(
    store: &Store,
    gateway: &dyn PaymentGateway,
    ledger_id: &str,
) -> Result<()> {
    let now = now_millis();
    if !store
        .claim_refund_send(ledger_id, now, now + SEND_CLAIM_MS)
        .await?
    {
        // Sent already, or being sent by another party right now.
        return Ok(());
    }
    // Dropped mid-way (the request that sends it ran out of time), the refund is given back at
    // once to the refund job, which sends it with the same idempotency key.
    let guard = {
        let (store, ledger_id) = (store.clone(), ledger_id.to_string());
        super::payments::ReleaseOnDrop::new(async move {
            if let Err(err) = store.release_refund_send(&ledger_id).await {
                tracing::warn!(ledger_id, error = %err, "could not release a refund claim");
            }
        })
    };
    let sent = send_claimed(store, gateway, ledger_id).await;
    guard.disarm();
    store.release_refund_send(ledger_id).await?;
    sent
}

/// Sends a refund this caller holds the claim of, and records the answer.
async fn send_claimed(store: &Store, gateway: &dyn PaymentGateway, ledger_id: &str) -> Result<()> {
    let Some((entry, order)) = store.refund_to_send(ledger_id).await? else {
        return Ok(());
    };
    if order.payment_method == PaymentMethod::Cod {
        // Cash was collected by hand; the refund is paid out the same way and recorded here.
        return store
            .record_refund_result(ledger_id, None, LedgerStatus::Processed)
            .await;
    }
    let Some(payment_id) = entry.payment_ref.clone() else {
        tracing::error!(ledger_id, "refund without a payment to refund from");
        store
            .refund_attempt_failed(ledger_id, "no payment to refund from", None)
            .await?;
        return store
            .record_refund_result(ledger_id, None, LedgerStatus::Failed)
            .await;
    };
    let request = RefundRequest {
        payment_id,
        amount: entry.amount,
        idempotency_key: entry
            .idempotency_key
            .clone()
            .unwrap_or_else(|| entry.id.clone()),
        notes: vec![
            ("order_number".into(), order.order_number.clone()),
            ("order_id".into(), order.id.clone()),
        ],
    };
    match gateway.refund(request).await {
        Ok(refund) => {
            let status = match refund.status {
                GatewayRefundStatus::Processed => LedgerStatus::Processed,
                GatewayRefundStatus::Failed => LedgerStatus::Failed,
                GatewayRefundStatus::Pending => LedgerStatus::Pending,
            };
            metrics::counter!("payments_refunds_total", "outcome" => status.as_str()).increment(1);
            store
                .record_refund_result(ledger_id, Some(&refund.id), status)
                .await
        }
        Err(err) => {
            let attempts = entry.attempts + 1;
            let definitive =
                matches!(&err, GatewayError::Rejected { code, .. } if code == "BAD_REQUEST_ERROR");
            if definitive || attempts >= MAX_ATTEMPTS {
                metrics::counter!("payments_refunds_total", "outcome" => "failed").increment(1);
                tracing::error!(ledger_id, attempts, error = %err, "refund failed; an admin can retry it");
                store
                    .refund_attempt_failed(ledger_id, &err.to_string(), None)
                    .await?;
                store
                    .record_refund_result(ledger_id, None, LedgerStatus::Failed)
                    .await
            } else {
                metrics::counter!("payments_refunds_total", "outcome" => "retry").increment(1);
                tracing::warn!(ledger_id, attempts, error = %err, "refund not accepted by the gateway yet; will retry");
                let retry_at = now_millis() + retry_delay_ms(entry.attempts);
                store
                    .refund_attempt_failed(ledger_id, &err.to_string(), Some(retry_at))
                    .await
            }
        }
    }
}

/// An admin's retry of a failed refund: queued again with its idempotency key (so a refund the
/// gateway did make after all is not made twice) and sent. Only a failed refund can be retried.
pub async fn retry_failed_refund(
    store: &Store,
    gateway: &dyn PaymentGateway,
    ledger_id: &str,
    admin_id: &str,
) -> Result<()> {
    if !store.requeue_failed_refund(ledger_id).await? {
        return Err(match store.refund_by_id(ledger_id).await? {
            None => Error::not_found("Refund"),
            Some((entry, _)) => Error::Conflict(
                ErrorCode::Conflict,
                format!(
                    "Only failed refunds can be retried; this one is {}",
                    entry.status
                ),
            ),
        });
    }
    tracing::info!(refund_id = ledger_id, admin = %admin_id, "admin retries a failed refund");
    send_refund(store, gateway, ledger_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(retry_delay_ms(0), 30_000);
        assert_eq!(retry_delay_ms(1), 60_000);
        assert_eq!(retry_delay_ms(6), 1_920_000);
        assert_eq!(retry_delay_ms(9), 3_600_000);
    }
}
