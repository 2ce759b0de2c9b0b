//! What the consoles read (issue 21): `nextStatuses` in the admin and vendor order views, equal to
//! the lifecycle table for that caller, and the admin list's search by order number or customer
//! email with the customer's name and email in each row.

use crate::api_tests;
use crate::helpers::TestApp;
use cartwright::domain::order::{Actor, OrderStatus};
use serde_json::{json, Value};

api_tests!(
    admin_views_carry_the_moves_the_admin_may_make_now,
    vendor_views_offer_moves_only_on_orders_it_fulfils_alone,
    admin_list_searches_by_order_number_or_customer_email,
    shipping_without_a_tracking_number_is_refused,
    dashboard_figures_count_the_same_orders,
    a_finished_return_leaves_its_history_with_who_and_when,
);

fn statuses(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("nextStatuses is a list: {value}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn table(status: OrderStatus, actor: Actor) -> Vec<String> {
    status
        .next_states(actor)
        .into_iter()
        .map(|s| s.as_str().to_string())
        .collect()
}

async fn admin_views_carry_the_moves_the_admin_may_make_now(app: TestApp) {
    let product = app.product("Lamp", 10.0, 50).await;
    let (_, customer) = app.customer("Asha").await;
    let (unpaid, _) = app.unpaid_order(&customer, &product, 1).await;
    let cod = app.cod_order(&customer, &product, 1).await;
    let admin = app.admin_token.clone();

    let one = app
        .get(&format!("/orders/{unpaid}"), Some(&admin))
        .await
        .expect(200);
    assert_eq!(
        statuses(&one.data()["nextStatuses"]),
        table(OrderStatus::Pending, Actor::Admin)
    );
    assert_eq!(statuses(&one.data()["nextStatuses"]), ["cancelled"]);
    // The customer's own view carries no moves of the admin.
    let own = app
        .get(&format!("/orders/{cod}"), Some(&customer))
        .await
        .expect(200);
    assert!(own.data().get("nextStatuses").is_none(), "{}", own.data());

    // Every move the view offers is accepted, and the next view offers the table's next moves.
    let mut at = OrderStatus::Confirmed;
    for to in ["processing", "shipped", "delivered"] {
        let view = app
            .get(&format!("/orders/{cod}"), Some(&admin))
            .await
            .expect(200);
        let offered = statuses(&view.data()["nextStatuses"]);
        assert_eq!(offered, table(at, Actor::Admin), "at {at:?}");
        assert!(offered.contains(&to.to_string()), "{to} offered at {at:?}");
        let moved = app
            .admin_status(&cod, json!({"status": to, "trackingNumber": "TRK-9"}))
            .await
            .expect(200);
        at = OrderStatus::parse(to).unwrap();
        assert_eq!(
            statuses(&moved.data()["nextStatuses"]),
            table(at, Actor::Admin)
        );
    }
    // A move the view does not offer is the server's 409.
    app.admin_status(&cod, json!({"status": "confirmed"}))
        .await
        .expect(409);
    let list = app
        .get("/orders/admin/all?limit=100", Some(&admin))
        .await
        .expect(200);
    for order in list.data()["orders"].as_array().unwrap() {
        let status = OrderStatus::parse(order["status"].as_str().unwrap()).unwrap();
        assert_eq!(
            statuses(&order["nextStatuses"]),
            table(status, Actor::Admin)
        );
    }
}

async fn vendor_views_offer_moves_only_on_orders_it_fulfils_alone(app: TestApp) {
    let (_, vendor) = app.user_with_role("Maker", "vendor").await;
    let mine = app
        .product_by(&vendor, json!({"name": "Bowl", "price": 10, "stock": 20}))
        .await;
    let shop = app.product("Spoon", 2.0, 20).await;
    let (_, customer) = app.customer("Ravi").await;
    let alone = app.cod_order(&customer, &mine, 1).await;
    app.add_to_cart(&customer, &mine, 1).await;
    app.add_to_cart(&customer, &shop, 1).await;
    app.set_address(&customer).await;
    let shared = app
        .post("/orders", Some(&customer), json!({"paymentMethod": "cod"}))
        .await
        .expect(201)
        .data()["order"]["_id"]
        .as_str()
        .unwrap()
        .to_string();

    let view = app
        .get(&format!("/vendor/orders/{alone}"), Some(&vendor))
        .await
        .expect(200);
    assert_eq!(
        statuses(&view.data()["nextStatuses"]),
        table(OrderStatus::Confirmed, Actor::Vendor)
    );
    let view = app
        .get(&format!("/vendor/orders/{shared}"), Some(&vendor))
        .await
        .expect(200);
    assert_eq!(statuses(&view.data()["nextStatuses"]), Vec::<String>::new());
    // The server agrees: the shared order is not the vendor's to move.
    app.patch(
        &format!("/vendor/orders/{shared}/status"),
        Some(&vendor),
        json!({"status": "shipped", "trackingNumber": "TRK-1"}),
    )
    .await
    .expect(409);

    let list = app.get("/vendor/orders", Some(&vendor)).await.expect(200);
    for order in list.data()["orders"].as_array().unwrap() {
        let expected = if order["_id"] == alone.as_str() {
            table(OrderStatus::Confirmed, Actor::Vendor)
        } else {
            Vec::new()
        };
        assert_eq!(statuses(&order["nextStatuses"]), expected, "{order}");
    }
    let shipped = app
        .patch(
            &format!("/vendor/orders/{alone}/status"),
            Some(&vendor),
            json!({"status": "shipped", "trackingNumber": "TRK-2"}),
        )
        .await
        .expect(200);
    assert_eq!(statuses(&shipped.data()["nextStatuses"]), ["delivered"]);
}

async fn admin_list_searches_by_order_number_or_customer_email(app: TestApp) {
    let product = app.product("Kettle", 30.0, 50).await;
    let email = format!("meera-{}@example.com", crate::helpers::unique());
    let meera = app.register("Meera Nair", &email, "password123").await;
    let (_, other) = app.customer("Other").await;
    let first = app.cod_order(&meera, &product, 1).await;
    let second = app.cod_order(&meera, &product, 2).await;
    let theirs = app.cod_order(&other, &product, 1).await;
    let admin = app.admin_token.clone();
    let number = |id: &str| {
        let id = id.to_string();
        let app = &app;
        async move {
            app.get(&format!("/orders/{id}"), Some(&app.admin_token))
                .await
                .expect(200)
                .data()["orderNumber"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    let by_number = app
        .get(
            &format!("/orders/admin/all?search={}", number(&second).await),
            Some(&admin),
        )
        .await
        .expect(200);
    let orders = by_number.data()["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["_id"], second.as_str());
    assert_eq!(orders[0]["userId"]["name"], "Meera Nair");
    assert_eq!(orders[0]["userId"]["email"], email.as_str());

    let by_email = app
        .get(
            &format!("/orders/admin/all?search={}", email.to_uppercase()),
            Some(&admin),
        )
        .await
        .expect(200);
    let mut ids: Vec<&str> = by_email.data()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(!ids.contains(&theirs.as_str()));

    let nobody = app
        .get("/orders/admin/all?search=nobody@example.com", Some(&admin))
        .await
        .expect(200);
    assert_eq!(nobody.data()["orders"], json!([]));
    assert_eq!(nobody.data()["pagination"]["totalOrders"], 0);
    let bad = app
        .get("/orders/admin/all?search=kettle", Some(&admin))
        .await
        .expect(400);
    assert_eq!(bad.body["errors"][0]["field"], "search");
}

async fn shipping_without_a_tracking_number_is_refused(app: TestApp) {
    let (_, vendor) = app.user_with_role("Shipper", "vendor").await;
    let product = app
        .product_by(&vendor, json!({"name": "Crate", "price": 10, "stock": 20}))
        .await;
    let (_, customer) = app.customer("Waiting").await;
    let order = app.cod_order(&customer, &product, 1).await;
    for tracking in [None, Some(""), Some("   ")] {
        let mut body = json!({"status": "shipped"});
        if let Some(t) = tracking {
            body["trackingNumber"] = json!(t);
        }
        let resp = app.admin_status(&order, body.clone()).await.expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "trackingNumber");
        let resp = app
            .patch(
                &format!("/vendor/orders/{order}/status"),
                Some(&vendor),
                body,
            )
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "trackingNumber");
    }
    let still = app
        .get(&format!("/orders/{order}"), Some(&customer))
        .await
        .expect(200);
    assert_eq!(still.data()["status"], "confirmed");
    // From a state that cannot ship, the answer is still the move's 409.
    let delivered = app.delivered_order(&customer, &product).await;
    app.admin_status(&delivered, json!({"status": "shipped"}))
        .await
        .expect(409);
    app.patch(
        &format!("/vendor/orders/{order}/status"),
        Some(&vendor),
        json!({"status": "shipped", "trackingNumber": "TRK-OK-1"}),
    )
    .await
    .expect(200);
}

/// Major units of a JSON amount, as paise.
fn paise(value: &Value) -> i64 {
    (value
        .as_f64()
        .unwrap_or_else(|| panic!("an amount: {value}"))
        * 100.0)
        .round() as i64
}

async fn dashboard_figures_count_the_same_orders(app: TestApp) {
    let lamp = app.product("Lamp", 10.0, 50).await;
    let kettle = app.product("Kettle", 25.0, 50).await;
    let (_, customer) = app.customer("Asha").await;
    let admin = app.admin_token.clone();
    // Not sales: one waiting for its payment, one cancelled.
    app.unpaid_order(&customer, &kettle, 4).await;
    let cancelled = app.cod_order(&customer, &kettle, 1).await;
    app.admin_status(&cancelled, json!({"status": "cancelled"}))
        .await
        .expect(200);
    // Sales: cash on delivery and paid online.
    let cod = app.cod_order(&customer, &lamp, 2).await;
    let paid = app.paid_order(&customer, &lamp, 1).await;
    let total = |id: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            paise(
                &app.get(&format!("/orders/{id}"), Some(&admin))
                    .await
                    .expect(200)
                    .data()["totalAmount"],
            )
        }
    };
    let sale_amount = total(cod.clone()).await + total(paid.clone()).await;

    let stats = app
        .get("/orders/admin/stats", Some(&admin))
        .await
        .expect(200);
    let o = &stats.data()["overview"];
    assert_eq!(o["totalOrders"], 4, "{o}");
    assert_eq!(o["saleOrders"], 2, "{o}");
    assert_eq!(paise(&o["saleAmount"]), sale_amount, "{o}");
    assert_eq!(paise(&o["averageSale"]), (sale_amount + 1) / 2, "{o}");
    assert_eq!(o["ordersToFulfil"], 2, "{o}");
    // Top products: only the sales' lines count (the kettle's 5 units are not sales).
    let top = stats.data()["topProducts"].as_array().unwrap().clone();
    assert_eq!(top.len(), 1, "{top:?}");
    assert_eq!(top[0]["productId"], lamp.as_str());
    assert_eq!(top[0]["name"], "Lamp");
    assert_eq!(top[0]["units"], 3);
    assert_eq!(paise(&top[0]["amount"]), 3000);

    // The daily series counts the same set.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let daily = app
        .get(
            &format!("/orders/admin/stats/daily?from={today}&to={today}"),
            Some(&admin),
        )
        .await
        .expect(200);
    let totals = &daily.data()["totals"];
    assert_eq!(totals["saleOrders"], 2, "{totals}");
    assert_eq!(paise(&totals["saleAmount"]), sale_amount, "{totals}");
    assert_eq!(daily.data()["days"][0]["saleOrders"], 2);

    // Shipped is no longer to fulfil; still a sale.
    app.admin_status(
        &cod,
        json!({"status": "shipped", "trackingNumber": "TRK-1"}),
    )
    .await
    .expect(200);
    let stats = app
        .get("/orders/admin/stats", Some(&admin))
        .await
        .expect(200);
    assert_eq!(stats.data()["overview"]["ordersToFulfil"], 1);
    assert_eq!(stats.data()["overview"]["saleOrders"], 2);
    // A range with no orders: zeros and no top products, not an error.
    let empty = app
        .get(
            "/orders/admin/stats?startDate=2001-01-01&endDate=2001-01-02",
            Some(&admin),
        )
        .await
        .expect(200);
    assert_eq!(empty.data()["overview"]["saleOrders"], 0);
    assert_eq!(paise(&empty.data()["overview"]["averageSale"]), 0);
    assert_eq!(empty.data()["topProducts"], json!([]));
}

async fn a_finished_return_leaves_its_history_with_who_and_when(app: TestApp) {
    let product = app.product("Lamp", 10.0, 50).await;
    let (_, customer) = app.customer("Asha").await;
    let order = app.delivered_order(&customer, &product).await;
    app.post(
        &format!("/orders/{order}/return"),
        Some(&customer),
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
    // The customer and the admin read the same history: what, when and who, in order.
    for token in [customer.as_str(), app.admin_token.as_str()] {
        let tracking = app
            .get(&format!("/orders/{order}/tracking"), Some(token))
            .await
            .expect(200);
        let history = tracking.data()["statusHistory"].as_array().unwrap().clone();
        let steps: Vec<(String, Value)> = history
            .iter()
            .map(|h| {
                assert!(h["timestamp"].as_str().unwrap().ends_with('Z'), "{h}");
                (
                    h["description"].as_str().unwrap().to_string(),
                    h["by"].clone(),
                )
            })
            .collect();
        let tail = &steps[steps.len() - 3..];
        assert_eq!(
            tail[0],
            ("Return requested: Too small".to_string(), json!("customer")),
            "{steps:?}"
        );
        assert_eq!(
            tail[1],
            ("Return approved".to_string(), json!("admin")),
            "{steps:?}"
        );
        assert_eq!(tail[2].1, json!("admin"), "{steps:?}");
        assert_eq!(history.last().unwrap()["status"], "returned");
        // The order placed by the customer, shipped and delivered by the admin.
        assert!(steps.iter().any(|(_, by)| by == "admin"));
    }
}
