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
