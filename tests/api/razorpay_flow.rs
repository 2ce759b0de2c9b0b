//! The shop against a fake Razorpay that follows Razorpay's documented behaviour: checkout creates
//! a gateway order, payments confirm through verify-payment, webhooks or reconciliation exactly
//! once, refunds go out once, and a gateway that is down or misconfigured leaves nothing behind.

use crate::helpers::{Db, TestApp};
use crate::razorpay_shop::{shop, KEY_ID};
use serde_json::json;
use std::time::Duration;

crate::db_tests!(
    checkout_and_verify_against_razorpay,
    webhook_alone_confirms_the_order,
    repeated_webhooks_racing_verify_confirm_once,
    webhook_signature_is_checked,
    cancel_and_return_refund_exactly_once,
    refund_retried_after_a_timeout_is_not_doubled,
    gateway_errors_at_checkout_leave_nothing_behind,
    reconciliation_confirms_paid_orders_and_refunds_late_captures,
    failed_attempt_keeps_the_order_payable,
    refund_webhooks_settle_pending_refunds,
    webhook_is_answered_at_once_while_the_gateway_is_slow,
    webhook_whose_processing_failed_is_retried_by_the_jobs,
);

async fn order_state(app: &TestApp, token: &str, order_id: &str) -> serde_json::Value {
    app.get(&format!("/orders/{order_id}"), Some(token))
        .await
        .expect(200)
        .data()
        .clone()
}

async fn checkout_and_verify_against_razorpay(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Professional Hair Shampoo", 25.99, 50).await;
    let (_, token) = app.customer("Payer").await;
    let created = app
        .checkout(&token, &product, 2, "razorpay")
        .await
        .expect(201);
    let number = created.data()["order"]["orderNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let order_id = created.data()["orderId"].as_str().unwrap().to_string();
    let gateway_order = created.data()["razorpayOrder"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created.data()["paymentKey"], KEY_ID);
    let at_fake = fake
        .order(&gateway_order)
        .expect("the fake recorded the order");
    assert_eq!(at_fake.amount, 6134);
    assert_eq!(at_fake.currency, "INR");
    assert_eq!(at_fake.receipt.as_deref(), Some(number.as_str()));

    let (payment_id, signature) = fake.pay(&gateway_order);
    // A wrong signature changes nothing.
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": "0".repeat(64)}),
    )
    .await
    .expect(400);
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "pending"
    );
    assert_eq!(app.product_json(&product).await["stock"], 50);

    let verified = app
        .post(
            "/orders/verify-payment",
            Some(&token),
            json!({"razorpay_order_id": gateway_order, "razorpay_payment_id": payment_id, "razorpay_signature": signature}),
        )
        .await
        .expect(200);
    assert_eq!(verified.data()["order"]["status"], "confirmed");
    assert_eq!(verified.data()["receipt"]["total"], json!(61.34));
    assert_eq!(app.product_json(&product).await["stock"], 48);
}

async fn webhook_alone_confirms_the_order(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Webhook Wax", 10.0, 5).await;
    let (_, token) = app.customer("Closer").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 2).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    // The customer closed the browser: only Razorpay's webhook arrives.
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    let order = order_state(&app, &token, &order_id).await;
    assert_eq!(order["status"], "confirmed");
    assert_eq!(
        order["paymentDetails"]["razorpayPaymentId"],
        json!(payment_id)
    );
    assert_eq!(app.product_json(&product).await["stock"], 3);
    // order.paid for the same payment afterwards changes nothing.
    assert_eq!(fake.send_webhook("order.paid", &gateway_order).await, 200);
    assert_eq!(app.product_json(&product).await["stock"], 3);
}

async fn repeated_webhooks_racing_verify_confirm_once(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Race Rinse", 10.0, 10).await;
    let (_, token) = app.customer("Racer").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 4).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    let webhook = fake.prepare_webhook("payment.captured", &payment_id);
    let order_paid = fake.prepare_webhook("order.paid", &gateway_order);
    let mut deliveries = Vec::new();
    for _ in 0..3 {
        let fake = fake.clone();
        let webhook = webhook.clone();
        deliveries.push(tokio::spawn(async move { fake.deliver(&webhook).await }));
    }
    {
        let fake = fake.clone();
        deliveries.push(tokio::spawn(async move { fake.deliver(&order_paid).await }));
    }
    let verify = {
        let client = app.client.clone();
        let url = app.url("/orders/verify-payment");
        let token = token.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    for delivery in deliveries {
        assert_eq!(delivery.await.unwrap(), 200);
    }
    assert_eq!(verify.await.unwrap(), 200);
    let product_now = app.product_json(&product).await;
    assert_eq!(
        (
            product_now["stock"].as_i64(),
            product_now["availableStock"].as_i64()
        ),
        (Some(6), Some(6))
    );
    let tracking = app
        .get(&format!("/orders/{order_id}/tracking"), Some(&token))
        .await
        .expect(200);
    let confirmed = tracking.data()["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["status"] == "confirmed")
        .count();
    assert_eq!(confirmed, 1);
    let notes = app.get("/notifications", Some(&token)).await.expect(200);
    let confirmations = notes.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "order_confirmed")
        .count();
    assert_eq!(confirmations, 1);
}

async fn webhook_signature_is_checked(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Signed Soap", 10.0, 5).await;
    let (_, token) = app.customer("Signer").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    let webhook = fake.prepare_webhook("payment.captured", &payment_id);
    assert_eq!(
        fake.deliver_raw(&webhook.body, Some(&"a".repeat(64)), Some("evt_bad1"))
            .await,
        400
    );
    assert_eq!(
        fake.deliver_raw(&webhook.body, None, Some("evt_bad2"))
            .await,
        400
    );
    let mut tampered = webhook.body.clone();
    tampered.push(b' ');
    assert_eq!(
        fake.deliver_raw(&tampered, Some(&webhook.signature), Some("evt_bad3"))
            .await,
        400
    );
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "pending"
    );
    // Unknown events are acknowledged and ignored.
    let body =
        br#"{"entity":"event","event":"invoice.paid","contains":[],"payload":{},"created_at":1}"#;
    assert_eq!(
        fake.deliver_raw(body, Some(&fake.sign_webhook(body)), Some("evt_other"))
            .await,
        200
    );
    assert_eq!(fake.deliver(&webhook).await, 200);
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "confirmed"
    );
}

async fn cancel_and_return_refund_exactly_once(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Refundable Rouge", 100.0, 10).await;
    let (_, token) = app.customer("Refunded").await;

    // Cancel after payment: one full refund.
    let (cancel_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
    )
    .await
    .expect(200);
    let cancelled = app
        .patch(
            &format!("/orders/{cancel_id}/cancel"),
            Some(&token),
            json!({"reason": "Changed my mind"}),
        )
        .await
        .expect(200);
    let refunds: Vec<_> = fake
        .refunds()
        .into_iter()
        .filter(|r| r.payment_id == payment_id)
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 11800);
    let details = &cancelled.data()["paymentDetails"];
    assert_eq!(details["status"], "refunded");
    assert_eq!(details["refunds"][0]["id"], json!(refunds[0].id));
    assert_eq!(details["refunds"][0]["amount"], json!(118.0));
    // The job pass that resends refunds does not send it again.
    cartwright::jobs::run_once(&app.state, chrono::Utc::now().timestamp_millis())
        .await
        .unwrap();
    assert_eq!(
        fake.refunds()
            .iter()
            .filter(|r| r.payment_id == payment_id)
            .count(),
        1
    );

    // A completed return: one refund of the order total.
    let (return_id, gateway_order) = app.unpaid_order(&token, &product, 2).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    for status in ["shipped", "delivered"] {
        app.admin_status(
            &return_id,
            json!({"status": status, "trackingNumber": "TRK1"}),
        )
        .await
        .expect(200);
    }
    app.post(
        &format!("/orders/{return_id}/return"),
        Some(&token),
        json!({"reason": "Wrong shade"}),
    )
    .await
    .expect(200);
    for action in ["approve", "complete"] {
        app.patch(
            &format!("/orders/admin/{return_id}/return"),
            Some(&app.admin_token),
            json!({"action": action}),
        )
        .await
        .expect(200);
    }
    app.patch(
        &format!("/orders/admin/{return_id}/return"),
        Some(&app.admin_token),
        json!({"action": "complete"}),
    )
    .await
    .expect(409);
    let refunds: Vec<_> = fake
        .refunds()
        .into_iter()
        .filter(|r| r.payment_id == payment_id)
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 23600);
    let order = order_state(&app, &token, &return_id).await;
    assert_eq!(order["paymentDetails"]["refundedAmount"], json!(236.0));
    assert_eq!(app.product_json(&product).await["stock"], 10);
}

async fn refund_retried_after_a_timeout_is_not_doubled(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Slow Refund Serum", 50.0, 5).await;
    let (_, token) = app.customer("Patient").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    // Razorpay makes the refund but answers after our timeout, then refuses the in-flight key.
    fake.hang_next_on("POST", "/payments", 1, Duration::from_millis(2500));
    let cancelled = app
        .patch(
            &format!("/orders/{order_id}/cancel"),
            Some(&token),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(cancelled.data()["status"], "cancelled");
    assert_eq!(
        cancelled.data()["paymentDetails"]["refunds"][0]["status"],
        "requested"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The job sends it again, once its back-off has passed, with the same idempotency key:
    // Razorpay returns the same refund.
    cartwright::jobs::run_once(&app.state, chrono::Utc::now().timestamp_millis() + 60_000)
        .await
        .unwrap();
    let refunds: Vec<_> = fake
        .refunds()
        .into_iter()
        .filter(|r| r.payment_id == payment_id)
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let order = order_state(&app, &token, &order_id).await;
    assert_eq!(order["paymentDetails"]["status"], "refunded");
    assert_eq!(
        order["paymentDetails"]["refunds"][0]["id"],
        json!(refunds[0].id)
    );
    assert_eq!(order["paymentDetails"]["refundedAmount"], json!(59.0));
}

async fn gateway_errors_at_checkout_leave_nothing_behind(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Fragile Fluid", 10.0, 5).await;
    let (_, token) = app.customer("Unlucky").await;
    let nothing_written = |label: &'static str| {
        let app = &app;
        let token = token.clone();
        let product = product.clone();
        async move {
            let mine = app.get("/orders/my-orders", Some(&token)).await.expect(200);
            assert_eq!(mine.data()["pagination"]["totalOrders"], 0, "{label}");
            let p = app.product_json(&product).await;
            assert_eq!(
                (p["stock"].as_i64(), p["availableStock"].as_i64()),
                (Some(5), Some(5)),
                "{label}"
            );
            let cart = app.get("/cart/summary", Some(&token)).await.expect(200);
            assert_eq!(cart.data()["totalItems"], 2, "{label}");
        }
    };
    app.add_to_cart(&token, &product, 2).await;
    app.set_address(&token).await;

    fake.fail_next_on("POST", "/orders", 1, 500);
    let resp = app
        .post("/orders", Some(&token), json!({"paymentMethod": "upi"}))
        .await;
    assert!(matches!(resp.status.as_u16(), 502 | 503), "{}", resp.body);
    assert_eq!(
        fake.request_count_for("POST", "/orders"),
        1,
        "order creation is never retried"
    );
    nothing_written("500").await;

    fake.hang_next_on("POST", "/orders", 1, Duration::from_millis(3000));
    let resp = app
        .post("/orders", Some(&token), json!({"paymentMethod": "upi"}))
        .await
        .expect(503);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("unavailable"));
    nothing_written("timeout").await;

    // Wrong keys: Razorpay answers 401, the shop answers 502 naming its configuration.
    let wrong = TestApp::spawn_with(
        app.db,
        &[
            ("PAYMENT_GATEWAY", "razorpay"),
            ("RAZORPAY_KEY_ID", "rzp_test_WrongKey01"),
            ("RAZORPAY_KEY_SECRET", "wrong"),
            ("RAZORPAY_WEBHOOK_SECRET", "wrong"),
            ("RAZORPAY_API_BASE", fake.base_url().as_str()),
        ],
    )
    .await
    .unwrap();
    let wrong_product = wrong.product("Misconfigured Mist", 10.0, 5).await;
    let (_, wrong_token) = wrong.customer("Misconfigured").await;
    let resp = wrong
        .checkout(&wrong_token, &wrong_product, 1, "razorpay")
        .await
        .expect(502);
    assert!(
        resp.body["message"]
            .as_str()
            .unwrap()
            .contains("configuration"),
        "{}",
        resp.body
    );
    assert_eq!(
        wrong.product_json(&wrong_product).await["availableStock"],
        5
    );

    // The gateway back up: the same cart checks out.
    app.post("/orders", Some(&token), json!({"paymentMethod": "upi"}))
        .await
        .expect(201);
    assert_eq!(app.product_json(&product).await["availableStock"], 3);
}

async fn reconciliation_confirms_paid_orders_and_refunds_late_captures(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Reconciled Rosewater", 20.0, 10).await;
    let (_, token) = app.customer("Vanished").await;
    let now = chrono::Utc::now().timestamp_millis();

    // Paid at Razorpay; the client never came back and the webhook never arrived.
    let (paid_id, gateway_order) = app.unpaid_order(&token, &product, 2).await;
    fake.pay(&gateway_order);
    cartwright::jobs::run_once(&app.state, now + 3 * 60 * 1000)
        .await
        .unwrap();
    let order = order_state(&app, &token, &paid_id).await;
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["paymentDetails"]["status"], "completed");
    assert_eq!(app.product_json(&product).await["stock"], 8);

    // Expired unpaid, then paid anyway: the job refunds the capture.
    let (late_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    cartwright::jobs::run_once(&app.state, now + 31 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(
        order_state(&app, &token, &late_id).await["status"],
        "cancelled"
    );
    let (payment_id, _) = fake.pay(&gateway_order);
    cartwright::jobs::run_once(&app.state, now + 40 * 60 * 1000)
        .await
        .unwrap();
    let refunds: Vec<_> = fake
        .refunds()
        .into_iter()
        .filter(|r| r.payment_id == payment_id)
        .collect();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount, 2360);
    let order = order_state(&app, &token, &late_id).await;
    assert_eq!(order["status"], "cancelled");
    assert_eq!(
        order["paymentDetails"]["refunds"][0]["id"],
        json!(refunds[0].id)
    );
    // Stock of the cancelled order stayed released.
    assert_eq!(app.product_json(&product).await["availableStock"], 8);
    // Another pass changes nothing.
    cartwright::jobs::run_once(&app.state, now + 50 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(
        fake.refunds()
            .iter()
            .filter(|r| r.payment_id == payment_id)
            .count(),
        1
    );
}

async fn failed_attempt_keeps_the_order_payable(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Second Try Toner", 10.0, 5).await;
    let (_, token) = app.customer("Retry").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let failed = fake.fail_payment(&gateway_order);
    assert_eq!(fake.send_webhook("payment.failed", &failed).await, 200);
    let order = order_state(&app, &token, &order_id).await;
    assert_eq!(order["status"], "pending");
    assert_eq!(order["paymentDetails"]["status"], "pending");
    let (payment_id, signature) = fake.pay(&gateway_order);
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
    )
    .await
    .expect(200);
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "confirmed"
    );
}

async fn refund_webhooks_settle_pending_refunds(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Pending Refund Powder", 10.0, 5).await;
    let (_, token) = app.customer("Pending").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    fake.set_refund_status("pending");
    let cancelled = app
        .patch(
            &format!("/orders/{order_id}/cancel"),
            Some(&token),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(
        cancelled.data()["paymentDetails"]["refunds"][0]["status"],
        "pending"
    );
    let refund_id = fake.refunds()[0].id.clone();
    fake.settle_refund(&refund_id, "processed");
    let processed = fake.prepare_webhook("refund.processed", &refund_id);
    for _ in 0..2 {
        assert_eq!(fake.deliver(&processed).await, 200);
    }
    let order = order_state(&app, &token, &order_id).await;
    assert_eq!(order["paymentDetails"]["refunds"][0]["status"], "processed");
    assert_eq!(order["paymentDetails"]["status"], "refunded");
    assert_eq!(order["paymentDetails"]["refundedAmount"], json!(11.8));
}

async fn webhook_is_answered_at_once_while_the_gateway_is_slow(db: Db) {
    // The production client timeout, so the slow answer is waited for rather than given up on.
    let Some((fake, app)) = shop(db, &[("RAZORPAY_TIMEOUT_MS", "10000")]).await else {
        return;
    };
    let product = app.product("Slow Serum", 10.0, 5).await;
    let (_, token) = app.customer("Patient").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    fake.hang_next_on("GET", "/payments", 1, Duration::from_secs(8));
    let started = std::time::Instant::now();
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    let answered_in = started.elapsed();
    assert!(
        answered_in < Duration::from_secs(1),
        "answered in {answered_in:?}"
    );
    // The processing goes on after the answer and confirms once the gateway answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let order = order_state(&app, &token, &order_id).await;
        if order["status"] == "confirmed" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not confirmed: {order}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.product_json(&product).await["stock"], 4);
}

async fn webhook_whose_processing_failed_is_retried_by_the_jobs(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Retry Rinse", 10.0, 5).await;
    let (_, token) = app.customer("Retried").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    fake.fail_next_on("GET", "/payments", 1_000, 503);
    // Recorded and answered although it cannot be processed now (Razorpay would otherwise count
    // a failure against the webhook, and in time disable it).
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    // Wait for the first attempt to fail and give the event back for a later pass.
    let failed = "SELECT COUNT(*) FROM webhook_events
         WHERE pending_body LIKE '%' || $1 || '%' AND next_attempt_at < received_at + 30000";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.query_count(failed, &payment_id).await == 0 {
        assert!(std::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "pending"
    );
    fake.clear_faults();
    let now = chrono::Utc::now().timestamp_millis();
    // Not due yet: a pass now leaves it alone.
    cartwright::jobs::run_once(&app.state, now).await.unwrap();
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "pending"
    );
    cartwright::jobs::run_once(&app.state, now + 60_000)
        .await
        .unwrap();
    assert_eq!(
        order_state(&app, &token, &order_id).await["status"],
        "confirmed"
    );
    assert_eq!(app.product_json(&product).await["stock"], 4);
    // Done: later passes and a repeated delivery change nothing.
    cartwright::jobs::run_once(&app.state, now + 3_600_000)
        .await
        .unwrap();
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    assert_eq!(app.product_json(&product).await["stock"], 4);
}
