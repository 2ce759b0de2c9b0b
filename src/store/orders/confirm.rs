//! Payment confirmation: a captured payment recorded and the order confirmed with it, exactly
//! once whichever path reports it first.

use super::*;
use crate::store::invoices::InvoiceSteps;

impl Store {
    /// Records a payment the gateway says is captured for `order_id` and confirms the order with
    /// it, exactly once whichever path (verify-payment, `POST /payments`, webhook,
    /// reconciliation) arrives first: the reservation becomes a stock decrement, the discount use
    /// becomes final, the payment is recorded and the customer notified.
    ///
    /// The order row is locked first, so every path for one order runs one after the other. Every
    /// capture gets its own ledger row (one per payment id, ever); a capture that cannot pay the
    /// order (another amount or currency, an order already paid with another payment, or one
    /// cancelled or expired) gets a refund request of its own, keyed by its payment id, so each
    /// extra capture is refunded exactly once. A payment already recorded for another order is
    /// refused and changes nothing.
    pub async fn confirm_payment(
        &self,
        order_id: &str,
        payment: &CapturedPayment<'_>,
        source: &str,
    ) -> Result<Confirmation> {
        let now = now_millis();
        let payment_id = payment.payment_id;
        let confirm =
            StatusMove::checked(OrderStatus::Pending, OrderStatus::Confirmed, Actor::System)?;
        let commit = StockStep::checked(StockState::Reserved, StockState::Committed)?;
        Ok(transaction!(self, |tx| {
            let order = tx
                .lock_order(order_id)
                .await?
                .ok_or_else(|| Error::not_found("Order"))?;
            let captured_new = sqlx::query(
                "INSERT INTO payment_transactions
                 (id, order_id, kind, gateway_ref, amount, status, idempotency_key, detail, created_at, updated_at)
                 VALUES ($1, $2, 'payment_captured', $3, $4, 'captured', NULL, $5, $6, $6)
                 ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(order_id)
            .bind(payment_id)
            .bind(payment.amount)
            .bind(format!("{source}: {} {}", payment.currency, payment.amount))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !captured_new {
                let (owner,): (String,) = sqlx::query_as(
                    "SELECT order_id FROM payment_transactions WHERE kind = 'payment_captured' AND gateway_ref = $1",
                )
                .bind(payment_id)
                .fetch_one(&mut *tx)
                .await?;
                if owner != order_id {
                    return Err(Error::Conflict(
                        ErrorCode::PaymentFailed,
                        "This payment belongs to another order and cannot pay this one".into(),
                    ));
                }
            }
            // A capture that cannot pay this order goes back, once per payment id.
            let refund_capture = |reason: Refusal| Refusal::refund_key(reason, payment_id);

            if payment.amount != order.total_amount || payment.currency != order.currency {
                let refund_id = if captured_new {
                    tracing::error!(order = %order.order_number, captured = %payment.amount, currency = payment.currency,
                        expected = %order.total_amount, "captured amount differs from the order total; refunding it");
                    tx.request_refund(
                        &order,
                        RefundRow {
                            payment_ref: payment_id,
                            amount: payment.amount,
                            key: &refund_capture(Refusal::AmountMismatch),
                            detail: Refusal::AmountMismatch.ledger_note(),
                        },
                        now,
                    )
                    .await?
                } else {
                    None
                };
                return Ok(Confirmation::Refused {
                    order,
                    refund_id,
                    reason: Refusal::AmountMismatch,
                });
            }

            let moved: Option<Order> = sqlx::query_as(
                "UPDATE orders SET status = $4, payment_status = $6, gateway_payment_id = $2,
                        paid_at = $3, confirmed_at = $3, stock_state = $7, payment_expires_at = NULL, updated_at = $3
                 WHERE id = $1 AND status = $5 AND stock_state = $8
                 RETURNING *",
            )
            .bind(order_id)
            .bind(payment_id)
            .bind(now)
            .bind(confirm.to())
            .bind(confirm.from())
            .bind(PaymentStatus::Completed)
            .bind(commit.to())
            .bind(commit.from())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(confirmed) = moved {
                // Only an order placed with a code holds a use of one (`place_order`).
                if confirmed.discount_code.is_some() {
                    tx.finalize_discount_use(order_id, now).await?;
                }
                if let Some(shop) = &self.gst {
                    tx.issue_invoices(shop, &confirmed, now).await?;
                }
                tx.record_history(
                    order_id,
                    confirm.to(),
                    &format!("Order confirmed: payment {payment_id} received"),
                    None,
                    now,
                )
                .await?;
                // One read of the lines serves the receipt and the stock move.
                let mut items: Vec<OrderItem> =
                    sqlx::query_as("SELECT * FROM order_items WHERE order_id = $1")
                        .bind(order_id)
                        .fetch_all(&mut *tx)
                        .await?;
                sort_items(&mut items);
                tx.notify(
                    &self.mail,
                    &order,
                    Some(&items),
                    OrderEvent::Confirmed(ConfirmedBy::Payment),
                    now,
                )
                .await?;
                // Product rows last, held only until the commit (see `place_order`).
                let lines: Vec<StockLine> = items
                    .iter()
                    .map(|item| StockLine {
                        product_id: item.product_id.clone(),
                        quantity: item.quantity,
                    })
                    .collect();
                tx.move_stock(&lines, StockMove::CommitReservation, now)
                    .await?;
                return Ok(Confirmation::Confirmed(confirmed));
            }
            let reason = if order.status == OrderStatus::Cancelled {
                Refusal::NotPayable
            } else if order.gateway_payment_id.as_deref() == Some(payment_id) {
                return Ok(Confirmation::AlreadyConfirmed(order));
            } else {
                Refusal::AlreadyPaid
            };
            // The order's own payment was refunded by its cancellation; any other capture here.
            let refund_id =
                if captured_new && order.gateway_payment_id.as_deref() != Some(payment_id) {
                    tx.request_refund(
                        &order,
                        RefundRow {
                            payment_ref: payment_id,
                            amount: payment.amount,
                            key: &refund_capture(reason),
                            detail: reason.ledger_note(),
                        },
                        now,
                    )
                    .await?
                } else {
                    None
                };
            Confirmation::Refused {
                order,
                refund_id,
                reason,
            }
        }))
    }
}
