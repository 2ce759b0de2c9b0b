//! The Razorpay gateway (CONTRACT §6): a real HTTP client of Razorpay's REST API over rustls, and
//! the parser of the events Razorpay posts to the shop's webhook.
//!
//! Razorpay's answers are read tolerantly (unknown fields ignored, `notes` as `[]` or an object,
//! optional fields missing or null) because its entities grow fields over time, and a new field
//! must never stop the shop from taking money.

use super::{
    CreateOrderRequest, GatewayError, GatewayOrder, GatewayPayment, GatewayRefund, PaymentGateway,
    RefundRequest,
};
use crate::config::{RazorpaySettings, Secret};
use crate::domain::money::Money;
use anyhow::Context;
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

mod webhook;
mod wire;

pub use webhook::{parse_webhook_event, WebhookEvent};
pub use wire::ErrorDetails;
use wire::{CollectionWire, OrderWire, PaymentWire, RefundWire};

/// Razorpay refuses a `receipt` longer than this.
pub const MAX_RECEIPT_CHARS: usize = 40;
/// The smallest order or refund Razorpay accepts, in minor units (₹1.00).
pub const MIN_AMOUNT_MINOR: i64 = 100;
/// Razorpay keeps at most 15 `notes`, each value at most 256 characters.
const MAX_NOTES: usize = 15;
const MAX_NOTE_CHARS: usize = 256;
/// The pauses before the second and third attempt of a call that is safe to repeat. Short, because
/// a customer is usually waiting on the other side of the call.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];
/// A host that has not accepted a TCP connection within this is down, whatever the call timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IDEMPOTENCY_HEADER: &str = "X-Refund-Idempotency";
/// Inside a request, the part of its time kept for its own work after a gateway call (recording
/// the answer, releasing claims, answering), at most this or a tenth of the time left.
const REQUEST_RESERVE: Duration = Duration::from_secs(1);
/// An attempt with less time than this left is not started.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

pub struct RazorpayGateway {
    http: reqwest::Client,
    /// `https://api.razorpay.com/v1` or a test server; paths are appended to it.
    api_base: String,
    key_id: String,
    key_secret: Secret,
    webhook_secret: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for RazorpayGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RazorpayGateway")
            .field("api_base", &self.api_base)
            .field("key_id", &self.key_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Whether a call may be sent again after a failure that might have reached Razorpay. Only reads
/// and idempotency-keyed refunds are: a repeated `POST /orders` creates a second order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Retry {
    Never,
    Safe,
}

/// One failed attempt, and whether trying again could help.
struct Failure {
    error: GatewayError,
    transient: bool,
}

impl Failure {
    fn transient(error: GatewayError) -> Self {
        Failure {
            error,
            transient: true,
        }
    }
    fn fatal(error: GatewayError) -> Self {
        Failure {
            error,
            transient: false,
        }
    }
}

impl RazorpayGateway {
    pub fn new(settings: &RazorpaySettings) -> anyhow::Result<Self> {
        let api_base = settings.api_base.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&api_base)
            .with_context(|| format!("RAZORPAY_API_BASE {api_base:?} is not a URL"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https"),
            "RAZORPAY_API_BASE {api_base:?} is not an http(s) URL"
        );
        anyhow::ensure!(
            !settings.key_id.trim().is_empty(),
            "RAZORPAY_KEY_ID is empty"
        );
        anyhow::ensure!(
            !settings.key_secret.expose().is_empty(),
            "RAZORPAY_KEY_SECRET is empty"
        );
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            // Covers connecting, sending and reading the whole body: a Razorpay that stalls
            // mid-answer must not hold a checkout forever.
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            // Razorpay's API never redirects; following one would send credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cartwright/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the Razorpay HTTP client")?;
        Ok(RazorpayGateway {
            http,
            api_base,
            key_id: settings.key_id.trim().to_string(),
            key_secret: settings.key_secret.clone(),
            webhook_secret: settings.webhook_secret.clone(),
            timeout,
        })
    }

    /// Sends one API call, retrying transient failures when `retry` allows, and records its
    /// outcome in the metrics.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
        retry: Retry,
    ) -> Result<T, GatewayError> {
        let url = format!("{}{}", self.api_base, path);
        let attempts = match retry {
            Retry::Never => 1,
            Retry::Safe => RETRY_DELAYS.len() + 1,
        };
        let started = Instant::now();
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            // Inside a request, every attempt ends before the request's own deadline.
            let limit = match self.time_left() {
                None => self.timeout,
                Some(left) if left < MIN_ATTEMPT => {
                    break Err(GatewayError::Unavailable(format!(
                        "Razorpay took too long to answer {operation}; the request ran out of time"
                    )));
                }
                Some(left) => self.timeout.min(left),
            };
            match self
                .attempt::<T>(operation, &method, &url, body, idempotency_key, limit)
                .await
            {
                Ok(value) => break Ok(value),
                Err(failure) if failure.transient && attempt < attempts => {
                    let delay = RETRY_DELAYS[attempt - 1];
                    if self
                        .time_left()
                        .is_some_and(|left| left < delay + MIN_ATTEMPT)
                    {
                        break Err(failure.error);
                    }
                    tracing::warn!(
                        operation,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %failure.error,
                        "Razorpay call failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => break Err(failure.error),
            }
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(GatewayError::Unavailable(_)) => "unavailable",
            Err(GatewayError::BadResponse(_)) => "bad_response",
            Err(GatewayError::Configuration(_)) => "configuration",
            Err(GatewayError::Rejected { .. }) => "rejected",
        };
        metrics::counter!(
            "payment_gateway_requests_total",
            "gateway" => "razorpay",
            "operation" => operation,
            "outcome" => outcome
        )
        .increment(1);
        metrics::histogram!(
            "payment_gateway_request_duration_seconds",
            "gateway" => "razorpay",
            "operation" => operation
        )
        .record(started.elapsed().as_secs_f64());
        if let Err(error) = &result {
            tracing::warn!(operation, attempts = attempt, %error, "Razorpay call failed");
        }
        result
    }

    /// What is left of the current request's time for a call, if in a request.
    fn time_left(&self) -> Option<Duration> {
        let left = crate::payments::deadline::left(Duration::ZERO)?;
        Some(left.saturating_sub(REQUEST_RESERVE.min(left / 10)))
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
        limit: Duration,
    ) -> Result<T, Failure> {
        let mut request = self
            .http
            .request(method.clone(), url)
            .timeout(limit)
            .basic_auth(&self.key_id, Some(self.key_secret.expose()))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::transient(self.transport_error(operation, &e, limit)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::transient(self.transport_error(operation, &e, limit)))?;
        if status.is_success() {
            return serde_json::from_slice::<T>(&bytes).map_err(|e| {
                Failure::fatal(GatewayError::BadResponse(format!(
                    "Razorpay's answer to {operation} could not be read: {e}"
                )))
            });
        }
        Err(self.status_failure(operation, status, &bytes))
    }

    fn transport_error(
        &self,
        operation: &str,
        error: &reqwest::Error,
        limit: Duration,
    ) -> GatewayError {
        if error.is_timeout() {
            return GatewayError::Unavailable(if limit < self.timeout {
                format!(
                    "Razorpay took too long to answer {operation}; the request ran out of time \
                     after {} ms",
                    limit.as_millis()
                )
            } else {
                format!(
                    "Razorpay did not answer {operation} within {} ms",
                    limit.as_millis()
                )
            });
        }
        // The innermost cause ("connection refused", "dns error") says more than reqwest's own
        // wrapper; neither carries credentials, which travel only in a header.
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        let what = if error.is_connect() {
            "could not connect to Razorpay"
        } else {
            "the connection to Razorpay failed"
        };
        GatewayError::Unavailable(format!("{what} during {operation}: {cause}"))
    }

    fn status_failure(&self, operation: &str, status: StatusCode, body: &[u8]) -> Failure {
        let details = ErrorDetails::parse(status, body);
        match status.as_u16() {
            401 => Failure::fatal(GatewayError::Configuration(format!(
                "Razorpay refused API key {} ({}: {}); check the gateway configuration \
                 (RAZORPAY_KEY_ID and RAZORPAY_KEY_SECRET)",
                self.key_id, status, details.description
            ))),
            // 409: Razorpay is still processing an earlier request with the same idempotency
            // key; 429: rate limited. Both pass if one waits.
            409 | 429 => Failure::transient(GatewayError::Unavailable(format!(
                "Razorpay answered {status} to {operation}: {}",
                details.description
            ))),
            400..=499 => Failure::fatal(details.into_rejected()),
            500..=599 => Failure::transient(GatewayError::Unavailable(format!(
                "Razorpay answered {status} to {operation}"
            ))),
            _ => Failure::fatal(GatewayError::BadResponse(format!(
                "Razorpay answered {operation} with unexpected HTTP {status}"
            ))),
        }
    }
}

#[async_trait]
impl PaymentGateway for RazorpayGateway {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn key_secret(&self) -> &str {
        self.key_secret.expose()
    }

    fn webhook_secret(&self) -> &str {
        self.webhook_secret.expose()
    }

    async fn create_order(
        &self,
        request: CreateOrderRequest,
    ) -> Result<GatewayOrder, GatewayError> {
        check_amount(
            request.amount.minor(),
            &format!("The amount in {}", request.currency),
        )?;
        check_currency(&request.currency)?;
        if request.receipt.chars().count() > MAX_RECEIPT_CHARS {
            return Err(local_rejection(
                "receipt",
                format!("The receipt may be at most {MAX_RECEIPT_CHARS} characters"),
            ));
        }
        let mut body = Map::new();
        body.insert("amount".into(), request.amount.minor().into());
        body.insert("currency".into(), request.currency.clone().into());
        if !request.receipt.is_empty() {
            body.insert("receipt".into(), request.receipt.clone().into());
        }
        if !request.notes.is_empty() {
            body.insert("notes".into(), notes_object(&request.notes)?);
        }
        let order: OrderWire = self
            .call(
                "create_order",
                Method::POST,
                "/orders",
                Some(&Value::Object(body)),
                None,
                Retry::Never,
            )
            .await?;
        Ok(order.into())
    }

    async fn fetch_order(&self, gateway_order_id: &str) -> Result<GatewayOrder, GatewayError> {
        check_id(gateway_order_id)?;
        let order: OrderWire = self
            .call(
                "fetch_order",
                Method::GET,
                &format!("/orders/{gateway_order_id}"),
                None,
                None,
                Retry::Safe,
            )
            .await?;
        Ok(order.into())
    }

    async fn fetch_order_payments(
        &self,
        gateway_order_id: &str,
    ) -> Result<Vec<GatewayPayment>, GatewayError> {
        check_id(gateway_order_id)?;
        let collection: CollectionWire<PaymentWire> = self
            .call(
                "fetch_order_payments",
                Method::GET,
                &format!("/orders/{gateway_order_id}/payments"),
                None,
                None,
                Retry::Safe,
            )
            .await?;
        Ok(collection.items.into_iter().map(Into::into).collect())
    }

    async fn fetch_payment(&self, payment_id: &str) -> Result<GatewayPayment, GatewayError> {
        check_id(payment_id)?;
        let payment: PaymentWire = self
            .call(
                "fetch_payment",
                Method::GET,
                &format!("/payments/{payment_id}"),
                None,
                None,
                Retry::Safe,
            )
            .await?;
        Ok(payment.into())
    }

    async fn capture_payment(
        &self,
        payment_id: &str,
        amount: Money,
        currency: &str,
    ) -> Result<GatewayPayment, GatewayError> {
        check_id(payment_id)?;
        check_amount(amount.minor(), "The capture amount")?;
        check_currency(currency)?;
        let body = serde_json::json!({"amount": amount.minor(), "currency": currency});
        let payment: PaymentWire = self
            .call(
                "capture_payment",
                Method::POST,
                &format!("/payments/{payment_id}/capture"),
                Some(&body),
                None,
                // Safe: capturing twice is refused by Razorpay ("already been captured"), and the
                // caller fetches the payment to see where it stands.
                Retry::Safe,
            )
            .await?;
        Ok(payment.into())
    }

    async fn refund(&self, request: RefundRequest) -> Result<GatewayRefund, GatewayError> {
        check_id(&request.payment_id)?;
        check_amount(request.amount.minor(), "The refund amount")?;
        check_idempotency_key(&request.idempotency_key)?;
        let mut body = Map::new();
        // Always explicit, never "omit for a full refund": the shop decides how much goes back,
        // and a retry with the same key must carry the same body.
        body.insert("amount".into(), request.amount.minor().into());
        if !request.notes.is_empty() {
            body.insert("notes".into(), notes_object(&request.notes)?);
        }
        let refund: RefundWire = self
            .call(
                "refund",
                Method::POST,
                &format!("/payments/{}/refund", request.payment_id),
                Some(&Value::Object(body)),
                Some(&request.idempotency_key),
                // Safe only because Razorpay answers a repeated idempotency key with the refund
                // it already made.
                Retry::Safe,
            )
            .await?;
        Ok(refund.into())
    }
}

fn local_rejection(field: &str, description: String) -> GatewayError {
    GatewayError::Rejected {
        code: "BAD_REQUEST_ERROR".into(),
        description,
        field: Some(field.into()),
        reason: Some("input_validation_failed".into()),
    }
}

/// `what` names the amount in the message: "The amount" of an order in INR, "The refund amount".
fn check_amount(minor: i64, what: &str) -> Result<(), GatewayError> {
    if minor < MIN_AMOUNT_MINOR {
        return Err(local_rejection(
            "amount",
            format!("{what} must be at least 1.00"),
        ));
    }
    Ok(())
}

fn check_currency(currency: &str) -> Result<(), GatewayError> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(local_rejection(
            "currency",
            format!("{currency:?} is not a 3-letter currency code"),
        ));
    }
    Ok(())
}

/// Ids go into the URL path, so anything but Razorpay's id alphabet is refused before it can
/// change which resource is addressed.
fn check_id(id: &str) -> Result<(), GatewayError> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        let shown: String = id.chars().take(64).collect();
        return Err(local_rejection(
            "id",
            format!("{shown:?} is not a valid id"),
        ));
    }
    Ok(())
}

/// Razorpay's rule for `X-Refund-Idempotency`: at least 10 letters, digits, `-` or `_`.
fn check_idempotency_key(key: &str) -> Result<(), GatewayError> {
    let valid = key.len() >= 10
        && key.len() <= 128
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(local_rejection(
            IDEMPOTENCY_HEADER,
            "The idempotency key must be 10 or more letters, digits, '-' or '_'".into(),
        ));
    }
    Ok(())
}

fn notes_object(notes: &[(String, String)]) -> Result<Value, GatewayError> {
    if notes.len() > MAX_NOTES {
        return Err(local_rejection(
            "notes",
            format!("At most {MAX_NOTES} notes are allowed"),
        ));
    }
    let mut object = Map::new();
    for (key, value) in notes {
        if key.chars().count() > MAX_NOTE_CHARS || value.chars().count() > MAX_NOTE_CHARS {
            return Err(local_rejection(
                "notes",
                format!("A note may be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        object.insert(key.clone(), Value::String(value.clone()));
    }
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests;
