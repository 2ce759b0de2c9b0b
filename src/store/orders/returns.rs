//! Returns: the customer's request and the admin's decisions, through the return sub-machine.

use super::*;
use crate::store::invoices::InvoiceSteps;

/// What an admin does with a return request (CONTRACT §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnAction {
    Approve,
    Reject,
    /// The goods are back: the order becomes `returned`, stock is restored, payment refunded.
    Complete,
}

impl Store {
    /// The customer's return request: only a delivered order, within the window after delivery,
    /// once. A single conditional update; when it changes nothing the reason is worked out after.
    pub async fn request_return(
        &self,
        order: &Order,
        reason: &str,
        window_days: i64,
    ) -> Result<Order> {
        let now = now_millis();
        let earliest_delivery = now - window_days * 24 * 60 * 60 * 1000;
        let step =
            ReturnStep::checked(ReturnStatus::None, ReturnStatus::Requested, Actor::Customer)?;
        transaction!(self, |tx| {
            let done = sqlx::query(
                "UPDATE orders SET return_status = $5, return_reason = $2, return_requested_at = $3, updated_at = $3
                 WHERE id = $1 AND status = $7 AND return_status = $6 AND delivered_at >= $4",
            )
            .bind(&order.id)
            .bind(reason)
            .bind(now)
            .bind(earliest_delivery)
            .bind(step.to())
            .bind(step.from())
            .bind(OrderStatus::Delivered)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                let current: Order = sqlx::query_as(ORDER_SQL)
                    .bind(&order.id)
                    .fetch_one(&mut *tx)
                    .await?;
                return Err(if current.status != OrderStatus::Delivered {
                    Error::Conflict(
                        ErrorCode::ReturnNotAllowed,
                        format!(
                            "Only delivered orders can be returned; this order is {}",
                            current.status
                        ),
                    )
                } else if current.return_status != ReturnStatus::None {
                    Error::Conflict(
                        ErrorCode::ReturnNotAllowed,
                        format!(
                            "A return was already requested for this order (status: {})",
                            current.return_status
                        ),
                    )
                } else {
                    Error::Conflict(
                        ErrorCode::ReturnNotAllowed,
                        format!("The return window of {window_days} days after delivery has ended"),
                    )
                });
            }
            tx.record_history(
                &order.id,
                order.status,
                &format!("Return requested: {reason}"),
                Some(&order.user_id),
                now,
            )
            .await?;
            tx.notify(
                &self.mail,
                order,
                None,
                OrderEvent::ReturnRequested { reason },
                now,
            )
            .await?;
        });
        self.reload_order(&order.id).await
    }

    /// An admin's decision on a return. `Complete` restocks and requests the refund; the ledger id
    /// of that refund is returned for processing.
    pub async fn process_return(
        &self,
        order_id: &str,
        action: ReturnAction,
        reason: Option<&str>,
        admin_id: &str,
    ) -> Result<(Order, Option<String>)> {
        let now = now_millis();
        let (from, to, event) = match action {
            ReturnAction::Approve => (
                ReturnStatus::Requested,
                ReturnStatus::Approved,
                OrderEvent::ReturnApproved,
            ),
            ReturnAction::Reject => (
                ReturnStatus::Requested,
                ReturnStatus::Rejected,
                OrderEvent::ReturnRejected { reason },
            ),
            ReturnAction::Complete => (
                ReturnStatus::Approved,
                ReturnStatus::Completed,
                OrderEvent::ReturnCompleted,
            ),
        };
        let step = ReturnStep::checked(from, to, Actor::Admin)?;
        // A completed return moves the order itself: delivered -> returned, made by the server.
        let returned = if step.to() == ReturnStatus::Completed {
            Some(StatusMove::checked(
                OrderStatus::Delivered,
                OrderStatus::Returned,
                Actor::System,
            )?)
        } else {
            None
        };
        let refund_id = transaction!(self, |tx| {
            let done = sqlx::query(
                "UPDATE orders SET return_status = $3, return_decision_reason = COALESCE($4, return_decision_reason),
                        status = COALESCE($7, status),
                        returned_at = CASE WHEN $7 IS NULL THEN returned_at ELSE $5 END,
                        updated_at = $5
                 WHERE id = $1 AND return_status = $2 AND status = $6",
            )
            .bind(order_id)
            .bind(step.from())
            .bind(step.to())
            .bind(reason)
            .bind(now)
            .bind(OrderStatus::Delivered)
            .bind(returned.map(StatusMove::to))
            .execute(&mut *tx)
            .await?;
            let order: Order = sqlx::query_as(ORDER_SQL)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::not_found("Order"))?;
            if done.rows_affected() != 1 {
                return Err(Error::Conflict(
                    ErrorCode::ReturnNotAllowed,
                    format!(
                        "Cannot {} a return whose status is {} (order {}); it must be {from}",
                        match action {
                            ReturnAction::Approve => "approve",
                            ReturnAction::Reject => "reject",
                            ReturnAction::Complete => "complete",
                        },
                        order.return_status,
                        order.status
                    ),
                ));
            }
            let description = match action {
                ReturnAction::Approve => "Return approved".to_string(),
                ReturnAction::Reject => {
                    format!("Return rejected: {}", reason.unwrap_or("no reason given"))
                }
                ReturnAction::Complete => OrderStatus::Returned.description().to_string(),
            };
            tx.record_history(order_id, order.status, &description, Some(admin_id), now)
                .await?;
            tx.notify(&self.mail, &order, None, event, now).await?;
            if action == ReturnAction::Complete {
                let paid_ref = match (order.payment_method, &order.gateway_payment_id) {
                    (PaymentMethod::Cod, _) => Some(format!("cod-{}", order.order_number)),
                    (_, Some(payment_id)) => Some(payment_id.clone()),
                    _ => None,
                };
                let refund_id = match paid_ref {
                    Some(payment_ref) if order.payment_status == PaymentStatus::Completed => {
                        tx.request_refund(
                            &order,
                            RefundRow {
                                payment_ref: &payment_ref,
                                amount: unrefunded(&order)?,
                                key: &format!("return-{order_id}"),
                                detail: "return completed",
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
            } else {
                None
            }
        });
        Ok((self.reload_order(order_id).await?, refund_id))
    }
}
