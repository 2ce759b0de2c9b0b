//! The payments ledger beyond orders' own transactions: webhook deduplication, failed attempts,
//! refund lookups and the gateway-reconciliation bookkeeping.

use super::orders::{LedgerEntry, Order};
use super::{read, write, Store};
use crate::domain::ids::new_id;
use crate::domain::time::now_millis;
use crate::error::Result;

impl Store {
    pub async fn webhook_seen(&self, event_id: &str) -> Result<bool> {
        let row: Option<(String,)> = read!(self, |pool| {
            sqlx::query_as("SELECT event_id FROM webhook_events WHERE event_id = $1")
                .bind(event_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.is_some())
    }

    /// Remembers a handled event; `false` when it was already remembered.
    pub async fn remember_webhook(&self, event_id: &str, event_type: &str) -> Result<bool> {
        let done = write!(self, |pool| {
            sqlx::query(
                "INSERT INTO webhook_events (event_id, event_type, received_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(event_id)
            .bind(event_type)
            .bind(now_millis())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Records a failed payment attempt; the order stays payable.
    pub async fn record_payment_failure(
        &self,
        order: &Order,
        payment_id: &str,
        amount: i64,
        reason: &str,
    ) -> Result<()> {
        let now = now_millis();
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO payment_transactions
                 (id, order_id, kind, gateway_ref, amount, status, idempotency_key, payment_ref, detail, created_at, updated_at)
                 VALUES ($1, $2, 'payment_failed', $3, $4, 'failed', $5, $3, $6, $7, $7)
                 ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(&order.id)
            .bind(payment_id)
            .bind(amount.max(0))
            .bind(format!("failed-{payment_id}"))
            .bind(reason)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The ledger row of a gateway refund: by its refund id, or, when the webhook outran our own
    /// record of the id, the unsettled refund of that payment and amount.
    pub async fn refund_entry(
        &self,
        gateway_refund_id: &str,
        payment_id: &str,
        amount: i64,
    ) -> Result<Option<LedgerEntry>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT * FROM payment_transactions WHERE kind = 'refund'
                 AND (gateway_ref = $1 OR (gateway_ref IS NULL AND payment_ref = $2 AND amount = $3))
                 ORDER BY CASE WHEN gateway_ref = $1 THEN 0 ELSE 1 END, created_at LIMIT 1",
            )
            .bind(gateway_refund_id)
            .bind(payment_id)
            .bind(amount)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Unpaid online orders whose gateway order should be asked about: pending ones older than
    /// `pending_before`, and ones cancelled unpaid in the last day (a payment may still have been
    /// captured). Each is asked at most every `recheck_ms`.
    pub async fn orders_to_reconcile(
        &self,
        now: i64,
        pending_before: i64,
        recheck_ms: i64,
        limit: i64,
    ) -> Result<Vec<Order>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT * FROM orders
                 WHERE gateway_order_id IS NOT NULL AND payment_status = 'pending'
                   AND (gateway_checked_at IS NULL OR gateway_checked_at < $3)
                   AND ((status = 'pending' AND created_at < $2)
                        OR (status = 'cancelled' AND cancelled_at > $1))
                 ORDER BY created_at LIMIT $4",
            )
            .bind(now - 24 * 60 * 60 * 1000)
            .bind(pending_before)
            .bind(now - recheck_ms)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn mark_gateway_checked(&self, order_id: &str, now: i64) -> Result<()> {
        write!(self, |pool| {
            sqlx::query("UPDATE orders SET gateway_checked_at = $2 WHERE id = $1")
                .bind(order_id)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
