//! The cart (CONTRACT §5): lines, quantities and stock, prices, deactivated products, addresses,
//! isolation between users and concurrent adds.

use crate::api_tests;
use crate::helpers::{Resp, TestApp};
use serde_json::{json, Value};

api_tests!(
    a_new_user_gets_an_empty_cart,
    the_seed_example_prices_exactly,
    adding_a_product_again_adds_to_its_quantity,
    quantity_must_be_a_whole_number_from_1_to_100,
    product_id_must_be_a_known_active_product,
    bad_cart_bodies_get_one_error_naming_the_first_bad_field,
    above_available_stock_is_a_conflict_naming_what_is_left,
    a_line_holds_at_most_100_units,
    lines_can_be_updated_and_removed,
    clearing_the_cart_drops_lines_and_code_but_keeps_the_address,
    deactivated_products_are_dropped_on_read_with_a_message,
    lines_show_current_prices,
    two_users_never_see_each_others_carts,
    fifty_concurrent_adds_sum_exactly,
    fifty_concurrent_adds_stop_cleanly_at_the_stock_limit,
    fifty_concurrent_adds_stop_cleanly_at_100_units,
    shipping_address_inline_or_saved,
    shipping_fee_applies_below_the_free_shipping_threshold,
    cart_routes_need_a_token,
    openapi_documents_every_cart_and_discount_route,
);

/// `POST /cart/items` of `quantity` units.
pub async fn add(app: &TestApp, token: &str, product: &str, quantity: i64) -> Resp {
    app.post(
        "/cart/items",
        Some(token),
        json!({"productId": product, "quantity": quantity}),
    )
    .await
}

fn message(resp: &Resp) -> String {
    resp.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The quantity of the cart's line of `product` (0 when absent).
fn quantity_of(cart: &Value, product: &str) -> i64 {
    cart["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["productId"]["_id"] == product)
        .map_or(0, |item| item["quantity"].as_i64().unwrap())
}

async fn a_new_user_gets_an_empty_cart(app: TestApp) {
    let (user_id, token) = app.customer("Empty").await;
    let first = app.get("/cart", Some(&token)).await.expect(200);
    let cart = first.data();
    assert!(cart["_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(cart["userId"], user_id.as_str());
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["totalItems"], 0);
    assert_eq!(cart["totalAmount"], json!(0.0));
    assert_eq!(cart["discount"], json!(0.0));
    assert_eq!(cart["discountCode"], Value::Null);
    assert_eq!(cart["shippingAddress"], Value::Null);
    assert_eq!(cart["finalAmount"], json!(0.0));
    assert_eq!(cart["shippingCharges"], json!(0.0));
    assert_eq!(cart["estimatedTax"], json!(0.0));
    assert_eq!(cart["estimatedTotal"], json!(0.0));
    assert_eq!(cart["isActive"], true);
    assert_eq!(first.body["message"], "Cart retrieved successfully");

    // The same cart on the next read: made once.
    let second = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(second.data()["_id"], cart["_id"]);

    let summary = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert_eq!(summary.data()["hasItems"], false);
    assert_eq!(summary.data()["totalItems"], 0);
    assert_eq!(summary.data()["subtotal"], json!(0.0));

    // Concurrent first reads of another new user all succeed on one cart.
    let (_, fresh) = app.customer("Racer").await;
    let reads: Vec<_> = (0..10)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/cart");
            let token = fresh.clone();
            tokio::spawn(async move {
                let resp = client.get(url).bearer_auth(token).send().await.unwrap();
                crate::helpers::read(resp).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for read in reads {
        let resp = read.await.unwrap().expect(200);
        ids.push(resp.data()["_id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one cart: {ids:?}");
}

async fn the_seed_example_prices_exactly(app: TestApp) {
    let product = app
        .product_with(json!({
            "name": "Professional Hair Shampoo", "price": 25.99, "stock": 50,
            "brand": "SalonPro", "category": "hair_care",
            "imageUrls": ["https://example.com/image1.jpg"]
        }))
        .await;
    let (_, token) = app.customer("Seed").await;
    let resp = add(&app, &token, &product, 2).await.expect(200);
    assert_eq!(resp.body["message"], "Item added to cart successfully");
    let cart = resp.data();
    assert_eq!(cart["totalItems"], 2);
    assert_eq!(cart["totalAmount"], json!(51.98));
    assert_eq!(cart["discount"], json!(0.0));
    assert_eq!(cart["finalAmount"], json!(51.98));
    assert_eq!(cart["shippingCharges"], json!(0.0));
    assert_eq!(cart["estimatedTax"], json!(9.36));
    assert_eq!(cart["estimatedTotal"], json!(61.34));

    let item = &cart["items"][0];
    assert_eq!(item["quantity"], 2);
    assert_eq!(item["price"], json!(25.99));
    assert_eq!(item["totalPrice"], json!(51.98));
    assert!(item["addedAt"].as_str().unwrap().ends_with('Z'));
    let populated = &item["productId"];
    assert_eq!(populated["_id"], product.as_str());
    assert_eq!(populated["name"], "Professional Hair Shampoo");
    assert_eq!(populated["price"], json!(25.99));
    assert_eq!(
        populated["imageUrls"],
        json!(["https://example.com/image1.jpg"])
    );
    assert_eq!(populated["brand"], "SalonPro");
    assert_eq!(populated["category"], "hair_care");
    assert_eq!(populated["stock"], 50);
    assert_eq!(populated["availableStock"], 50);
    assert_eq!(populated["isActive"], true);

    let summary = app.get("/cart/summary", Some(&token)).await.expect(200);
    let s = summary.data();
    assert_eq!(
        summary.body["message"],
        "Cart summary retrieved successfully"
    );
    assert_eq!(s["totalItems"], 2);
    assert_eq!(s["subtotal"], json!(51.98));
    assert_eq!(s["discount"], json!(0.0));
    assert_eq!(s["discountCode"], Value::Null);
    assert_eq!(s["finalAmount"], json!(51.98));
    assert_eq!(s["hasItems"], true);
    assert_eq!(s["shippingCharges"], json!(0.0));
    assert_eq!(s["estimatedTax"], json!(9.36));
    assert_eq!(s["estimatedTotal"], json!(61.34));
    assert!(s.get("items").is_none());
}

async fn adding_a_product_again_adds_to_its_quantity(app: TestApp) {
    let shampoo = app.product("Shampoo", 25.99, 50).await;
    let comb = app.product("Comb", 3.50, 50).await;
    let (_, token) = app.customer("Again").await;
    add(&app, &token, &shampoo, 2).await.expect(200);
    add(&app, &token, &comb, 1).await.expect(200);
    let cart = add(&app, &token, &shampoo, 3).await.expect(200);
    let cart = cart.data();
    assert_eq!(cart["items"].as_array().unwrap().len(), 2);
    assert_eq!(quantity_of(cart, &shampoo), 5);
    assert_eq!(quantity_of(cart, &comb), 1);
    assert_eq!(cart["totalItems"], 6);
    // 5 x 25.99 + 3.50 = 133.45
    assert_eq!(cart["totalAmount"], json!(133.45));
    // Lines keep the order they were first added in.
    assert_eq!(cart["items"][0]["productId"]["_id"], shampoo.as_str());
}

async fn quantity_must_be_a_whole_number_from_1_to_100(app: TestApp) {
    let product = app.product("Brush", 10.0, 500).await;
    let (_, token) = app.customer("Quantities").await;
    let bad: [Value; 8] = [
        json!(0),
        json!(101),
        json!(-1),
        json!("two"),
        json!(2.5),
        json!(null),
        json!([2]),
        json!(1e30),
    ];
    for quantity in bad.iter() {
        let resp = app
            .post(
                "/cart/items",
                Some(&token),
                json!({"productId": product, "quantity": quantity}),
            )
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "quantity", "{quantity}");
        assert!(message(&resp).contains("quantity"), "{}", resp.body);
    }
    let missing = app
        .post("/cart/items", Some(&token), json!({"productId": product}))
        .await
        .expect(400);
    assert_eq!(missing.body["errors"][0]["field"], "quantity");

    // The same rules when setting a line's quantity.
    add(&app, &token, &product, 1).await.expect(200);
    for quantity in bad.iter() {
        let path = format!("/cart/items/{product}");
        let resp = app
            .put(&path, Some(&token), json!({"quantity": quantity}))
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "quantity", "{quantity}");
        let resp = app
            .patch(&path, Some(&token), json!({"quantity": quantity}))
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "quantity", "{quantity}");
    }
    app.put(&format!("/cart/items/{product}"), Some(&token), json!({}))
        .await
        .expect(400);
    // Nothing changed.
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(quantity_of(cart.data(), &product), 1);
    // Malformed JSON is a 400 too.
    let resp = app
        .client
        .post(app.url("/cart/items"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"productId\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

async fn product_id_must_be_a_known_active_product(app: TestApp) {
    let (_, token) = app.customer("Ids").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let resp = add(&app, &token, &unknown, 1).await.expect(404);
    assert!(message(&resp).contains("Product"), "{}", resp.body);

    for bad in [json!("not-an-id"), json!(42), json!("../../etc/passwd")] {
        let resp = app
            .post(
                "/cart/items",
                Some(&token),
                json!({"productId": bad, "quantity": 1}),
            )
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "productId");
    }
    let resp = app
        .post("/cart/items", Some(&token), json!({"quantity": 1}))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "productId");

    let retired = app.product("Retired", 5.0, 10).await;
    app.delete(&format!("/products/{retired}"), Some(&app.admin_token))
        .await
        .expect(200);
    let resp = add(&app, &token, &retired, 1).await.expect(404);
    assert!(message(&resp).contains("not found"), "{}", resp.body);

    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["items"], json!([]));
}

/// The whole 400 envelope, checked in a fixed order: the path, then the fields in the type's order.
async fn bad_cart_bodies_get_one_error_naming_the_first_bad_field(app: TestApp) {
    let product = app.product("Envelope", 10.0, 50).await;
    let (_, token) = app.customer("Envelopes").await;
    let expect = |resp: Resp, field: &str, problem: &str, value: Value| {
        assert_eq!(
            resp.body["message"],
            format!("Validation failed: {field} {problem}"),
            "{}",
            resp.body
        );
        assert_eq!(
            resp.body["errors"],
            json!([{"field": field, "message": problem, "value": value}]),
            "{}",
            resp.body
        );
    };
    let quantity_rule = "must be a whole number from 1 to 100";
    let resp = app
        .post(
            "/cart/items",
            Some(&token),
            json!({"productId": product, "quantity": 2.5}),
        )
        .await
        .expect(400);
    expect(resp, "quantity", quantity_rule, json!(2.5));
    let resp = app
        .post("/cart/items", Some(&token), json!({"productId": product}))
        .await
        .expect(400);
    let required = format!("is required and {quantity_rule}");
    expect(resp, "quantity", &required, Value::Null);
    // productId is checked before quantity, wherever each stands in the body.
    let resp = app
        .post("/cart/items", Some(&token), json!({"quantity": 0}))
        .await
        .expect(400);
    expect(resp, "productId", "is required", Value::Null);
    let resp = app
        .post(
            "/cart/items",
            Some(&token),
            json!({"quantity": 0, "productId": 42}),
        )
        .await
        .expect(400);
    expect(resp, "productId", "must be a valid id (UUID)", json!(42));
    // The path's id before the body.
    let resp = app
        .put(
            "/cart/items/not-an-id",
            Some(&token),
            json!({"quantity": 0}),
        )
        .await
        .expect(400);
    expect(
        resp,
        "productId",
        "must be a valid id (UUID)",
        json!("not-an-id"),
    );

    let resp = app
        .post("/cart/discount", Some(&token), json!({"discountCode": 5}))
        .await
        .expect(400);
    expect(
        resp,
        "discountCode",
        "must be a string of up to 20 characters",
        json!(5),
    );
    let resp = app
        .post(
            "/cart/discount",
            Some(&token),
            json!({"discountCode": "NO SPACES"}),
        )
        .await
        .expect(400);
    expect(
        resp,
        "discountCode",
        "must be 1 to 20 characters of A-Z, 0-9, _ and -",
        json!("NO SPACES"),
    );

    let resp = app
        .put(
            "/cart/shipping-address",
            Some(&token),
            json!({"addressId": 7}),
        )
        .await
        .expect(400);
    expect(resp, "addressId", "must be a valid id (UUID)", json!(7));
    let resp = app
        .put("/cart/shipping-address", Some(&token), json!("street"))
        .await
        .expect(400);
    assert_eq!(
        resp.body["message"],
        "The body must be an address object or {\"addressId\": \"...\"}"
    );
}

async fn above_available_stock_is_a_conflict_naming_what_is_left(app: TestApp) {
    let product = app.product("Scarce", 12.0, 3).await;
    let (_, token) = app.customer("Stock").await;

    let resp = add(&app, &token, &product, 4)
        .await
        .expect_error(409, "insufficient_stock");
    assert!(message(&resp).contains("only 3"), "{}", resp.body);

    add(&app, &token, &product, 2).await.expect(200);
    let resp = add(&app, &token, &product, 2)
        .await
        .expect_error(409, "insufficient_stock");
    let text = message(&resp);
    assert!(
        text.contains("only 3") && text.contains("already holds 2"),
        "{text}"
    );
    add(&app, &token, &product, 1).await.expect(200);

    let path = format!("/cart/items/{product}");
    let resp = app
        .put(&path, Some(&token), json!({"quantity": 4}))
        .await
        .expect_error(409, "insufficient_stock");
    assert!(message(&resp).contains("only 3"), "{}", resp.body);
    app.put(&path, Some(&token), json!({"quantity": 1}))
        .await
        .expect(200);

    // Stock lowered by the admin: adding more says how many are left.
    app.patch(
        &format!("/products/{product}"),
        Some(&app.admin_token),
        json!({"stock": 1}),
    )
    .await
    .expect(200);
    let resp = add(&app, &token, &product, 1)
        .await
        .expect_error(409, "insufficient_stock");
    assert!(message(&resp).contains("only 1 is left"), "{}", resp.body);
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(quantity_of(cart.data(), &product), 1);
    assert_eq!(cart.data()["items"][0]["productId"]["availableStock"], 1);

    let sold_out = app.product("Sold out", 12.0, 0).await;
    let resp = add(&app, &token, &sold_out, 1)
        .await
        .expect_error(409, "insufficient_stock");
    assert!(message(&resp).contains("none are left"), "{}", resp.body);
}

async fn a_line_holds_at_most_100_units(app: TestApp) {
    let product = app.product("Bulk", 1.0, 1000).await;
    let (_, token) = app.customer("Bulk buyer").await;
    add(&app, &token, &product, 60).await.expect(200);
    let resp = add(&app, &token, &product, 41)
        .await
        .expect_error(409, "line_limit_reached");
    let text = message(&resp);
    assert!(
        text.contains("at most 100") && text.contains("60"),
        "{text}"
    );
    let cart = add(&app, &token, &product, 40).await.expect(200);
    assert_eq!(quantity_of(cart.data(), &product), 100);
    add(&app, &token, &product, 1)
        .await
        .expect_error(409, "line_limit_reached");
}

async fn lines_can_be_updated_and_removed(app: TestApp) {
    let shampoo = app.product("Shampoo", 25.99, 50).await;
    let comb = app.product("Comb", 3.5, 50).await;
    let (_, token) = app.customer("Editor").await;
    add(&app, &token, &shampoo, 1).await.expect(200);

    let path = format!("/cart/items/{shampoo}");
    let put = app
        .put(&path, Some(&token), json!({"quantity": 3}))
        .await
        .expect(200);
    assert_eq!(put.body["message"], "Cart item updated successfully");
    assert_eq!(quantity_of(put.data(), &shampoo), 3);
    assert_eq!(put.data()["totalAmount"], json!(77.97));
    let patch = app
        .patch(&path, Some(&token), json!({"quantity": 2}))
        .await
        .expect(200);
    assert_eq!(quantity_of(patch.data(), &shampoo), 2);

    // A product that is not in the cart: 404 for update and remove, whatever the product.
    let comb_path = format!("/cart/items/{comb}");
    let resp = app
        .put(&comb_path, Some(&token), json!({"quantity": 1}))
        .await
        .expect(404);
    assert!(message(&resp).contains("not in your cart"), "{}", resp.body);
    app.patch(&comb_path, Some(&token), json!({"quantity": 1}))
        .await
        .expect(404);
    app.delete(&comb_path, Some(&token)).await.expect(404);
    let unknown = format!("/cart/items/{}", uuid::Uuid::new_v4());
    app.put(&unknown, Some(&token), json!({"quantity": 1}))
        .await
        .expect(404);
    app.put(
        "/cart/items/not-an-id",
        Some(&token),
        json!({"quantity": 1}),
    )
    .await
    .expect(400);
    app.delete("/cart/items/not-an-id", Some(&token))
        .await
        .expect(400);

    let removed = app.delete(&path, Some(&token)).await.expect(200);
    assert_eq!(
        removed.body["message"],
        "Item removed from cart successfully"
    );
    assert_eq!(removed.data()["items"], json!([]));
    assert_eq!(removed.data()["totalAmount"], json!(0.0));
    app.delete(&path, Some(&token)).await.expect(404);
}

async fn clearing_the_cart_drops_lines_and_code_but_keeps_the_address(app: TestApp) {
    let product = app.product("Shampoo", 25.99, 50).await;
    let (_, token) = app.customer("Clearer").await;
    crate::discounts::create_code(
        &app,
        json!({"code": "CLEAR5", "type": "fixed", "value": 5, "minOrderAmount": 0}),
    )
    .await;
    add(&app, &token, &product, 2).await.expect(200);
    app.post(
        "/cart/discount",
        Some(&token),
        json!({"discountCode": "CLEAR5"}),
    )
    .await
    .expect(200);
    app.put("/cart/shipping-address", Some(&token), address_body())
        .await
        .expect(200);
    let before = app.get("/cart", Some(&token)).await.expect(200);

    let cleared = app.delete("/cart", Some(&token)).await.expect(200);
    assert_eq!(cleared.body["message"], "Cart cleared successfully");
    let cart = cleared.data();
    assert_eq!(cart["_id"], before.data()["_id"]);
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["totalItems"], 0);
    assert_eq!(cart["discountCode"], Value::Null);
    assert_eq!(cart["discount"], json!(0.0));
    assert_eq!(cart["estimatedTotal"], json!(0.0));
    assert_eq!(cart["shippingAddress"]["city"], "Mumbai");

    // Clearing an empty (or never used) cart is fine.
    app.delete("/cart", Some(&token)).await.expect(200);
    let (_, fresh) = app.customer("Never used").await;
    app.delete("/cart", Some(&fresh)).await.expect(200);
}

async fn deactivated_products_are_dropped_on_read_with_a_message(app: TestApp) {
    let kept = app.product("Kept Conditioner", 10.0, 50).await;
    let gone = app.product("Discontinued Gel", 7.0, 50).await;
    let (_, token) = app.customer("Reader").await;
    add(&app, &token, &kept, 1).await.expect(200);
    add(&app, &token, &gone, 2).await.expect(200);

    app.delete(&format!("/products/{gone}"), Some(&app.admin_token))
        .await
        .expect(200);

    let resp = app.get("/cart", Some(&token)).await.expect(200);
    let text = message(&resp);
    assert!(
        text.starts_with("Cart retrieved successfully") && text.contains("Discontinued Gel"),
        "{text}"
    );
    assert!(text.contains("no longer available"), "{text}");
    let cart = resp.data();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(quantity_of(cart, &kept), 1);
    assert_eq!(cart["totalItems"], 1);
    assert_eq!(cart["totalAmount"], json!(10.0));

    // Dropped for good: the next read says nothing, and the line cannot be updated.
    let again = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(again.body["message"], "Cart retrieved successfully");
    app.put(
        &format!("/cart/items/{gone}"),
        Some(&token),
        json!({"quantity": 1}),
    )
    .await
    .expect(404);

    // The summary drops them too.
    add(&app, &token, &kept, 1).await.expect(200);
    let other = app.product("Soon Gone", 3.0, 5).await;
    add(&app, &token, &other, 1).await.expect(200);
    app.patch(
        &format!("/products/{other}"),
        Some(&app.admin_token),
        json!({"isActive": false}),
    )
    .await
    .expect(200);
    let summary = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert!(message(&summary).contains("Soon Gone"), "{}", summary.body);
    assert_eq!(summary.data()["totalItems"], 2);
    assert_eq!(summary.data()["subtotal"], json!(20.0));
}

async fn lines_show_current_prices(app: TestApp) {
    let product = app.product("Serum", 25.99, 50).await;
    let (_, token) = app.customer("Watcher").await;
    add(&app, &token, &product, 2).await.expect(200);
    app.patch(
        &format!("/products/{product}"),
        Some(&app.admin_token),
        json!({"price": 20.00}),
    )
    .await
    .expect(200);
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    let cart = cart.data();
    assert_eq!(cart["items"][0]["price"], json!(20.0));
    assert_eq!(cart["items"][0]["productId"]["price"], json!(20.0));
    assert_eq!(cart["totalAmount"], json!(40.0));
    assert_eq!(cart["estimatedTax"], json!(7.2));
    assert_eq!(cart["estimatedTotal"], json!(47.2));
}

async fn two_users_never_see_each_others_carts(app: TestApp) {
    let shampoo = app.product("Shampoo", 25.99, 50).await;
    let comb = app.product("Comb", 3.5, 50).await;
    let (asha_id, asha) = app.customer("Asha").await;
    let (ravi_id, ravi) = app.customer("Ravi").await;

    add(&app, &asha, &shampoo, 2).await.expect(200);
    add(&app, &ravi, &comb, 1).await.expect(200);

    let a = app.get("/cart", Some(&asha)).await.expect(200);
    let r = app.get("/cart", Some(&ravi)).await.expect(200);
    assert_ne!(a.data()["_id"], r.data()["_id"]);
    assert_eq!(a.data()["userId"], asha_id.as_str());
    assert_eq!(r.data()["userId"], ravi_id.as_str());
    assert_eq!(quantity_of(a.data(), &shampoo), 2);
    assert_eq!(quantity_of(a.data(), &comb), 0);
    assert_eq!(quantity_of(r.data(), &comb), 1);
    assert_eq!(quantity_of(r.data(), &shampoo), 0);

    // Ravi cannot touch Asha's line: it is simply not in his cart.
    let path = format!("/cart/items/{shampoo}");
    app.put(&path, Some(&ravi), json!({"quantity": 5}))
        .await
        .expect(404);
    app.delete(&path, Some(&ravi)).await.expect(404);
    app.delete("/cart", Some(&ravi)).await.expect(200);

    let a = app.get("/cart", Some(&asha)).await.expect(200);
    assert_eq!(quantity_of(a.data(), &shampoo), 2);
    assert_eq!(a.data()["totalAmount"], json!(51.98));
}

/// Sends `count` concurrent adds of `quantity` units with one token; returns (successes, 409s).
async fn concurrent_adds(
    app: &TestApp,
    token: &str,
    product: &str,
    count: usize,
    quantity: i64,
) -> (i64, i64) {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/cart/items");
            let token = token.to_string();
            let body = json!({"productId": product, "quantity": quantity});
            tokio::spawn(async move {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                crate::helpers::read(resp).await
            })
        })
        .collect();
    let (mut ok, mut conflicts) = (0, 0);
    for task in tasks {
        let resp = task.await.unwrap();
        match resp.status.as_u16() {
            200 => ok += 1,
            409 => {
                assert_eq!(resp.body["success"], false);
                conflicts += 1;
            }
            other => panic!("unexpected status {other}: {}", resp.body),
        }
    }
    (ok, conflicts)
}

async fn fifty_concurrent_adds_sum_exactly(app: TestApp) {
    let product = app.product("Popular", 9.99, 1000).await;
    let (_, token) = app.customer("Clicker").await;
    let (ok, conflicts) = concurrent_adds(&app, &token, &product, 50, 2).await;
    assert_eq!((ok, conflicts), (50, 0));
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(quantity_of(cart.data(), &product), 100);
    assert_eq!(cart.data()["items"].as_array().unwrap().len(), 1);
}

async fn fifty_concurrent_adds_stop_cleanly_at_the_stock_limit(app: TestApp) {
    let product = app.product("Limited", 9.99, 40).await;
    let (_, token) = app.customer("Clicker").await;
    let (ok, conflicts) = concurrent_adds(&app, &token, &product, 50, 1).await;
    assert_eq!((ok, conflicts), (40, 10));
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(quantity_of(cart.data(), &product), 40);
}

async fn fifty_concurrent_adds_stop_cleanly_at_100_units(app: TestApp) {
    let product = app.product("Plenty", 1.0, 10_000).await;
    let (_, token) = app.customer("Clicker").await;
    let (ok, conflicts) = concurrent_adds(&app, &token, &product, 50, 3).await;
    // 33 x 3 = 99 fits; a 34th would make 102.
    assert_eq!((ok, conflicts), (33, 17));
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(quantity_of(cart.data(), &product), ok * 3);
}

fn address_body() -> Value {
    json!({
        "street": "123 Main Street", "city": "Mumbai", "state": "Maharashtra",
        "zipCode": "400001", "phone": "+1234567890"
    })
}

async fn shipping_address_inline_or_saved(app: TestApp) {
    let (_, token) = app.customer("Shipper").await;
    let resp = app
        .put("/cart/shipping-address", Some(&token), address_body())
        .await
        .expect(200);
    assert_eq!(
        resp.body["message"],
        "Shipping address updated successfully"
    );
    let address = &resp.data()["shippingAddress"];
    assert_eq!(address["street"], "123 Main Street");
    assert_eq!(address["city"], "Mumbai");
    assert_eq!(address["state"], "Maharashtra");
    assert_eq!(address["zipCode"], "400001");
    assert_eq!(address["country"], "India");
    assert_eq!(address["phone"], "+1234567890");
    let summary = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert_eq!(summary.data()["shippingAddress"]["city"], "Mumbai");

    // Each missing or mistyped field is named.
    for field in ["street", "city", "state", "zipCode", "phone"] {
        let mut body = address_body();
        body.as_object_mut().unwrap().remove(field);
        let resp = app
            .put("/cart/shipping-address", Some(&token), body)
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field);
        let mut body = address_body();
        body[field] = json!(12);
        let resp = app
            .put("/cart/shipping-address", Some(&token), body)
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field);
    }
    let mut bad_zip = address_body();
    bad_zip["zipCode"] = json!("!");
    app.put("/cart/shipping-address", Some(&token), bad_zip)
        .await
        .expect(400);
    app.put("/cart/shipping-address", Some(&token), json!([1, 2]))
        .await
        .expect(400);

    // A saved address, by id.
    let saved = app
        .post(
            "/addresses",
            Some(&token),
            json!({"street": "9 Lake Road", "city": "Pune", "state": "Maharashtra",
                   "zipCode": "411001", "phone": "+919876543210", "name": "Home"}),
        )
        .await
        .expect(201);
    let address_id = saved.data()["_id"].as_str().unwrap().to_string();
    let resp = app
        .put(
            "/cart/shipping-address",
            Some(&token),
            json!({"addressId": address_id}),
        )
        .await
        .expect(200);
    assert_eq!(resp.data()["shippingAddress"]["city"], "Pune");
    assert_eq!(resp.data()["shippingAddress"]["name"], "Home");

    // Another user's address is not found, and the cart keeps its address.
    let (_, other) = app.customer("Other").await;
    let foreign = app
        .post(
            "/addresses",
            Some(&other),
            json!({"street": "1 Far Away", "city": "Delhi", "state": "Delhi",
                   "zipCode": "110001", "phone": "+911234567890"}),
        )
        .await
        .expect(201);
    let foreign_id = foreign.data()["_id"].as_str().unwrap().to_string();
    app.put(
        "/cart/shipping-address",
        Some(&token),
        json!({"addressId": foreign_id}),
    )
    .await
    .expect(404);
    app.put(
        "/cart/shipping-address",
        Some(&token),
        json!({"addressId": uuid::Uuid::new_v4().to_string()}),
    )
    .await
    .expect(404);
    let resp = app
        .put(
            "/cart/shipping-address",
            Some(&token),
            json!({"addressId": "nope"}),
        )
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "addressId");
    let mut both = address_body();
    both["addressId"] = json!(address_id);
    app.put("/cart/shipping-address", Some(&token), both)
        .await
        .expect(400);
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["shippingAddress"]["city"], "Pune");
}

async fn shipping_fee_applies_below_the_free_shipping_threshold(app: TestApp) {
    let app = TestApp::spawn_with(
        app.db,
        &[("SHIPPING_FEE", "49"), ("FREE_SHIPPING_THRESHOLD", "500")],
    )
    .await
    .unwrap();
    let product = app.product("Shampoo", 25.99, 100).await;
    let (_, token) = app.customer("Shipping").await;
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(
        cart.data()["shippingCharges"],
        json!(0.0),
        "nothing to ship"
    );

    let cart = add(&app, &token, &product, 2).await.expect(200);
    let c = cart.data();
    assert_eq!(c["shippingCharges"], json!(49.0));
    assert_eq!(c["estimatedTax"], json!(9.36));
    // 51.98 + 49.00 + 9.36
    assert_eq!(c["estimatedTotal"], json!(110.34));

    // 20 x 25.99 = 519.80: at or above 500.00 ships free.
    let cart = app
        .put(
            &format!("/cart/items/{product}"),
            Some(&token),
            json!({"quantity": 20}),
        )
        .await
        .expect(200);
    let c = cart.data();
    assert_eq!(c["totalAmount"], json!(519.8));
    assert_eq!(c["shippingCharges"], json!(0.0));
    // 519.80 * 0.18 = 93.564 -> 93.56
    assert_eq!(c["estimatedTax"], json!(93.56));
    assert_eq!(c["estimatedTotal"], json!(613.36));
}

async fn cart_routes_need_a_token(app: TestApp) {
    let id = uuid::Uuid::new_v4();
    let item = format!("/cart/items/{id}");
    for resp in [
        app.get("/cart", None).await,
        app.get("/cart/summary", None).await,
        app.post("/cart/items", None, json!({"productId": id, "quantity": 1}))
            .await,
        app.put(&item, None, json!({"quantity": 1})).await,
        app.patch(&item, None, json!({"quantity": 1})).await,
        app.delete(&item, None).await,
        app.delete("/cart", None).await,
        app.post("/cart/discount", None, json!({"discountCode": "X"}))
            .await,
        app.delete("/cart/discount", None).await,
        app.put("/cart/shipping-address", None, address_body())
            .await,
        app.get("/cart", Some("not-a-token")).await,
    ] {
        resp.expect(401);
    }
    // Any role has a cart.
    let (_, vendor) = app.user_with_role("Vendor", "vendor").await;
    app.get("/cart", Some(&vendor)).await.expect(200);
    app.get("/cart", Some(&app.admin_token)).await.expect(200);
}

async fn openapi_documents_every_cart_and_discount_route(app: TestApp) {
    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status.as_u16(), 200);
    let routes = [
        ("get", "/cart", "cart", &["200", "401"][..]),
        ("delete", "/cart", "cart", &["200", "401"]),
        ("get", "/cart/summary", "cart", &["200", "401"]),
        (
            "post",
            "/cart/items",
            "cart",
            &["200", "400", "401", "404", "409"],
        ),
        (
            "put",
            "/cart/items/{productId}",
            "cart",
            &["200", "400", "401", "404", "409"],
        ),
        (
            "patch",
            "/cart/items/{productId}",
            "cart",
            &["200", "400", "401", "404", "409"],
        ),
        (
            "delete",
            "/cart/items/{productId}",
            "cart",
            &["200", "400", "401", "404"],
        ),
        ("post", "/cart/discount", "cart", &["200", "400", "401"]),
        ("delete", "/cart/discount", "cart", &["200", "401"]),
        (
            "put",
            "/cart/shipping-address",
            "cart",
            &["200", "400", "401", "404"],
        ),
        (
            "get",
            "/admin/discounts",
            "discounts",
            &["200", "400", "401", "403"],
        ),
        (
            "post",
            "/admin/discounts",
            "discounts",
            &["201", "400", "401", "403", "409"],
        ),
        (
            "get",
            "/admin/discounts/{code}",
            "discounts",
            &["200", "400", "401", "403", "404"],
        ),
        (
            "put",
            "/admin/discounts/{code}",
            "discounts",
            &["200", "400", "401", "403", "404", "409"],
        ),
        (
            "delete",
            "/admin/discounts/{code}",
            "discounts",
            &["200", "400", "401", "403", "404"],
        ),
    ];
    for (method, path, tag, statuses) in routes {
        let op = &doc.body["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["tags"], json!([tag]), "{method} {path}");
        assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
        for status in statuses {
            assert!(
                op["responses"][status].is_object(),
                "{method} {path} does not document {status}"
            );
        }
    }
    let schemas = &doc.body["components"]["schemas"];
    for field in [
        "shippingCharges",
        "estimatedTax",
        "estimatedTotal",
        "finalAmount",
        "items",
    ] {
        assert!(
            schemas["CartView"]["properties"][field].is_object(),
            "{field}"
        );
    }
    assert!(schemas["DiscountView"]["properties"]["usedCount"].is_object());
}
