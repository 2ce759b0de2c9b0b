//! Sending recorded refunds to the gateway. A refund is first written to the ledger inside the
//! transaction that decided it (cancel, return, late capture), with a unique idempotency key; it is
//! sent after commit and again by the background job until the gateway accepts it. The same key
//! goes out as `X-Refund-Idempotency`, so a retry never refunds twice.

use super::{PaymentGateway, RefundRequest};
use crate::domain::money::Money;
use crate::error::Result;
use crate::store::Store;

/// Sends one requested refund; a gateway failure leaves it requested for the next attempt.
pub async fn send_refund(
    store: &Store,
    gateway: &dyn PaymentGateway,
    ledger_id: &str,
) -> Result<()> {
    let Some((entry, order)) = store.refund_to_send(ledger_id).await? else {
        return Ok(());
    };
    if order.payment_method == "cod" {
        // Cash was collected by hand; the refund is paid out the same way and recorded here.
        return store
            .record_refund_result(ledger_id, None, "processed")
            .await;
    }
    let Some(payment_id) = entry.payment_ref.clone() else {
        tracing::error!(ledger_id, "refund without a payment to refund from");
        return store.record_refund_result(ledger_id, None, "failed").await;
    };
    let request = RefundRequest {
        payment_id,
        amount: Money::from_minor(entry.amount),
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
            let status = match refund.status.as_str() {
                "processed" => "processed",
                "failed" => "failed",
                _ => "pending",
            };
            metrics::counter!("payments_refunds_total", "outcome" => status).increment(1);
            store
                .record_refund_result(ledger_id, Some(&refund.id), status)
                .await
        }
        Err(err @ super::GatewayError::Rejected { .. }) => {
            // Razorpay refused the refund itself (e.g. more than is refundable): retrying the same
            // request cannot succeed, so it is marked failed for an operator to look at.
            metrics::counter!("payments_refunds_total", "outcome" => "rejected").increment(1);
            tracing::error!(ledger_id, error = %err, "refund rejected by the gateway; needs an operator");
            store.record_refund_result(ledger_id, None, "failed").await
        }
        Err(err) => {
            metrics::counter!("payments_refunds_total", "outcome" => "retry").increment(1);
            tracing::warn!(ledger_id, error = %err, "refund not accepted by the gateway yet; will retry");
            Ok(())
        }
    }
}
