//! Refunds on their way back: the ledger row to send, and the gateway's answer recorded.

use super::*;

impl Store {
    /// A requested refund with its order, if it is still waiting to be sent to the gateway.
    pub async fn refund_to_send(&self, ledger_id: &str) -> Result<Option<(LedgerEntry, Order)>> {
        let entry: Option<LedgerEntry> = read!(self, |pool| {
            sqlx::query_as("SELECT * FROM payment_transactions WHERE id = $1 AND kind = 'refund' AND status = 'requested'")
                .bind(ledger_id)
                .fetch_optional(pool)
                .await?
        });
        let Some(entry) = entry else { return Ok(None) };
        let order = self
            .order_by_id(&entry.order_id)
            .await?
            .ok_or_else(|| Error::not_found("Order"))?;
        Ok(Some((entry, order)))
    }

    /// Records the gateway's answer to a refund. The first answer (leaving `requested`) counts
    /// the amount against the order unless the refund failed; a later `pending -> failed` takes it
    /// back. Each step is a conditional update on the ledger row, so repeats change nothing. A
    /// refund of a duplicate capture does not touch the order, whose own payment stands.
    pub async fn record_refund_result(
        &self,
        ledger_id: &str,
        gateway_refund_id: Option<&str>,
        status: LedgerStatus,
    ) -> Result<()> {
        let now = now_millis();
        let update = "UPDATE payment_transactions SET status = $2, gateway_ref = COALESCE($3, gateway_ref), updated_at = $4
                      WHERE id = $1 AND kind = 'refund' AND status = $5 RETURNING *";
        transaction!(self, |tx| {
            let first: Option<LedgerEntry> = sqlx::query_as(update)
                .bind(ledger_id)
                .bind(status)
                .bind(gateway_refund_id)
                .bind(now)
                .bind(LedgerStatus::Requested)
                .fetch_optional(&mut *tx)
                .await?;
            let (entry, delta) = match first {
                Some(entry) if status == LedgerStatus::Failed => (entry, Money::ZERO),
                Some(entry) => {
                    let amount = entry.amount;
                    (entry, amount)
                }
                None => {
                    let settled: Option<LedgerEntry> = sqlx::query_as(update)
                        .bind(ledger_id)
                        .bind(status)
                        .bind(gateway_refund_id)
                        .bind(now)
                        .bind(LedgerStatus::Pending)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match settled {
                        Some(entry) if status == LedgerStatus::Failed => {
                            let back = Money::ZERO
                                .checked_sub(entry.amount)
                                .ok_or_else(money_overflow)?;
                            (entry, back)
                        }
                        Some(entry) => (entry, Money::ZERO),
                        None => return Ok(()),
                    }
                }
            };
            // Only a refund of the order's own payment changes what the order shows as refunded;
            // a refund of an extra capture (paid twice, paid late, another amount) stands alone in
            // the ledger, so `refunded_amount` never exceeds what the order's payment brought in.
            let counted: Option<Order> = if delta != Money::ZERO {
                sqlx::query_as(
                    "UPDATE orders SET refunded_amount = refunded_amount + $2, updated_at = $3,
                            payment_status = CASE WHEN refunded_amount + $2 >= total_amount THEN 'refunded'
                                                  WHEN $2 < 0 AND payment_status = 'refunded' THEN 'completed'
                                                  ELSE payment_status END
                     WHERE id = $1
                       AND (gateway_payment_id = $4 OR (payment_method = 'cod' AND $4 = 'cod-' || order_number))
                       AND refunded_amount + $2 BETWEEN 0 AND total_amount
                     RETURNING *",
                )
                .bind(&entry.order_id)
                .bind(delta)
                .bind(now)
                .bind(entry.payment_ref.as_deref().unwrap_or_default())
                .fetch_optional(&mut *tx)
                .await?
            } else {
                None
            };
            if delta != Money::ZERO {
                let order: Order = match counted {
                    Some(order) => order,
                    None => {
                        sqlx::query_as(ORDER_SQL)
                            .bind(&entry.order_id)
                            .fetch_one(&mut *tx)
                            .await?
                    }
                };
                let event = if delta > Money::ZERO {
                    OrderEvent::Refunded {
                        currency: &order.currency,
                        amount: delta,
                    }
                } else {
                    OrderEvent::RefundFailed
                };
                tx.notify(&self.mail, &order, None, event, now).await?;
            }
        });
        Ok(())
    }
}
