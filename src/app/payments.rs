//! Payment confirmation (CONTRACT §6): the one rule every path applies before an order is
//! confirmed, whether the customer's browser reports the payment (verify-payment,
//! `POST /payments`), Razorpay's webhook does, or reconciliation finds it. A good signature is not
//! enough: the payment is fetched from the gateway and must belong to the order's gateway order,
//! for the order's amount and currency, and be captured. An `authorized` payment is captured first,
//! exactly once. Anything else confirms nothing.

use super::refunds::send_refund;
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::error::{Error, ErrorCode, Result};
use crate::payments::{
    is_gateway_id, is_signature_shape, GatewayError, GatewayOrder, GatewayPayment,
    GatewayPaymentStatus, PaymentGateway,
};
use crate::store::orders::{CapturedPayment, Confirmation, Order};
use crate::store::payments::CaptureClaim;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The gateway order as this shop recorded it at checkout.
pub fn recorded_gateway_order(order: &Order, gateway_order_id: &str) -> GatewayOrder {
    GatewayOrder {
        id: gateway_order_id.to_string(),
        amount: order.total_amount,
        amount_paid: Money::ZERO,
        currency: order.currency.clone(),
        receipt: Some(order.order_number.clone()),
        status: crate::payments::GatewayOrderStatus::Created,
        created_at: order.created_at / 1000,
    }
}

/// Which path reported the payment (recorded in the ledger and the metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentSource {
    VerifyPayment,
    Payments,
    Webhook,
    Reconciliation,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentSource::VerifyPayment => "verify-payment",
            PaymentSource::Payments => "payments",
            PaymentSource::Webhook => "webhook",
            PaymentSource::Reconciliation => "reconciliation",
        }
    }

    /// A webhook must answer within Razorpay's 5 s, so its refunds go out in the background (the
    /// refund job retries them if that attempt fails); the other paths send them before answering.
    fn sends_refunds_inline(self) -> bool {
        self != PaymentSource::Webhook
    }
}

/// Gives back a claim (a capture, a refund being sent) when the work holding it is dropped before
/// it finished, e.g. a request stopped by its timeout: the release runs as a task of its own.
pub(crate) struct ReleaseOnDrop {
    release: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
}

impl ReleaseOnDrop {
    pub(crate) fn new(release: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        ReleaseOnDrop {
            release: Some(Box::pin(release)),
        }
    }

    /// The work finished: whatever it holds is settled by the work itself.
    pub(crate) fn disarm(mut self) {
        self.release = None;
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let (Some(release), Ok(runtime)) =
            (self.release.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(release);
        }
    }
}

/// The gateway, and the store that records what it says.
#[derive(Clone)]
pub struct Payments {
    pub store: Store,
    pub gateway: Arc<dyn PaymentGateway>,
}

/// How long a request that lost the race to capture a payment waits for the winner.
const CAPTURE_WAIT: Duration = Duration::from_millis(250);
const CAPTURE_WAIT_ROUNDS: u32 = 8;
/// A capture claim this old belongs to a request that died; reconciliation captures again
/// (Razorpay refuses a second capture, so this cannot take the money twice).
pub const STALE_CAPTURE_CLAIM_MS: i64 = 2 * 60 * 1000;

impl Payments {
    /// What the customer's browser reports after Razorpay Checkout: the payment id and its
    /// signature over `gateway_order_id|payment_id`. Shape and signature are checked first (a bad
    /// one is a 400 that changes nothing); then the payment is fetched and applied.
    pub async fn confirm_checkout(
        &self,
        order: &Order,
        payment_id: &str,
        signature: &str,
        source: PaymentSource,
    ) -> Result<Order> {
        let gateway_order_id = order
            .gateway_order_id
            .as_deref()
            .ok_or_else(|| Error::bad_request("This order is not paid online"))?;
        if !is_gateway_id("pay", payment_id) {
            return Err(Error::invalid(
                "paymentId",
                "must be a Razorpay payment id (pay_ followed by letters and digits)",
                payment_id.chars().take(64).collect::<String>(),
            ));
        }
        self.gateway
            .recall_order(&recorded_gateway_order(order, gateway_order_id));
        if !is_signature_shape(signature)
            || !self
                .gateway
                .verify_payment_signature(gateway_order_id, payment_id, signature)
        {
            metrics::counter!("payments_verifications_total", "outcome" => "bad_signature")
                .increment(1);
            tracing::warn!(order = %order.order_number, "payment signature verification failed");
            return Err(Error::invalid(
                "signature",
                "Payment signature verification failed",
                serde_json::Value::Null,
            ));
        }
        metrics::counter!("payments_verifications_total", "outcome" => "verified").increment(1);
        let payment = self.fetch(payment_id).await?;
        self.settle(order, payment, source).await
    }

    /// A payment id from a webhook: fetched from the gateway rather than taken from the body, so
    /// a webhook can only confirm what the gateway itself holds.
    pub async fn confirm_reported(
        &self,
        order: &Order,
        payment_id: &str,
        source: PaymentSource,
    ) -> Result<Order> {
        if !is_gateway_id("pay", payment_id) {
            return Err(Error::bad_request("The event names no valid payment id"));
        }
        let payment = self.fetch(payment_id).await?;
        self.settle(order, payment, source).await
    }

    /// `POST /payments` without a payment id: only the simulated gateway can pay by itself (with
    /// Razorpay the customer pays through Checkout). An order no longer pending is left as it is.
    pub async fn pay_without_checkout(&self, order: Order) -> Result<Order> {
        if order.status != OrderStatus::Pending {
            return Ok(order);
        }
        let gateway_order = recorded_gateway_order(
            &order,
            order.gateway_order_id.as_deref().unwrap_or_default(),
        );
        let (payment_id, signature) = self
            .gateway
            .simulate_payment(&gateway_order)
            .await
            .ok_or_else(|| {
                Error::invalid(
                    "paymentId",
                    "is required: pay with Razorpay Checkout and send paymentId and signature",
                    serde_json::Value::Null,
                )
            })?;
        self.confirm_checkout(&order, &payment_id, &signature, PaymentSource::Payments)
            .await
    }

    async fn fetch(&self, payment_id: &str) -> Result<GatewayPayment> {
        match self.gateway.fetch_payment(payment_id).await {
            Ok(payment) => Ok(payment),
            Err(GatewayError::Rejected { .. }) => Err(Error::invalid(
                "paymentId",
                "is not a payment the payment gateway knows",
                payment_id,
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Applies a payment as the gateway reports it to `order`: confirms with a capture of the
    /// order's amount and currency (capturing an authorized one first); refunds a capture that
    /// cannot pay it; refuses anything else without changing the order.
    pub async fn settle(
        &self,
        order: &Order,
        payment: GatewayPayment,
        source: PaymentSource,
    ) -> Result<Order> {
        if payment.order_id.as_deref() != order.gateway_order_id.as_deref()
            || order.gateway_order_id.is_none()
        {
            metrics::counter!("payments_refused_total", "reason" => "other_order").increment(1);
            return Err(Error::Conflict(
                ErrorCode::PaymentFailed,
                "This payment was made for another order; nothing was confirmed".into(),
            ));
        }
        let payment = match payment.status {
            GatewayPaymentStatus::Captured => payment,
            GatewayPaymentStatus::Authorized => self.capture(order, payment).await?,
            other => {
                metrics::counter!("payments_refused_total", "reason" => "not_captured")
                    .increment(1);
                return Err(Error::PaymentRequired(format!(
                    "The payment is {other} at the gateway, not captured; nothing was confirmed"
                )));
            }
        };
        let captured = CapturedPayment {
            payment_id: &payment.id,
            amount: payment.amount,
            currency: &payment.currency,
        };
        match self
            .store
            .confirm_payment(&order.id, &captured, source.as_str())
            .await?
        {
            Confirmation::Confirmed(order) => {
                metrics::counter!("orders_confirmed_total", "source" => source.as_str())
                    .increment(1);
                Ok(order)
            }
            Confirmation::AlreadyConfirmed(order) => Ok(order),
            Confirmation::Refused {
                order,
                refund_id,
                reason,
            } => {
                metrics::counter!("payments_refused_total", "reason" => "refunded").increment(1);
                if let Some(refund_id) = refund_id {
                    self.dispatch_refund(refund_id, source).await;
                }
                Err(Error::Conflict(
                    ErrorCode::PaymentFailed,
                    reason.explain(&order.order_number, order.status),
                ))
            }
        }
    }

    /// Captures an authorized payment of the order's exact amount and currency, once: the first
    /// request to claim it calls the gateway, a racing one waits to see it captured.
    async fn capture(&self, order: &Order, payment: GatewayPayment) -> Result<GatewayPayment> {
        if order.status != OrderStatus::Pending {
            // Not captured, the authorization lapses and the customer keeps the money.
            return Err(Error::Conflict(
                ErrorCode::PaymentFailed,
                format!(
                    "Order {} is {} and cannot take this payment; it was not captured",
                    order.order_number, order.status
                ),
            ));
        }
        if payment.amount != order.total_amount || payment.currency != order.currency {
            return Err(Error::Conflict(
                ErrorCode::PaymentFailed,
                format!(
                    "The authorized payment is not the total of order {}; it was not captured",
                    order.order_number
                ),
            ));
        }
        let claim = self
            .store
            .claim_capture(&order.id, &payment.id, payment.amount)
            .await?;
        let stale = matches!(claim, CaptureClaim::HeldSince(at) if crate::domain::time::now_millis() - at > STALE_CAPTURE_CLAIM_MS);
        if claim == CaptureClaim::Fresh || stale {
            // A request dropped during the call (its time ran out, the client went away) gives
            // the claim back too, so a retry can capture at once.
            let guard = {
                let (store, payment_id) = (self.store.clone(), payment.id.clone());
                ReleaseOnDrop::new(async move {
                    if let Err(err) = store.release_capture_claim(&payment_id).await {
                        tracing::warn!(payment_id, error = %err, "could not release a capture claim");
                    }
                })
            };
            metrics::counter!("payments_captures_total").increment(1);
            let result = self
                .gateway
                .capture_payment(&payment.id, order.total_amount, &order.currency)
                .await;
            return match result {
                Ok(captured) if captured.status == GatewayPaymentStatus::Captured => {
                    guard.disarm();
                    Ok(captured)
                }
                // Captured meanwhile by someone else (or an answer we cannot use): ask again.
                Ok(_) | Err(GatewayError::Rejected { .. }) => {
                    guard.disarm();
                    self.captured_now(&payment.id).await
                }
                Err(other) => {
                    // Unknown whether it went through: let the next attempt try again at once.
                    guard.disarm();
                    self.store.release_capture_claim(&payment.id).await?;
                    Err(other.into())
                }
            };
        }
        for _ in 0..CAPTURE_WAIT_ROUNDS {
            tokio::time::sleep(CAPTURE_WAIT).await;
            let seen = self.fetch(&payment.id).await?;
            if seen.status == GatewayPaymentStatus::Captured {
                return Ok(seen);
            }
        }
        Err(Error::ServiceUnavailable(
            "The payment is being captured; try again in a moment".into(),
        ))
    }

    async fn captured_now(&self, payment_id: &str) -> Result<GatewayPayment> {
        let seen = self.fetch(payment_id).await?;
        if seen.status == GatewayPaymentStatus::Captured {
            Ok(seen)
        } else {
            Err(Error::PaymentRequired(format!(
                "The payment could not be captured (it is {}); nothing was confirmed",
                seen.status
            )))
        }
    }

    /// Sends a refund decided during confirmation now or in the background.
    pub async fn dispatch_refund(&self, refund_id: String, source: PaymentSource) {
        if source.sends_refunds_inline() {
            if let Err(err) = send_refund(&self.store, self.gateway.as_ref(), &refund_id).await {
                tracing::warn!(refund_id, error = %err, "refund will be retried by the refund job");
            }
        } else {
            let payments = self.clone();
            tokio::spawn(async move {
                if let Err(err) =
                    send_refund(&payments.store, payments.gateway.as_ref(), &refund_id).await
                {
                    tracing::warn!(refund_id, error = %err, "refund will be retried by the refund job");
                }
            });
        }
    }
}
