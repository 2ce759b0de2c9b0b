//! The payments ledger beyond orders' own transactions: webhook deduplication, failed attempts,
//! refund lookups and the gateway-reconciliation bookkeeping.

use super::orders::{LedgerEntry, Order};
use super::{read, write, Store};
use crate::domain::ids::new_id;
use crate::domain::ledger::LedgerStatus;
use crate::domain::money::Money;
use crate::domain::time::now_millis;
use crate::error::Result;

/// Who may capture an authorized payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureClaim {
    /// This caller took the claim and calls the gateway.
    Fresh,
    /// Another request claimed it at this time (ms).
    HeldSince(i64),
}

impl Store {
    /// Claims the capture of an authorized payment, once per payment id (a unique key in the
    /// ledger), so racing paths call the gateway's capture once.
    pub async fn claim_capture(
        &self,
        order_id: &str,
        payment_id: &str,
        amount: Money,
    ) -> Result<CaptureClaim> {
        let now = now_millis();
        let key = format!("capture-request-{payment_id}");
        let inserted = write!(self, |pool| {
            sqlx::query(
                "INSERT INTO payment_transactions
                 (id, order_id, kind, gateway_ref, amount, status, idempotency_key, payment_ref, detail, created_at, updated_at)
                 VALUES ($1, $2, 'capture_request', NULL, $3, 'requested', $4, $5, 'capture of an authorized payment', $6, $6)
                 ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(order_id)
            .bind(amount)
            .bind(&key)
            .bind(payment_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            return Ok(CaptureClaim::Fresh);
        }
        let held: Option<(i64,)> = write!(self, |pool| {
            sqlx::query_as("SELECT created_at FROM payment_transactions WHERE idempotency_key = $1")
                .bind(&key)
                .fetch_optional(pool)
                .await?
        });
        Ok(held.map_or(CaptureClaim::Fresh, |(at,)| CaptureClaim::HeldSince(at)))
    }

    /// Gives a capture claim back after a call whose outcome is unknown, so a retry can capture.
    pub async fn release_capture_claim(&self, payment_id: &str) -> Result<()> {
        write!(self, |pool| {
            sqlx::query("DELETE FROM payment_transactions WHERE idempotency_key = $1 AND kind = 'capture_request'")
                .bind(format!("capture-request-{payment_id}"))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Claims the sending of a requested refund until `until` (ms), so the request that recorded
    /// it and the refund job never send it at the same time; `false` when it is not requested any
    /// more or another sender's claim has not expired.
    pub async fn claim_refund_send(&self, ledger_id: &str, now: i64, until: i64) -> Result<bool> {
        let done = write!(self, |pool| {
            sqlx::query(
                "UPDATE payment_transactions SET send_claimed_until = $3
                 WHERE id = $1 AND kind = 'refund' AND status = 'requested'
                   AND (send_claimed_until IS NULL OR send_claimed_until <= $2)",
            )
            .bind(ledger_id)
            .bind(now)
            .bind(until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Gives up a claim taken with `claim_refund_send` once its sender has recorded the answer.
    pub async fn release_refund_send(&self, ledger_id: &str) -> Result<()> {
        write!(self, |pool| {
            sqlx::query("UPDATE payment_transactions SET send_claimed_until = NULL WHERE id = $1")
                .bind(ledger_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Notes a refund attempt the gateway did not accept: one more attempt, the error, and when
    /// to try again (`None`: no more tries; the caller then marks it failed).
    pub async fn refund_attempt_failed(
        &self,
        ledger_id: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE payment_transactions SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, updated_at = $4
                 WHERE id = $1 AND kind = 'refund' AND status = 'requested'",
            )
            .bind(ledger_id)
            .bind(error)
            .bind(retry_at)
            .bind(now_millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Puts a failed refund back in the queue with a fresh count of attempts (an admin's retry);
    /// `false` when it is not failed. It keeps its idempotency key, so the gateway cannot pay it
    /// twice.
    pub async fn requeue_failed_refund(&self, ledger_id: &str) -> Result<bool> {
        let done = write!(self, |pool| {
            sqlx::query(
                "UPDATE payment_transactions SET status = 'requested', attempts = 0, next_attempt_at = NULL, send_claimed_until = NULL, updated_at = $2
                 WHERE id = $1 AND kind = 'refund' AND status = 'failed'",
            )
            .bind(ledger_id)
            .bind(now_millis())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// One refund with its order number.
    pub async fn refund_by_id(&self, ledger_id: &str) -> Result<Option<(LedgerEntry, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            entry: LedgerEntry,
            order_number: String,
        }
        let row: Option<Row> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT t.*, o.order_number FROM payment_transactions t JOIN orders o ON o.id = t.order_id
                 WHERE t.id = $1 AND t.kind = 'refund'",
            )
            .bind(ledger_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| (r.entry, r.order_number)))
    }

    /// Refunds in one status, newest first, with their order numbers, and how many there are.
    pub async fn refunds_with_status(
        &self,
        status: LedgerStatus,
        page: super::PageRequest,
    ) -> Result<(Vec<(LedgerEntry, String)>, i64)> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            entry: LedgerEntry,
            order_number: String,
        }
        let (rows, total): (Vec<Row>, (i64,)) = read!(self, |pool| {
            let rows = sqlx::query_as(
                "SELECT t.*, o.order_number FROM payment_transactions t JOIN orders o ON o.id = t.order_id
                 WHERE t.kind = 'refund' AND t.status = $1
                 ORDER BY t.updated_at DESC, t.id DESC LIMIT $2 OFFSET $3",
            )
            .bind(status)
            .bind(page.limit)
            .bind(page.offset())
            .fetch_all(pool)
            .await?;
            let total = sqlx::query_as(
                "SELECT COUNT(*) FROM payment_transactions WHERE kind = 'refund' AND status = $1",
            )
            .bind(status)
            .fetch_one(pool)
            .await?;
            (rows, total)
        });
        Ok((
            rows.into_iter()
                .map(|r| (r.entry, r.order_number))
                .collect(),
            total.0,
        ))
    }

    /// Deletes at most `limit` remembered webhook events received before `before` (oldest
    /// first); returns how many.
    pub async fn purge_webhook_events(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM webhook_events WHERE event_id IN (
                 SELECT event_id FROM webhook_events
                 WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
            before,
            limit,
        )
        .await
    }

    /// Records a verified event to be processed, claimed by its receiver until `claim_until`;
    /// `false` when the event id was already recorded (a repeated delivery).
    pub async fn record_webhook(
        &self,
        event_id: &str,
        event_type: &str,
        body: &str,
        now: i64,
        claim_until: i64,
    ) -> Result<bool> {
        let done = write!(self, |pool| {
            sqlx::query(
                "INSERT INTO webhook_events
                 (event_id, event_type, received_at, pending_body, attempts, next_attempt_at)
                 VALUES ($1, $2, $3, $4, 1, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(event_id)
            .bind(event_type)
            .bind(now)
            .bind(body)
            .bind(claim_until)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Unprocessed events due for another attempt at `now` (oldest first).
    pub async fn due_webhooks(&self, now: i64, limit: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = read!(self, |pool| {
            sqlx::query_as(
                "SELECT event_id FROM webhook_events
                 WHERE pending_body IS NOT NULL AND next_attempt_at <= $1
                 ORDER BY next_attempt_at LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Claims an unprocessed, due event until `claim_until` (one conditional update, so two
    /// processes never work on it at once); returns its body and how many attempts it has had,
    /// this one included.
    pub async fn claim_webhook(
        &self,
        event_id: &str,
        now: i64,
        claim_until: i64,
    ) -> Result<Option<(String, i64)>> {
        let row: Option<(String, i64)> = write!(self, |pool| {
            sqlx::query_as(
                "UPDATE webhook_events SET next_attempt_at = $3, attempts = attempts + 1
                 WHERE event_id = $1 AND pending_body IS NOT NULL AND next_attempt_at <= $2
                 RETURNING pending_body, CAST(attempts AS BIGINT)",
            )
            .bind(event_id)
            .bind(now)
            .bind(claim_until)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Marks a claimed event processed: its body is no longer kept.
    pub async fn webhook_processed(&self, event_id: &str, now: i64) -> Result<()> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE webhook_events SET pending_body = NULL, next_attempt_at = NULL, processed_at = $2
                 WHERE event_id = $1",
            )
            .bind(event_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Gives a claimed event back after a failed attempt, due again at `retry_at`.
    pub async fn webhook_failed(&self, event_id: &str, retry_at: i64) -> Result<()> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE webhook_events SET next_attempt_at = $2
                 WHERE event_id = $1 AND pending_body IS NOT NULL",
            )
            .bind(event_id)
            .bind(retry_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Records a failed payment attempt; the order stays payable.
    pub async fn record_payment_failure(
        &self,
        order: &Order,
        payment_id: &str,
        amount: Money,
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
            .bind(amount.max(Money::ZERO))
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
        amount: Money,
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
    /// `pending_before`, and ones cancelled unpaid within `window_ms` (Razorpay may capture up to
    /// its auto-capture timeout after the payment, and retries webhooks for a day). Each is asked
    /// at most every `recheck_ms`.
    pub async fn orders_to_reconcile(
        &self,
        now: i64,
        pending_before: i64,
        recheck_ms: i64,
        window_ms: i64,
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
            .bind(now - window_ms)
            .bind(pending_before)
            .bind(now - recheck_ms)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Flags an unpaid order whose payment the gateway cannot tell us for an admin; `true` when
    /// this call flagged it (it was pending and not flagged yet).
    pub async fn flag_payment_unresolved(&self, order_id: &str, now: i64) -> Result<bool> {
        let done = write!(self, |pool| {
            sqlx::query(
                "UPDATE orders SET payment_unresolved_at = $2
                 WHERE id = $1 AND status = 'pending' AND payment_unresolved_at IS NULL",
            )
            .bind(order_id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
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
