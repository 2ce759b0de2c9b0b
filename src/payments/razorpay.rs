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
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

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
            match self
                .attempt::<T>(operation, &method, &url, body, idempotency_key)
                .await
            {
                Ok(value) => break Ok(value),
                Err(failure) if failure.transient && attempt < attempts => {
                    let delay = RETRY_DELAYS[attempt - 1];
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

    async fn attempt<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Failure> {
        let mut request = self
            .http
            .request(method.clone(), url)
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
            .map_err(|e| Failure::transient(self.transport_error(operation, &e)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failure::transient(self.transport_error(operation, &e)))?;
        if status.is_success() {
            return serde_json::from_slice::<T>(&bytes).map_err(|e| {
                Failure::fatal(GatewayError::BadResponse(format!(
                    "Razorpay's answer to {operation} could not be read: {e}"
                )))
            });
        }
        Err(self.status_failure(operation, status, &bytes))
    }

    fn transport_error(&self, operation: &str, error: &reqwest::Error) -> GatewayError {
        if error.is_timeout() {
            return GatewayError::Unavailable(format!(
                "Razorpay did not answer {operation} within {} ms",
                self.timeout.as_millis()
            ));
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

    fn into_rejected(self) -> GatewayError {
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
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// An integer that may be null or missing (zero).
fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(deserializer)?.unwrap_or(0))
}

// Razorpay's entities as they arrive. Only what the shop uses is read; everything else, `notes`
// included (an object, or `[]` when empty), is ignored so its shape cannot break a payment.

#[derive(Deserialize)]
struct OrderWire {
    id: String,
    amount: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    amount_paid: i64,
    currency: String,
    #[serde(default, deserialize_with = "lenient_string")]
    receipt: Option<String>,
    status: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    created_at: i64,
}

impl From<OrderWire> for GatewayOrder {
    fn from(o: OrderWire) -> Self {
        GatewayOrder {
            id: o.id,
            amount: o.amount,
            amount_paid: o.amount_paid,
            currency: o.currency,
            receipt: o.receipt,
            status: o.status,
            created_at: o.created_at,
        }
    }
}

#[derive(Deserialize)]
struct PaymentWire {
    id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    order_id: Option<String>,
    amount: i64,
    currency: String,
    status: super::GatewayPaymentStatus,
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
            amount: p.amount,
            currency: p.currency,
            status: p.status,
            method: p.method,
            amount_refunded: p.amount_refunded,
            error_code: p.error_code,
            error_description: p.error_description,
        }
    }
}

#[derive(Deserialize)]
struct RefundWire {
    id: String,
    payment_id: String,
    amount: i64,
    status: String,
}

impl From<RefundWire> for GatewayRefund {
    fn from(r: RefundWire) -> Self {
        GatewayRefund {
            id: r.id,
            payment_id: r.payment_id,
            amount: r.amount,
            status: r.status,
        }
    }
}

/// `{"entity": "collection", "count": n, "items": [...]}`.
#[derive(Deserialize)]
struct CollectionWire<T> {
    items: Vec<T>,
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Money;

    fn gateway(api_base: &str) -> RazorpayGateway {
        RazorpayGateway::new(&RazorpaySettings {
            key_id: "rzp_test_unit".into(),
            key_secret: Secret::new("key_secret"),
            webhook_secret: Secret::new("webhook_secret"),
            api_base: api_base.into(),
            timeout_ms: 1_000,
        })
        .unwrap()
    }

    #[test]
    fn error_envelope_with_every_part_is_read() {
        let body = br#"{"error":{"code":"BAD_REQUEST_ERROR","description":"The amount must be at least INR 1.00","source":"business","step":"payment_initiation","reason":"input_validation_failed","metadata":{},"field":"amount"}}"#;
        let details = ErrorDetails::parse(StatusCode::BAD_REQUEST, body);
        assert_eq!(details.code, "BAD_REQUEST_ERROR");
        assert_eq!(details.description, "The amount must be at least INR 1.00");
        assert_eq!(details.field.as_deref(), Some("amount"));
        assert_eq!(details.reason.as_deref(), Some("input_validation_failed"));
    }

    #[test]
    fn error_envelope_with_missing_or_odd_parts_is_tolerated() {
        let partial = br#"{"error":{"description":"Authentication failed"}}"#;
        let details = ErrorDetails::parse(StatusCode::UNAUTHORIZED, partial);
        assert_eq!(details.code, "HTTP_401");
        assert_eq!(details.description, "Authentication failed");
        assert_eq!(details.field, None);

        let odd = br#"{"error":{"code":"BAD_REQUEST_ERROR","description":null,"field":null,"reason":"NA","metadata":[]}}"#;
        let details = ErrorDetails::parse(StatusCode::BAD_REQUEST, odd);
        assert_eq!(details.code, "BAD_REQUEST_ERROR");
        assert!(details.description.contains("400"), "{details:?}");
        assert_eq!(details.reason, None);

        for body in [
            &b"<html>Bad Gateway</html>"[..],
            b"",
            b"[]",
            br#"{"error":"x"}"#,
        ] {
            let details = ErrorDetails::parse(StatusCode::BAD_REQUEST, body);
            assert_eq!(details.code, "HTTP_400");
        }
    }

    #[test]
    fn entities_with_empty_notes_nulls_and_unknown_fields_are_read() {
        let order: OrderWire = serde_json::from_str(
            r#"{"id":"order_A","entity":"order","amount":6134,"amount_paid":0,"amount_due":6134,
                "currency":"INR","receipt":null,"offer_id":null,"status":"created","attempts":0,
                "notes":[],"created_at":1700000000,"brand_new_field":{"x":1}}"#,
        )
        .unwrap();
        let order = GatewayOrder::from(order);
        assert_eq!(order.amount, 6134);
        assert_eq!(order.receipt, None);

        let payment: PaymentWire = serde_json::from_str(
            r#"{"id":"pay_A","entity":"payment","amount":6134,"currency":"INR","status":"failed",
                "order_id":"order_A","method":"card","amount_refunded":null,"refund_status":null,
                "notes":{"k":"v"},"error_code":"BAD_REQUEST_ERROR","error_description":"",
                "card":{"last4":"1111"}}"#,
        )
        .unwrap();
        let payment = GatewayPayment::from(payment);
        assert_eq!(payment.amount_refunded, 0);
        assert_eq!(payment.error_code.as_deref(), Some("BAD_REQUEST_ERROR"));
        assert_eq!(payment.error_description, None);
    }

    #[test]
    fn webhook_events_are_read_with_their_entities() {
        let body = br#"{"entity":"event","account_id":"acc_X","event":"refund.processed",
            "contains":["refund","payment"],"payload":{
              "refund":{"entity":{"id":"rfnd_A","entity":"refund","amount":500,"currency":"INR",
                "payment_id":"pay_A","notes":[],"receipt":null,"acquirer_data":{"arn":null},
                "created_at":1,"batch_id":null,"status":"processed","speed_processed":"normal"}},
              "payment":{"entity":{"id":"pay_A","entity":"payment","amount":6134,"currency":"INR",
                "status":"captured","order_id":"order_A","amount_refunded":500,"notes":[]}}},
            "created_at":1700000001}"#;
        let event = parse_webhook_event(body).unwrap();
        assert_eq!(event.event, "refund.processed");
        assert_eq!(event.contains, vec!["refund", "payment"]);
        assert_eq!(event.refund.as_ref().unwrap().amount, 500);
        assert_eq!(event.payment.as_ref().unwrap().amount_refunded, 500);
        assert_eq!(event.order, None);

        let unknown =
            br#"{"entity":"event","event":"settlement.processed","contains":["settlement"],
            "payload":{"settlement":{"entity":{"id":"setl_A"}}},"created_at":1}"#;
        assert_eq!(
            parse_webhook_event(unknown).unwrap().event,
            "settlement.processed"
        );
        assert!(parse_webhook_event(b"not json").is_err());
    }

    #[test]
    fn settings_that_cannot_work_are_refused_at_start() {
        let mut settings = RazorpaySettings {
            key_id: "rzp_test_unit".into(),
            key_secret: Secret::new("s"),
            webhook_secret: Secret::new("w"),
            api_base: "not a url".into(),
            timeout_ms: 1_000,
        };
        assert!(RazorpayGateway::new(&settings).is_err());
        settings.api_base = "https://api.razorpay.com/v1/".into();
        let gateway = RazorpayGateway::new(&settings).unwrap();
        assert_eq!(gateway.api_base, "https://api.razorpay.com/v1");
        settings.key_id = " ".into();
        assert!(RazorpayGateway::new(&settings).is_err());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let shown = format!("{:?}", gateway("http://127.0.0.1:9/v1"));
        assert!(!shown.contains("key_secret"), "{shown}");
        assert!(!shown.contains("webhook_secret"), "{shown}");
        assert!(shown.contains("rzp_test_unit"));
    }

    #[tokio::test]
    async fn invalid_requests_are_refused_before_any_call() {
        // Port 9 (discard) is closed here: any call that got out would be Unavailable, not Rejected.
        let gateway = gateway("http://127.0.0.1:9/v1");
        let order = |amount: i64, receipt: &str| CreateOrderRequest {
            amount: Money::from_minor(amount),
            currency: "INR".into(),
            receipt: receipt.into(),
            notes: vec![],
        };
        for (request, field) in [
            (order(99, "ORD1"), "amount"),
            (order(100, &"R".repeat(41)), "receipt"),
            (
                CreateOrderRequest {
                    currency: "inr".into(),
                    ..order(100, "ORD1")
                },
                "currency",
            ),
        ] {
            match gateway.create_order(request).await {
                Err(GatewayError::Rejected { field: f, .. }) => {
                    assert_eq!(f.as_deref(), Some(field))
                }
                other => panic!("expected a local rejection of {field}, got {other:?}"),
            }
        }
        for id in ["", "../orders", "order_1?x=1", "pay 1"] {
            assert!(matches!(
                gateway.fetch_payment(id).await,
                Err(GatewayError::Rejected { .. })
            ));
        }
        let refund = |key: &str| RefundRequest {
            payment_id: "pay_1".into(),
            amount: Money::from_minor(500),
            idempotency_key: key.into(),
            notes: vec![],
        };
        for key in ["short", "has space in it", "semi;colon;key"] {
            assert!(matches!(
                gateway.refund(refund(key)).await,
                Err(GatewayError::Rejected { .. })
            ));
        }
    }
}
