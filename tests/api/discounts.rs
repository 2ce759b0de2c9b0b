//! Discount codes (CONTRACT §5): admin CRUD, applying codes to a cart and every rule that refuses
//! one, automatic removal, and the use reservations checkout relies on (limits under concurrency).

use crate::api_tests;
use crate::cart::add;
use crate::helpers::{Resp, TestApp};
use cartwright::domain::money::Money;
use cartwright::error::{Error, ErrorCode};
use cartwright::store::Store;
use serde_json::{json, Value};

api_tests!(
    admins_create_read_list_update_and_delete_codes,
    code_definitions_are_validated,
    only_admins_manage_codes,
    welcome10_takes_ten_percent_up_to_100,
    save50_needs_an_order_of_500,
    code_is_removed_automatically_when_the_cart_drops_under_the_minimum,
    each_refused_code_says_which_rule,
    an_ended_code_keeps_its_end_when_deactivated_but_takes_no_new_past_end,
    a_code_cannot_be_applied_to_an_empty_cart,
    per_customer_limit_counts_reserved_and_final_uses,
    usage_limit_holds_when_ten_checkouts_race_for_the_last_use,
    released_uses_come_back_and_final_ones_stay,
    used_codes_are_deactivated_not_deleted,
    removing_the_code_from_the_cart,
    demo_codes_are_seeded_idempotently,
);

/// Creates a code through the admin API and returns its JSON.
pub async fn create_code(app: &TestApp, body: Value) -> Value {
    app.post("/admin/discounts", Some(&app.admin_token), body)
        .await
        .expect(201)
        .data()
        .clone()
}

/// The demo codes of CONTRACT §5, created as an admin would (demo data is off in tests).
async fn create_demo_codes(app: &TestApp) {
    create_code(
        app,
        json!({"code": "WELCOME10", "type": "percent", "value": 10, "minOrderAmount": 0,
               "maxDiscountAmount": 100, "perUserLimit": 1, "isActive": true}),
    )
    .await;
    create_code(
        app,
        json!({"code": "SAVE50", "type": "fixed", "value": 50, "minOrderAmount": 500,
               "isActive": true}),
    )
    .await;
}

async fn apply(app: &TestApp, token: &str, code: &str) -> Resp {
    app.post("/cart/discount", Some(token), json!({"discountCode": code}))
        .await
}

fn message(resp: &Resp) -> String {
    resp.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A second handle on the test's database, for what only checkout does (reserving uses).
async fn store(app: &TestApp) -> Store {
    Store::connect(&app.config).await.expect("store connects")
}

fn order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn admins_create_read_list_update_and_delete_codes(app: TestApp) {
    let created = create_code(
        &app,
        json!({"code": "spring-24", "type": "percent", "value": 12.5, "minOrderAmount": 100,
               "maxDiscountAmount": 250.5, "startsAt": "2024-03-01T00:00:00Z",
               "endsAt": "2099-06-01", "usageLimit": 500, "perUserLimit": 2}),
    )
    .await;
    assert_eq!(created["code"], "SPRING-24");
    assert_eq!(created["type"], "percent");
    assert_eq!(created["value"], json!(12.5));
    assert_eq!(created["minOrderAmount"], json!(100.0));
    assert_eq!(created["maxDiscountAmount"], json!(250.5));
    assert_eq!(created["startsAt"], "2024-03-01T00:00:00.000Z");
    assert_eq!(created["endsAt"], "2099-06-01T00:00:00.000Z");
    assert_eq!(created["usageLimit"], 500);
    assert_eq!(created["perUserLimit"], 2);
    assert_eq!(created["usedCount"], 0);
    assert_eq!(created["isActive"], true);

    let fixed = create_code(
        &app,
        json!({"code": "FLAT20", "type": "fixed", "value": 20, "minOrderAmount": 0}),
    )
    .await;
    assert_eq!(fixed["value"], json!(20.0));
    assert_eq!(fixed["maxDiscountAmount"], Value::Null);
    assert_eq!(fixed["usageLimit"], Value::Null);

    let got = app
        .get("/admin/discounts/spring-24", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(got.data()["code"], "SPRING-24");

    let list = app
        .get("/admin/discounts?limit=1", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(list.data()["discounts"].as_array().unwrap().len(), 1);
    assert_eq!(
        list.data()["discounts"][0]["code"],
        "FLAT20",
        "newest first"
    );
    assert_eq!(list.data()["pagination"]["totalItems"], 2);
    assert_eq!(list.data()["pagination"]["totalPages"], 2);
    assert_eq!(list.data()["pagination"]["hasNext"], true);
    app.get("/admin/discounts?limit=101", Some(&app.admin_token))
        .await
        .expect(400);

    let updated = app
        .put(
            "/admin/discounts/SPRING-24",
            Some(&app.admin_token),
            json!({"type": "fixed", "value": 30, "minOrderAmount": 200, "isActive": false}),
        )
        .await
        .expect(200);
    let u = updated.data();
    assert_eq!(u["type"], "fixed");
    assert_eq!(u["value"], json!(30.0));
    assert_eq!(u["minOrderAmount"], json!(200.0));
    assert_eq!(u["maxDiscountAmount"], Value::Null, "PUT replaces");
    assert_eq!(u["usageLimit"], Value::Null);
    assert_eq!(u["isActive"], false);
    app.put(
        "/admin/discounts/NOPE",
        Some(&app.admin_token),
        json!({"type": "fixed", "value": 1}),
    )
    .await
    .expect_error(404, "not_found");
    let renamed = app
        .put(
            "/admin/discounts/SPRING-24",
            Some(&app.admin_token),
            json!({"code": "OTHER", "type": "fixed", "value": 1}),
        )
        .await
        .expect(400);
    assert_eq!(renamed.body["errors"][0]["field"], "code");

    let deleted = app
        .delete("/admin/discounts/spring-24", Some(&app.admin_token))
        .await
        .expect(200);
    assert!(message(&deleted).contains("deleted"), "{}", deleted.body);
    app.get("/admin/discounts/SPRING-24", Some(&app.admin_token))
        .await
        .expect_error(404, "not_found");
    app.delete("/admin/discounts/SPRING-24", Some(&app.admin_token))
        .await
        .expect_error(404, "not_found");
    app.get("/admin/discounts/bad%20code", Some(&app.admin_token))
        .await
        .expect(400);
}

async fn code_definitions_are_validated(app: TestApp) {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"type": "percent", "value": 10}), "code"),
        (json!({"code": "", "type": "percent", "value": 10}), "code"),
        (
            json!({"code": "TWENTY-ONE-CHARACTERS", "type": "percent", "value": 10}),
            "code",
        ),
        (
            json!({"code": "HAS SPACE", "type": "percent", "value": 10}),
            "code",
        ),
        (json!({"code": "X1", "value": 10}), "type"),
        (json!({"code": "X1", "type": "bogus", "value": 10}), "type"),
        (json!({"code": "X1", "type": "percent"}), "value"),
        (
            json!({"code": "X1", "type": "percent", "value": 0}),
            "value",
        ),
        (
            json!({"code": "X1", "type": "percent", "value": 100.01}),
            "value",
        ),
        (
            json!({"code": "X1", "type": "percent", "value": -5}),
            "value",
        ),
        (json!({"code": "X1", "type": "fixed", "value": 0}), "value"),
        (
            json!({"code": "X1", "type": "fixed", "value": 1.234}),
            "value",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": "ten"}),
            "value",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": 5, "minOrderAmount": -1}),
            "minOrderAmount",
        ),
        (
            json!({"code": "X1", "type": "percent", "value": 5, "maxDiscountAmount": 0}),
            "maxDiscountAmount",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": 5, "startsAt": "soon"}),
            "startsAt",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": 5,
                "startsAt": "2099-02-01", "endsAt": "2099-01-01"}),
            "endsAt",
        ),
        // An end already past (issue 21: it would be listed as active and never apply).
        (
            json!({"code": "X1", "type": "fixed", "value": 5, "endsAt": "2020-01-01"}),
            "endsAt",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": 5, "usageLimit": 0}),
            "usageLimit",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": 5, "perUserLimit": 0}),
            "perUserLimit",
        ),
        (
            json!({"code": "X1", "type": "fixed", "value": 5, "usageLimit": 1.5}),
            "usageLimit",
        ),
    ];
    for (body, field) in cases {
        let resp = app
            .post("/admin/discounts", Some(&app.admin_token), body.clone())
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "{body}");
    }
    // 100 % is allowed; a duplicate, whatever its case, is a conflict.
    create_code(
        &app,
        json!({"code": "FREE", "type": "percent", "value": 100}),
    )
    .await;
    let dup = app
        .post(
            "/admin/discounts",
            Some(&app.admin_token),
            json!({"code": "free", "type": "fixed", "value": 1}),
        )
        .await
        .expect(409);
    assert!(message(&dup).contains("already exists"), "{}", dup.body);
    // An update to an end already past is refused too, and the code keeps its settings.
    let past = app
        .put(
            "/admin/discounts/FREE",
            Some(&app.admin_token),
            json!({"type": "percent", "value": 50, "endsAt": "2020-01-01T00:00:00Z"}),
        )
        .await
        .expect(400);
    assert_eq!(past.body["errors"][0]["field"], "endsAt", "{}", past.body);
    assert!(
        message(&past).contains("must be in the future"),
        "{}",
        past.body
    );
    let kept = app
        .get("/admin/discounts/FREE", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(kept.data()["value"].as_f64(), Some(100.0));
    assert_eq!(kept.data()["endsAt"], Value::Null);
}

async fn only_admins_manage_codes(app: TestApp) {
    create_code(
        &app,
        json!({"code": "ADMINONLY", "type": "fixed", "value": 5}),
    )
    .await;
    let (_, customer) = app.customer("Curious").await;
    let (_, vendor) = app.user_with_role("Vendor", "vendor").await;
    let body = json!({"code": "MINE", "type": "fixed", "value": 5});
    for token in [customer.as_str(), vendor.as_str()] {
        app.get("/admin/discounts", Some(token))
            .await
            .expect_error(403, "forbidden");
        app.post("/admin/discounts", Some(token), body.clone())
            .await
            .expect_error(403, "forbidden");
        app.get("/admin/discounts/ADMINONLY", Some(token))
            .await
            .expect_error(403, "forbidden");
        app.put("/admin/discounts/ADMINONLY", Some(token), body.clone())
            .await
            .expect_error(403, "forbidden");
        app.delete("/admin/discounts/ADMINONLY", Some(token))
            .await
            .expect_error(403, "forbidden");
    }
    app.get("/admin/discounts", None)
        .await
        .expect_error(401, "unauthorized");
    app.post("/admin/discounts", None, body)
        .await
        .expect_error(401, "unauthorized");
    app.delete("/admin/discounts/ADMINONLY", None)
        .await
        .expect_error(401, "unauthorized");
    // Still there.
    app.get("/admin/discounts/ADMINONLY", Some(&app.admin_token))
        .await
        .expect(200);
}

async fn welcome10_takes_ten_percent_up_to_100(app: TestApp) {
    create_demo_codes(&app).await;
    let shampoo = app.product("Shampoo", 25.99, 50).await;
    let (_, token) = app.customer("Welcome").await;
    add(&app, &token, &shampoo, 2).await.expect(200);

    let resp = apply(&app, &token, "welcome10").await.expect(200);
    assert_eq!(resp.body["message"], "Discount applied successfully");
    let c = resp.data();
    assert_eq!(c["discountCode"], "WELCOME10");
    assert_eq!(c["totalAmount"], json!(51.98));
    // 10 % of 51.98 = 5.198 -> 5.20
    assert_eq!(c["discount"], json!(5.2));
    assert_eq!(c["finalAmount"], json!(46.78));
    // 18 % of 46.78 = 8.4204 -> 8.42
    assert_eq!(c["estimatedTax"], json!(8.42));
    assert_eq!(c["estimatedTotal"], json!(55.2));
    let summary = app.get("/cart/summary", Some(&token)).await.expect(200);
    assert_eq!(summary.data()["discountCode"], "WELCOME10");
    assert_eq!(summary.data()["discount"], json!(5.2));
    assert_eq!(summary.data()["finalAmount"], json!(46.78));

    // A big cart: 10 % of 1500.00 is 150.00, capped at 100.00.
    let dryer = app.product("Dryer", 1500.0, 10).await;
    let (_, big) = app.customer("Big spender").await;
    add(&app, &big, &dryer, 1).await.expect(200);
    let c = apply(&app, &big, "WELCOME10").await.expect(200);
    assert_eq!(c.data()["discount"], json!(100.0));
    assert_eq!(c.data()["finalAmount"], json!(1400.0));
    assert_eq!(c.data()["estimatedTax"], json!(252.0));
    assert_eq!(c.data()["estimatedTotal"], json!(1652.0));
    // Re-read keeps it.
    let again = app.get("/cart", Some(&big)).await.expect(200);
    assert_eq!(again.body["message"], "Cart retrieved successfully");
    assert_eq!(again.data()["discountCode"], "WELCOME10");
}

async fn save50_needs_an_order_of_500(app: TestApp) {
    create_demo_codes(&app).await;
    let kit = app.product("Salon Kit", 250.0, 10).await;
    let (_, token) = app.customer("Saver").await;
    add(&app, &token, &kit, 1).await.expect(200);

    let resp = apply(&app, &token, "SAVE50").await.expect(400);
    let text = message(&resp);
    assert!(
        text.contains("minimum") && text.contains("500.00"),
        "{text}"
    );
    assert_eq!(resp.body["errors"][0]["field"], "discountCode");
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["discountCode"], Value::Null);

    add(&app, &token, &kit, 1).await.expect(200);
    let c = apply(&app, &token, "SAVE50").await.expect(200);
    let c = c.data();
    assert_eq!(c["totalAmount"], json!(500.0));
    assert_eq!(c["discount"], json!(50.0));
    assert_eq!(c["finalAmount"], json!(450.0));
    assert_eq!(c["estimatedTax"], json!(81.0));
    assert_eq!(c["estimatedTotal"], json!(531.0));

    // Applying another code replaces it.
    let c = apply(&app, &token, "WELCOME10").await.expect(200);
    assert_eq!(c.data()["discountCode"], "WELCOME10");
    assert_eq!(c.data()["discount"], json!(50.0));
}

async fn code_is_removed_automatically_when_the_cart_drops_under_the_minimum(app: TestApp) {
    create_demo_codes(&app).await;
    let kit = app.product("Salon Kit", 250.0, 10).await;
    let (_, token) = app.customer("Dropper").await;
    add(&app, &token, &kit, 2).await.expect(200);
    apply(&app, &token, "SAVE50").await.expect(200);

    // The change that drops the cart under the minimum already answers without the code.
    let resp = app
        .patch(
            &format!("/cart/items/{kit}"),
            Some(&token),
            json!({"quantity": 1}),
        )
        .await
        .expect(200);
    let text = message(&resp);
    assert!(
        text.starts_with("Cart item updated successfully")
            && text.contains("SAVE50 was removed")
            && text.contains("500.00"),
        "{text}"
    );
    let c = resp.data();
    assert_eq!(c["discountCode"], Value::Null);
    assert_eq!(c["discount"], json!(0.0));
    assert_eq!(c["finalAmount"], json!(250.0));
    assert_eq!(c["estimatedTax"], json!(45.0));
    assert_eq!(c["estimatedTotal"], json!(295.0));

    // Gone for good: going back over the minimum does not bring it back by itself.
    let c = add(&app, &token, &kit, 1).await.expect(200);
    assert_eq!(c.data()["discountCode"], Value::Null);
    assert_eq!(c.body["message"], "Item added to cart successfully");

    // A price drop does it too, noticed on a plain read.
    apply(&app, &token, "SAVE50").await.expect(200);
    app.patch(
        &format!("/products/{kit}"),
        Some(&app.admin_token),
        json!({"price": 100}),
    )
    .await
    .expect(200);
    let read = app.get("/cart", Some(&token)).await.expect(200);
    assert!(
        message(&read).contains("SAVE50 was removed"),
        "{}",
        read.body
    );
    assert_eq!(read.data()["discountCode"], Value::Null);

    // And a code deactivated by the admin.
    apply(&app, &token, "WELCOME10").await.expect(200);
    app.put(
        "/admin/discounts/WELCOME10",
        Some(&app.admin_token),
        json!({"type": "percent", "value": 10, "maxDiscountAmount": 100, "perUserLimit": 1,
               "isActive": false}),
    )
    .await
    .expect(200);
    let summary = app.get("/cart/summary", Some(&token)).await.expect(200);
    let text = message(&summary);
    assert!(
        text.contains("WELCOME10 was removed") && text.contains("not active"),
        "{text}"
    );
    assert_eq!(summary.data()["discountCode"], Value::Null);
}

async fn each_refused_code_says_which_rule(app: TestApp) {
    let product = app.product("Shampoo", 25.99, 50).await;
    let (user_id, token) = app.customer("Rules").await;
    add(&app, &token, &product, 2).await.expect(200);

    // A past end is refused when a code is made, so OLD is made current and then aged.
    create_code(
        &app,
        json!({"code": "OLD", "type": "fixed", "value": 5,
               "startsAt": "2020-01-01", "endsAt": "2099-01-01"}),
    )
    .await;
    app.exec_sql(
        "UPDATE discounts SET ends_at = $2 WHERE code = $1",
        "OLD",
        1_609_459_200_000, // 2021-01-01
    )
    .await;
    create_code(
        &app,
        json!({"code": "FUTURE", "type": "fixed", "value": 5, "startsAt": "2999-01-01"}),
    )
    .await;
    create_code(
        &app,
        json!({"code": "OFF", "type": "fixed", "value": 5, "isActive": false}),
    )
    .await;
    create_code(
        &app,
        json!({"code": "BIG", "type": "fixed", "value": 5, "minOrderAmount": 1000}),
    )
    .await;
    create_code(
        &app,
        json!({"code": "ONCE", "type": "fixed", "value": 5, "usageLimit": 1}),
    )
    .await;
    // Someone else's order took ONCE's only use.
    let (other_id, _) = app.customer("Other").await;
    store(&app)
        .await
        .reserve_discount_use(&order_id(), "ONCE", &other_id, Money::from_minor(5198))
        .await
        .unwrap();
    create_code(
        &app,
        json!({"code": "MINE", "type": "fixed", "value": 5, "perUserLimit": 1}),
    )
    .await;
    store(&app)
        .await
        .reserve_discount_use(&order_id(), "MINE", &user_id, Money::from_minor(5198))
        .await
        .unwrap();

    for (code, words, error_code) in [
        ("EXPIRED1", "unknown", "code_unknown"),
        ("OLD", "expired", "code_expired"),
        ("FUTURE", "not valid yet", "code_not_yet_valid"),
        ("OFF", "not active", "code_inactive"),
        ("BIG", "minimum order of 1000.00", "code_under_minimum"),
        ("ONCE", "used up", "code_used_up"),
        ("MINE", "per-customer limit", "code_per_customer_limit"),
    ] {
        let resp = apply(&app, &token, code)
            .await
            .expect_error(400, error_code);
        let text = message(&resp);
        assert!(
            text.contains(words) && text.contains(code),
            "{code}: {text}"
        );
        assert_eq!(resp.body["errors"][0]["field"], "discountCode");
    }
    for bad in [
        json!("WAY-TOO-LONG-FOR-A-CODE"),
        json!("no spaces"),
        json!(5),
        json!(null),
    ] {
        let resp = app
            .post("/cart/discount", Some(&token), json!({"discountCode": bad}))
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "discountCode");
    }
    app.post("/cart/discount", Some(&token), json!({}))
        .await
        .expect(400);
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["discountCode"], Value::Null);
}

async fn a_code_cannot_be_applied_to_an_empty_cart(app: TestApp) {
    create_demo_codes(&app).await;
    let (_, token) = app.customer("Empty").await;
    let resp = apply(&app, &token, "WELCOME10")
        .await
        .expect_error(400, "cart_empty");
    assert!(message(&resp).contains("empty"), "{}", resp.body);
}

async fn per_customer_limit_counts_reserved_and_final_uses(app: TestApp) {
    create_demo_codes(&app).await;
    let product = app.product("Shampoo", 25.99, 50).await;
    let (user_id, token) = app.customer("Once").await;
    add(&app, &token, &product, 2).await.expect(200);
    apply(&app, &token, "WELCOME10").await.expect(200);

    // Checkout reserves the use; the same customer's second order cannot take it again.
    let store = store(&app).await;
    let first = order_id();
    let off = store
        .reserve_discount_use(&first, "WELCOME10", &user_id, Money::from_minor(5198))
        .await
        .unwrap();
    assert_eq!(off, Money::from_minor(520));
    let again = store
        .reserve_discount_use(&order_id(), "WELCOME10", &user_id, Money::from_minor(5198))
        .await
        .unwrap_err();
    assert!(
        matches!(&again, Error::Conflict(ErrorCode::CodePerCustomerLimit, m) if m.contains("per-customer limit")),
        "{again:?}"
    );
    // The refused reservation left the counter alone.
    let code = app
        .get("/admin/discounts/WELCOME10", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(code.data()["usedCount"], 1);

    // The cart still carrying the code now loses it on the next read.
    let read = app.get("/cart", Some(&token)).await.expect(200);
    assert!(
        message(&read).contains("per-customer limit"),
        "{}",
        read.body
    );
    assert_eq!(read.data()["discountCode"], Value::Null);
    apply(&app, &token, "WELCOME10").await.expect(400);

    // Final uses count the same; another customer is unaffected.
    assert!(store.finalize_discount_use(&first).await.unwrap());
    apply(&app, &token, "WELCOME10").await.expect(400);
    let (_, other) = app.customer("Other").await;
    add(&app, &other, &product, 1).await.expect(200);
    apply(&app, &other, "WELCOME10").await.expect(200);
}

async fn usage_limit_holds_when_ten_checkouts_race_for_the_last_use(app: TestApp) {
    create_code(
        &app,
        json!({"code": "LAST1", "type": "fixed", "value": 10, "usageLimit": 3}),
    )
    .await;
    let store = store(&app).await;
    let (first, _) = app.customer("Early").await;
    for _ in 0..2 {
        store
            .reserve_discount_use(&order_id(), "LAST1", &first, Money::from_minor(10_000))
            .await
            .unwrap();
    }
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(app.customer(&format!("Racer {i}")).await.0);
    }
    let tasks: Vec<_> = users
        .into_iter()
        .map(|user| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_discount_use(&order_id(), "LAST1", &user, Money::from_minor(10_000))
                    .await
            })
        })
        .collect();
    let (mut won, mut lost) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(amount) => {
                assert_eq!(amount, Money::from_minor(1_000));
                won += 1;
            }
            Err(Error::Conflict(ErrorCode::CodeUsedUp, message)) => {
                assert!(message.contains("used up"), "{message}");
                lost += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!((won, lost), (1, 9));
    let code = app
        .get("/admin/discounts/LAST1", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(code.data()["usedCount"], 3);
}

async fn released_uses_come_back_and_final_ones_stay(app: TestApp) {
    create_code(
        &app,
        json!({"code": "BACK", "type": "percent", "value": 10, "usageLimit": 1}),
    )
    .await;
    let store = store(&app).await;
    let (user, _) = app.customer("Canceller").await;
    let order = order_id();
    store
        .reserve_discount_use(&order, "BACK", &user, Money::from_minor(10_000))
        .await
        .unwrap();
    store
        .reserve_discount_use(&order_id(), "BACK", &user, Money::from_minor(10_000))
        .await
        .unwrap_err();

    // Cancelled before payment: the use comes back, once, however many paths release it.
    assert!(store.release_discount_use(&order).await.unwrap());
    assert!(!store.release_discount_use(&order).await.unwrap());
    let code = app
        .get("/admin/discounts/BACK", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(code.data()["usedCount"], 0);

    // A confirmed order's use is final: releasing it does nothing.
    let paid = order_id();
    let off = store
        .reserve_discount_use(&paid, "BACK", &user, Money::from_minor(10_000))
        .await
        .unwrap();
    assert_eq!(off, Money::from_minor(1_000));
    assert!(store.finalize_discount_use(&paid).await.unwrap());
    assert!(!store.finalize_discount_use(&paid).await.unwrap());
    assert!(!store.release_discount_use(&paid).await.unwrap());
    let code = app
        .get("/admin/discounts/BACK", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(code.data()["usedCount"], 1);
    // One order holds at most one use.
    let twice = store
        .reserve_discount_use(&paid, "BACK", &user, Money::from_minor(10_000))
        .await
        .unwrap_err();
    assert!(matches!(twice, Error::Conflict(..)), "{twice:?}");

    // The usage limit cannot be lowered below the uses made.
    let resp = app
        .put(
            "/admin/discounts/BACK",
            Some(&app.admin_token),
            json!({"type": "percent", "value": 10, "usageLimit": 1}),
        )
        .await
        .expect(200);
    assert_eq!(resp.data()["usedCount"], 1);
    create_code(&app, json!({"code": "TWICE", "type": "fixed", "value": 1})).await;
    for _ in 0..2 {
        store
            .reserve_discount_use(&order_id(), "TWICE", &user, Money::from_minor(100))
            .await
            .unwrap();
    }
    let resp = app
        .put(
            "/admin/discounts/TWICE",
            Some(&app.admin_token),
            json!({"type": "fixed", "value": 1, "usageLimit": 1}),
        )
        .await
        .expect(409);
    assert!(message(&resp).contains('2'), "{}", resp.body);
}

async fn used_codes_are_deactivated_not_deleted(app: TestApp) {
    create_code(&app, json!({"code": "USED", "type": "fixed", "value": 5})).await;
    let (user, _) = app.customer("User").await;
    store(&app)
        .await
        .reserve_discount_use(&order_id(), "USED", &user, Money::from_minor(1_000))
        .await
        .unwrap();
    let resp = app
        .delete("/admin/discounts/USED", Some(&app.admin_token))
        .await
        .expect(200);
    assert!(message(&resp).contains("deactivated"), "{}", resp.body);
    assert_eq!(resp.data()["isActive"], false);
    let got = app
        .get("/admin/discounts/USED", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(got.data()["isActive"], false);
    assert_eq!(got.data()["usedCount"], 1);

    // A cart holding a code that is then deleted loses it with a message.
    create_code(
        &app,
        json!({"code": "SHORTLIVED", "type": "fixed", "value": 5}),
    )
    .await;
    let product = app.product("Shampoo", 25.99, 50).await;
    let (_, token) = app.customer("Holder").await;
    add(&app, &token, &product, 1).await.expect(200);
    apply(&app, &token, "SHORTLIVED").await.expect(200);
    app.delete("/admin/discounts/SHORTLIVED", Some(&app.admin_token))
        .await
        .expect(200);
    let read = app.get("/cart", Some(&token)).await.expect(200);
    let text = message(&read);
    assert!(
        text.contains("SHORTLIVED was removed") && text.contains("unknown"),
        "{text}"
    );
}

async fn removing_the_code_from_the_cart(app: TestApp) {
    create_demo_codes(&app).await;
    let product = app.product("Shampoo", 25.99, 50).await;
    let (_, token) = app.customer("Remover").await;
    add(&app, &token, &product, 2).await.expect(200);
    apply(&app, &token, "WELCOME10").await.expect(200);
    let resp = app.delete("/cart/discount", Some(&token)).await.expect(200);
    assert_eq!(resp.body["message"], "Discount removed successfully");
    assert_eq!(resp.data()["discountCode"], Value::Null);
    assert_eq!(resp.data()["discount"], json!(0.0));
    assert_eq!(resp.data()["estimatedTotal"], json!(61.34));
    let again = app.delete("/cart/discount", Some(&token)).await.expect(200);
    assert_eq!(again.body["message"], "No discount code was applied");
}

async fn demo_codes_are_seeded_idempotently(app: TestApp) {
    let store = store(&app).await;
    store.seed_demo_discounts().await.unwrap();
    store.seed_demo_discounts().await.unwrap();
    let list = app
        .get("/admin/discounts", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(list.data()["pagination"]["totalItems"], 2);
    let welcome = app
        .get("/admin/discounts/WELCOME10", Some(&app.admin_token))
        .await
        .expect(200);
    let w = welcome.data();
    assert_eq!(w["type"], "percent");
    assert_eq!(w["value"], json!(10.0));
    assert_eq!(w["minOrderAmount"], json!(0.0));
    assert_eq!(w["maxDiscountAmount"], json!(100.0));
    assert_eq!(w["perUserLimit"], 1);
    assert_eq!(w["isActive"], true);
    let save = app
        .get("/admin/discounts/SAVE50", Some(&app.admin_token))
        .await
        .expect(200);
    let s = save.data();
    assert_eq!(s["type"], "fixed");
    assert_eq!(s["value"], json!(50.0));
    assert_eq!(s["minOrderAmount"], json!(500.0));
    assert_eq!(s["perUserLimit"], Value::Null);

    // An admin's edit survives a later seeding.
    app.put(
        "/admin/discounts/SAVE50",
        Some(&app.admin_token),
        json!({"type": "fixed", "value": 60, "minOrderAmount": 500}),
    )
    .await
    .expect(200);
    store.seed_demo_discounts().await.unwrap();
    let save = app
        .get("/admin/discounts/SAVE50", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(save.data()["value"], json!(60.0));
}

async fn an_ended_code_keeps_its_end_when_deactivated_but_takes_no_new_past_end(app: TestApp) {
    create_code(
        &app,
        json!({"code": "ENDED", "type": "fixed", "value": 5, "endsAt": "2099-01-01"}),
    )
    .await;
    app.exec_sql(
        "UPDATE discounts SET ends_at = $2 WHERE code = $1",
        "ENDED",
        1_609_459_200_000, // 2021-01-01
    )
    .await;
    let ended = app
        .get("/admin/discounts/ENDED", Some(&app.admin_token))
        .await
        .expect(200)
        .data()
        .clone();
    assert_eq!(ended["endsAt"], "2021-01-01T00:00:00.000Z");

    // The console's switch sends the definition as listed: the end it already has is kept.
    let switched = app
        .put(
            "/admin/discounts/ENDED",
            Some(&app.admin_token),
            json!({"type": "fixed", "value": 5, "endsAt": ended["endsAt"], "isActive": false}),
        )
        .await
        .expect(200);
    assert_eq!(switched.data()["isActive"], false);
    assert_eq!(switched.data()["endsAt"], "2021-01-01T00:00:00.000Z");

    // Another past end is still refused, and nothing changes.
    app.put(
        "/admin/discounts/ENDED",
        Some(&app.admin_token),
        json!({"type": "fixed", "value": 9, "endsAt": "2022-01-01", "isActive": true}),
    )
    .await
    .expect_error(400, "validation_failed");
    let kept = app
        .get("/admin/discounts/ENDED", Some(&app.admin_token))
        .await
        .expect(200)
        .data()
        .clone();
    assert_eq!(kept["value"].as_f64(), Some(5.0));
    assert_eq!(kept["isActive"], false);
}
