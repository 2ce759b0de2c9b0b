//! The payments ledger's kinds of rows and their states.

text_enum! {
    /// What a `payment_transactions` row records.
    pub enum LedgerKind {
        /// The gateway order an online checkout pays into.
        GatewayOrder = "gateway_order",
        /// Money the gateway captured (or cash collected on delivery), one row per payment.
        PaymentCaptured = "payment_captured",
        /// A payment attempt the gateway reports failed (the order stays payable).
        PaymentFailed = "payment_failed",
        /// A capture of an authorized payment in flight (its idempotency key).
        CaptureRequest = "capture_request",
        /// Money going back to the customer.
        Refund = "refund",
    }
}

text_enum! {
    /// A ledger row's state. Refunds move `requested -> pending | processed | failed`,
    /// `pending -> processed | failed`, and an admin's retry `failed -> requested`.
    pub enum LedgerStatus {
        Created = "created",
        Captured = "captured",
        Requested = "requested",
        Pending = "pending",
        Processed = "processed",
        Failed = "failed",
    }
}
