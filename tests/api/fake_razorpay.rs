//! A fake Razorpay for tests: a small HTTP server on 127.0.0.1 that behaves as Razorpay's API is
//! documented to (Basic auth, the error envelope, order states created -> attempted -> paid,
//! payment states, refund limits and `X-Refund-Idempotency`), with everything in memory.
//!
//! Tests drive it through `FakeRazorpay`, never over HTTP: pay or fail an order as a customer at
//! Checkout would, send signed webhooks to the app (repeated or out of order), inject faults
//! (error answers, answers slower than the client's timeout) and inspect what Razorpay recorded.

// Each test binary uses a different part of this toolbox.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use cartwright::payments::hmac_sha256_hex;
use cartwright::payments::simulated::razorpay_like_id;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Razorpay gives up on a webhook the app has not answered within 5 seconds (CONTRACT §6).
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
const ACCOUNT_ID: &str = "acc_FakeRazorpay01";

#[derive(Debug, Clone, PartialEq)]
pub struct FakeOrder {
    pub id: String,
    pub amount: i64,
    pub amount_paid: i64,
    pub currency: String,
    pub receipt: Option<String>,
    /// `created`, `attempted` or `paid`.
    pub status: String,
    pub attempts: u32,
    pub notes: Map<String, Value>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakePayment {
    pub id: String,
    pub order_id: String,
    pub amount: i64,
    pub currency: String,
    /// `captured`, `refunded` (in full) or `failed`.
    pub status: String,
    pub method: String,
    pub captured: bool,
    pub amount_refunded: i64,
    pub error_code: Option<String>,
    pub error_description: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FakeRefund {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub currency: String,
    /// `pending`, `processed` or `failed`.
    pub status: String,
    pub idempotency_key: Option<String>,
    pub notes: Map<String, Value>,
    pub created_at: i64,
}

/// One API request as it reached the fake (faulted and unauthorised ones included).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
}

/// A webhook built from the state of the moment (Razorpay's payloads are snapshots), ready to be
/// delivered any number of times and in any order. Fields are public so tests can tamper.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedWebhook {
    /// Sent as `x-razorpay-event-id`; the same on every delivery, as on Razorpay's retries.
    pub event_id: String,
    pub event: String,
    /// The exact bytes that are signed and sent.
    pub body: Vec<u8>,
    /// Hex HMAC-SHA256 of `body` with the webhook secret.
    pub signature: String,
}

impl PreparedWebhook {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("prepared webhooks are JSON")
    }
}

/// One webhook delivery and the app's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub event_id: Option<String>,
    pub event: Option<String>,
    pub status: u16,
}

#[derive(Debug, Clone)]
enum FaultKind {
    /// Answer with this status and body instead of handling the request.
    Respond { status: u16, body: String },
    /// Handle the request, but only after this long.
    Hang(Duration),
}

struct Fault {
    method: Option<Method>,
    path_prefix: Option<String>,
    remaining: u32,
    kind: FaultKind,
}

enum Idempotency {
    /// A refund with this key is being processed: a repeat is a 409, as at Razorpay.
    InFlight,
    Done {
        payment_id: String,
        request: Map<String, Value>,
        refund_id: String,
    },
}

struct Ledger {
    orders: Vec<FakeOrder>,
    payments: Vec<FakePayment>,
    refunds: Vec<FakeRefund>,
    idempotency: HashMap<String, Idempotency>,
    faults: Vec<Fault>,
    requests: Vec<RecordedRequest>,
    webhook_target: Option<String>,
    new_refund_status: String,
    deliveries: Vec<Delivery>,
}

struct Shared {
    key_id: String,
    key_secret: String,
    webhook_secret: String,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        // A test that panicked while holding the lock must not hide the state from the next check.
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Aborts the server when the last handle goes away.
struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A handle on a running fake Razorpay. Cloning shares the same server and state.
#[derive(Clone)]
pub struct FakeRazorpay {
    address: SocketAddr,
    shared: Arc<Shared>,
    http: reqwest::Client,
    _server: Arc<ServerTask>,
}

impl FakeRazorpay {
    /// Starts a fake that accepts exactly these API keys and signs webhooks with `webhook_secret`.
    pub async fn start(key_id: &str, key_secret: &str, webhook_secret: &str) -> FakeRazorpay {
        let shared = Arc::new(Shared {
            key_id: key_id.to_string(),
            key_secret: key_secret.to_string(),
            webhook_secret: webhook_secret.to_string(),
            ledger: Mutex::new(Ledger {
                orders: Vec::new(),
                payments: Vec::new(),
                refunds: Vec::new(),
                idempotency: HashMap::new(),
                faults: Vec::new(),
                requests: Vec::new(),
                webhook_target: None,
                new_refund_status: "processed".into(),
                deliveries: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/v1/orders", post(create_order))
            .route("/v1/orders/{id}", get(fetch_order))
            .route("/v1/orders/{id}/payments", get(fetch_order_payments))
            .route("/v1/payments/{id}", get(fetch_payment))
            .route("/v1/payments/{id}/capture", post(capture_payment))
            .route("/v1/payments/{id}/refund", post(create_refund))
            .fallback(unknown_url)
            .layer(axum::middleware::from_fn_with_state(shared.clone(), gate))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake Razorpay");
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        FakeRazorpay {
            address,
            shared,
            http: reqwest::Client::builder()
                .timeout(WEBHOOK_TIMEOUT)
                .no_proxy()
                .build()
                .unwrap(),
            _server: Arc::new(ServerTask(server)),
        }
    }

    /// `http://127.0.0.1:<port>/v1`, for `RAZORPAY_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn key_id(&self) -> &str {
        &self.shared.key_id
    }
    pub fn key_secret(&self) -> &str {
        &self.shared.key_secret
    }
    pub fn webhook_secret(&self) -> &str {
        &self.shared.webhook_secret
    }

    // ---- what a customer does at Checkout ----

    /// A customer pays the order in full: a captured payment, the order `paid`. Returns the
    /// payment id and the signature Checkout hands the browser (HMAC of `order_id|payment_id`
    /// with the key secret). Panics if the order is unknown or already paid.
    pub fn pay(&self, order_id: &str) -> (String, String) {
        let (amount, currency) = {
            let ledger = self.shared.lock();
            let order = ledger
                .orders
                .iter()
                .find(|o| o.id == order_id)
                .unwrap_or_else(|| panic!("fake Razorpay has no order {order_id}"));
            assert_ne!(order.status, "paid", "order {order_id} is already paid");
            (order.amount, order.currency.clone())
        };
        self.add_payment(order_id, amount, &currency, "captured")
    }

    /// A customer's payment is authorized but not captured (manual capture, or auto-capture not
    /// reached yet): the order `attempted`. Returns the payment id and Checkout's signature.
    pub fn authorize(&self, order_id: &str) -> (String, String) {
        let (amount, currency) = {
            let ledger = self.shared.lock();
            let order = ledger
                .orders
                .iter()
                .find(|o| o.id == order_id)
                .expect("known order");
            (order.amount, order.currency.clone())
        };
        self.add_payment(order_id, amount, &currency, "authorized")
    }

    /// A captured payment of `amount` in `currency` for the order, whatever it costs: a customer
    /// paying a second time, or a capture of another amount. Returns id and signature.
    pub fn capture_amount(&self, order_id: &str, amount: i64, currency: &str) -> (String, String) {
        self.add_payment(order_id, amount, currency, "captured")
    }

    fn add_payment(
        &self,
        order_id: &str,
        amount: i64,
        currency: &str,
        status: &str,
    ) -> (String, String) {
        let mut ledger = self.shared.lock();
        let order = ledger
            .orders
            .iter_mut()
            .find(|o| o.id == order_id)
            .unwrap_or_else(|| panic!("fake Razorpay has no order {order_id}"));
        order.attempts += 1;
        if status == "captured" && amount >= order.amount {
            order.amount_paid = order.amount;
            order.status = "paid".into();
        } else if order.status == "created" {
            order.status = "attempted".into();
        }
        let payment = FakePayment {
            id: razorpay_like_id("pay"),
            order_id: order.id.clone(),
            amount,
            currency: currency.into(),
            status: status.into(),
            method: "card".into(),
            captured: status == "captured",
            amount_refunded: 0,
            error_code: None,
            error_description: None,
            created_at: now(),
        };
        let payment_id = payment.id.clone();
        ledger.payments.push(payment);
        drop(ledger);
        let signature = self.payment_signature(order_id, &payment_id);
        (payment_id, signature)
    }

    /// A customer's attempt fails (declined card): a failed payment, the order `attempted` and
    /// still payable. Returns the payment id.
    pub fn fail_payment(&self, order_id: &str) -> String {
        let mut ledger = self.shared.lock();
        let order = ledger
            .orders
            .iter_mut()
            .find(|o| o.id == order_id)
            .unwrap_or_else(|| panic!("fake Razorpay has no order {order_id}"));
        order.attempts += 1;
        if order.status == "created" {
            order.status = "attempted".into();
        }
        let payment = FakePayment {
            id: razorpay_like_id("pay"),
            order_id: order.id.clone(),
            amount: order.amount,
            currency: order.currency.clone(),
            status: "failed".into(),
            method: "card".into(),
            captured: false,
            amount_refunded: 0,
            error_code: Some("BAD_REQUEST_ERROR".into()),
            error_description: Some(
                "Your payment didn't go through as it was declined by the bank.".into(),
            ),
            created_at: now(),
        };
        let payment_id = payment.id.clone();
        ledger.payments.push(payment);
        payment_id
    }

    /// The signature Checkout returns for a payment: hex HMAC-SHA256 of `order_id|payment_id`
    /// keyed with the key secret.
    pub fn payment_signature(&self, order_id: &str, payment_id: &str) -> String {
        hmac_sha256_hex(
            self.shared.key_secret.as_bytes(),
            format!("{order_id}|{payment_id}").as_bytes(),
        )
    }

    // ---- refunds that settle later ----

    /// The status new refunds get: `processed` (the default, as test mode does) or `pending`
    /// (to settle later with `settle_refund`).
    pub fn set_refund_status(&self, status: &str) {
        assert!(matches!(status, "pending" | "processed"), "{status}");
        self.shared.lock().new_refund_status = status.into();
    }

    /// Moves a pending refund to `processed` or `failed`; a failed refund gives the amount back to
    /// the payment's refundable balance, as at Razorpay.
    pub fn settle_refund(&self, refund_id: &str, status: &str) {
        assert!(matches!(status, "processed" | "failed"), "{status}");
        let mut ledger = self.shared.lock();
        let refund = ledger
            .refunds
            .iter_mut()
            .find(|r| r.id == refund_id)
            .unwrap_or_else(|| panic!("fake Razorpay has no refund {refund_id}"));
        assert_eq!(refund.status, "pending", "refund {refund_id} is settled");
        refund.status = status.into();
        let (payment_id, amount) = (refund.payment_id.clone(), refund.amount);
        if status == "failed" {
            let payment = ledger
                .payments
                .iter_mut()
                .find(|p| p.id == payment_id)
                .expect("refund of a known payment");
            payment.amount_refunded -= amount;
            payment.status = "captured".into();
        }
    }

    // ---- webhooks ----

    /// Where webhooks go: the app's full URL, e.g. `http://127.0.0.1:1234/webhooks/razorpay`.
    pub fn set_webhook_target(&self, url: &str) {
        self.shared.lock().webhook_target = Some(url.to_string());
    }

    /// Builds a signed event from the current state. `entity_id` names what the event is about:
    /// a payment for `payment.*` (payload: payment), an order for `order.*` (payload: order and
    /// its latest payment, captured preferred), a refund for `refund.*` (payload: refund and its
    /// payment). Any other event gets an empty payload. Panics on an unknown id.
    pub fn prepare_webhook(&self, event: &str, entity_id: &str) -> PreparedWebhook {
        let ledger = self.shared.lock();
        let find_payment = |id: &str| -> &FakePayment {
            ledger
                .payments
                .iter()
                .find(|p| p.id == id)
                .unwrap_or_else(|| panic!("fake Razorpay has no payment {id}"))
        };
        let (contains, payload) = match event.split('.').next() {
            Some("payment") => (
                vec!["payment"],
                json!({"payment": {"entity": payment_json(find_payment(entity_id))}}),
            ),
            Some("order") => {
                let order = ledger
                    .orders
                    .iter()
                    .find(|o| o.id == entity_id)
                    .unwrap_or_else(|| panic!("fake Razorpay has no order {entity_id}"));
                let mut of_order = ledger.payments.iter().filter(|p| p.order_id == order.id);
                let payment = of_order
                    .clone()
                    .rev()
                    .find(|p| p.captured)
                    .or_else(|| of_order.next_back());
                match payment {
                    Some(p) => (
                        vec!["payment", "order"],
                        json!({"payment": {"entity": payment_json(p)},
                               "order": {"entity": order_json(order)}}),
                    ),
                    None => (
                        vec!["order"],
                        json!({"order": {"entity": order_json(order)}}),
                    ),
                }
            }
            Some("refund") => {
                let refund = ledger
                    .refunds
                    .iter()
                    .find(|r| r.id == entity_id)
                    .unwrap_or_else(|| panic!("fake Razorpay has no refund {entity_id}"));
                (
                    vec!["refund", "payment"],
                    json!({"refund": {"entity": refund_json(refund)},
                           "payment": {"entity": payment_json(find_payment(&refund.payment_id))}}),
                )
            }
            _ => (vec![], json!({})),
        };
        let body = serde_json::to_vec(&json!({
            "entity": "event",
            "account_id": ACCOUNT_ID,
            "event": event,
            "contains": contains,
            "payload": payload,
            "created_at": now(),
        }))
        .unwrap();
        let signature = self.sign_webhook(&body);
        PreparedWebhook {
            event_id: random_alphanumeric(14),
            event: event.to_string(),
            body,
            signature,
        }
    }

    /// Prepares and delivers one event; returns the app's HTTP status.
    pub async fn send_webhook(&self, event: &str, entity_id: &str) -> u16 {
        let webhook = self.prepare_webhook(event, entity_id);
        self.deliver(&webhook).await
    }

    /// Delivers a prepared event (again, for a duplicate); returns the app's HTTP status.
    pub async fn deliver(&self, webhook: &PreparedWebhook) -> u16 {
        self.deliver_raw(
            &webhook.body,
            Some(&webhook.signature),
            Some(&webhook.event_id),
        )
        .await
    }

    /// Posts any body with any (or no) signature and event id, for negative tests. Panics if the
    /// app does not answer within Razorpay's 5 s webhook timeout.
    pub async fn deliver_raw(
        &self,
        body: &[u8],
        signature: Option<&str>,
        event_id: Option<&str>,
    ) -> u16 {
        let target = self
            .shared
            .lock()
            .webhook_target
            .clone()
            .expect("call set_webhook_target before sending webhooks");
        let mut request = self
            .http
            .post(&target)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "Razorpay-Webhook/v1")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("X-Razorpay-Signature", signature);
        }
        if let Some(event_id) = event_id {
            request = request.header("x-razorpay-event-id", event_id);
        }
        let status = match request.send().await {
            Ok(response) => response.status().as_u16(),
            Err(e) => panic!("the app did not answer a webhook at {target} within 5 s: {e}"),
        };
        let event = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["event"].as_str().map(String::from));
        self.shared.lock().deliveries.push(Delivery {
            event_id: event_id.map(String::from),
            event,
            status,
        });
        status
    }

    /// Hex HMAC-SHA256 of `body` with the webhook secret, as in `X-Razorpay-Signature`.
    pub fn sign_webhook(&self, body: &[u8]) -> String {
        hmac_sha256_hex(self.shared.webhook_secret.as_bytes(), body)
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    // ---- faults ----

    /// The next `n` API requests get `status` with a Razorpay-style error body instead of an
    /// answer (nothing is created).
    pub fn fail_next(&self, n: u32, status: u16) {
        self.add_fault(None, None, n, server_error_fault(status));
    }

    /// As `fail_next`, only for requests of `method` (`"GET"`, `"POST"`, or `""` for any) whose
    /// path starts with `path_prefix` (`/v1` may be left out).
    pub fn fail_next_on(&self, method: &str, path_prefix: &str, n: u32, status: u16) {
        self.add_fault(
            method_filter(method),
            Some(path_prefix),
            n,
            server_error_fault(status),
        );
    }

    /// The next `n` API requests get exactly this status and body (to test odd envelopes,
    /// non-JSON and unreadable successes).
    pub fn respond_next(&self, n: u32, status: u16, body: &str) {
        self.add_fault(
            None,
            None,
            n,
            FaultKind::Respond {
                status,
                body: body.to_string(),
            },
        );
    }

    /// The next `n` API requests are handled (orders created, refunds made) but answered only
    /// after `delay`, as a slow Razorpay would: a client that timed out did not stop the work. A
    /// delayed refund holds its idempotency key meanwhile, so a retry with that key gets a 409.
    pub fn hang_next(&self, n: u32, delay: Duration) {
        self.add_fault(None, None, n, FaultKind::Hang(delay));
    }

    /// As `hang_next`, only for matching requests (see `fail_next_on`).
    pub fn hang_next_on(&self, method: &str, path_prefix: &str, n: u32, delay: Duration) {
        self.add_fault(
            method_filter(method),
            Some(path_prefix),
            n,
            FaultKind::Hang(delay),
        );
    }

    /// Forgets every fault not yet used up: the gateway answers normally again.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    fn add_fault(&self, method: Option<Method>, prefix: Option<&str>, n: u32, kind: FaultKind) {
        if n == 0 {
            return;
        }
        self.shared.lock().faults.push(Fault {
            method,
            path_prefix: prefix.map(full_path),
            remaining: n,
            kind,
        });
    }

    // ---- inspection ----

    pub fn orders(&self) -> Vec<FakeOrder> {
        self.shared.lock().orders.clone()
    }
    pub fn order(&self, id: &str) -> Option<FakeOrder> {
        self.shared
            .lock()
            .orders
            .iter()
            .find(|o| o.id == id)
            .cloned()
    }
    pub fn payments(&self) -> Vec<FakePayment> {
        self.shared.lock().payments.clone()
    }
    pub fn payment(&self, id: &str) -> Option<FakePayment> {
        self.shared
            .lock()
            .payments
            .iter()
            .find(|p| p.id == id)
            .cloned()
    }
    pub fn refunds(&self) -> Vec<FakeRefund> {
        self.shared.lock().refunds.clone()
    }
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// API requests (of any method) whose path starts with `path_prefix` (`/v1` may be left out).
    pub fn request_count(&self, path_prefix: &str) -> usize {
        self.request_count_for("", path_prefix)
    }

    /// API requests of `method` (`""` for any) whose path starts with `path_prefix`.
    pub fn request_count_for(&self, method: &str, path_prefix: &str) -> usize {
        let prefix = full_path(path_prefix);
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| (method.is_empty() || r.method == method) && r.path.starts_with(&prefix))
            .count()
    }
}

fn method_filter(method: &str) -> Option<Method> {
    (!method.is_empty()).then(|| Method::from_bytes(method.as_bytes()).expect("an HTTP method"))
}

fn full_path(prefix: &str) -> String {
    if prefix.starts_with("/v1") {
        prefix.to_string()
    } else {
        format!("/v1{prefix}")
    }
}

fn server_error_fault(status: u16) -> FaultKind {
    let body = json!({"error": {
        "code": if status >= 500 { "SERVER_ERROR" } else { "BAD_REQUEST_ERROR" },
        "description": "The server encountered an error. The incident has been reported to admins.",
        "source": "NA", "step": "NA", "reason": "NA", "metadata": {},
    }});
    FaultKind::Respond {
        status,
        body: body.to_string(),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

// ---- the HTTP side ----

/// Tells the refund handler to answer late; it holds the idempotency key while it waits.
#[derive(Clone, Copy)]
struct HangFor(Duration);

/// Records the request, applies any fault, checks Basic auth, then runs the handler in its own
/// task so that work a slow answer stands for completes even when the client has gone.
async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let fault = {
        let mut ledger = shared.lock();
        ledger.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            idempotency_key: request
                .headers()
                .get("x-refund-idempotency")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        });
        take_fault(&mut ledger.faults, &method, &path)
    };
    let hang = match fault {
        Some(FaultKind::Respond { status, body }) => {
            return (
                StatusCode::from_u16(status).expect("a valid status"),
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
        Some(FaultKind::Hang(delay)) => Some(delay),
        None => None,
    };
    let is_refund = method == Method::POST && path.ends_with("/refund");
    if let Some(delay) = hang {
        request.extensions_mut().insert(HangFor(delay));
    }
    let task = tokio::spawn(async move {
        if let (Some(delay), false) = (hang, is_refund) {
            tokio::time::sleep(delay).await;
        }
        if let Some(refusal) = check_auth(&shared, request.headers()) {
            return refusal;
        }
        next.run(request).await
    });
    task.await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn take_fault(faults: &mut Vec<Fault>, method: &Method, path: &str) -> Option<FaultKind> {
    let index = faults.iter().position(|f| {
        f.method.as_ref().is_none_or(|m| m == method)
            && f.path_prefix.as_ref().is_none_or(|p| path.starts_with(p))
    })?;
    let fault = &mut faults[index];
    fault.remaining -= 1;
    let kind = fault.kind.clone();
    if fault.remaining == 0 {
        faults.remove(index);
    }
    Some(kind)
}

fn check_auth(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, encoded) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(encoded)
        })
        .and_then(|encoded| decode_base64(encoded.trim()))
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some((key_id, key_secret)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
        return Some(auth_error("The api key provided is invalid"));
    };
    if key_id != shared.key_id {
        return Some(auth_error("The api key provided is invalid"));
    }
    if key_secret != shared.key_secret {
        return Some(auth_error("Authentication failed"));
    }
    None
}

fn auth_error(description: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {
            "code": "BAD_REQUEST_ERROR", "description": description,
            "source": "NA", "step": "NA", "reason": "NA", "metadata": {},
        }})),
    )
        .into_response()
}

/// Standard base64 with padding, enough for a Basic credential.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - padding] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

/// Razorpay's 400 for a request it will not take, naming the field when there is one. Kept small
/// (not a `Response`) so validation helpers can return it cheaply.
struct Refusal {
    description: String,
    field: Option<String>,
}

fn bad_request(description: &str, field: Option<&str>) -> Refusal {
    Refusal {
        description: description.to_string(),
        field: field.map(String::from),
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut error = json!({
            "code": "BAD_REQUEST_ERROR", "description": self.description,
            "source": "business", "step": "payment_initiation",
            "reason": "input_validation_failed", "metadata": {},
        });
        if let Some(field) = self.field {
            error["field"] = field.into();
        }
        (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
    }
}

fn no_such_id() -> Refusal {
    bad_request("The id provided does not exist", None)
}

async fn unknown_url() -> Response {
    bad_request("The requested URL was not found on the server", None).into_response()
}

fn json_object(body: &Bytes) -> Result<Map<String, Value>, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad_request("The request body is not valid JSON", None)),
    }
}

/// Razorpay refuses fields it does not know: "x is/are not required and should not be sent".
fn refuse_unknown_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), Refusal> {
    let extra: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed.contains(k))
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    Err(bad_request(
        &format!(
            "{} is/are not required and should not be sent",
            extra.join(", ")
        ),
        Some(extra[0]),
    ))
}

/// An integer amount in minor units, at least ₹1.00.
fn amount_field(value: Option<&Value>, currency: &str) -> Result<Option<i64>, Refusal> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 100 => Ok(Some(n)),
            Some(_) => Err(bad_request(
                &format!("The amount must be at least {currency} 1.00"),
                Some("amount"),
            )),
            None => Err(bad_request(
                "The amount must be an integer.",
                Some("amount"),
            )),
        },
    }
}

/// `notes`: an object of at most 15 short values; `[]` means none.
fn notes_field(value: Option<&Value>) -> Result<Map<String, Value>, Refusal> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Array(a)) if a.is_empty() => Ok(Map::new()),
        Some(Value::Object(notes))
            if notes.len() <= 15
                && notes.values().all(|v| match v {
                    Value::String(s) => s.chars().count() <= 256,
                    Value::Number(_) | Value::Bool(_) => true,
                    _ => false,
                }) =>
        {
            Ok(notes.clone())
        }
        Some(_) => Err(bad_request(
            "The notes must be an object of at most 15 values of at most 256 characters",
            Some("notes"),
        )),
    }
}

fn notes_json(notes: &Map<String, Value>) -> Value {
    // Razorpay answers empty notes with an empty array, not an object.
    if notes.is_empty() {
        json!([])
    } else {
        Value::Object(notes.clone())
    }
}

fn order_json(o: &FakeOrder) -> Value {
    json!({
        "id": o.id, "entity": "order", "amount": o.amount, "amount_paid": o.amount_paid,
        "amount_due": o.amount - o.amount_paid, "currency": o.currency, "receipt": o.receipt,
        "offer_id": null, "status": o.status, "attempts": o.attempts,
        "notes": notes_json(&o.notes), "created_at": o.created_at,
    })
}

fn payment_json(p: &FakePayment) -> Value {
    let refund_status = match p.amount_refunded {
        0 => Value::Null,
        n if n >= p.amount => "full".into(),
        _ => "partial".into(),
    };
    let (fee, tax) = if p.captured {
        let fee = p.amount * 2 / 100;
        (json!(fee), json!(fee * 18 / 100))
    } else {
        (Value::Null, Value::Null)
    };
    let failed = p.status == "failed";
    json!({
        "id": p.id, "entity": "payment", "amount": p.amount, "currency": p.currency,
        "status": p.status, "order_id": p.order_id, "invoice_id": null, "international": false,
        "method": p.method, "amount_refunded": p.amount_refunded, "refund_status": refund_status,
        "captured": p.captured, "description": null, "card_id": null, "bank": null,
        "wallet": null, "vpa": null, "email": "gaurav.kumar@example.com",
        "contact": "+919000090000", "notes": [], "fee": fee, "tax": tax,
        "error_code": p.error_code, "error_description": p.error_description,
        "error_source": if failed { json!("customer") } else { Value::Null },
        "error_step": if failed { json!("payment_authorization") } else { Value::Null },
        "error_reason": if failed { json!("payment_declined") } else { Value::Null },
        "acquirer_data": {}, "created_at": p.created_at,
    })
}

fn refund_json(r: &FakeRefund) -> Value {
    json!({
        "id": r.id, "entity": "refund", "amount": r.amount, "currency": r.currency,
        "payment_id": r.payment_id, "notes": notes_json(&r.notes), "receipt": null,
        "acquirer_data": {"arn": null}, "created_at": r.created_at, "batch_id": null,
        "status": r.status, "speed_processed": "normal", "speed_requested": "normal",
    })
}

const ORDER_FIELDS: &[&str] = &[
    "amount",
    "currency",
    "receipt",
    "notes",
    "partial_payment",
    "first_payment_min_amount",
    "payment_capture",
    "payment",
    "method",
    "offer_id",
    "customer_id",
];

async fn create_order(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let order = match parse_order(&body) {
        Ok(order) => order,
        Err(refusal) => return refusal.into_response(),
    };
    let answer = order_json(&order);
    shared.lock().orders.push(order);
    Json(answer).into_response()
}

fn parse_order(body: &Bytes) -> Result<FakeOrder, Refusal> {
    let body = json_object(body)?;
    refuse_unknown_fields(&body, ORDER_FIELDS)?;
    let currency = match body.get("currency") {
        None | Some(Value::Null) => {
            return Err(bad_request(
                "The currency field is required.",
                Some("currency"),
            ))
        }
        Some(Value::String(c)) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => {
            c.clone()
        }
        Some(_) => return Err(bad_request("Currency is not supported", Some("currency"))),
    };
    let amount = amount_field(body.get("amount"), &currency)?
        .ok_or_else(|| bad_request("The amount field is required.", Some("amount")))?;
    let receipt = match body.get("receipt") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= 40 => Some(r.clone()),
        Some(Value::String(_)) => {
            return Err(bad_request(
                "The receipt may not be greater than 40 characters.",
                Some("receipt"),
            ))
        }
        Some(_) => {
            return Err(bad_request(
                "The receipt must be a string.",
                Some("receipt"),
            ))
        }
    };
    Ok(FakeOrder {
        id: razorpay_like_id("order"),
        amount,
        amount_paid: 0,
        currency,
        receipt,
        status: "created".into(),
        attempts: 0,
        notes: notes_field(body.get("notes"))?,
        created_at: now(),
    })
}

async fn fetch_order(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.lock().orders.iter().find(|o| o.id == id) {
        Some(order) => Json(order_json(order)).into_response(),
        None => no_such_id().into_response(),
    }
}

async fn fetch_order_payments(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Response {
    let ledger = shared.lock();
    if !ledger.orders.iter().any(|o| o.id == id) {
        return no_such_id().into_response();
    }
    let items: Vec<Value> = ledger
        .payments
        .iter()
        .filter(|p| p.order_id == id)
        .map(payment_json)
        .collect();
    Json(json!({"entity": "collection", "count": items.len(), "items": items})).into_response()
}

/// `POST /payments/:id/capture`: only an `authorized` payment, and only for its own amount and
/// currency, as Razorpay documents; anything else is a 400 that changes nothing.
async fn capture_payment(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return bad_request("The request body is not valid JSON", None).into_response(),
    };
    let mut ledger = shared.lock();
    let Some(index) = ledger.payments.iter().position(|p| p.id == id) else {
        return no_such_id().into_response();
    };
    let payment = &ledger.payments[index];
    if payment.status != "authorized" {
        return bad_request("This payment has already been captured", None).into_response();
    }
    if request["amount"].as_i64() != Some(payment.amount) {
        return bad_request(
            "Capture amount must be equal to the amount authorized",
            Some("amount"),
        )
        .into_response();
    }
    if request["currency"].as_str() != Some(payment.currency.as_str()) {
        return bad_request(
            "The currency should be same as the payment currency",
            Some("currency"),
        )
        .into_response();
    }
    let order_id = payment.order_id.clone();
    let amount = payment.amount;
    let payment = &mut ledger.payments[index];
    payment.status = "captured".into();
    payment.captured = true;
    let json = payment_json(payment);
    if let Some(order) = ledger.orders.iter_mut().find(|o| o.id == order_id) {
        order.amount_paid = (order.amount_paid + amount).min(order.amount);
        if order.amount_paid >= order.amount {
            order.status = "paid".into();
        }
    }
    Json(json).into_response()
}

async fn fetch_payment(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.lock().payments.iter().find(|p| p.id == id) {
        Some(payment) => Json(payment_json(payment)).into_response(),
        None => no_such_id().into_response(),
    }
}

/// What a refund request asks for, once checked against the payment.
struct RefundPlan {
    amount: i64,
    currency: String,
}

/// Razorpay's refund rules: only captured payments, at least ₹1.00, never more than what is
/// captured and not yet refunded; no amount means all of that.
fn plan_refund(
    ledger: &Ledger,
    payment_id: &str,
    body: &Map<String, Value>,
) -> Result<RefundPlan, Refusal> {
    let payment = ledger
        .payments
        .iter()
        .find(|p| p.id == payment_id)
        .ok_or_else(no_such_id)?;
    if payment.status == "refunded" {
        return Err(bad_request(
            "The payment has been fully refunded already",
            None,
        ));
    }
    if payment.status != "captured" {
        return Err(bad_request(
            "Only payments which have been captured can be refunded",
            None,
        ));
    }
    let refundable = payment.amount - payment.amount_refunded;
    let amount = amount_field(body.get("amount"), &payment.currency)?.unwrap_or(refundable);
    if amount > refundable {
        return Err(bad_request(
            "The refund amount provided is greater than amount captured",
            Some("amount"),
        ));
    }
    match body.get("speed") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "normal" || s == "optimum" => {}
        Some(_) => return Err(bad_request("The selected speed is invalid.", Some("speed"))),
    }
    notes_field(body.get("notes"))?;
    Ok(RefundPlan {
        amount,
        currency: payment.currency.clone(),
    })
}

fn valid_idempotency_key(key: &str) -> bool {
    key.len() >= 10
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

enum RefundStep {
    Answer(Response),
    /// Checked and, with a key, reserved; to be made after any delay.
    Make,
}

async fn create_refund(
    State(shared): State<Arc<Shared>>,
    Path(payment_id): Path<String>,
    hang: Option<Extension<HangFor>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = hang.map(|Extension(HangFor(d))| d);
    let answer_late = |response: Response| async move {
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        response
    };
    let body = match json_object(&body).and_then(|b| {
        refuse_unknown_fields(&b, &["amount", "speed", "notes", "receipt"]).map(|_| b)
    }) {
        Ok(body) => body,
        Err(refusal) => return answer_late(refusal.into_response()).await,
    };
    let key = match headers.get("x-refund-idempotency").map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) if valid_idempotency_key(key) => Some(key.to_string()),
        Some(_) => {
            let refusal = bad_request(
                "The idempotency key must be at least 10 letters, digits, hyphens or underscores",
                None,
            );
            return answer_late(refusal.into_response()).await;
        }
    };

    let step = {
        let mut ledger = shared.lock();
        match key.as_ref().and_then(|k| ledger.idempotency.get(k)) {
            Some(Idempotency::InFlight) => RefundStep::Answer(
                (
                    StatusCode::CONFLICT,
                    Json(json!({"error": {
                        "code": "BAD_REQUEST_ERROR",
                        "description": "A request with the same idempotency key is being processed",
                        "source": "NA", "step": "NA", "reason": "NA", "metadata": {},
                    }})),
                )
                    .into_response(),
            ),
            Some(Idempotency::Done {
                payment_id: done_payment,
                request,
                refund_id,
            }) => {
                if *done_payment == payment_id && *request == body {
                    let refund = ledger.refunds.iter().find(|r| &r.id == refund_id).unwrap();
                    RefundStep::Answer(Json(refund_json(refund)).into_response())
                } else {
                    RefundStep::Answer(
                        bad_request(
                            "Different request with the same idempotency key has already been processed.",
                            None,
                        )
                        .into_response(),
                    )
                }
            }
            None => match plan_refund(&ledger, &payment_id, &body) {
                Err(refusal) => RefundStep::Answer(refusal.into_response()),
                Ok(_) => {
                    if let Some(key) = &key {
                        ledger
                            .idempotency
                            .insert(key.clone(), Idempotency::InFlight);
                    }
                    RefundStep::Make
                }
            },
        }
    };
    if let RefundStep::Answer(response) = step {
        return answer_late(response).await;
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }

    let mut ledger = shared.lock();
    // Checked again: another refund of the payment may have landed while this one waited.
    let plan = match plan_refund(&ledger, &payment_id, &body) {
        Ok(plan) => plan,
        Err(refusal) => {
            if let Some(key) = &key {
                ledger.idempotency.remove(key);
            }
            return refusal.into_response();
        }
    };
    let status = ledger.new_refund_status.clone();
    let refund = FakeRefund {
        id: razorpay_like_id("rfnd"),
        payment_id: payment_id.clone(),
        amount: plan.amount,
        currency: plan.currency,
        status,
        idempotency_key: key.clone(),
        notes: notes_field(body.get("notes")).unwrap_or_default(),
        created_at: now(),
    };
    let payment = ledger
        .payments
        .iter_mut()
        .find(|p| p.id == payment_id)
        .expect("planned against a known payment");
    payment.amount_refunded += refund.amount;
    if payment.amount_refunded >= payment.amount {
        payment.status = "refunded".into();
    }
    if let Some(key) = key {
        ledger.idempotency.insert(
            key,
            Idempotency::Done {
                payment_id,
                request: body,
                refund_id: refund.id.clone(),
            },
        );
    }
    let answer = refund_json(&refund);
    ledger.refunds.push(refund);
    Json(answer).into_response()
}
