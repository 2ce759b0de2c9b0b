//! The simulated gateway (CONTRACT §6): Razorpay test mode on this machine, with no network. Orders
//! and refunds succeed, ids look like Razorpay's, and signatures use the configured key secret, so
//! the verify-payment path is exercised exactly as with Razorpay.

use super::{
    hmac_sha256_hex, CreateOrderRequest, GatewayError, GatewayOrder, GatewayOrderStatus,
    GatewayPayment, GatewayPaymentStatus, GatewayRefund, GatewayRefundStatus, PaymentGateway,
    RefundRequest,
};
use crate::domain::money::Money;
use async_trait::async_trait;
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;

pub struct SimulatedGateway {
    key_secret: String,
    webhook_secret: String,
    /// Orders and payments made by this process, so fetches answer like Razorpay would.
    orders: Mutex<HashMap<String, GatewayOrder>>,
    payments: Mutex<HashMap<String, GatewayPayment>>,
    /// Refunds by idempotency key: a retried refund returns the first one.
    refunds: Mutex<HashMap<String, GatewayRefund>>,
}

/// `prefix_` + 14 alphanumerics, like Razorpay ids.
pub fn razorpay_like_id(prefix: &str) -> String {
    let suffix: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(14)
        .map(char::from)
        .collect();
    format!("{prefix}_{suffix}")
}

fn captured_payment(payment_id: &str, order: &GatewayOrder) -> GatewayPayment {
    GatewayPayment {
        id: payment_id.to_string(),
        order_id: Some(order.id.clone()),
        amount: order.amount,
        currency: order.currency.clone(),
        status: GatewayPaymentStatus::Captured,
        method: Some("card".into()),
        amount_refunded: Money::ZERO,
        error_code: None,
        error_description: None,
    }
}

fn bad_request(description: &str) -> GatewayError {
    GatewayError::Rejected {
        code: "BAD_REQUEST_ERROR".into(),
        description: description.into(),
        field: None,
        reason: None,
    }
}

fn unknown_id() -> GatewayError {
    GatewayError::Rejected {
        code: "BAD_REQUEST_ERROR".into(),
        description: "The id provided does not exist".into(),
        field: Some("id".into()),
        reason: None,
    }
}

impl SimulatedGateway {
    pub fn new(key_secret: &str, webhook_secret: &str) -> Self {
        SimulatedGateway {
            key_secret: key_secret.to_string(),
            webhook_secret: webhook_secret.to_string(),
            orders: Mutex::default(),
            payments: Mutex::default(),
            refunds: Mutex::default(),
        }
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    fn key_id(&self) -> &str {
        "rzp_test_simulated"
    }

    fn key_secret(&self) -> &str {
        &self.key_secret
    }

    fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    async fn create_order(
        &self,
        request: CreateOrderRequest,
    ) -> Result<GatewayOrder, GatewayError> {
        let order = GatewayOrder {
            id: razorpay_like_id("order"),
            amount: request.amount,
            amount_paid: Money::ZERO,
            currency: request.currency,
            receipt: Some(request.receipt),
            status: GatewayOrderStatus::Created,
            created_at: chrono::Utc::now().timestamp(),
        };
        self.orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(order.id.clone(), order.clone());
        Ok(order)
    }

    async fn fetch_order(&self, gateway_order_id: &str) -> Result<GatewayOrder, GatewayError> {
        self.orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(gateway_order_id)
            .cloned()
            .ok_or_else(|| GatewayError::Rejected {
                code: "BAD_REQUEST_ERROR".into(),
                description: "The id provided does not exist".into(),
                field: Some("id".into()),
                reason: None,
            })
    }

    async fn fetch_order_payments(
        &self,
        gateway_order_id: &str,
    ) -> Result<Vec<GatewayPayment>, GatewayError> {
        Ok(self
            .payments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|p| p.order_id.as_deref() == Some(gateway_order_id))
            .cloned()
            .collect())
    }

    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError> {
        self.payments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(payment_id)
            .cloned()
            .ok_or_else(|| GatewayError::Rejected {
                code: "BAD_REQUEST_ERROR".into(),
                description: "The id provided does not exist".into(),
                field: Some("id".into()),
                reason: None,
            })
    }

    async fn capture_payment(
        &self,
        payment_id: &str,
        amount: Money,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError> {
        let mut payments = self.payments.lock().unwrap_or_else(|e| e.into_inner());
        let payment = payments.get_mut(payment_id).ok_or_else(unknown_id)?;
        if payment.status != GatewayPaymentStatus::Authorized {
            return Err(bad_request(&format!(
                "This payment has already been {}",
                payment.status
            )));
        }
        if payment.amount != amount || payment.currency != currency {
            return Err(bad_request(
                "Capture amount and currency must be the authorized amount and currency",
            ));
        }
        payment.status = GatewayPaymentStatus::Captured;
        Ok(payment.clone())
    }

    fn recall_order(&self, order: &GatewayOrder) {
        self.orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(order.id.clone())
            .or_insert_with(|| order.clone());
    }

    /// Razorpay test mode as a browser would meet it: a payment id that Checkout handed over with
    /// a valid signature is, at that moment, a captured payment of that gateway order. The payment
    /// is bound to the first order it is presented with, so it can never pay a second one.
    fn verify_payment_signature(
        &self,
        gateway_order_id: &str,
        payment_id: &str,
        signature: &str,
    ) -> bool {
        if !super::verify_hmac_hex(
            self.key_secret.as_bytes(),
            format!("{gateway_order_id}|{payment_id}").as_bytes(),
            signature,
        ) {
            return false;
        }
        let order = self
            .orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(gateway_order_id)
            .cloned();
        if let Some(order) = order {
            self.payments
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(payment_id.to_string())
                .or_insert_with(|| captured_payment(payment_id, &order));
        }
        true
    }

    async fn refund(&self, request: RefundRequest) -> Result<GatewayRefund, GatewayError> {
        let mut refunds = self.refunds.lock().unwrap_or_else(|e| e.into_inner());
        let refund = refunds
            .entry(request.idempotency_key.clone())
            .or_insert_with(|| GatewayRefund {
                id: razorpay_like_id("rfnd"),
                payment_id: request.payment_id.clone(),
                amount: request.amount,
                status: GatewayRefundStatus::Processed,
            })
            .clone();
        if let Some(payment) = self
            .payments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&request.payment_id)
        {
            payment.amount_refunded = payment.amount_refunded.max(refund.amount);
        }
        Ok(refund)
    }

    async fn simulate_payment(&self, order: &GatewayOrder) -> Option<(String, String)> {
        let payment_id = razorpay_like_id("pay");
        let payment = captured_payment(&payment_id, order);
        self.recall_order(order);
        self.payments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(payment_id.clone(), payment);
        if let Some(stored) = self
            .orders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&order.id)
        {
            stored.status = GatewayOrderStatus::Paid;
            stored.amount_paid = stored.amount;
        }
        let signature = hmac_sha256_hex(
            self.key_secret.as_bytes(),
            format!("{}|{}", order.id, payment_id).as_bytes(),
        );
        Some((payment_id, signature))
    }
}
