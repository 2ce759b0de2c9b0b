//! The Razorpay client against the fake Razorpay: no database, no app, just the gateway half of
//! the payments work and how it behaves when Razorpay answers, refuses, fails or stalls.

use crate::fake_razorpay::FakeRazorpay;
use cartwright::config::{RazorpaySettings, Secret};
use cartwright::domain::money::Money;
use cartwright::payments::razorpay::{parse_webhook_event, RazorpayGateway};
use cartwright::payments::{
    CreateOrderRequest, GatewayError, GatewayOrderStatus, GatewayRefundStatus, PaymentGateway,
    RefundRequest,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY_ID: &str = "rzp_test_fake1234";
const KEY_SECRET: &str = "fake_key_secret";
const WEBHOOK_SECRET: &str = "fake_webhook_secret";

async fn fake() -> FakeRazorpay {
    FakeRazorpay::start(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).await
}

fn gateway_with(fake: &FakeRazorpay, key_secret: &str, timeout_ms: u64) -> RazorpayGateway {
    RazorpayGateway::new(&RazorpaySettings {
        key_id: KEY_ID.into(),
        key_secret: Secret::new(key_secret),
        webhook_secret: Secret::new(WEBHOOK_SECRET),
        api_base: fake.base_url(),
        timeout_ms,
    })
    .expect("gateway settings are valid")
}

fn gateway(fake: &FakeRazorpay) -> RazorpayGateway {
    gateway_with(fake, KEY_SECRET, 2_000)
}

fn order_request(amount: i64, receipt: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        amount: Money::from_minor(amount),
        currency: "INR".into(),
        receipt: receipt.into(),
        notes: vec![],
    }
}

fn refund_request(payment_id: &str, amount: i64, key: &str) -> RefundRequest {
    RefundRequest {
        payment_id: payment_id.into(),
        amount: Money::from_minor(amount),
        idempotency_key: key.into(),
        notes: vec![],
    }
}

/// An order of `amount` paise paid in full at the fake; returns (order id, payment id).
async fn paid_order(
    fake: &FakeRazorpay,
    gateway: &RazorpayGateway,
    amount: i64,
) -> (String, String) {
    let order = gateway
        .create_order(order_request(amount, "ORD1000000000001"))
        .await
        .unwrap();
    let (payment_id, _) = fake.pay(&order.id);
    (order.id, payment_id)
}

#[track_caller]
fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, GatewayError>) -> String {
    match result {
        Err(GatewayError::Unavailable(message)) => message,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(
    result: Result<T, GatewayError>,
) -> (String, String, Option<String>) {
    match result {
        Err(GatewayError::Rejected {
            code,
            description,
            field,
            ..
        }) => (code, description, field),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn razorpay_sdk_signature_vector_verifies_through_the_gateway() {
    let fake = fake().await;
    let gateway = gateway_with(&fake, "key_secret", 1_000);
    let vector = "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89";
    assert!(gateway.verify_payment_signature("fake_order_id", "fake_payment_id", vector));
    assert!(!gateway.verify_payment_signature("fake_order_id", "other_payment_id", vector));
    assert!(!gateway.verify_payment_signature("fake_order_id", "fake_payment_id", ""));
}

#[tokio::test]
async fn order_is_created_at_razorpay_with_amount_receipt_and_notes() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let order = gateway
        .create_order(CreateOrderRequest {
            notes: vec![("orderNumber".into(), "ORD1234567890123".into())],
            ..order_request(6134, "ORD1234567890123")
        })
        .await
        .unwrap();
    assert!(order.id.starts_with("order_"), "{}", order.id);
    assert_eq!(order.amount, Money::from_minor(6134));
    assert_eq!(order.amount_paid, Money::from_minor(0));
    assert_eq!(order.currency, "INR");
    assert_eq!(order.receipt.as_deref(), Some("ORD1234567890123"));
    assert_eq!(order.status, GatewayOrderStatus::Created);

    let recorded = fake.orders();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].amount, 6134);
    assert_eq!(recorded[0].receipt.as_deref(), Some("ORD1234567890123"));
    assert_eq!(recorded[0].notes["orderNumber"], "ORD1234567890123");

    assert_eq!(gateway.fetch_order(&order.id).await.unwrap(), order);
}

#[tokio::test]
async fn order_moves_from_created_to_attempted_to_paid() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let order = gateway
        .create_order(order_request(6134, "ORD1000000000002"))
        .await
        .unwrap();
    assert!(gateway
        .fetch_order_payments(&order.id)
        .await
        .unwrap()
        .is_empty());

    let failed_id = fake.fail_payment(&order.id);
    assert_eq!(
        gateway.fetch_order(&order.id).await.unwrap().status,
        GatewayOrderStatus::Attempted
    );
    let failed = gateway.fetch_payment(&failed_id).await.unwrap();
    assert_eq!(failed.status.as_str(), "failed");
    assert_eq!(failed.error_code.as_deref(), Some("BAD_REQUEST_ERROR"));
    assert!(failed.error_description.is_some());

    let (payment_id, signature) = fake.pay(&order.id);
    assert!(gateway.verify_payment_signature(&order.id, &payment_id, &signature));
    let fetched = gateway.fetch_order(&order.id).await.unwrap();
    assert_eq!(fetched.status, GatewayOrderStatus::Paid);
    assert_eq!(fetched.amount_paid, Money::from_minor(6134));
    let payments = gateway.fetch_order_payments(&order.id).await.unwrap();
    let statuses: Vec<&str> = payments.iter().map(|p| p.status.as_str()).collect();
    assert_eq!(statuses, ["failed", "captured"]);
    let payment = gateway.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.order_id.as_deref(), Some(order.id.as_str()));
    assert_eq!(payment.amount, Money::from_minor(6134));
    assert_eq!(payment.method.as_deref(), Some("card"));
}

#[tokio::test]
async fn unknown_ids_are_the_gateways_rejection() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (code, description, _) = assert_rejected(gateway.fetch_payment("pay_DoesNotExist00").await);
    assert_eq!(code, "BAD_REQUEST_ERROR");
    assert_eq!(description, "The id provided does not exist");
    // A 4xx is an answer, not an outage: asked once.
    assert_eq!(fake.request_count("/payments/pay_DoesNotExist00"), 1);
}

#[tokio::test]
async fn amount_below_one_rupee_and_long_receipt_are_refused_before_calling() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (_, _, field) = assert_rejected(gateway.create_order(order_request(99, "ORD1")).await);
    assert_eq!(field.as_deref(), Some("amount"));
    let (_, _, field) = assert_rejected(
        gateway
            .create_order(order_request(100, &"R".repeat(41)))
            .await,
    );
    assert_eq!(field.as_deref(), Some("receipt"));
    assert_eq!(fake.request_count("/"), 0);
    // The limits are inclusive.
    gateway
        .create_order(order_request(100, &"R".repeat(40)))
        .await
        .unwrap();
}

#[tokio::test]
async fn fake_refuses_invalid_orders_as_razorpay_does() {
    let fake = fake().await;
    let http = reqwest::Client::new();
    let post = |body: Value| {
        http.post(format!("{}/orders", fake.base_url()))
            .basic_auth(KEY_ID, Some(KEY_SECRET))
            .json(&body)
            .send()
    };
    for (body, field) in [
        (json!({"amount": 99, "currency": "INR"}), "amount"),
        (json!({"amount": 61.34, "currency": "INR"}), "amount"),
        (json!({"amount": "6134", "currency": "INR"}), "amount"),
        (json!({"currency": "INR"}), "amount"),
        (json!({"amount": 6134}), "currency"),
        (
            json!({"amount": 6134, "currency": "INR", "receipt": "R".repeat(41)}),
            "receipt",
        ),
        (
            json!({"amount": 6134, "currency": "INR", "colour": "red"}),
            "colour",
        ),
    ] {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "BAD_REQUEST_ERROR", "{body}");
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    let ok: Value = post(json!({"amount": 100, "currency": "INR"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["notes"], json!([]), "empty notes come back as an array");
    assert_eq!(ok["amount_due"], 100);

    let unauthorised = http
        .post(format!("{}/orders", fake.base_url()))
        .json(&json!({"amount": 100, "currency": "INR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    let error: Value = unauthorised.json().await.unwrap();
    assert_eq!(error["error"]["code"], "BAD_REQUEST_ERROR");
    assert_eq!(fake.orders().len(), 1);
}

#[tokio::test]
async fn wrong_keys_are_a_configuration_error_naming_the_key() {
    let fake = fake().await;
    let gateway = gateway_with(&fake, "not-the-secret", 2_000);
    match gateway.create_order(order_request(6134, "ORD1")).await {
        Err(GatewayError::Configuration(message)) => {
            assert!(message.contains(KEY_ID), "{message}");
            assert!(message.contains("configuration"), "{message}");
            assert!(!message.contains("not-the-secret"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // Retrying cannot fix credentials, even for a read.
    assert!(matches!(
        gateway.fetch_order("order_Anything000000").await,
        Err(GatewayError::Configuration(_))
    ));
    assert_eq!(fake.request_count("/orders"), 2);
    assert!(fake.orders().is_empty());
}

#[tokio::test]
async fn server_error_on_create_order_is_unavailable_and_never_retried() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    fake.fail_next(1, 500);
    assert_unavailable(gateway.create_order(order_request(6134, "ORD1")).await);
    assert_eq!(fake.request_count_for("POST", "/orders"), 1);
    assert!(fake.orders().is_empty());
    // The next checkout goes through.
    gateway
        .create_order(order_request(6134, "ORD1"))
        .await
        .unwrap();
}

#[tokio::test]
async fn server_errors_on_reads_are_retried_with_backoff() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let order = gateway
        .create_order(order_request(6134, "ORD1"))
        .await
        .unwrap();
    let path = format!("/orders/{}", order.id);

    fake.fail_next(2, 503);
    let started = Instant::now();
    assert_eq!(gateway.fetch_order(&order.id).await.unwrap(), order);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "backed off 100 + 400 ms"
    );
    assert_eq!(fake.request_count_for("GET", &path), 3);

    fake.fail_next(3, 500);
    let message = assert_unavailable(gateway.fetch_order(&order.id).await);
    assert!(message.contains("500"), "{message}");
    assert_eq!(fake.request_count_for("GET", &path), 6);

    fake.fail_next(1, 502);
    assert!(gateway
        .fetch_order_payments(&order.id)
        .await
        .unwrap()
        .is_empty());
    fake.fail_next(1, 429);
    gateway.fetch_order(&order.id).await.unwrap();
}

#[tokio::test]
async fn create_order_hanging_past_the_timeout_is_unavailable_in_bounded_time() {
    let fake = fake().await;
    let gateway = gateway_with(&fake, KEY_SECRET, 300);
    fake.hang_next(1, Duration::from_secs(2));
    let started = Instant::now();
    let message = assert_unavailable(gateway.create_order(order_request(6134, "ORD1")).await);
    assert!(message.contains("300 ms"), "{message}");
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.request_count_for("POST", "/orders"), 1);
}

#[tokio::test]
async fn reads_hanging_past_the_timeout_are_retried_and_bounded() {
    let fake = fake().await;
    let gateway = gateway_with(&fake, KEY_SECRET, 300);
    let order = gateway
        .create_order(order_request(6134, "ORD1"))
        .await
        .unwrap();

    fake.hang_next(1, Duration::from_secs(2));
    let started = Instant::now();
    gateway.fetch_order(&order.id).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );

    fake.hang_next(3, Duration::from_secs(3));
    let started = Instant::now();
    assert_unavailable(gateway.fetch_payment("pay_Whatever000000").await);
    // Three attempts of 300 ms and 500 ms of backoff.
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.request_count("/payments/pay_Whatever000000"), 3);
}

#[tokio::test]
async fn closed_port_is_unavailable() {
    let gateway = RazorpayGateway::new(&RazorpaySettings {
        key_id: KEY_ID.into(),
        key_secret: Secret::new(KEY_SECRET),
        webhook_secret: Secret::new(WEBHOOK_SECRET),
        // Port 9 (discard) has no listener here.
        api_base: "http://127.0.0.1:9/v1".into(),
        timeout_ms: 500,
    })
    .unwrap();
    let message = assert_unavailable(gateway.create_order(order_request(6134, "ORD1")).await);
    assert!(message.contains("connect"), "{message}");
}

#[tokio::test]
async fn partial_then_full_refund_moves_the_payment_to_refunded() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;

    let partial = gateway
        .refund(refund_request(&payment_id, 1000, "refund-partial-0001"))
        .await
        .unwrap();
    assert!(partial.id.starts_with("rfnd_"), "{}", partial.id);
    assert_eq!(partial.payment_id, payment_id);
    assert_eq!(partial.amount, Money::from_minor(1000));
    assert_eq!(partial.status, GatewayRefundStatus::Processed);
    let payment = gateway.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.amount_refunded, Money::from_minor(1000));
    assert_eq!(payment.status.as_str(), "captured");

    let rest = gateway
        .refund(refund_request(&payment_id, 5134, "refund-rest-00002"))
        .await
        .unwrap();
    assert_eq!(rest.amount, Money::from_minor(5134));
    let payment = gateway.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.amount_refunded, Money::from_minor(6134));
    assert_eq!(payment.status.as_str(), "refunded");

    let refunds = fake.refunds();
    assert_eq!(refunds.len(), 2);
    assert_eq!(
        refunds[0].idempotency_key.as_deref(),
        Some("refund-partial-0001")
    );
}

#[tokio::test]
async fn refunds_beyond_what_was_captured_are_rejected() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;

    let (code, description, _) = assert_rejected(
        gateway
            .refund(refund_request(&payment_id, 6135, "refund-too-much-01"))
            .await,
    );
    assert_eq!(code, "BAD_REQUEST_ERROR");
    assert!(description.contains("greater than"), "{description}");

    gateway
        .refund(refund_request(&payment_id, 5000, "refund-first-0001"))
        .await
        .unwrap();
    assert_rejected(
        gateway
            .refund(refund_request(&payment_id, 1135, "refund-second-001"))
            .await,
    );
    gateway
        .refund(refund_request(&payment_id, 1134, "refund-second-002"))
        .await
        .unwrap();
    let (_, description, _) = assert_rejected(
        gateway
            .refund(refund_request(&payment_id, 100, "refund-third-0001"))
            .await,
    );
    assert!(description.contains("fully refunded"), "{description}");
    assert_eq!(fake.refunds().len(), 2);
}

#[tokio::test]
async fn refunds_of_payments_not_captured_are_rejected() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let order = gateway
        .create_order(order_request(6134, "ORD1"))
        .await
        .unwrap();
    let failed = fake.fail_payment(&order.id);
    assert_rejected(
        gateway
            .refund(refund_request(&failed, 6134, "refund-failed-001"))
            .await,
    );
    assert!(fake.refunds().is_empty());
}

#[tokio::test]
async fn retried_refund_with_the_same_key_refunds_once() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;

    let first = gateway
        .refund(refund_request(&payment_id, 6134, "cancel-ORD1-refund"))
        .await
        .unwrap();
    let again = gateway
        .refund(refund_request(&payment_id, 6134, "cancel-ORD1-refund"))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(fake.refunds().len(), 1);
    assert_eq!(fake.request_count_for("POST", "/payments"), 2);

    // The same key for a different request is Razorpay's BAD_REQUEST, not a second refund.
    let (_, description, _) = assert_rejected(
        gateway
            .refund(refund_request(&payment_id, 1000, "cancel-ORD1-refund"))
            .await,
    );
    assert!(description.contains("idempotency key"), "{description}");
    assert_eq!(fake.refunds().len(), 1);
}

#[tokio::test]
async fn refund_server_error_is_retried_without_refunding_twice() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;
    fake.fail_next_on("POST", "/payments", 2, 502);
    let refund = gateway
        .refund(refund_request(&payment_id, 6134, "refund-after-502s"))
        .await
        .unwrap();
    assert_eq!(refund.amount, Money::from_minor(6134));
    assert_eq!(fake.request_count_for("POST", "/payments"), 3);
    assert_eq!(fake.refunds().len(), 1);
}

#[tokio::test]
async fn refund_answered_after_the_timeout_is_not_refunded_twice() {
    let fake = fake().await;
    let gateway = gateway_with(&fake, KEY_SECRET, 300);
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;

    // Razorpay makes the refund but answers after every attempt has given up; meanwhile the
    // retries find the key in flight (409).
    fake.hang_next_on("POST", "/payments", 1, Duration::from_secs(2));
    assert_unavailable(
        gateway
            .refund(refund_request(&payment_id, 6134, "refund-slow-00001"))
            .await,
    );
    assert_eq!(fake.request_count_for("POST", "/payments"), 3);
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.refunds().is_empty() {
        assert!(Instant::now() < deadline, "the slow refund never landed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Retrying later with the same key returns the refund that was made.
    let refund = gateway
        .refund(refund_request(&payment_id, 6134, "refund-slow-00001"))
        .await
        .unwrap();
    assert_eq!(refund.id, fake.refunds()[0].id);
    assert_eq!(fake.refunds().len(), 1);

    // A shorter stall is absorbed by the retries of the same call.
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;
    fake.hang_next_on("POST", "/payments", 1, Duration::from_millis(500));
    let refund = gateway
        .refund(refund_request(&payment_id, 6134, "refund-slow-00002"))
        .await
        .unwrap();
    assert_eq!(refund.payment_id, payment_id);
    assert_eq!(fake.refunds().len(), 2);
}

#[tokio::test]
async fn error_envelopes_with_missing_fields_and_odd_bodies_are_read() {
    let fake = fake().await;
    let gateway = gateway(&fake);

    fake.respond_next(1, 400, r#"{"error":{"description":"Only a description"}}"#);
    let (code, description, field) =
        assert_rejected(gateway.create_order(order_request(6134, "ORD1")).await);
    assert_eq!(code, "HTTP_400");
    assert_eq!(description, "Only a description");
    assert_eq!(field, None);

    fake.respond_next(
        1,
        400,
        r#"{"error":{"code":"BAD_REQUEST_ERROR","description":"Receipt is bad","field":"receipt","reason":"input_validation_failed","metadata":[]}}"#,
    );
    match gateway.create_order(order_request(6134, "ORD1")).await {
        Err(GatewayError::Rejected {
            code,
            field,
            reason,
            ..
        }) => {
            assert_eq!(code, "BAD_REQUEST_ERROR");
            assert_eq!(field.as_deref(), Some("receipt"));
            assert_eq!(reason.as_deref(), Some("input_validation_failed"));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    fake.respond_next(1, 403, "<html><body>Forbidden</body></html>");
    let (code, description, _) =
        assert_rejected(gateway.create_order(order_request(6134, "ORD1")).await);
    assert_eq!(code, "HTTP_403");
    assert!(description.contains("403"), "{description}");

    fake.respond_next(1, 200, "this is not JSON");
    assert!(matches!(
        gateway.create_order(order_request(6134, "ORD1")).await,
        Err(GatewayError::BadResponse(_))
    ));
    fake.respond_next(1, 200, r#"{"id":"order_NoAmount000000","entity":"order"}"#);
    assert!(matches!(
        gateway.create_order(order_request(6134, "ORD1")).await,
        Err(GatewayError::BadResponse(_))
    ));
}

#[tokio::test]
async fn entities_with_empty_notes_array_and_unknown_fields_are_tolerated() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    fake.respond_next(
        1,
        200,
        r#"{"id":"order_Canned00000001","entity":"order","amount":6134,"amount_paid":0,
            "amount_due":6134,"currency":"INR","receipt":"ORD1","offer_id":null,
            "status":"created","attempts":0,"notes":[],"created_at":1700000000,
            "a_field_from_the_future":{"nested":[1,2,3]}}"#,
    );
    let order = gateway
        .create_order(order_request(6134, "ORD1"))
        .await
        .unwrap();
    assert_eq!(order.id, "order_Canned00000001");
    assert_eq!(order.amount, Money::from_minor(6134));

    // Orders without notes really come back from the fake with `notes: []`.
    let order = gateway
        .create_order(order_request(6134, "ORD2"))
        .await
        .unwrap();
    gateway.fetch_order(&order.id).await.unwrap();
    let (payment_id, _) = fake.pay(&order.id);
    let payment = gateway.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.amount_refunded, Money::from_minor(0));
    assert_eq!(payment.error_description, None);
}

#[tokio::test]
async fn webhooks_are_signed_with_the_webhook_secret_and_parse() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (order_id, payment_id) = paid_order(&fake, &gateway, 6134).await;

    let captured = fake.prepare_webhook("payment.captured", &payment_id);
    assert!(gateway.verify_webhook_signature(&captured.body, &captured.signature));
    let mut tampered = captured.body.clone();
    tampered[10] ^= 1;
    assert!(!gateway.verify_webhook_signature(&tampered, &captured.signature));
    let signed_with_key_secret =
        cartwright::payments::hmac_sha256_hex(KEY_SECRET.as_bytes(), &captured.body);
    assert!(!gateway.verify_webhook_signature(&captured.body, &signed_with_key_secret));
    assert_eq!(fake.sign_webhook(&captured.body), captured.signature);

    let event = parse_webhook_event(&captured.body).unwrap();
    assert_eq!(event.event, "payment.captured");
    assert_eq!(event.contains, ["payment"]);
    let payment = event.payment.unwrap();
    assert_eq!(payment.id, payment_id);
    assert_eq!(payment.order_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(payment.status.as_str(), "captured");

    let paid = parse_webhook_event(&fake.prepare_webhook("order.paid", &order_id).body).unwrap();
    assert_eq!(paid.order.unwrap().status, GatewayOrderStatus::Paid);
    assert_eq!(paid.payment.unwrap().id, payment_id);

    let refund = gateway
        .refund(refund_request(&payment_id, 2000, "refund-webhook-001"))
        .await
        .unwrap();
    let processed =
        parse_webhook_event(&fake.prepare_webhook("refund.processed", &refund.id).body).unwrap();
    assert_eq!(processed.refund.unwrap(), refund);
    assert_eq!(
        processed.payment.unwrap().amount_refunded,
        Money::from_minor(2000)
    );
}

/// A stand-in for the app's webhook endpoint: checks the signature as the app must and records
/// what arrived.
async fn webhook_receiver(
    secret: &'static str,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    use axum::http::{HeaderMap, StatusCode};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/webhooks/razorpay",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                if !cartwright::payments::verify_hmac_hex(
                    secret.as_bytes(),
                    &body,
                    &header("x-razorpay-signature"),
                ) {
                    return StatusCode::BAD_REQUEST;
                }
                let event = serde_json::from_slice::<Value>(&body).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_string();
                log.lock()
                    .unwrap()
                    .push((header("x-razorpay-event-id"), event));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/razorpay",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, seen)
}

#[tokio::test]
async fn fake_delivers_signed_webhooks_repeated_and_out_of_order() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (url, seen) = webhook_receiver(WEBHOOK_SECRET).await;
    fake.set_webhook_target(&url);
    let (order_id, payment_id) = paid_order(&fake, &gateway, 6134).await;

    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );

    // Prepared now, delivered later and in reverse, the order.paid one twice.
    let paid = fake.prepare_webhook("order.paid", &order_id);
    let refund = gateway
        .refund(refund_request(&payment_id, 6134, "refund-ooo-000001"))
        .await
        .unwrap();
    let processed = fake.prepare_webhook("refund.processed", &refund.id);
    assert_eq!(fake.deliver(&processed).await, 200);
    assert_eq!(fake.deliver(&paid).await, 200);
    assert_eq!(fake.deliver(&paid).await, 200);

    // Wrong, missing and other-secret signatures.
    assert_eq!(
        fake.deliver_raw(&paid.body, Some("deadbeef"), Some("evt_bad"))
            .await,
        400
    );
    assert_eq!(
        fake.deliver_raw(&paid.body, None, Some("evt_bad")).await,
        400
    );
    let other = cartwright::payments::hmac_sha256_hex(b"another-secret", &paid.body);
    assert_eq!(fake.deliver_raw(&paid.body, Some(&other), None).await, 400);

    let seen = seen.lock().unwrap().clone();
    let events: Vec<&str> = seen.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(
        events,
        [
            "payment.captured",
            "refund.processed",
            "order.paid",
            "order.paid"
        ]
    );
    assert_eq!(seen[2].0, paid.event_id, "a redelivery keeps its event id");
    assert_eq!(seen[3].0, paid.event_id);
    assert_ne!(seen[0].0, seen[2].0);
    let statuses: Vec<u16> = fake.deliveries().iter().map(|d| d.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 400, 400, 400]);
}

#[tokio::test]
async fn pending_refunds_settle_later_and_a_failed_one_frees_the_amount() {
    let fake = fake().await;
    let gateway = gateway(&fake);
    let (_, payment_id) = paid_order(&fake, &gateway, 6134).await;
    fake.set_refund_status("pending");
    let refund = gateway
        .refund(refund_request(&payment_id, 6134, "refund-pending-01"))
        .await
        .unwrap();
    assert_eq!(refund.status, GatewayRefundStatus::Pending);
    assert_eq!(
        gateway
            .fetch_payment(&payment_id)
            .await
            .unwrap()
            .status
            .as_str(),
        "refunded"
    );

    fake.settle_refund(&refund.id, "failed");
    let event =
        parse_webhook_event(&fake.prepare_webhook("refund.failed", &refund.id).body).unwrap();
    assert_eq!(event.refund.unwrap().status, GatewayRefundStatus::Failed);
    let payment = gateway.fetch_payment(&payment_id).await.unwrap();
    assert_eq!(payment.amount_refunded, Money::from_minor(0));
    assert_eq!(payment.status.as_str(), "captured");
}
