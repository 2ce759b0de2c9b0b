//! Razorpay's answers as they arrive on the wire, read tolerantly, and its error envelope.

use crate::domain::money::Money;
use crate::payments::{GatewayError, GatewayOrder, GatewayPayment, GatewayRefund};
use reqwest::StatusCode;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// What Razorpay's error envelope `{"error": {"code", "description", "field", "reason", ...}}`
/// says, with every part optional: gateways and proxies in front of Razorpay answer with partial
/// envelopes, HTML or nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorDetails {
    pub code: String,
    pub description: String,
    pub field: Option<String>,
    pub reason: Option<String>,
}

impl ErrorDetails {
    pub fn parse(status: StatusCode, body: &[u8]) -> ErrorDetails {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(default)]
            error: Option<Body>,
        }
        #[derive(Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "lenient_string")]
            code: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            description: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            field: Option<String>,
            #[serde(default, deserialize_with = "lenient_string")]
            reason: Option<String>,
        }
        let body = serde_json::from_slice::<Envelope>(body)
            .ok()
            .and_then(|envelope| envelope.error);
        let (code, description, field, reason) = match body {
            Some(b) => (b.code, b.description, b.field, b.reason),
            None => (None, None, None, None),
        };
        ErrorDetails {
            code: code.unwrap_or_else(|| format!("HTTP_{}", status.as_u16())),
            description: description.unwrap_or_else(|| {
                format!("Razorpay answered {status} without an error description")
            }),
            field,
            // Razorpay fills unknown parts with "NA"; that is no reason at all.
            reason: reason.filter(|r| r != "NA"),
        }
    }

    pub(super) fn into_rejected(self) -> GatewayError {
        GatewayError::Rejected {
            code: self.code,
            description: self.description,
            field: self.field,
            reason: self.reason,
        }
    }
}

/// A string field that may also come as null, a number or a boolean (kept as text), or as
/// something else entirely (ignored); empty strings count as absent.
pub(super) fn lenient_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// An integer that may be null or missing (zero).
pub(super) fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(deserializer)?.unwrap_or(0))
}

// Razorpay's entities as they arrive. Only what the shop uses is read; everything else, `notes`
// included (an object, or `[]` when empty), is ignored so its shape cannot break a payment.

#[derive(Deserialize)]
pub(super) struct OrderWire {
    id: String,
    amount: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    amount_paid: i64,
    currency: String,
    #[serde(default, deserialize_with = "lenient_string")]
    receipt: Option<String>,
    status: crate::payments::GatewayOrderStatus,
    #[serde(default, deserialize_with = "lenient_i64")]
    created_at: i64,
}

impl From<OrderWire> for GatewayOrder {
    fn from(o: OrderWire) -> Self {
        GatewayOrder {
            id: o.id,
            amount: Money::from_minor(o.amount),
            amount_paid: Money::from_minor(o.amount_paid),
            currency: o.currency,
            receipt: o.receipt,
            status: o.status,
            created_at: o.created_at,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct PaymentWire {
    id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    order_id: Option<String>,
    amount: i64,
    currency: String,
    status: crate::payments::GatewayPaymentStatus,
    #[serde(default, deserialize_with = "lenient_string")]
    method: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    amount_refunded: i64,
    #[serde(default, deserialize_with = "lenient_string")]
    error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_description: Option<String>,
}

impl From<PaymentWire> for GatewayPayment {
    fn from(p: PaymentWire) -> Self {
        GatewayPayment {
            id: p.id,
            order_id: p.order_id,
            amount: Money::from_minor(p.amount),
            currency: p.currency,
            status: p.status,
            method: p.method,
            amount_refunded: Money::from_minor(p.amount_refunded),
            error_code: p.error_code,
            error_description: p.error_description,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RefundWire {
    id: String,
    payment_id: String,
    amount: i64,
    status: crate::payments::GatewayRefundStatus,
}

impl From<RefundWire> for GatewayRefund {
    fn from(r: RefundWire) -> Self {
        GatewayRefund {
            id: r.id,
            payment_id: r.payment_id,
            amount: Money::from_minor(r.amount),
            status: r.status,
        }
    }
}

/// `{"entity": "collection", "count": n, "items": [...]}`.
#[derive(Deserialize)]
pub(super) struct CollectionWire<T> {
    pub(super) items: Vec<T>,
}
