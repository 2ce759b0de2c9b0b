//! Unit tests of the Razorpay client's own checks and of its parsers; no call reaches Razorpay.

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
    assert_eq!(order.amount, Money::from_minor(6134));
    assert_eq!(order.receipt, None);

    let payment: PaymentWire = serde_json::from_str(
        r#"{"id":"pay_A","entity":"payment","amount":6134,"currency":"INR","status":"failed",
            "order_id":"order_A","method":"card","amount_refunded":null,"refund_status":null,
            "notes":{"k":"v"},"error_code":"BAD_REQUEST_ERROR","error_description":"",
            "card":{"last4":"1111"}}"#,
    )
    .unwrap();
    let payment = GatewayPayment::from(payment);
    assert_eq!(payment.amount_refunded, Money::ZERO);
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
    assert_eq!(
        event.refund.as_ref().unwrap().amount,
        Money::from_minor(500)
    );
    assert_eq!(
        event.payment.as_ref().unwrap().amount_refunded,
        Money::from_minor(500)
    );
    assert_eq!(event.order, None);

    let unknown = br#"{"entity":"event","event":"settlement.processed","contains":["settlement"],
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
