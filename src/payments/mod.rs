//! Payment gateways behind one trait. `simulated` behaves like Razorpay test mode on this machine;
//! `razorpay` is the real HTTP client. Signature checks are shared: both gateways sign the same way.

pub mod deadline;
pub mod razorpay;
pub mod simulated;

use crate::domain::money::Money;
use crate::error::Error;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A gateway-side order, as Razorpay's `POST /v1/orders` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayOrder {
    pub id: String,
    /// Minor units (paise).
    pub amount: Money,
    #[serde(default)]
    pub amount_paid: Money,
    pub currency: String,
    pub receipt: Option<String>,
    pub status: GatewayOrderStatus,
    pub created_at: i64,
}

/// Where a gateway order is (Razorpay's order states); another state makes the answer unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GatewayOrderStatus {
    Created,
    Attempted,
    Paid,
}

impl GatewayOrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayOrderStatus::Created => "created",
            GatewayOrderStatus::Attempted => "attempted",
            GatewayOrderStatus::Paid => "paid",
        }
    }
}

/// Where a refund is at the gateway (Razorpay's refund states); another state makes the answer
/// unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayRefundStatus {
    Pending,
    Processed,
    Failed,
}

/// Where a payment attempt is at the gateway (Razorpay's payment states). A state the gateway
/// names that is not one of these makes its answer unreadable (an error), never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayPaymentStatus {
    Created,
    Authorized,
    Captured,
    Refunded,
    Failed,
}

impl GatewayPaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayPaymentStatus::Created => "created",
            GatewayPaymentStatus::Authorized => "authorized",
            GatewayPaymentStatus::Captured => "captured",
            GatewayPaymentStatus::Refunded => "refunded",
            GatewayPaymentStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for GatewayPaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payment attempt on a gateway order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayPayment {
    pub id: String,
    pub order_id: Option<String>,
    pub amount: Money,
    pub currency: String,
    pub status: GatewayPaymentStatus,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub amount_refunded: Money,
    /// Razorpay's reason code for a failed payment (e.g. `BAD_REQUEST_ERROR`), kept with the
    /// description so a ledger row of a failed attempt says why it failed.
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayRefund {
    pub id: String,
    pub payment_id: String,
    pub amount: Money,
    pub status: GatewayRefundStatus,
}

#[derive(Debug, Clone)]
pub struct CreateOrderRequest {
    pub amount: Money,
    pub currency: String,
    /// Our `orderNumber`; Razorpay allows at most 40 characters.
    pub receipt: String,
    pub notes: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub payment_id: String,
    pub amount: Money,
    /// Sent as `X-Refund-Idempotency`: a retried refund with the same key is not refunded twice.
    pub idempotency_key: String,
    pub notes: Vec<(String, String)>,
}

/// What went wrong talking to a gateway, and so what the client is told.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// Timed out, refused, or a 5xx: try again later (503).
    #[error("payment gateway is unavailable: {0}")]
    Unavailable(String),
    /// The gateway answered with something unusable (502).
    #[error("payment gateway error: {0}")]
    BadResponse(String),
    /// The gateway refused our credentials: the shop's configuration is wrong (502).
    #[error("payment gateway configuration error: {0}")]
    Configuration(String),
    /// The gateway refused the request (4xx) with its own reason.
    #[error("payment gateway refused the request: {description}")]
    Rejected {
        code: String,
        description: String,
        field: Option<String>,
        reason: Option<String>,
    },
}

impl From<GatewayError> for Error {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Unavailable(_) => Error::ServiceUnavailable(err.to_string()),
            _ => Error::BadGateway(err.to_string()),
        }
    }
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// The public key a browser uses to open checkout (`paymentKey`).
    fn key_id(&self) -> &str;

    /// The secret payment signatures are keyed with.
    fn key_secret(&self) -> &str;

    /// The secret webhook bodies are signed with.
    fn webhook_secret(&self) -> &str;

    async fn create_order(&self, request: CreateOrderRequest)
        -> Result<GatewayOrder, GatewayError>;

    async fn fetch_order(&self, gateway_order_id: &str) -> Result<GatewayOrder, GatewayError>;

    async fn fetch_order_payments(
        &self,
        gateway_order_id: &str,
    ) -> Result<Vec<GatewayPayment>, GatewayError>;

    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError>;

    /// Captures an `authorized` payment in full (`POST /payments/:id/capture` with the amount and
    /// currency, which must be the payment's own). A payment that is already captured is a
    /// `Rejected` answer: fetch it to see.
    async fn capture_payment(
        &self,
        payment_id: &str,
        amount: Money,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError>;

    async fn refund(&self, request: RefundRequest) -> Result<GatewayRefund, GatewayError>;

    /// For `POST /payments` without a payment id: only the simulated gateway can pay by itself,
    /// returning `(payment_id, signature)`. Real gateways return `None`.
    async fn simulate_payment(&self, _order: &GatewayOrder) -> Option<(String, String)> {
        None
    }

    /// The simulated gateway keeps its orders in the process; one created by another API node is
    /// recalled from the shop's own record before a payment of it is checked. Real gateways hold
    /// their own state and ignore this.
    fn recall_order(&self, _order: &GatewayOrder) {}

    fn verify_payment_signature(
        &self,
        gateway_order_id: &str,
        payment_id: &str,
        signature: &str,
    ) -> bool {
        verify_hmac_hex(
            self.key_secret().as_bytes(),
            format!("{gateway_order_id}|{payment_id}").as_bytes(),
            signature,
        )
    }

    /// `false` whatever the signature when no webhook secret is configured: an empty key would
    /// let anyone sign.
    fn verify_webhook_signature(&self, raw_body: &[u8], signature: &str) -> bool {
        let secret = self.webhook_secret();
        !secret.is_empty() && verify_hmac_hex(secret.as_bytes(), raw_body, signature)
    }
}

/// Razorpay's ids: a prefix (`pay_`, `order_`, `rfnd_`), then letters and digits (14 on
/// Razorpay itself). Anything else is refused before it reaches a URL, a query or the ledger.
pub fn is_gateway_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            (6..=40).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A checkout signature: hex HMAC-SHA256, 64 hex digits.
pub fn is_signature_shape(signature: &str) -> bool {
    signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Lower-case hex HMAC-SHA256 of `message` keyed with `secret`.
pub fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Compares a hex signature in constant time (case-insensitive hex, as Razorpay's SDKs accept).
pub fn verify_hmac_hex(secret: &[u8], message: &[u8], signature: &str) -> bool {
    let expected = hmac_sha256_hex(secret, message);
    let given = signature.trim().to_ascii_lowercase();
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The gateway the configuration asks for.
pub fn gateway_for(
    config: &crate::config::Config,
) -> anyhow::Result<std::sync::Arc<dyn PaymentGateway>> {
    Ok(match config.gateway {
        crate::config::GatewayKind::Simulated => {
            tracing::warn!(
                "PAYMENT_GATEWAY=simulated: payments are simulated and no money is taken; \
                 set PAYMENT_GATEWAY=razorpay with real keys to take payments"
            );
            std::sync::Arc::new(simulated::SimulatedGateway::new(
                config.razorpay.key_secret.expose(),
                config.razorpay.webhook_secret.expose(),
            ))
        }
        crate::config::GatewayKind::Razorpay => {
            std::sync::Arc::new(razorpay::RazorpayGateway::new(&config.razorpay)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_ids_and_signatures_are_checked_by_shape() {
        assert!(is_gateway_id("pay", "pay_29QQoUBi66xm2f"));
        assert!(is_gateway_id("order", "order_9A33XWu170gUtm"));
        for bad in [
            "pay_",
            "pay_x",
            "order_29QQoUBi66xm2f",
            "pay_../../orders/x",
            "pay_29QQoUBi66xm2f\u{202e}",
            &format!("pay_{}", "a".repeat(300)),
            "PAY_29QQoUBi66xm2f",
        ] {
            assert!(!is_gateway_id("pay", bad), "{bad}");
        }
        assert!(is_signature_shape(&"ab".repeat(32)));
        assert!(!is_signature_shape("abc"));
        assert!(!is_signature_shape(&"zz".repeat(32)));
    }

    #[test]
    fn razorpay_sdk_test_vector() {
        // From Razorpay's SDK tests: key secret `key_secret`.
        let signature = hmac_sha256_hex(b"key_secret", b"fake_order_id|fake_payment_id");
        assert_eq!(
            signature,
            "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89"
        );
        assert!(verify_hmac_hex(
            b"key_secret",
            b"fake_order_id|fake_payment_id",
            &signature
        ));
        assert!(verify_hmac_hex(
            b"key_secret",
            b"fake_order_id|fake_payment_id",
            &signature.to_uppercase()
        ));
        assert!(!verify_hmac_hex(
            b"key_secret",
            b"fake_order_id|other_payment",
            &signature
        ));
        assert!(!verify_hmac_hex(
            b"key_secret",
            b"fake_order_id|fake_payment_id",
            "abc"
        ));
        assert!(!verify_hmac_hex(
            b"key_secret",
            b"fake_order_id|fake_payment_id",
            ""
        ));
    }
}
