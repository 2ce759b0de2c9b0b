//! Issue 9's money-path defects, each pinned by a test against the fake Razorpay (or the
//! simulated gateway where that is what a shop runs): money is only taken and kept when the
//! gateway holds a capture of the order's amount and currency for that order, and every capture
//! that cannot pay an order is refunded exactly once.

use crate::fake_razorpay::FakeRazorpay;
use crate::helpers::{checkout_signature, Db, TestApp};
use crate::razorpay_shop::{shop, KEY_SECRET, WEBHOOK_SECRET};
use serde_json::{json, Value};

crate::db_tests!(
    forged_webhooks_confirm_nothing,
    authorized_payment_is_captured_once_then_confirms,
    payment_of_another_order_or_amount_confirms_nothing,
    second_capture_of_a_paid_order_is_refunded_exactly_once,
    racing_extra_captures_are_each_refunded_once,
    late_capture_after_a_day_is_still_refunded,
    capture_in_another_currency_confirms_nothing,
    refunds_are_retried_then_failed_ones_listed_and_retried_by_an_admin,
    one_simulated_payment_cannot_confirm_two_orders,
    zero_total_orders_need_no_gateway,
    a_cancelled_order_never_answers_success,
);

/// `POST /orders/verify-payment` as the browser sends it after Razorpay Checkout.
async fn verify(
    app: &TestApp,
    token: &str,
    gateway_order: &str,
    payment_id: &str,
    signature: &str,
) -> crate::helpers::Resp {
    app.post(
        "/orders/verify-payment",
        Some(token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
    )
    .await
}

async fn order_of(app: &TestApp, token: &str, order_id: &str) -> Value {
    app.get(&format!("/orders/{order_id}"), Some(token))
        .await
        .expect(200)
        .data()
        .clone()
}

fn refunds_of(fake: &FakeRazorpay, payment_id: &str) -> usize {
    fake.refunds()
        .iter()
        .filter(|r| r.payment_id == payment_id)
        .count()
}

/// Hex HMAC-SHA256 computed by Python's `hmac` module, not by the project's own signing code.
fn independent_hmac(secret: &str, message: &[u8]) -> String {
    let script = "import hmac,hashlib,sys; key=sys.argv[1].encode(); \
                  print(hmac.new(key, sys.stdin.buffer.read(), hashlib.sha256).hexdigest())";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn post_webhook(app: &TestApp, body: &[u8], signature: &str) -> u16 {
    app.client
        .post(app.url("/webhooks/razorpay"))
        .header("content-type", "application/json")
        .header("x-razorpay-signature", signature)
        .header(
            "x-razorpay-event-id",
            format!("evt_{}", crate::helpers::unique()),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Defect 1: a webhook signed with a public default or an empty secret is refused, and even one
/// signed with the real secret confirms nothing the gateway does not hold.
async fn forged_webhooks_confirm_nothing(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Forged Fern", 10.0, 5).await;
    let (_, token) = app.customer("Forger").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let total = fake.order(&gateway_order).unwrap().amount;
    let body = serde_json::to_vec(&json!({
        "entity": "event", "event": "payment.captured", "contains": ["payment"], "created_at": 1,
        "payload": {"payment": {"entity": {
            "id": "pay_ForgedPayment01", "entity": "payment", "amount": total, "currency": "INR",
            "status": "captured", "order_id": gateway_order, "captured": true}}}
    }))
    .unwrap();
    for secret in ["simulated_webhook_secret", "simulated_secret", ""] {
        let signature = independent_hmac(secret, &body);
        assert_eq!(
            post_webhook(&app, &body, &signature).await,
            400,
            "{secret:?}"
        );
    }
    // Even with the real secret (a leak), a payment the gateway does not hold confirms nothing.
    let signature = independent_hmac(WEBHOOK_SECRET, &body);
    assert_eq!(post_webhook(&app, &body, &signature).await, 200);
    assert_eq!(order_of(&app, &token, &order_id).await["status"], "pending");
    assert_eq!(app.product_json(&product).await["stock"], 5);
}

/// Defect 2: a payment left `authorized` is captured (once) before the order is confirmed.
async fn authorized_payment_is_captured_once_then_confirms(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Authorized Aloe", 20.0, 5).await;
    let (_, token) = app.customer("Authorizer").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.authorize(&gateway_order);
    let signature = independent_hmac(
        KEY_SECRET,
        format!("{gateway_order}|{payment_id}").as_bytes(),
    );
    let verified = verify(&app, &token, &gateway_order, &payment_id, &signature)
        .await
        .expect(200);
    assert_eq!(verified.data()["order"]["status"], "confirmed");
    assert_eq!(fake.payment(&payment_id).unwrap().status, "captured");
    // The authorized webhook and a repeated verify afterwards capture nothing more.
    assert_eq!(
        fake.send_webhook("payment.authorized", &payment_id).await,
        200
    );
    verify(&app, &token, &gateway_order, &payment_id, &signature)
        .await
        .expect(200);
    let captures = fake.request_count_for("POST", &format!("/payments/{payment_id}/capture"));
    assert_eq!(captures, 1);
    assert_eq!(app.product_json(&product).await["stock"], 4);
    assert_eq!(
        order_of(&app, &token, &order_id).await["paymentDetails"]["status"],
        "completed"
    );
}

/// Defects 2 and 5: the signature is right, but the payment belongs to another order or is of
/// another amount: nothing is confirmed; a capture of the wrong amount is refunded.
async fn payment_of_another_order_or_amount_confirms_nothing(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Mismatch Mint", 15.0, 10).await;
    let (_, token) = app.customer("Mismatcher").await;
    let (_, first_gateway) = app.unpaid_order(&token, &product, 1).await;
    let (second_id, second_gateway) = app.unpaid_order(&token, &product, 2).await;
    let (first_payment, _) = fake.pay(&first_gateway);
    // A valid signature over (second order | first order's payment).
    let signature = fake.payment_signature(&second_gateway, &first_payment);
    let refused = verify(&app, &token, &second_gateway, &first_payment, &signature)
        .await
        .expect(409);
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("another order"));
    assert_eq!(
        order_of(&app, &token, &second_id).await["status"],
        "pending"
    );

    // A capture of one paisa less for the second order: refunded, the order stays unpaid.
    let total = fake.order(&second_gateway).unwrap().amount;
    let (short_payment, signature) = fake.capture_amount(&second_gateway, total - 1, "INR");
    let refused = verify(&app, &token, &second_gateway, &short_payment, &signature)
        .await
        .expect(409);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("refunded"),
        "{}",
        refused.body
    );
    assert_eq!(
        order_of(&app, &token, &second_id).await["status"],
        "pending"
    );
    assert_eq!(refunds_of(&fake, &short_payment), 1);
    // The admin sees the refund flagged for review.
    let listed = app
        .get("/admin/refunds?status=processed", Some(&app.admin_token))
        .await
        .expect(200);
    let flagged = listed.data()["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["paymentId"] == json!(short_payment))
        .cloned()
        .expect("the refund is listed");
    assert!(
        flagged["reason"].as_str().unwrap().contains("NEEDS REVIEW"),
        "{flagged}"
    );
    // Reconciliation sees the same capture again and refunds nothing more.
    let later = chrono::Utc::now().timestamp_millis() + 10 * 60 * 1000;
    cartwright::jobs::run_once(&app.state, later).await.unwrap();
    assert_eq!(refunds_of(&fake, &short_payment), 1);
}

/// Defects 3 and 11 (sequential): a customer who pays twice gets the second payment back, once,
/// and the order shows that refund.
async fn second_capture_of_a_paid_order_is_refunded_exactly_once(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Twice Thyme", 12.0, 10).await;
    let (_, token) = app.customer("Twice").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (first, signature) = fake.pay(&gateway_order);
    verify(&app, &token, &gateway_order, &first, &signature)
        .await
        .expect(200);
    let total = fake.order(&gateway_order).unwrap().amount;
    let (second, signature) = fake.capture_amount(&gateway_order, total, "INR");
    let refused = verify(&app, &token, &gateway_order, &second, &signature)
        .await
        .expect(409);
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("refunded"));
    assert_eq!(fake.send_webhook("payment.captured", &second).await, 200);
    assert_eq!(refunds_of(&fake, &second), 1);
    assert_eq!(refunds_of(&fake, &first), 0);
    let order = order_of(&app, &token, &order_id).await;
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["paymentDetails"]["status"], "completed");
    let refunds = order["paymentDetails"]["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{order}");
    // The first payment still pays the order: nothing counted against it.
    assert_eq!(
        order["paymentDetails"]["refundedAmount"]
            .as_f64()
            .unwrap_or(0.0),
        0.0,
        "{order}"
    );
}

/// Defect 11 (concurrent): a cancelled order, then two webhooks with different payment ids, one
/// `POST /payments` and two verify-payments at once, 20 times: each extra capture refunded
/// exactly once, no 500, and the background pass still succeeds.
async fn racing_extra_captures_are_each_refunded_once(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Racing Rue", 10.0, 1000).await;
    let (_, token) = app.customer("Racer").await;
    for round in 0..20 {
        let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
        app.patch(
            &format!("/orders/{order_id}/cancel"),
            Some(&token),
            json!({"reason": "round"}),
        )
        .await
        .expect(200);
        let total = fake.order(&gateway_order).unwrap().amount;
        let a = fake.capture_amount(&gateway_order, total, "INR");
        let b = fake.capture_amount(&gateway_order, total, "INR");
        let c = fake.capture_amount(&gateway_order, total, "INR");
        let hooks = [
            fake.prepare_webhook("payment.captured", &a.0),
            fake.prepare_webhook("payment.captured", &b.0),
        ];
        let mut tasks = Vec::new();
        for hook in hooks {
            let fake_hook = hook.clone();
            let app_url = app.url("/webhooks/razorpay");
            let client = app.client.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .post(app_url)
                    .header("content-type", "application/json")
                    .header("x-razorpay-signature", &fake_hook.signature)
                    .header("x-razorpay-event-id", &fake_hook.event_id)
                    .body(fake_hook.body.clone())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for (url, body) in [
            (
                "/payments",
                json!({"orderId": order_id, "paymentMethod": "upi", "paymentId": c.0, "signature": c.1}),
            ),
            (
                "/orders/verify-payment",
                json!({"orderId": gateway_order, "paymentId": a.0, "signature": a.1}),
            ),
            (
                "/orders/verify-payment",
                json!({"orderId": gateway_order, "paymentId": b.0, "signature": b.1}),
            ),
        ] {
            let (client, url, token) = (app.client.clone(), app.url(url), token.clone());
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for task in tasks {
            let status = task.await.unwrap();
            // 402: that payment was refunded by a racing path already; never a 500.
            assert!(matches!(status, 200 | 402 | 409), "round {round}: {status}");
        }
        // Background sends (webhook path) settle; then a pass refunds anything left.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let later = chrono::Utc::now().timestamp_millis() + 10 * 60 * 1000;
        cartwright::jobs::run_once(&app.state, later)
            .await
            .expect("the background pass succeeds");
        for payment in [&a.0, &b.0, &c.0] {
            assert_eq!(refunds_of(&fake, payment), 1, "round {round}: {payment}");
        }
        let order = order_of(&app, &token, &order_id).await;
        assert_eq!(order["status"], "cancelled");
        assert_eq!(
            order["paymentDetails"]["refunds"].as_array().unwrap().len(),
            3,
            "{order}"
        );
    }
}

/// Defect 4: a capture three days after an unpaid order was cancelled is still refunded.
async fn late_capture_after_a_day_is_still_refunded(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Late Lavender", 10.0, 10).await;
    let (_, token) = app.customer("Latecomer").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    app.patch(
        &format!("/orders/{order_id}/cancel"),
        Some(&token),
        json!({"reason": "later"}),
    )
    .await
    .expect(200);
    let (payment_id, _) = fake.pay(&gateway_order);
    let three_days = 3 * 24 * 60 * 60 * 1000;
    let later = chrono::Utc::now().timestamp_millis() + three_days;
    cartwright::jobs::run_once(&app.state, later).await.unwrap();
    assert_eq!(refunds_of(&fake, &payment_id), 1);
    // Past the window (5 days by default) it is no longer asked about; nothing doubles meanwhile.
    cartwright::jobs::run_once(&app.state, later + 10 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(refunds_of(&fake, &payment_id), 1);
}

/// Defect 13: a capture in another currency with the right number confirms nothing.
async fn capture_in_another_currency_confirms_nothing(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Currency Cress", 10.0, 10).await;
    let (_, token) = app.customer("Traveller").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let total = fake.order(&gateway_order).unwrap().amount;
    let (payment_id, _) = fake.capture_amount(&gateway_order, total, "USD");
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    assert_eq!(order_of(&app, &token, &order_id).await["status"], "pending");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(refunds_of(&fake, &payment_id), 1);
}

/// Defect 8: a refund answered 500 or 429 is retried with back-off, not failed; a clear "bad
/// request" fails it, an admin sees it and retries it.
async fn refunds_are_retried_then_failed_ones_listed_and_retried_by_an_admin(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Refund Rosemary", 10.0, 10).await;
    let (_, token) = app.customer("Refundee").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    verify(&app, &token, &gateway_order, &payment_id, &signature)
        .await
        .expect(200);
    fake.fail_next_on("POST", "/payments", 3, 429);
    app.patch(
        &format!("/orders/{order_id}/cancel"),
        Some(&token),
        json!({"reason": "no"}),
    )
    .await
    .expect(200);
    assert_eq!(refunds_of(&fake, &payment_id), 0);
    let requested = app
        .get("/admin/refunds?status=requested", Some(&app.admin_token))
        .await
        .expect(200);
    let entry = &requested.data()["refunds"][0];
    assert!(entry["attempts"].as_i64().unwrap() >= 1, "{entry}");
    assert!(entry["nextAttemptAt"].is_string());
    // Not due yet: a pass now sends nothing; an hour later it goes out.
    let now = chrono::Utc::now().timestamp_millis();
    cartwright::jobs::run_once(&app.state, now + 3_600_000)
        .await
        .unwrap();
    assert_eq!(refunds_of(&fake, &payment_id), 1);
    assert_eq!(
        order_of(&app, &token, &order_id).await["paymentDetails"]["status"],
        "refunded"
    );

    // A clear refusal fails a refund at once; the admin lists and retries it.
    let (second_id, second_gateway) = app.unpaid_order(&token, &product, 1).await;
    let (second_payment, signature) = fake.pay(&second_gateway);
    verify(&app, &token, &second_gateway, &second_payment, &signature)
        .await
        .expect(200);
    fake.fail_next_on("POST", "/payments", 1, 400);
    app.patch(
        &format!("/orders/{second_id}/cancel"),
        Some(&token),
        json!({"reason": "no"}),
    )
    .await
    .expect(200);
    let failed = app
        .get("/admin/refunds?status=failed", Some(&app.admin_token))
        .await
        .expect(200);
    let listed = failed.data()["refunds"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", failed.body);
    assert_eq!(listed[0]["paymentId"], json!(second_payment));
    let refund_id = listed[0]["_id"].as_str().unwrap().to_string();
    app.get("/admin/refunds?status=bogus", Some(&app.admin_token))
        .await
        .expect(400);
    let (_, customer) = app.customer("Nosy").await;
    app.get("/admin/refunds", Some(&customer)).await.expect(403);
    let retried = app
        .post(
            &format!("/admin/refunds/{refund_id}/retry"),
            Some(&app.admin_token),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(retried.data()["status"], "processed");
    assert_eq!(refunds_of(&fake, &second_payment), 1);
    app.post(
        &format!("/admin/refunds/{refund_id}/retry"),
        Some(&app.admin_token),
        json!({}),
    )
    .await
    .expect(409);
}

/// Defect 12 (simulated gateway): one payment id with valid signatures for two gateway orders
/// confirms only the first; ids of any other shape are refused before use.
async fn one_simulated_payment_cannot_confirm_two_orders(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let product = app.product("Single Sage", 30.67, 10).await;
    let (_, token) = app.customer("Reuser").await;
    let (first_id, first_gateway) = app.unpaid_order(&token, &product, 1).await;
    let (second_id, second_gateway) = app.unpaid_order(&token, &product, 3).await;
    let payment = "pay_SharedPayment01";
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": first_gateway, "paymentId": payment, "signature": checkout_signature(&first_gateway, payment)}),
    )
    .await
    .expect(200);
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": second_gateway, "paymentId": payment, "signature": checkout_signature(&second_gateway, payment)}),
    )
    .await
    .expect(409);
    assert_eq!(
        order_of(&app, &token, &first_id).await["status"],
        "confirmed"
    );
    assert_eq!(
        order_of(&app, &token, &second_id).await["status"],
        "pending"
    );
    for bad in [
        "../../orders/x",
        &"p".repeat(304),
        "pay_Abc\u{202e}defghij",
        "pay_short",
    ] {
        let resp = app
            .post(
                "/orders/verify-payment",
                Some(&token),
                json!({"orderId": second_gateway, "paymentId": bad, "signature": checkout_signature(&second_gateway, bad)}),
            )
            .await
            .expect(400);
        assert_eq!(
            resp.body["errors"][0]["field"], "paymentId",
            "{}",
            resp.body
        );
    }
    assert_eq!(
        order_of(&app, &token, &second_id).await["status"],
        "pending"
    );
}

/// Defect 14: a total of zero is confirmed without the gateway; a total under 1.00 cannot be paid
/// online and says so.
async fn zero_total_orders_need_no_gateway(db: Db) {
    let Some(app) = TestApp::spawn(db).await else {
        return;
    };
    let product = app.product("Free Fennel", 10.0, 10).await;
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": "ALLFREE", "type": "fixed", "value": 1000, "minOrderAmount": 0}),
    )
    .await
    .expect(201);
    let (_, token) = app.customer("Freeloader").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    app.post(
        "/cart/discount",
        Some(&token),
        json!({"discountCode": "ALLFREE"}),
    )
    .await
    .expect(200);
    let created = app
        .post(
            "/orders",
            Some(&token),
            json!({"paymentMethod": "credit_card"}),
        )
        .await
        .expect(201);
    let order = &created.data()["order"];
    assert_eq!(order["status"], "confirmed", "{order}");
    assert_eq!(order["totalAmount"].as_f64(), Some(0.0));
    assert_eq!(order["paymentDetails"]["status"], "completed");
    assert!(created.data()["razorpayOrder"].is_null());
    assert_eq!(app.product_json(&product).await["stock"], 9);

    // 10.00 - 9.60 = 0.40, plus 18 % tax: 0.47 cannot be paid online, and nothing is written.
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": "ALMOST", "type": "fixed", "value": 9.6, "minOrderAmount": 0}),
    )
    .await
    .expect(201);
    app.add_to_cart(&token, &product, 1).await;
    app.post(
        "/cart/discount",
        Some(&token),
        json!({"discountCode": "ALMOST"}),
    )
    .await
    .expect(200);
    let refused = app
        .post("/orders", Some(&token), json!({"paymentMethod": "upi"}))
        .await
        .expect(400);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("at least 1.00"),
        "{}",
        refused.body
    );
    assert_eq!(app.product_json(&product).await["availableStock"], 9);
}

/// Defect 16: a paid order cancelled later never answers a verify-payment with success.
async fn a_cancelled_order_never_answers_success(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Cancelled Clove", 10.0, 10).await;
    let (_, token) = app.customer("Canceller").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    let body = json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature});
    app.post("/orders/verify-payment", Some(&token), body.clone())
        .await
        .expect(200);
    app.patch(
        &format!("/orders/{order_id}/cancel"),
        Some(&token),
        json!({"reason": "no"}),
    )
    .await
    .expect(200);
    let again = app.post("/orders/verify-payment", Some(&token), body).await;
    // 402: the payment is refunded at the gateway; never a success message.
    assert!(matches!(again.status.as_u16(), 402 | 409), "{}", again.body);
    assert_eq!(again.body["success"], false);
    let message = again.body["message"].as_str().unwrap();
    assert!(message.contains("refunded"), "{message}");
    assert_eq!(refunds_of(&fake, &payment_id), 1);
}
