//! Lifecycle moves by customers, vendors, admins and the server, and cancellation.

use super::*;
use crate::store::invoices::InvoiceSteps;

impl Store {
    /// Moves an order along the lifecycle for `actor` with one conditional update; a move the
    /// state machine does not allow (or a lost race) is a 409 naming the allowed next states.
    /// Cancellation and returns have their own methods.
    pub async fn move_order(
        &self,
        order: &Order,
        to: OrderStatus,
        actor: Actor,
        actor_id: &str,
        tracking: Option<(Option<&str>, Option<i64>)>,
    ) -> Result<Order> {
        let from = order.status;
        let step = StatusMove::checked(from, to, actor)?;
        let now = now_millis();
        let (tracking_number, estimated_delivery) = tracking.unwrap_or((None, None));
        transaction!(self, |tx| {
            let moved = sqlx::query(
                "UPDATE orders SET status = $3, updated_at = $4,
                        tracking_number = COALESCE($5, tracking_number),
                        estimated_delivery = COALESCE($6, estimated_delivery),
                        delivered_at = CASE WHEN $3 = 'delivered' THEN $4 ELSE delivered_at END,
                        received_at = CASE WHEN $3 = 'delivered' AND $7 THEN $4 ELSE received_at END,
                        payment_status = CASE WHEN $3 = 'delivered' AND payment_method = 'cod' THEN 'completed' ELSE payment_status END,
                        paid_at = CASE WHEN $3 = 'delivered' AND payment_method = 'cod' THEN $4 ELSE paid_at END
                 WHERE id = $1 AND status = $2",
            )
            .bind(&order.id)
            .bind(step.from())
            .bind(step.to())
            .bind(now)
            .bind(tracking_number)
            .bind(estimated_delivery)
            .bind(actor == Actor::Customer)
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() != 1 {
                let current: Order = sqlx::query_as(ORDER_SQL)
                    .bind(&order.id)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(transition_conflict(current.status, to, actor).into());
            }
            let description = match (to, tracking_number) {
                (OrderStatus::Shipped, Some(number)) => {
                    format!("Order shipped (tracking {number})")
                }
                (OrderStatus::Delivered, _) if actor == Actor::Customer => {
                    "Order received by the customer".to_string()
                }
                _ => to.description().to_string(),
            };
            tx.record_history(&order.id, step.to(), &description, Some(actor_id), now)
                .await?;
            if to == OrderStatus::Delivered && order.payment_method == PaymentMethod::Cod {
                tx.record_ledger(
                    LedgerRow {
                        order_id: &order.id,
                        kind: LedgerKind::PaymentCaptured,
                        gateway_ref: &format!("cod-{}", order.order_number),
                        amount: order.total_amount,
                        status: LedgerStatus::Captured,
                        detail: Some("cash collected on delivery"),
                    },
                    now,
                )
                .await?;
            }
            tx.notify(
                &self.mail,
                order,
                None,
                OrderEvent::Moved {
                    to,
                    tracking_number,
                },
                now,
            )
            .await?;
        });
        self.reload_order(&order.id).await
    }

    /// Sets `receivedAt` on an order a vendor or admin already marked delivered (the customer's
    /// "mark as received" after delivery). A no-op error if it is not delivered or already received.
    pub async fn mark_received(&self, order: &Order) -> Result<Order> {
        let now = now_millis();
        transaction!(self, |tx| {
            let done = sqlx::query(
                "UPDATE orders SET received_at = $2, updated_at = $2
                 WHERE id = $1 AND status = 'delivered' AND received_at IS NULL",
            )
            .bind(&order.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(Error::Conflict(
                    ErrorCode::InvalidTransition,
                    format!(
                        "Order is {} and cannot be marked as received{}",
                        order.status,
                        if order.received_at.is_some() {
                            " again"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            tx.record_history(
                &order.id,
                OrderStatus::Delivered,
                "Order received by the customer",
                Some(&order.user_id),
                now,
            )
            .await?;
        });
        self.reload_order(&order.id).await
    }

    /// Cancels an order: releases its reservation (unpaid) or puts its sold units back (paid),
    /// gives back a reserved discount use, and requests a full refund of a completed payment.
    /// Returns the order and the ledger id of the refund to process, if any.
    pub async fn cancel_order(
        &self,
        order_id: &str,
        actor: Actor,
        actor_id: Option<&str>,
        reason: &str,
    ) -> Result<(Order, Option<String>)> {
        let now = now_millis();
        let moves = StatusMove::all_into(OrderStatus::Cancelled, actor);
        let refund_id = transaction!(self, |tx| {
            let mut update = QueryBuilder::new("UPDATE orders SET status = ");
            update
                .push_bind(OrderStatus::Cancelled)
                .push(", cancelled_at = ")
                .push_bind(now)
                .push(", cancelled_by = ")
                .push_bind(actor_id)
                .push(", cancellation_reason = ")
                .push_bind(reason)
                .push(", payment_expires_at = NULL, updated_at = ")
                .push_bind(now)
                .push(" WHERE id = ")
                .push_bind(order_id)
                .push(" AND status IN (");
            let mut list = update.separated(", ");
            for step in &moves {
                list.push_bind(step.from());
            }
            update.push(")");
            let moved = update.build().execute(&mut *tx).await?;
            let order: Order = sqlx::query_as(ORDER_SQL)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::not_found("Order"))?;
            if moved.rows_affected() != 1 {
                return Err(
                    transition_conflict(order.status, OrderStatus::Cancelled, actor).into(),
                );
            }
            // Lock order: the discount code's row before product rows.
            tx.release_discount_use(order_id, now).await?;
            tx.record_history(
                order_id,
                OrderStatus::Cancelled,
                &format!("Order cancelled: {reason}"),
                actor_id,
                now,
            )
            .await?;
            tx.notify(
                &self.mail,
                &order,
                None,
                OrderEvent::Cancelled { reason },
                now,
            )
            .await?;
            let refund_id = match (&order.gateway_payment_id, order.payment_status) {
                (Some(payment_id), PaymentStatus::Completed) => {
                    tx.request_refund(
                        &order,
                        RefundRow {
                            payment_ref: payment_id,
                            amount: unrefunded(&order)?,
                            key: &format!("cancel-{order_id}"),
                            detail: "order cancelled",
                        },
                        now,
                    )
                    .await?
                }
                _ => None,
            };
            // Every invoice of the order is taken back by a credit note (CONTRACT §10).
            tx.issue_credit_notes(order_id, now).await?;
            // Product rows last, held only until the commit (see `place_order`).
            tx.release_stock(&order, now).await?;
            refund_id
        });
        Ok((self.reload_order(order_id).await?, refund_id))
    }
}
