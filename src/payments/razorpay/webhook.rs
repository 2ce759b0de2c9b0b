//! The events Razorpay posts to the shop's webhook, parsed after their signature was checked.

use super::wire::{lenient_i64, lenient_string, OrderWire, PaymentWire, RefundWire};
use crate::payments::{GatewayError, GatewayOrder, GatewayPayment, GatewayRefund};
use serde::Deserialize;

/// One event Razorpay posted to the webhook, with the entities it carries as they were when the
/// event happened (a snapshot: the payment of a `payment.captured` may be refunded by now).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// `payment.captured`, `order.paid`, `payment.failed`, `refund.processed`, ...
    pub event: String,
    pub account_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The entities in the payload, as Razorpay lists them (`["payment", "order"]`).
    pub contains: Vec<String>,
    pub order: Option<GatewayOrder>,
    pub payment: Option<GatewayPayment>,
    pub refund: Option<GatewayRefund>,
}

/// Reads a webhook body whose signature has already been checked
/// (`PaymentGateway::verify_webhook_signature` on the raw bytes, before any parsing). Entities
/// other than order, payment and refund are ignored, so unknown events still parse.
pub fn parse_webhook_event(raw_body: &[u8]) -> Result<WebhookEvent, GatewayError> {
    #[derive(Deserialize)]
    struct EventWire {
        event: String,
        #[serde(default, deserialize_with = "lenient_string")]
        account_id: Option<String>,
        #[serde(default, deserialize_with = "lenient_i64")]
        created_at: i64,
        #[serde(default)]
        contains: Vec<String>,
        #[serde(default)]
        payload: PayloadWire,
    }
    #[derive(Deserialize, Default)]
    struct PayloadWire {
        #[serde(default)]
        order: Option<Wrapped<OrderWire>>,
        #[serde(default)]
        payment: Option<Wrapped<PaymentWire>>,
        #[serde(default)]
        refund: Option<Wrapped<RefundWire>>,
    }
    #[derive(Deserialize)]
    struct Wrapped<T> {
        entity: T,
    }
    let wire: EventWire = serde_json::from_slice(raw_body).map_err(|e| {
        GatewayError::BadResponse(format!("the webhook event could not be read: {e}"))
    })?;
    Ok(WebhookEvent {
        event: wire.event,
        account_id: wire.account_id,
        created_at: wire.created_at,
        contains: wire.contains,
        order: wire.payload.order.map(|w| w.entity.into()),
        payment: wire.payload.payment.map(|w| w.entity.into()),
        refund: wire.payload.refund.map(|w| w.entity.into()),
    })
}
