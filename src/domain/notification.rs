//! The kinds of notification the shop sends a customer.

text_enum! {
    pub enum NotificationKind {
        OrderConfirmed = "order_confirmed",
        OrderProcessing = "order_processing",
        OrderShipped = "order_shipped",
        OrderDelivered = "order_delivered",
        OrderCancelled = "order_cancelled",
        OrderRefunded = "order_refunded",
        RefundFailed = "refund_failed",
        ReturnRequested = "return_requested",
        ReturnApproved = "return_approved",
        ReturnRejected = "return_rejected",
        ReturnCompleted = "return_completed",
    }
}

use super::money::Money;
use super::order::OrderStatus;

/// A notification as the customer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NotificationKind,
    pub title: &'static str,
    pub message: String,
}

/// How an order came to be confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedBy {
    Payment,
    CashOnDelivery,
    /// A discount covered the whole total.
    NothingToPay,
}

/// What happened to a customer's order that the customer is told about (CONTRACT §6: confirmed,
/// shipped, delivered, cancelled, refunded, and each return step). The wording of every
/// notification lives here; the store writes the notice in the transaction that makes the change,
/// so a customer is told exactly when the change committed.
#[derive(Debug, Clone, Copy)]
pub enum OrderEvent<'a> {
    Confirmed(ConfirmedBy),
    /// An admin's or vendor's move to processing, shipped or delivered.
    Moved {
        to: OrderStatus,
        tracking_number: Option<&'a str>,
    },
    Cancelled {
        reason: &'a str,
    },
    Refunded {
        currency: &'a str,
        amount: Money,
    },
    RefundFailed,
    ReturnRequested {
        reason: &'a str,
    },
    ReturnApproved,
    ReturnRejected {
        reason: Option<&'a str>,
    },
    ReturnCompleted,
}

impl OrderEvent<'_> {
    /// The notice for order `order_number`, or none for a move the customer is not told about.
    pub fn notice(self, order_number: &str) -> Option<Notice> {
        use NotificationKind as Kind;
        let (kind, title, message) = match self {
            OrderEvent::Confirmed(by) => (
                Kind::OrderConfirmed,
                "Order confirmed",
                match by {
                    ConfirmedBy::Payment => {
                        format!("Payment received; your order {order_number} is confirmed.")
                    }
                    ConfirmedBy::CashOnDelivery => {
                        format!("Your order {order_number} is confirmed; pay on delivery.")
                    }
                    ConfirmedBy::NothingToPay => format!(
                        "Your order {order_number} is confirmed; its discount covers the whole total."
                    ),
                },
            ),
            OrderEvent::Moved {
                to: OrderStatus::Processing,
                ..
            } => (
                Kind::OrderProcessing,
                "Order is being prepared",
                format!("Your order {order_number} is being prepared."),
            ),
            OrderEvent::Moved {
                to: OrderStatus::Shipped,
                tracking_number,
            } => (
                Kind::OrderShipped,
                "Order shipped",
                match tracking_number {
                    Some(number) => format!(
                        "Your order {order_number} has shipped; tracking number {number}."
                    ),
                    None => format!("Your order {order_number} has shipped."),
                },
            ),
            OrderEvent::Moved {
                to: OrderStatus::Delivered,
                ..
            } => (
                Kind::OrderDelivered,
                "Order delivered",
                format!(
                    "Your order {order_number} was delivered. Enjoy, and tell others what you think with a review."
                ),
            ),
            OrderEvent::Moved { .. } => return None,
            OrderEvent::Cancelled { reason } => (
                Kind::OrderCancelled,
                "Order cancelled",
                format!("Your order {order_number} was cancelled: {reason}"),
            ),
            OrderEvent::Refunded { currency, amount } => (
                Kind::OrderRefunded,
                "Refund issued",
                format!("{currency} {amount} is being refunded for order {order_number}."),
            ),
            OrderEvent::RefundFailed => (
                Kind::RefundFailed,
                "Refund failed",
                format!("The refund for order {order_number} failed; our team will retry it."),
            ),
            OrderEvent::ReturnRequested { .. } => (
                Kind::ReturnRequested,
                "Return requested",
                format!("We received your return request for order {order_number}."),
            ),
            OrderEvent::ReturnApproved => (
                Kind::ReturnApproved,
                "Return approved",
                format!(
                    "Your return for order {order_number} was approved; please send the items back."
                ),
            ),
            OrderEvent::ReturnRejected { reason } => (
                Kind::ReturnRejected,
                "Return rejected",
                format!(
                    "Your return for order {order_number} was rejected: {}",
                    reason.unwrap_or("no reason given")
                ),
            ),
            OrderEvent::ReturnCompleted => (
                Kind::ReturnCompleted,
                "Return completed",
                format!(
                    "Your return for order {order_number} is complete; your refund is on its way."
                ),
            ),
        };
        Some(Notice {
            kind,
            title,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_told_event_names_its_order_and_untold_moves_say_nothing() {
        let events = [
            OrderEvent::Confirmed(ConfirmedBy::Payment),
            OrderEvent::Confirmed(ConfirmedBy::CashOnDelivery),
            OrderEvent::Confirmed(ConfirmedBy::NothingToPay),
            OrderEvent::Moved {
                to: OrderStatus::Shipped,
                tracking_number: Some("TRK1"),
            },
            OrderEvent::Moved {
                to: OrderStatus::Processing,
                tracking_number: None,
            },
            OrderEvent::Moved {
                to: OrderStatus::Delivered,
                tracking_number: None,
            },
            OrderEvent::Cancelled {
                reason: "changed my mind",
            },
            OrderEvent::Refunded {
                currency: "INR",
                amount: Money::from_minor(12_345),
            },
            OrderEvent::RefundFailed,
            OrderEvent::ReturnRequested {
                reason: "too small",
            },
            OrderEvent::ReturnApproved,
            OrderEvent::ReturnRejected { reason: None },
            OrderEvent::ReturnCompleted,
        ];
        for event in events {
            let notice = event.notice("ORD1234567890123").expect("told");
            assert!(notice.message.contains("ORD1234567890123"), "{notice:?}");
        }
        let refund = OrderEvent::Refunded {
            currency: "INR",
            amount: Money::from_minor(12_345),
        };
        assert_eq!(
            refund.notice("ORD1").unwrap().message,
            "INR 123.45 is being refunded for order ORD1."
        );
        assert!(OrderEvent::Moved {
            to: OrderStatus::Cancelled,
            tracking_number: None
        }
        .notice("ORD1")
        .is_none());
    }
}
