//! Checkout and the order lifecycle: the user flow, payment confirmation, stock exactness under
//! races, the state machine, ownership, cancellation, expiry, returns, stats and idempotency.

use crate::api_tests;
use crate::helpers::{checkout_signature, Db, TestApp};
use cartwright::domain::order::{Actor, OrderStatus, TRANSITIONS};
use serde_json::{json, Value};
use std::collections::HashSet;

api_tests!(
    user_flow_runs_end_to_end,
    complete_shopping_flow_with_signature,
    bad_signature_changes_nothing,
    last_units_go_to_exactly_as_many_buyers,
    confirming_from_two_paths_decrements_stock_once,
    cancel_releases_reservation_and_restocks_paid_orders,
    unpaid_orders_expire_and_release_stock,
    every_illegal_admin_transition_is_a_conflict,
    customers_cannot_touch_other_users_orders,
    return_flow_restocks_and_refunds,
    return_after_the_window_is_refused,
    stats_match_a_hand_computed_fixture,
    idempotency_key_replays_and_refuses_other_bodies,
    discount_with_one_use_left_goes_to_one_order,
    cash_on_delivery_is_paid_at_delivery,
    my_orders_filters_sorts_and_paginates,
    checkout_validates_its_input,
    vendor_sees_only_its_lines_and_cannot_move_shared_orders,
    a_taken_order_number_writes_nothing,
    stats_over_date_ranges_count_whole_and_partial_days,
    order_lists_show_the_refunds_the_single_order_shows,
);

fn id(resp: &Value) -> String {
    resp["_id"].as_str().unwrap().to_string()
}

async fn user_flow_runs_end_to_end(app: TestApp) {
    let (_, vendor) = app.user_with_role("Vendor", "vendor").await;
    let product = app
        .post(
            "/products",
            Some(&vendor),
            json!({"name": "Professional Hair Shampoo", "price": 25.99, "stock": 10, "brand": "SalonPro", "category": "hair_care"}),
        )
        .await
        .expect(201);
    let product_id = id(product.data());
    let (_, customer) = app.customer("Flow").await;

    // 1. Add to cart, 2. view it.
    app.post(
        "/cart/items",
        Some(&customer),
        json!({"productId": product_id, "quantity": 2}),
    )
    .await
    .expect_ok();
    let cart = app.get("/cart", Some(&customer)).await.expect(200);
    assert_eq!(cart.data()["totalAmount"], json!(51.98));
    let cart_id = id(cart.data());
    let address = app
        .post(
            "/addresses",
            Some(&customer),
            json!({"street": "1 MG Road", "city": "Pune", "state": "MH", "zipCode": "411001", "phone": "+919876543210"}),
        )
        .await
        .expect(201);
    let address_id = id(address.data());

    // 3. Checkout with the user-flow body.
    let created = app
        .post(
            "/orders",
            Some(&customer),
            json!({"cartId": cart_id, "addressId": address_id, "paymentMethod": "credit_card"}),
        )
        .await
        .expect(201);
    let order_id = created.data()["orderId"].as_str().unwrap().to_string();
    assert_eq!(created.data()["status"], "pending");
    assert_eq!(created.data()["order"]["shippingAddress"]["city"], "Pune");
    assert_eq!(
        created.data()["order"]["paymentDetails"]["method"],
        "credit_card"
    );

    // 4. Pay.
    let paid = app
        .post(
            "/payments",
            Some(&customer),
            json!({"orderId": order_id, "paymentMethod": "credit_card"}),
        )
        .await
        .expect(200);
    assert_eq!(paid.data()["orderId"], json!(order_id));
    assert_eq!(paid.data()["status"], "confirmed");

    // 5. The vendor sees it and ships it.
    let vendor_orders = app.get("/vendor/orders", Some(&vendor)).await.expect(200);
    let listed = &vendor_orders.data()["orders"][0];
    assert_eq!(listed["_id"], json!(order_id));
    app.patch(
        &format!("/vendor/orders/{order_id}/status"),
        Some(&vendor),
        json!({"status": "shipped", "trackingNumber": "TRK123456789"}),
    )
    .await
    .expect(200);
    let seen = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200);
    assert_eq!(seen.data()["status"], "shipped");
    assert_eq!(seen.data()["trackingNumber"], "TRK123456789");
    let tracking = app
        .get(&format!("/orders/{order_id}/tracking"), Some(&customer))
        .await
        .expect(200);
    let steps: Vec<&str> = tracking.data()["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["pending", "confirmed", "shipped"]);

    // 6. Delivered: the customer is notified, marks it received and reviews the product.
    app.patch(
        &format!("/vendor/orders/{order_id}/status"),
        Some(&vendor),
        json!({"status": "delivered"}),
    )
    .await
    .expect(200);
    let notes = app.get("/notifications", Some(&customer)).await.expect(200);
    let kinds: Vec<&str> = notes.data()["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"order_delivered"), "{kinds:?}");
    let received = app
        .patch(
            &format!("/orders/{order_id}/received"),
            Some(&customer),
            json!({}),
        )
        .await
        .expect(200);
    assert!(received.data()["receivedAt"].is_string());
    app.post(
        &format!("/products/{product_id}/reviews"),
        Some(&customer),
        json!({"rating": 5, "title": "Great", "comment": "Lovely shampoo"}),
    )
    .await
    .expect(201);
    let product = app
        .get(&format!("/products/{product_id}"), None)
        .await
        .expect(200);
    assert_eq!(product.data()["ratingCount"], 1);
    assert_eq!(product.data()["stock"], 8);
}

async fn complete_shopping_flow_with_signature(app: TestApp) {
    let product_id = app.product("Professional Hair Shampoo", 25.99, 50).await;
    let (_, token) = app.customer("Shopper").await;
    app.add_to_cart(&token, &product_id, 2).await;
    app.set_address(&token).await;
    let created = app
        .post(
            "/orders",
            Some(&token),
            json!({"paymentMethod": "razorpay", "notes": "Handle with care"}),
        )
        .await
        .expect(201);
    let order = &created.data()["order"];
    assert_eq!(order["subtotal"], json!(51.98));
    assert_eq!(order["tax"], json!(9.36));
    assert_eq!(order["totalAmount"], json!(61.34));
    assert_eq!(order["status"], "pending");
    assert_eq!(order["notes"], "Handle with care");
    let number = order["orderNumber"].as_str().unwrap();
    assert!(number.starts_with("ORD") && number.len() == 16);
    let razorpay = &created.data()["razorpayOrder"];
    assert_eq!(razorpay["amount"], 6134);
    assert_eq!(razorpay["currency"], "INR");
    assert_eq!(razorpay["receipt"], json!(number));
    assert_eq!(created.data()["paymentKey"], "rzp_test_simulated");
    let gateway_order = razorpay["id"].as_str().unwrap();
    assert_eq!(
        order["paymentDetails"]["razorpayOrderId"],
        json!(gateway_order)
    );
    // Reserved, not yet sold.
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(50), Some(48))
    );
    // The cart is empty after checkout.
    let cart = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["totalItems"], 0);

    let payment_id = "pay_TestPayment0001";
    let signature = checkout_signature(gateway_order, payment_id);
    let verified = app
        .post(
            "/orders/verify-payment",
            Some(&token),
            json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
        )
        .await
        .expect(200);
    assert_eq!(verified.data()["order"]["status"], "confirmed");
    assert_eq!(
        verified.data()["order"]["paymentDetails"]["status"],
        "completed"
    );
    assert_eq!(
        verified.data()["order"]["paymentDetails"]["razorpayPaymentId"],
        payment_id
    );
    let receipt = &verified.data()["receipt"];
    assert_eq!(receipt["orderNumber"], json!(number));
    assert_eq!(receipt["total"], json!(61.34));
    assert_eq!(receipt["tax"], json!(9.36));
    assert_eq!(receipt["paymentStatus"], "completed");
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(48), Some(48))
    );

    // Razorpay Checkout's own field names work too, and a repeat changes nothing.
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"razorpay_order_id": gateway_order, "razorpay_payment_id": payment_id, "razorpay_signature": signature}),
    )
    .await
    .expect(200);
    assert_eq!(app.product_json(&product_id).await["stock"], 48);
}

async fn bad_signature_changes_nothing(app: TestApp) {
    let product_id = app.product("Serum", 10.0, 5).await;
    let (_, token) = app.customer("Forger").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product_id, 1).await;
    for signature in [
        "signature_1234567890",
        "",
        &checkout_signature(&gateway_order, "pay_other"),
    ] {
        app.post(
            "/orders/verify-payment",
            Some(&token),
            json!({"orderId": gateway_order, "paymentId": "pay_Real00000001", "signature": signature}),
        )
        .await
        .expect(400);
    }
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "pending");
    assert_eq!(order.data()["paymentDetails"]["status"], "pending");
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(5), Some(4))
    );
    // Someone else's valid-looking request for my gateway order is a 404.
    let (_, other) = app.customer("Other").await;
    let signature = checkout_signature(&gateway_order, "pay_Real00000001");
    app.post(
        "/orders/verify-payment",
        Some(&other),
        json!({"orderId": gateway_order, "paymentId": "pay_Real00000001", "signature": signature}),
    )
    .await
    .expect(404);
}

async fn last_units_go_to_exactly_as_many_buyers(app: TestApp) {
    let product_id = app.product("Limited Palette", 40.0, 5).await;
    let mut tokens = Vec::new();
    for i in 0..20 {
        let (_, token) = app.customer(&format!("Racer{i}")).await;
        app.add_to_cart(&token, &product_id, 1).await;
        app.set_address(&token).await;
        tokens.push(token);
    }
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let client = app.client.clone();
        let url = app.url("/orders");
        let method = if i % 2 == 0 { "cod" } else { "razorpay" };
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"paymentMethod": method}))
                .send()
                .await
                .unwrap();
            crate::helpers::read(resp).await
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        let resp = task.await.unwrap();
        match resp.status.as_u16() {
            201 => created += 1,
            409 => {
                conflicts += 1;
                assert!(
                    resp.body["message"]
                        .as_str()
                        .unwrap()
                        .contains("Insufficient stock"),
                    "{}",
                    resp.body
                );
            }
            other => panic!("unexpected {other}: {}", resp.body),
        }
    }
    assert_eq!((created, conflicts), (5, 15));
    let product = app.product_json(&product_id).await;
    assert_eq!(product["availableStock"], 0);
    let all = app
        .get("/orders/admin/all?limit=100", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(all.data()["pagination"]["totalOrders"], 5);
}

async fn confirming_from_two_paths_decrements_stock_once(app: TestApp) {
    let product_id = app.product("Race Cream", 12.5, 10).await;
    let (_, token) = app.customer("Double").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product_id, 3).await;
    let signature = checkout_signature(&gateway_order, "pay_RaceRace00001");
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = app.client.clone();
        let token = token.clone();
        let (url, body) = if i % 2 == 0 {
            (
                app.url("/orders/verify-payment"),
                json!({"orderId": gateway_order, "paymentId": "pay_RaceRace00001", "signature": signature}),
            )
        } else {
            (
                app.url("/payments"),
                json!({"orderId": order_id, "paymentMethod": "upi", "paymentId": "pay_RaceRace00001", "signature": signature}),
            )
        };
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(7), Some(7))
    );
    let tracking = app
        .get(&format!("/orders/{order_id}/tracking"), Some(&token))
        .await
        .expect(200);
    let confirmations = tracking.data()["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["status"] == "confirmed")
        .count();
    assert_eq!(confirmations, 1);
}

async fn cancel_releases_reservation_and_restocks_paid_orders(app: TestApp) {
    let product_id = app.product("Cancel Gel", 20.0, 10).await;
    let (_, token) = app.customer("Canceller").await;

    // Unpaid: the reservation is released.
    let (unpaid, _) = app.unpaid_order(&token, &product_id, 2).await;
    assert_eq!(app.product_json(&product_id).await["availableStock"], 8);
    let cancelled = app
        .patch(
            &format!("/orders/{unpaid}/cancel"),
            Some(&token),
            json!({"reason": "Change of mind"}),
        )
        .await
        .expect(200);
    assert_eq!(cancelled.data()["status"], "cancelled");
    assert_eq!(cancelled.data()["cancellationReason"], "Change of mind");
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(10), Some(10))
    );

    // Paid: stock comes back and the payment is refunded in full, once.
    let paid = app.paid_order(&token, &product_id, 3).await;
    assert_eq!(app.product_json(&product_id).await["stock"], 7);
    let cancelled = app
        .request(
            reqwest::Method::PATCH,
            &format!("/orders/{paid}/cancel"),
            Some(&token),
            None,
        )
        .await
        .expect(200);
    let payment = &cancelled.data()["paymentDetails"];
    assert_eq!(payment["status"], "refunded");
    assert_eq!(payment["refundedAmount"], json!(70.8));
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 1);
    assert!(payment["refunds"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("rfnd_"));
    assert_eq!(payment["refunds"][0]["status"], "processed");
    assert_eq!(app.product_json(&product_id).await["stock"], 10);

    // A second cancel is a conflict and changes nothing.
    app.patch(&format!("/orders/{paid}/cancel"), Some(&token), json!({}))
        .await
        .expect_error(409, "invalid_transition");
    assert_eq!(app.product_json(&product_id).await["stock"], 10);

    // Customers cannot cancel once processing; shipped orders cannot be cancelled at all.
    let order = app.paid_order(&token, &product_id, 1).await;
    app.admin_status(&order, json!({"status": "processing"}))
        .await
        .expect(200);
    let resp = app
        .patch(&format!("/orders/{order}/cancel"), Some(&token), json!({}))
        .await
        .expect_error(409, "invalid_transition");
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("allowed next states"));
    app.admin_status(
        &order,
        json!({"status": "shipped", "trackingNumber": "TRK1"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/orders/{order}/cancel"),
        Some(&app.admin_token),
        json!({}),
    )
    .await
    .expect_error(409, "invalid_transition");
    app.patch(
        &format!("/orders/{order}/cancel"),
        Some(&token),
        json!({"reason": "x".repeat(201)}),
    )
    .await
    .expect(400);
}

async fn unpaid_orders_expire_and_release_stock(app: TestApp) {
    let product_id = app.product("Slow Payer Balm", 15.0, 4).await;
    let (_, token) = app.customer("Slow").await;
    let (order_id, _) = app.unpaid_order(&token, &product_id, 4).await;
    assert_eq!(app.product_json(&product_id).await["availableStock"], 0);

    let now = chrono::Utc::now().timestamp_millis();
    // Not yet due: nothing happens.
    assert_eq!(
        cartwright::jobs::run_once(&app.state, now).await.unwrap(),
        0
    );
    let later = now + 31 * 60 * 1000;
    assert_eq!(
        cartwright::jobs::run_once(&app.state, later).await.unwrap(),
        1
    );
    // A second pass (or another node) finds nothing more to do.
    assert_eq!(
        cartwright::jobs::run_once(&app.state, later).await.unwrap(),
        0
    );
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "cancelled");
    assert_eq!(
        order.data()["cancellationReason"],
        "payment not received in time"
    );
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(4), Some(4))
    );
}

/// Drives a fresh order into `status` through the API; returns its id.
async fn order_in(app: &TestApp, token: &str, product_id: &str, status: OrderStatus) -> String {
    let order = match status {
        OrderStatus::Pending => return app.unpaid_order(token, product_id, 1).await.0,
        _ => app.paid_order(token, product_id, 1).await,
    };
    let path: &[&str] = match status {
        OrderStatus::Pending | OrderStatus::Confirmed => &[],
        OrderStatus::Processing => &["processing"],
        OrderStatus::Shipped => &["shipped"],
        OrderStatus::Delivered | OrderStatus::Returned => &["shipped", "delivered"],
        OrderStatus::Cancelled => &["cancelled"],
    };
    for step in path {
        app.admin_status(&order, json!({"status": step, "trackingNumber": "TRK1"}))
            .await
            .expect(200);
    }
    if status == OrderStatus::Returned {
        app.post(
            &format!("/orders/{order}/return"),
            Some(token),
            json!({"reason": "Too small"}),
        )
        .await
        .expect(200);
        for action in ["approve", "complete"] {
            app.patch(
                &format!("/orders/admin/{order}/return"),
                Some(&app.admin_token),
                json!({"action": action}),
            )
            .await
            .expect(200);
        }
    }
    order
}

async fn every_illegal_admin_transition_is_a_conflict(app: TestApp) {
    let product_id = app.product("State Machine Soap", 5.0, 1000).await;
    let (_, token) = app.customer("Machine").await;
    for from in OrderStatus::ALL {
        let order = order_in(&app, &token, &product_id, from).await;
        let current = app
            .get(&format!("/orders/{order}"), Some(&token))
            .await
            .expect(200);
        assert_eq!(current.data()["status"], json!(from.as_str()));
        let allowed: HashSet<OrderStatus> = TRANSITIONS
            .iter()
            .filter(|(f, _, actors)| *f == from && actors.contains(&Actor::Admin))
            .map(|(_, to, _)| *to)
            .collect();
        for to in OrderStatus::ALL {
            if allowed.contains(&to) {
                continue;
            }
            let resp = app
                .admin_status(&order, json!({"status": to.as_str()}))
                .await
                .expect_error(409, "invalid_transition");
            let message = resp.body["message"].as_str().unwrap();
            assert!(message.contains("allowed next states"), "{message}");
            for next in &allowed {
                assert!(
                    message.contains(next.as_str()),
                    "{message} should list {next:?}"
                );
            }
        }
        let after = app
            .get(&format!("/orders/{order}"), Some(&token))
            .await
            .expect(200);
        assert_eq!(
            after.data()["status"],
            json!(from.as_str()),
            "refused moves changed nothing"
        );
    }
    // An unknown status is a 400, not a 409.
    let order = order_in(&app, &token, &product_id, OrderStatus::Confirmed).await;
    app.admin_status(&order, json!({"status": "teleported"}))
        .await
        .expect(400);
    app.admin_status(
        &order,
        json!({"status": "shipped", "trackingNumber": "T".repeat(51)}),
    )
    .await
    .expect(400);
}

async fn customers_cannot_touch_other_users_orders(app: TestApp) {
    let product_id = app.product("Private Lotion", 9.99, 10).await;
    let (_, owner) = app.customer("Owner").await;
    let (_, stranger) = app.customer("Stranger").await;
    let order_id = app.cod_order(&owner, &product_id, 1).await;
    let number = app
        .get(&format!("/orders/{order_id}"), Some(&owner))
        .await
        .expect(200)
        .data()["orderNumber"]
        .as_str()
        .unwrap()
        .to_string();
    for reference in [&order_id, &number] {
        app.get(&format!("/orders/{reference}"), Some(&stranger))
            .await
            .expect(404);
        app.get(&format!("/orders/{reference}/tracking"), Some(&stranger))
            .await
            .expect(404);
        app.patch(
            &format!("/orders/{reference}/cancel"),
            Some(&stranger),
            json!({}),
        )
        .await
        .expect(404);
        app.patch(
            &format!("/orders/{reference}/received"),
            Some(&stranger),
            json!({}),
        )
        .await
        .expect(404);
        app.post(
            &format!("/orders/{reference}/return"),
            Some(&stranger),
            json!({"reason": "mine now"}),
        )
        .await
        .expect(404);
        app.post(
            "/payments",
            Some(&stranger),
            json!({"orderId": reference, "paymentMethod": "upi"}),
        )
        .await
        .expect(404);
        // The owner sees it by either reference.
        app.get(&format!("/orders/{reference}"), Some(&owner))
            .await
            .expect(200);
    }
    // Malformed references are not found, never an error page.
    app.get("/orders/../../etc/passwd", Some(&owner))
        .await
        .expect(404);
    app.get("/orders/1%20OR%201=1", Some(&owner))
        .await
        .expect(404);
    // Customers and vendors cannot use the admin routes.
    app.get("/orders/admin/all", Some(&owner)).await.expect(403);
    app.get("/orders/admin/stats", Some(&owner))
        .await
        .expect(403);
    app.admin_status(
        &order_id,
        json!({"status": "shipped", "trackingNumber": "TRK1"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/orders/admin/{order_id}/status"),
        Some(&owner),
        json!({"status": "delivered"}),
    )
    .await
    .expect(403);
    app.get("/vendor/orders", Some(&owner)).await.expect(403);
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&owner))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "shipped");
}

async fn return_flow_restocks_and_refunds(app: TestApp) {
    let product_id = app.product("Returnable Mask", 50.0, 10).await;
    let (_, token) = app.customer("Returner").await;
    let order = order_in(&app, &token, &product_id, OrderStatus::Delivered).await;
    assert_eq!(app.product_json(&product_id).await["stock"], 9);

    // Not before delivery; a reason is required.
    app.post(
        &format!("/orders/{order}/return"),
        Some(&token),
        json!({"reason": ""}),
    )
    .await
    .expect(400);
    app.post(&format!("/orders/{order}/return"), Some(&token), json!({}))
        .await
        .expect(400);
    let requested = app
        .post(
            &format!("/orders/{order}/return"),
            Some(&token),
            json!({"reason": "Product damaged"}),
        )
        .await
        .expect(200);
    assert_eq!(requested.data()["returnStatus"], "requested");
    assert_eq!(requested.data()["returnReason"], "Product damaged");
    // Once only.
    app.post(
        &format!("/orders/{order}/return"),
        Some(&token),
        json!({"reason": "Again"}),
    )
    .await
    .expect(409);
    // Complete needs approval first.
    app.patch(
        &format!("/orders/admin/{order}/return"),
        Some(&app.admin_token),
        json!({"action": "complete"}),
    )
    .await
    .expect(409);
    app.patch(
        &format!("/orders/admin/{order}/return"),
        Some(&app.admin_token),
        json!({"action": "explode"}),
    )
    .await
    .expect(400);
    app.patch(
        &format!("/orders/admin/{order}/return"),
        Some(&app.admin_token),
        json!({"action": "approve", "reason": "Valid return request"}),
    )
    .await
    .expect(200);
    let done = app
        .patch(
            &format!("/orders/admin/{order}/return"),
            Some(&app.admin_token),
            json!({"action": "complete"}),
        )
        .await
        .expect(200);
    assert_eq!(done.data()["status"], "returned");
    assert_eq!(done.data()["returnStatus"], "completed");
    assert_eq!(done.data()["paymentDetails"]["status"], "refunded");
    assert_eq!(
        done.data()["paymentDetails"]["refunds"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        done.data()["paymentDetails"]["refunds"][0]["amount"],
        json!(59.0)
    );
    assert_eq!(app.product_json(&product_id).await["stock"], 10);
    // Completing again changes nothing.
    app.patch(
        &format!("/orders/admin/{order}/return"),
        Some(&app.admin_token),
        json!({"action": "complete"}),
    )
    .await
    .expect(409);
    assert_eq!(app.product_json(&product_id).await["stock"], 10);

    // A rejected return keeps the order delivered.
    let other = order_in(&app, &token, &product_id, OrderStatus::Delivered).await;
    app.post(
        &format!("/orders/{other}/return"),
        Some(&token),
        json!({"reason": "Changed my mind"}),
    )
    .await
    .expect(200);
    let rejected = app
        .patch(
            &format!("/orders/admin/{other}/return"),
            Some(&app.admin_token),
            json!({"action": "reject", "reason": "Used item"}),
        )
        .await
        .expect(200);
    assert_eq!(rejected.data()["returnStatus"], "rejected");
    assert_eq!(rejected.data()["status"], "delivered");
}

async fn return_after_the_window_is_refused(app: TestApp) {
    let product_id = app.product("Old Order Oil", 30.0, 10).await;
    let (_, token) = app.customer("Late").await;
    let late = order_in(&app, &token, &product_id, OrderStatus::Delivered).await;
    let on_time = order_in(&app, &token, &product_id, OrderStatus::Delivered).await;
    let day = 24 * 60 * 60 * 1000;
    let now = chrono::Utc::now().timestamp_millis();
    app.exec_sql(
        "UPDATE orders SET delivered_at = $2 WHERE id = $1",
        &late,
        now - 8 * day,
    )
    .await;
    app.exec_sql(
        "UPDATE orders SET delivered_at = $2 WHERE id = $1",
        &on_time,
        now - 6 * day,
    )
    .await;
    let resp = app
        .post(
            &format!("/orders/{late}/return"),
            Some(&token),
            json!({"reason": "Too late?"}),
        )
        .await
        .expect(409);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("return window"));
    app.post(
        &format!("/orders/{on_time}/return"),
        Some(&token),
        json!({"reason": "Just in time"}),
    )
    .await
    .expect(200);
    // Not delivered yet: refused.
    let pending = app.cod_order(&token, &product_id, 1).await;
    app.post(
        &format!("/orders/{pending}/return"),
        Some(&token),
        json!({"reason": "Early"}),
    )
    .await
    .expect(409);
}

async fn stats_match_a_hand_computed_fixture(app: TestApp) {
    // Every order is one unit at 100.00 + 18 % tax = 118.00.
    let product_id = app.product("Stats Widget", 100.0, 1000).await;
    let (customer_id, token) = app.customer("Counter").await;
    let (_, other) = app.customer("Other Counter").await;
    let mut count = 0;
    for _ in 0..6 {
        app.unpaid_order(&token, &product_id, 1).await;
        count += 1;
    }
    for (status, n) in [
        (OrderStatus::Confirmed, 8),
        (OrderStatus::Processing, 4),
        (OrderStatus::Shipped, 5),
    ] {
        for _ in 0..n {
            order_in(&app, &token, &product_id, status).await;
            count += 1;
        }
    }
    // Delivered cash-on-delivery orders count as paid at delivery.
    for _ in 0..5 {
        let order = app.cod_order(&token, &product_id, 1).await;
        app.admin_status(
            &order,
            json!({"status": "shipped", "trackingNumber": "TRK1"}),
        )
        .await
        .expect(200);
        app.admin_status(&order, json!({"status": "delivered"}))
            .await
            .expect(200);
        count += 1;
    }
    // Cancelled: two before payment, one after (refunded).
    for _ in 0..2 {
        let (order, _) = app.unpaid_order(&token, &product_id, 1).await;
        app.patch(&format!("/orders/{order}/cancel"), Some(&token), json!({}))
            .await
            .expect(200);
        count += 1;
    }
    let paid = app.paid_order(&token, &product_id, 1).await;
    app.patch(&format!("/orders/{paid}/cancel"), Some(&token), json!({}))
        .await
        .expect(200);
    count += 1;
    order_in(&app, &token, &product_id, OrderStatus::Returned).await;
    count += 1;
    assert_eq!(count, 32);
    // Another customer's order, filtered out by userId.
    app.cod_order(&other, &product_id, 1).await;

    let stats = app
        .get(
            &format!("/orders/admin/stats?userId={customer_id}"),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    let overview = &stats.data()["overview"];
    assert_eq!(overview["totalOrders"], 32);
    // Paid and not refunded: 8 confirmed + 4 processing + 5 shipped + 5 delivered = 22 x 118.
    assert_eq!(overview["totalRevenue"], json!(2596.0));
    // 2596 / 32 = 81.125 -> 81.13 (half-up).
    assert_eq!(overview["averageOrderValue"], json!(81.13));
    assert_eq!(overview["pendingOrders"], 6);
    assert_eq!(overview["completedOrders"], 5);
    assert_eq!(overview["cancelledOrders"], 3);
    let breakdown: Vec<(String, i64, f64)> = stats.data()["statusBreakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["_id"].as_str().unwrap().to_string(),
                b["count"].as_i64().unwrap(),
                b["totalAmount"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64, f64)> = [
        ("confirmed", 8),
        ("pending", 6),
        ("delivered", 5),
        ("shipped", 5),
        ("processing", 4),
        ("cancelled", 3),
        ("returned", 1),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_string(), n, 118.0 * n as f64))
    .collect();
    assert_eq!(breakdown, expected);

    let everyone = app
        .get("/orders/admin/stats", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(everyone.data()["overview"]["totalOrders"], 33);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let empty = app
        .get(
            &format!("/orders/admin/stats?startDate={tomorrow}"),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    assert_eq!(empty.data()["overview"]["totalOrders"], 0);
    assert_eq!(empty.data()["overview"]["averageOrderValue"], json!(0.0));
    app.get("/orders/admin/stats?startDate=soon", Some(&app.admin_token))
        .await
        .expect(400);
    app.get("/orders/admin/stats?userId=nope", Some(&app.admin_token))
        .await
        .expect(400);

    // The admin list filters the same way.
    let delivered = app
        .get(
            &format!("/orders/admin/all?status=delivered&userId={customer_id}&limit=100"),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    assert_eq!(delivered.data()["pagination"]["totalOrders"], 5);
    let refunded = app
        .get(
            "/orders/admin/all?paymentStatus=refunded",
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    assert_eq!(refunded.data()["pagination"]["totalOrders"], 2);
    app.get(
        "/orders/admin/all?paymentStatus=lost",
        Some(&app.admin_token),
    )
    .await
    .expect(400);
    let sorted = app
        .get(
            "/orders/admin/all?sortBy=orderNumber&sortOrder=asc&limit=100",
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    let numbers: Vec<&str> = sorted.data()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderNumber"].as_str().unwrap())
        .collect();
    let mut expected_numbers = numbers.clone();
    expected_numbers.sort();
    assert_eq!(numbers, expected_numbers);
}

async fn idempotency_key_replays_and_refuses_other_bodies(app: TestApp) {
    let product_id = app.product("Once Only Cream", 10.0, 10).await;
    let (_, token) = app.customer("Retrier").await;
    app.add_to_cart(&token, &product_id, 2).await;
    app.set_address(&token).await;
    let send = |body: Value, key: &str| {
        app.client
            .post(app.url("/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = crate::helpers::read(
        send(json!({"paymentMethod": "cod"}), "key-123")
            .await
            .unwrap(),
    )
    .await
    .expect(201);
    let again = crate::helpers::read(
        send(json!({"paymentMethod": "cod"}), "key-123")
            .await
            .unwrap(),
    )
    .await
    .expect(201);
    assert_eq!(first.data()["order"]["_id"], again.data()["order"]["_id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert!(first.headers.get("idempotent-replayed").is_none());
    let orders = app.get("/orders/my-orders", Some(&token)).await.expect(200);
    assert_eq!(orders.data()["pagination"]["totalOrders"], 1);
    assert_eq!(app.product_json(&product_id).await["stock"], 8);
    crate::helpers::read(
        send(
            json!({"paymentMethod": "cod", "notes": "different"}),
            "key-123",
        )
        .await
        .unwrap(),
    )
    .await
    .expect_error(422, "idempotency_key_reused");
    crate::helpers::read(
        send(json!({"paymentMethod": "cod"}), &"k".repeat(256))
            .await
            .unwrap(),
    )
    .await
    .expect(400);
    // Keys are per user: another user's identical key is their own.
    let (_, other) = app.customer("Other Retrier").await;
    app.add_to_cart(&other, &product_id, 1).await;
    app.set_address(&other).await;
    let resp = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(&other)
        .header("Idempotency-Key", "key-123")
        .json(&json!({"paymentMethod": "cod"}))
        .send()
        .await
        .unwrap();
    let resp = crate::helpers::read(resp).await.expect(201);
    assert_ne!(resp.data()["order"]["_id"], first.data()["order"]["_id"]);
}

async fn discount_with_one_use_left_goes_to_one_order(app: TestApp) {
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": "LASTONE", "type": "fixed", "value": 5, "minOrderAmount": 0, "usageLimit": 1, "isActive": true}),
    )
    .await
    .expect(201);
    let product_id = app.product("Coupon Candle", 20.0, 100).await;
    let mut tokens = Vec::new();
    for i in 0..10 {
        let (_, token) = app.customer(&format!("Coupon{i}")).await;
        app.add_to_cart(&token, &product_id, 1).await;
        app.set_address(&token).await;
        app.post(
            "/cart/discount",
            Some(&token),
            json!({"discountCode": "LASTONE"}),
        )
        .await
        .expect(200);
        tokens.push(token);
    }
    let mut tasks = Vec::new();
    for token in tokens {
        let client = app.client.clone();
        let url = app.url("/orders");
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"paymentMethod": "razorpay"}))
                .send()
                .await
                .unwrap();
            crate::helpers::read(resp).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        let resp = task.await.unwrap();
        match resp.status.as_u16() {
            201 => {
                won += 1;
                assert_eq!(resp.data()["order"]["discount"], json!(5.0));
            }
            // Refused by the reservation, or by the cart read before it (which removes the used-up
            // code and says so: the cart changed).
            409 => assert!(
                (resp.body["code"] == "code_used_up" || resp.body["code"] == "cart_changed")
                    && resp.body["message"].as_str().unwrap().contains("used up"),
                "{}",
                resp.body
            ),
            other => panic!("unexpected {other}: {}", resp.body),
        }
    }
    assert_eq!(won, 1);
    let code = app
        .get("/admin/discounts/LASTONE", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(code.data()["usedCount"], 1);
    // The losers kept their carts.
    let product = app.product_json(&product_id).await;
    assert_eq!(product["availableStock"], 99);
}

async fn cash_on_delivery_is_paid_at_delivery(app: TestApp) {
    let product_id = app.product("COD Comb", 3.5, 10).await;
    let (_, token) = app.customer("Cash").await;
    let created = app
        .checkout(&token, &product_id, 2, "cod")
        .await
        .expect(201);
    assert_eq!(created.data()["order"]["status"], "confirmed");
    assert_eq!(
        created.data()["order"]["paymentDetails"]["status"],
        "pending"
    );
    assert!(created.data()["razorpayOrder"].is_null());
    let order_id = created.data()["orderId"].as_str().unwrap().to_string();
    assert_eq!(app.product_json(&product_id).await["stock"], 8);
    // Paying a COD order online is refused.
    app.post(
        "/payments",
        Some(&token),
        json!({"orderId": order_id, "paymentMethod": "upi"}),
    )
    .await
    .expect(409);
    app.admin_status(&order_id, json!({"status": "shipped", "trackingNumber": "TRK-1", "estimatedDelivery": "2030-01-20T18:00:00.000Z"}))
        .await
        .expect(200);
    let shipped = app
        .get(&format!("/orders/{order_id}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(
        shipped.data()["estimatedDelivery"],
        "2030-01-20T18:00:00.000Z"
    );
    let delivered = app
        .patch(
            &format!("/orders/{order_id}/received"),
            Some(&token),
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(delivered.data()["status"], "delivered");
    assert_eq!(delivered.data()["paymentDetails"]["status"], "completed");
    assert!(delivered.data()["deliveredAt"].is_string());
    // Received twice is a conflict.
    app.patch(
        &format!("/orders/{order_id}/received"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(409);
}

async fn my_orders_filters_sorts_and_paginates(app: TestApp) {
    let cheap = app.product("Cheap", 1.0, 100).await;
    let dear = app.product("Dear", 90.0, 100).await;
    let (_, token) = app.customer("Lister").await;
    for i in 0..12 {
        let product = if i % 3 == 0 { &dear } else { &cheap };
        app.cod_order(&token, product, 1).await;
    }
    app.unpaid_order(&token, &cheap, 1).await;
    let page = app
        .get("/orders/my-orders?limit=5&page=2", Some(&token))
        .await
        .expect(200);
    let pagination = &page.data()["pagination"];
    assert_eq!(pagination["totalOrders"], 13);
    assert_eq!(pagination["totalPages"], 3);
    assert_eq!(pagination["currentPage"], 2);
    assert_eq!(pagination["hasNext"], true);
    assert_eq!(pagination["hasPrev"], true);
    assert_eq!(page.data()["orders"].as_array().unwrap().len(), 5);
    let past = app
        .get("/orders/my-orders?page=9", Some(&token))
        .await
        .expect(200);
    assert!(past.data()["orders"].as_array().unwrap().is_empty());
    let pending = app
        .get("/orders/my-orders?status=pending", Some(&token))
        .await
        .expect(200);
    assert_eq!(pending.data()["pagination"]["totalOrders"], 1);
    let by_amount = app
        .get(
            "/orders/my-orders?sortBy=totalAmount&sortOrder=desc&limit=100",
            Some(&token),
        )
        .await
        .expect(200);
    let amounts: Vec<f64> = by_amount.data()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["totalAmount"].as_f64().unwrap())
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]), "{amounts:?}");
    assert_eq!(
        by_amount.data()["orders"][0]["items"][0]["productName"],
        "Dear"
    );
    for bad in [
        "limit=0",
        "limit=101",
        "page=0",
        "status=lost",
        "sortBy=price",
        "sortOrder=up",
    ] {
        app.get(&format!("/orders/my-orders?{bad}"), Some(&token))
            .await
            .expect(400);
    }
    // Another user sees none of them.
    let (_, other) = app.customer("Nobody").await;
    let theirs = app.get("/orders/my-orders", Some(&other)).await.expect(200);
    assert_eq!(theirs.data()["pagination"]["totalOrders"], 0);
}

async fn checkout_validates_its_input(app: TestApp) {
    let product_id = app.product("Validated Vial", 10.0, 3).await;
    let (_, token) = app.customer("Validator").await;
    // Empty cart.
    app.post("/orders", Some(&token), json!({"paymentMethod": "cod"}))
        .await
        .expect_error(400, "cart_empty");
    app.add_to_cart(&token, &product_id, 2).await;
    // No address yet.
    let resp = app
        .post("/orders", Some(&token), json!({"paymentMethod": "cod"}))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "addressId");
    app.set_address(&token).await;
    for (body, field) in [
        (json!({"paymentMethod": "bitcoin"}), "paymentMethod"),
        (json!({"paymentMethod": 5}), "paymentMethod"),
        (json!({}), "paymentMethod"),
        (
            json!({"paymentMethod": "cod", "notes": "n".repeat(501)}),
            "notes",
        ),
        (
            json!({"paymentMethod": "cod", "addressId": "not-an-id"}),
            "addressId",
        ),
        (
            json!({"paymentMethod": "cod", "cartId": "not-an-id"}),
            "cartId",
        ),
    ] {
        let resp = app.post("/orders", Some(&token), body).await.expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "{}", resp.body);
    }
    app.post(
        "/orders",
        Some(&token),
        json!({"paymentMethod": "cod", "addressId": "0190f8e0-0000-7000-8000-000000000000"}),
    )
    .await
    .expect(404);
    app.post(
        "/orders",
        Some(&token),
        json!({"paymentMethod": "cod", "cartId": "0190f8e0-0000-7000-8000-000000000000"}),
    )
    .await
    .expect(404);
    // Someone else bought the stock in the meantime: a clean 409 naming what is left.
    let (_, rival) = app.customer("Rival").await;
    app.cod_order(&rival, &product_id, 2).await;
    let resp = app
        .post("/orders", Some(&token), json!({"paymentMethod": "cod"}))
        .await
        .expect(409);
    assert!(
        resp.body["message"]
            .as_str()
            .unwrap()
            .contains("only 1 left"),
        "{}",
        resp.body
    );
    // Nothing was written by the failures; the cart is intact.
    let mine = app.get("/orders/my-orders", Some(&token)).await.expect(200);
    assert_eq!(mine.data()["pagination"]["totalOrders"], 0);
    let cart = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["totalItems"], 2);
    app.post("/orders", None, json!({"paymentMethod": "cod"}))
        .await
        .expect(401);
}

async fn vendor_sees_only_its_lines_and_cannot_move_shared_orders(app: TestApp) {
    let (_, vendor_a) = app.user_with_role("Vendor A", "vendor").await;
    let (_, vendor_b) = app.user_with_role("Vendor B", "vendor").await;
    let mk = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .post(
                    "/products",
                    Some(&token),
                    json!({"name": name, "price": 10.0, "stock": 10}),
                )
                .await
                .expect(201);
            id(resp.data())
        }
    };
    let a_product = mk(vendor_a.clone(), "A Thing").await;
    let b_product = mk(vendor_b.clone(), "B Thing").await;
    let (_, token) = app.customer("Mixed").await;
    app.add_to_cart(&token, &a_product, 1).await;
    app.add_to_cart(&token, &b_product, 1).await;
    app.set_address(&token).await;
    let mixed = app
        .post("/orders", Some(&token), json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
    let mixed_id = mixed.data()["orderId"].as_str().unwrap().to_string();
    let only_a = app.cod_order(&token, &a_product, 1).await;
    // An unpaid order is not the vendor's business yet.
    let (unpaid, _) = app.unpaid_order(&token, &a_product, 1).await;

    let list = app.get("/vendor/orders", Some(&vendor_a)).await.expect(200);
    assert_eq!(list.data()["pagination"]["totalOrders"], 2);
    for order in list.data()["orders"].as_array().unwrap() {
        for item in order["items"].as_array().unwrap() {
            assert_eq!(item["productName"], "A Thing");
        }
    }
    app.get(&format!("/vendor/orders/{unpaid}"), Some(&vendor_a))
        .await
        .expect(404);
    let view = app
        .get(&format!("/vendor/orders/{mixed_id}"), Some(&vendor_b))
        .await
        .expect(200);
    assert_eq!(view.data()["items"].as_array().unwrap().len(), 1);
    let resp = app
        .patch(
            &format!("/vendor/orders/{mixed_id}/status"),
            Some(&vendor_a),
            json!({"status": "shipped"}),
        )
        .await
        .expect(409);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("fulfilled by the shop"));
    // Vendor B cannot see or move A's own order.
    app.get(&format!("/vendor/orders/{only_a}"), Some(&vendor_b))
        .await
        .expect(404);
    app.patch(
        &format!("/vendor/orders/{only_a}/status"),
        Some(&vendor_b),
        json!({"status": "shipped"}),
    )
    .await
    .expect(404);
    // Vendors cannot cancel, and cannot skip to delivered.
    app.patch(
        &format!("/vendor/orders/{only_a}/status"),
        Some(&vendor_a),
        json!({"status": "cancelled"}),
    )
    .await
    .expect(409);
    app.patch(
        &format!("/vendor/orders/{only_a}/status"),
        Some(&vendor_a),
        json!({"status": "delivered"}),
    )
    .await
    .expect(409);
    app.patch(
        &format!("/vendor/orders/{only_a}/status"),
        Some(&vendor_a),
        json!({"status": "processing"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/vendor/orders/{only_a}/status"),
        Some(&vendor_a),
        json!({"status": "shipped", "trackingNumber": "TRK1"}),
    )
    .await
    .expect(200);
    let shipped = app
        .get("/vendor/orders?status=shipped", Some(&vendor_a))
        .await
        .expect(200);
    assert_eq!(shipped.data()["pagination"]["totalOrders"], 1);
    app.get("/vendor/orders", Some(&app.admin_token))
        .await
        .expect(403);
}

#[tokio::test]
async fn gateway_down_at_checkout_leaves_nothing_behind() {
    // A Razorpay base URL where nothing listens: the gateway call fails fast.
    let Some(app) = TestApp::spawn_with(
        Db::Sqlite,
        &[
            ("PAYMENT_GATEWAY", "razorpay"),
            ("RAZORPAY_KEY_ID", "rzp_test_down"),
            ("RAZORPAY_KEY_SECRET", "secret"),
            ("RAZORPAY_WEBHOOK_SECRET", "webhook-secret"),
            ("RAZORPAY_API_BASE", "http://127.0.0.1:9/v1"),
            ("RAZORPAY_TIMEOUT_MS", "500"),
        ],
    )
    .await
    else {
        return;
    };
    let product_id = app.product("Unreachable Tonic", 10.0, 5).await;
    let (_, token) = app.customer("Unlucky").await;
    let resp = app.checkout(&token, &product_id, 2, "razorpay").await;
    assert!(
        matches!(resp.status.as_u16(), 502 | 503),
        "{}: {}",
        resp.status,
        resp.body
    );
    let mine = app.get("/orders/my-orders", Some(&token)).await.expect(200);
    assert_eq!(mine.data()["pagination"]["totalOrders"], 0);
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(5), Some(5))
    );
    let cart = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["totalItems"], 2);
}

/// Regression: two checkouts picking the same order number (two nodes, one millisecond) once
/// surfaced as a failed checkout; now the second writes nothing and checkout picks a new number.
async fn a_taken_order_number_writes_nothing(app: TestApp) {
    use cartwright::domain::pricing::PricingSettings;
    use cartwright::store::orders::{PlaceOrder, Placed};
    let product_id = app.product("Numbered Nail Polish", 10.0, 10).await;
    let (_, first) = app.customer("First").await;
    let (second_id, second) = app.customer("Second").await;
    let taken = app
        .checkout(&first, &product_id, 1, "cod")
        .await
        .expect(201);
    let number = taken.data()["order"]["orderNumber"]
        .as_str()
        .unwrap()
        .to_string();
    app.add_to_cart(&second, &product_id, 2).await;
    app.set_address(&second).await;

    let store = &app.state.store;
    let settings = PricingSettings::from_config(&app.config);
    let draft = store
        .draft_checkout(&second_id, None, &settings)
        .await
        .unwrap();
    let order_id = cartwright::domain::ids::new_id();
    let placed = store
        .place_order(
            &draft,
            PlaceOrder {
                order_id: &order_id,
                order_number: &number,
                user_id: &second_id,
                payment_method: cartwright::domain::order::PaymentMethod::Cod,
                notes: None,
                currency: "INR",
                settlement: cartwright::store::orders::Settlement::CashOnDelivery,
                buyer_gstin: None,
            },
            None,
            &settings,
        )
        .await
        .unwrap();
    assert!(matches!(placed, Placed::NumberTaken), "{placed:?}");
    // Nothing of the refused order remains: no order, stock untouched, cart intact.
    let mine = app
        .get("/orders/my-orders", Some(&second))
        .await
        .expect(200);
    assert_eq!(mine.data()["pagination"]["totalOrders"], 0);
    let product = app.product_json(&product_id).await;
    assert_eq!(
        (
            product["stock"].as_i64(),
            product["availableStock"].as_i64()
        ),
        (Some(9), Some(9))
    );
    assert_eq!(
        app.get("/cart/summary", Some(&second))
            .await
            .expect(200)
            .data()["totalItems"],
        2
    );
    // Through the API the same cart checks out with a number of its own.
    let placed = app
        .post("/orders", Some(&second), json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
    assert_ne!(placed.data()["order"]["orderNumber"], json!(number));
}

/// Admin stats and list totals over a range that starts and ends inside days: whole days come from
/// the daily totals, the partial days at the edges from the orders themselves.
async fn stats_over_date_ranges_count_whole_and_partial_days(app: TestApp) {
    let product_id = app.product("Dated Diffuser", 100.0, 100).await;
    let (_, token) = app.customer("Dated").await;
    let hour = 60 * 60 * 1000;
    let now = chrono::Utc::now().timestamp_millis();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(app.cod_order(&token, &product_id, 1).await);
    }
    // Ages: 10 days, 2 days + 1 hour, 26 hours, now.
    for (id, age) in ids.iter().zip([240 * hour, 49 * hour, 26 * hour]) {
        app.exec_sql(
            "UPDATE orders SET created_at = $2 WHERE id = $1",
            id,
            now - age,
        )
        .await;
    }
    app.admin_status(
        &ids[3],
        json!({"status": "shipped", "trackingNumber": "TRK1"}),
    )
    .await
    .expect(200);
    let at = |ms: i64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    for (from, to, expected) in [
        (now - 72 * hour, now + hour, 3),
        (now - 50 * hour, now - 25 * hour, 2),
        (now - 30 * hour, now - 20 * hour, 1),
        (now - 300 * hour, now + hour, 4),
        (now - 20 * hour, now + 48 * hour, 1),
        (now - 239 * hour, now - 27 * hour, 1),
    ] {
        let query = format!("startDate={}&endDate={}", at(from), at(to));
        let stats = app
            .get(
                &format!("/orders/admin/stats?{query}"),
                Some(&app.admin_token),
            )
            .await
            .expect(200);
        assert_eq!(stats.data()["overview"]["totalOrders"], expected, "{query}");
        assert_eq!(
            stats.data()["overview"]["totalRevenue"],
            json!(0.0),
            "cash orders are unpaid until delivery"
        );
        let list = app
            .get(
                &format!("/orders/admin/all?{query}&limit=100"),
                Some(&app.admin_token),
            )
            .await
            .expect(200);
        assert_eq!(
            list.data()["pagination"]["totalOrders"],
            expected,
            "{query}"
        );
        assert_eq!(
            list.data()["orders"].as_array().unwrap().len() as i64,
            expected,
            "{query}"
        );
    }
    let shipped = app
        .get(
            &format!(
                "/orders/admin/all?status=shipped&startDate={}",
                at(now - hour)
            ),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    assert_eq!(shipped.data()["pagination"]["totalOrders"], 1);
    let all = app
        .get("/orders/admin/stats", Some(&app.admin_token))
        .await
        .expect(200);
    let breakdown = all.data()["statusBreakdown"].as_array().unwrap().clone();
    assert_eq!(breakdown.len(), 2, "{breakdown:?}");
    assert_eq!(
        (breakdown[0]["_id"].as_str(), breakdown[0]["count"].as_i64()),
        (Some("confirmed"), Some(3))
    );
    assert_eq!(
        (breakdown[1]["_id"].as_str(), breakdown[1]["count"].as_i64()),
        (Some("shipped"), Some(1))
    );
}

async fn order_lists_show_the_refunds_the_single_order_shows(app: TestApp) {
    let product_id = app.product("Listed Refund Balm", 20.0, 10).await;
    let (user_id, token) = app.customer("Lister").await;
    let refunded = app.paid_order(&token, &product_id, 2).await;
    let kept = app.paid_order(&token, &product_id, 1).await;
    app.patch(
        &format!("/orders/{refunded}/cancel"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(200);
    let single = app
        .get(&format!("/orders/{refunded}"), Some(&token))
        .await
        .expect(200);
    let refunds = single.data()["paymentDetails"]["refunds"].clone();
    assert_eq!(refunds.as_array().unwrap().len(), 1);

    let mine = app.get("/orders/my-orders", Some(&token)).await.expect(200);
    let all = app
        .get(
            &format!("/orders/admin/all?userId={user_id}"),
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    for list in [mine.data(), all.data()] {
        let orders = list["orders"].as_array().unwrap();
        assert_eq!(orders.len(), 2);
        let find = |order_id: &str| {
            orders
                .iter()
                .find(|o| o["_id"] == order_id)
                .unwrap_or_else(|| panic!("order {order_id} missing from the list"))
        };
        assert_eq!(find(&refunded)["paymentDetails"]["refunds"], refunds);
        assert_eq!(find(&kept)["paymentDetails"]["refunds"], json!([]));
    }
}
