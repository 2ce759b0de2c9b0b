//! Many buyers of the same few products at once (issue 13): checkouts, confirmations and
//! cancellations racing over shared product rows must never deadlock into a 500, and stock,
//! reservations and sold units must add up afterwards.

use crate::api_tests;
use crate::helpers::TestApp;
use serde_json::{json, Value};

api_tests!(hot_products_checkouts_and_confirmations_never_fail_and_add_up);

/// Products whose name order is the reverse of their id order (ids are time-ordered): code that
/// locks rows by name and code that locks them by id would take them in opposite orders.
async fn hot_products(app: &TestApp, stock: i64) -> Vec<String> {
    let mut ids = Vec::new();
    for name in ["Zinc Serum", "Yarrow Balm", "Xylitol Gum", "Wax Polish"] {
        ids.push(app.product(name, 10.0, stock).await);
    }
    ids
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let resp = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn hot_products_checkouts_and_confirmations_never_fail_and_add_up(app: TestApp) {
    const BUYERS: usize = 16;
    const ROUNDS: usize = 4;
    const STOCK: i64 = 1000;
    let products = hot_products(&app, STOCK).await;
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        let (_, token) = app.customer(&format!("Hot{i}")).await;
        app.set_address(&token).await;
        buyers.push(token);
    }
    // Every buyer at once, round after round: fill the cart with two of the four products (in
    // either order), check out, then pay or cancel, so checkouts (reserving), confirmations
    // (selling) and cancellations (releasing) of orders sharing products all overlap.
    let mut tasks = Vec::new();
    for (i, token) in buyers.into_iter().enumerate() {
        let (client, base, products) = (app.client.clone(), app.address.clone(), products.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for round in 0..ROUNDS {
                let first = &products[(i + round) % 4];
                let second = &products[(i + round + 1 + i % 2) % 4];
                for (product, quantity) in [(second, 2), (first, 1)] {
                    let body = json!({"productId": product, "quantity": quantity});
                    let url = format!("{base}/cart/items");
                    let (status, body) =
                        send(&client, reqwest::Method::POST, url, &token, body).await;
                    assert_eq!(status, 200, "add to cart: {body}");
                }
                let method = if (i + round) % 3 == 0 {
                    "cod"
                } else {
                    "credit_card"
                };
                let url = format!("{base}/orders");
                let (status, placed) = send(
                    &client,
                    reqwest::Method::POST,
                    url,
                    &token,
                    json!({"paymentMethod": method}),
                )
                .await;
                assert_eq!(status, 201, "checkout: {placed}");
                let order_id = placed["data"]["orderId"].as_str().unwrap().to_string();
                if method == "cod" {
                    outcomes.push((order_id, "confirmed"));
                } else if (i + round) % 4 == 3 {
                    let url = format!("{base}/orders/{order_id}/cancel");
                    let (status, body) = send(
                        &client,
                        reqwest::Method::PATCH,
                        url,
                        &token,
                        json!({"reason": "no"}),
                    )
                    .await;
                    assert_eq!(status, 200, "cancel: {body}");
                    outcomes.push((order_id, "cancelled"));
                } else {
                    let url = format!("{base}/payments");
                    let body = json!({"orderId": order_id, "paymentMethod": "credit_card"});
                    let (status, body) =
                        send(&client, reqwest::Method::POST, url, &token, body).await;
                    assert_eq!(status, 200, "payment: {body}");
                    outcomes.push((order_id, "confirmed"));
                }
            }
            outcomes
        }));
    }
    let mut expected = std::collections::HashMap::new();
    for task in tasks {
        for (order_id, status) in task.await.unwrap() {
            expected.insert(order_id, status);
        }
    }
    assert_eq!(expected.len(), BUYERS * ROUNDS);

    // Every unit is either sold (confirmed orders) or back on the shelf; nothing stays reserved.
    let mut sold = std::collections::HashMap::<String, i64>::new();
    for page in 1..=(BUYERS * ROUNDS).div_ceil(100) {
        let all = app
            .get(
                &format!("/orders/admin/all?limit=100&page={page}"),
                Some(&app.admin_token),
            )
            .await
            .expect(200);
        for order in all.data()["orders"].as_array().unwrap() {
            let id = order["_id"].as_str().unwrap();
            assert_eq!(order["status"], json!(expected[id]), "{order}");
            if order["status"] == "confirmed" {
                for item in order["items"].as_array().unwrap() {
                    let product = item["productId"]
                        .as_str()
                        .or_else(|| item["productId"]["_id"].as_str())
                        .unwrap()
                        .to_string();
                    *sold.entry(product).or_default() += item["quantity"].as_i64().unwrap();
                }
            }
        }
    }
    for product_id in &products {
        let product = app.product_json(product_id).await;
        let sold = sold.get(product_id).copied().unwrap_or(0);
        assert!(sold > 0);
        assert_eq!(product["stock"].as_i64(), Some(STOCK - sold), "{product}");
        assert_eq!(
            product["availableStock"].as_i64(),
            Some(STOCK - sold),
            "{product}"
        );
    }
}
