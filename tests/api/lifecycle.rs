//! Every route and job that changes an order's status writes a history line for the move, and
//! every move it records is an edge of the lifecycle's table (`TRANSITIONS`).

use crate::db_tests;
use crate::helpers::{Db, TestApp};
use crate::razorpay_shop::shop;
use cartwright::domain::order::{OrderStatus, TRANSITIONS};
use serde_json::json;
use std::collections::BTreeMap;

db_tests!(every_status_change_is_an_edge_of_the_transition_table);

async fn every_status_change_is_an_edge_of_the_transition_table(db: Db) {
    let Some((fake, app)) = shop(db, &[]).await else {
        return;
    };
    let product = app.product("Lifecycle Lamp", 10.0, 100).await;
    let (_, token) = app.customer("Walker").await;
    let mut expected: Vec<(String, OrderStatus)> = Vec::new();

    // Online orders confirmed by each confirmation path.
    let (verified, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
    )
    .await
    .expect(200);
    expected.push((verified.clone(), OrderStatus::Confirmed));

    let (paid, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    app.post(
        "/payments",
        Some(&token),
        json!({"orderId": paid, "paymentMethod": "upi", "paymentId": payment_id, "signature": signature}),
    )
    .await
    .expect(200);

    let (hooked, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    assert_eq!(
        fake.send_webhook("payment.captured", &payment_id).await,
        200
    );
    expected.push((hooked.clone(), OrderStatus::Confirmed));

    // Cash on delivery, through the admin's moves to delivered, then "received".
    let cod = app.cod_order(&token, &product, 1).await;
    for status in ["processing", "shipped", "delivered"] {
        app.admin_status(&cod, json!({"status": status, "trackingNumber": "TRK1"}))
            .await
            .expect(200);
    }
    app.patch(&format!("/orders/{cod}/received"), Some(&token), json!({}))
        .await
        .expect(200);
    expected.push((cod.clone(), OrderStatus::Delivered));

    // Shipped by the admin, received by the customer (shipped -> delivered).
    let received = app.cod_order(&token, &product, 1).await;
    app.admin_status(
        &received,
        json!({"status": "shipped", "trackingNumber": "TRK2"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/orders/{received}/received"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(200);
    expected.push((received.clone(), OrderStatus::Delivered));

    // Cancellations: the customer's (unpaid and confirmed), the admin's (processing, paid).
    let (unpaid, _) = app.unpaid_order(&token, &product, 1).await;
    app.patch(&format!("/orders/{unpaid}/cancel"), Some(&token), json!({}))
        .await
        .expect(200);
    expected.push((unpaid, OrderStatus::Cancelled));
    let confirmed = app.cod_order(&token, &product, 1).await;
    app.patch(
        &format!("/orders/{confirmed}/cancel"),
        Some(&token),
        json!({}),
    )
    .await
    .expect(200);
    expected.push((confirmed, OrderStatus::Cancelled));
    app.admin_status(&paid, json!({"status": "processing"}))
        .await
        .expect(200);
    app.admin_status(
        &paid,
        json!({"status": "cancelled", "reason": "Out of lamps"}),
    )
    .await
    .expect(200);
    expected.push((paid, OrderStatus::Cancelled));

    // A vendor ships and delivers its own order.
    let (_, vendor) = app.user_with_role("Lamp Vendor", "vendor").await;
    let vendor_product = app
        .product_by(
            &vendor,
            json!({"name": "Vendor Lamp", "price": 10.0, "stock": 10}),
        )
        .await;
    let vendor_order = app.cod_order(&token, &vendor_product, 1).await;
    for status in ["shipped", "delivered"] {
        app.patch(
            &format!("/vendor/orders/{vendor_order}/status"),
            Some(&vendor),
            json!({"status": status, "trackingNumber": "TRK3"}),
        )
        .await
        .expect(200);
    }
    expected.push((vendor_order.clone(), OrderStatus::Delivered));

    // Returns: requested, approved and completed; requested and rejected.
    app.post(
        &format!("/orders/{vendor_order}/return"),
        Some(&token),
        json!({"reason": "Flickers"}),
    )
    .await
    .expect(200);
    for action in ["approve", "complete"] {
        app.patch(
            &format!("/orders/admin/{vendor_order}/return"),
            Some(&app.admin_token),
            json!({"action": action}),
        )
        .await
        .expect(200);
    }
    expected.pop();
    expected.push((vendor_order, OrderStatus::Returned));
    app.post(
        &format!("/orders/{cod}/return"),
        Some(&token),
        json!({"reason": "Too bright"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/orders/admin/{cod}/return"),
        Some(&app.admin_token),
        json!({"action": "reject", "reason": "Used"}),
    )
    .await
    .expect(200);

    // A total of zero, confirmed at checkout.
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": "LAMPFREE", "type": "fixed", "value": 1000, "minOrderAmount": 0}),
    )
    .await
    .expect(201);
    let (_, free_token) = app.customer("Freeloader").await;
    app.add_to_cart(&free_token, &product, 1).await;
    app.set_address(&free_token).await;
    app.post(
        "/cart/discount",
        Some(&free_token),
        json!({"discountCode": "LAMPFREE"}),
    )
    .await
    .expect(200);
    let free = app
        .post(
            "/orders",
            Some(&free_token),
            json!({"paymentMethod": "upi"}),
        )
        .await
        .expect(201)
        .data()["order"]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    expected.push((free, OrderStatus::Confirmed));

    // The expiry job cancels an unpaid order whose time is up.
    let (expiring, _) = app.unpaid_order(&token, &product, 1).await;
    let later = chrono::Utc::now().timestamp_millis() + 24 * 60 * 60 * 1000;
    assert_eq!(
        cartwright::jobs::expire_unpaid_orders(&app.state, later)
            .await
            .unwrap(),
        1
    );
    expected.push((expiring, OrderStatus::Cancelled));

    let history = status_history(&app).await;
    let statuses = order_statuses(&app).await;
    assert_eq!(statuses.len(), expected.len());
    for (order_id, status) in &expected {
        assert_eq!(statuses[order_id], *status, "order {order_id}");
    }
    for (order_id, status) in &statuses {
        let lines = &history[order_id];
        assert_eq!(
            lines[0],
            OrderStatus::Pending,
            "order {order_id}: {lines:?}"
        );
        // Lines that note an event without a move (a return request, "received" after
        // delivery) repeat the status; every change between two lines is a move of the table.
        for pair in lines.windows(2).filter(|pair| pair[0] != pair[1]) {
            assert!(
                TRANSITIONS
                    .iter()
                    .any(|(from, to, _)| *from == pair[0] && *to == pair[1]),
                "order {order_id}: {:?} -> {:?} is no edge of the lifecycle ({lines:?})",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(lines.last(), Some(status), "order {order_id}: {lines:?}");
    }
}

/// Each order's history, oldest line first, read from the database.
async fn status_history(app: &TestApp) -> BTreeMap<String, Vec<OrderStatus>> {
    let sql = "SELECT order_id, status FROM order_status_history ORDER BY order_id, id";
    let rows: Vec<(String, String)> = match &app.state.store.backend {
        cartwright::store::Backend::Sqlite(db) => {
            sqlx::query_as(sql).fetch_all(&db.read).await.unwrap()
        }
        cartwright::store::Backend::Postgres(pool) => {
            sqlx::query_as(sql).fetch_all(pool).await.unwrap()
        }
    };
    let mut history: BTreeMap<String, Vec<OrderStatus>> = BTreeMap::new();
    for (order_id, status) in rows {
        let status = OrderStatus::parse(&status).expect("a known status");
        history.entry(order_id).or_default().push(status);
    }
    history
}

async fn order_statuses(app: &TestApp) -> BTreeMap<String, OrderStatus> {
    let sql = "SELECT id, status FROM orders";
    match &app.state.store.backend {
        cartwright::store::Backend::Sqlite(db) => {
            sqlx::query_as(sql).fetch_all(&db.read).await.unwrap()
        }
        cartwright::store::Backend::Postgres(pool) => {
            sqlx::query_as(sql).fetch_all(pool).await.unwrap()
        }
    }
    .into_iter()
    .collect()
}
