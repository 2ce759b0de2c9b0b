//! Reviews: only after delivery, once per customer and product, changed or removed at
//! `/reviews/mine`, with the product's rating kept in step.

use crate::api_tests;
use crate::helpers::{read, TestApp};
use serde_json::{json, Value};

api_tests!(
    review_requires_a_delivered_order,
    reviews_move_the_product_rating,
    second_review_is_a_conflict,
    update_and_delete_my_review,
    only_customers_review,
    review_fields_are_validated,
    reviews_of_unknown_or_inactive_products_are_not_found,
    reviews_are_paginated,
    racing_reviews_land_once,
    racing_edits_keep_the_rating_sum_true,
);

fn reviews_path(product: &str) -> String {
    format!("/products/{product}/reviews")
}

fn mine_path(product: &str) -> String {
    format!("/products/{product}/reviews/mine")
}

/// A customer who has received the product: `(user id, token)`.
async fn buyer(app: &TestApp, name: &str, product: &str) -> (String, String) {
    let (id, token) = app.customer(name).await;
    app.delivered_order(&token, product).await;
    (id, token)
}

async fn post_review(app: &TestApp, token: &str, product: &str, rating: i64) -> Value {
    app.post(
        &reviews_path(product),
        Some(token),
        json!({"rating": rating}),
    )
    .await
    .expect(201)
    .data()
    .clone()
}

async fn product_rating(app: &TestApp, product: &str) -> (Value, Value) {
    let resp = app
        .get(&format!("/products/{product}"), None)
        .await
        .expect(200);
    (
        resp.data()["ratingAverage"].clone(),
        resp.data()["ratingCount"].clone(),
    )
}

async fn review_requires_a_delivered_order(app: TestApp) {
    let (_, token) = app.customer("Eager").await;
    let product = app.product("Blender", 40.00, 5).await;
    let path = reviews_path(&product);
    let body = json!({"rating": 5, "title": "Great"});

    let resp = app
        .post(&path, Some(&token), body.clone())
        .await
        .expect(403);
    assert!(
        resp.body["message"].as_str().unwrap().contains("delivered"),
        "{}",
        resp.body
    );

    // Confirmed and shipped are not enough.
    let order_id = app.cod_order(&token, &product, 1).await;
    app.post(&path, Some(&token), body.clone())
        .await
        .expect(403);
    app.admin_status(
        &order_id,
        json!({"status": "shipped", "trackingNumber": "TRK1"}),
    )
    .await
    .expect(200);
    app.post(&path, Some(&token), body.clone())
        .await
        .expect(403);

    app.admin_status(&order_id, json!({"status": "delivered"}))
        .await
        .expect(200);
    let created = app.post(&path, Some(&token), body).await.expect(201);
    assert_eq!(created.data()["review"]["rating"], 5);
    assert_eq!(created.data()["review"]["title"], "Great");

    // Another customer's delivery does not let this one review a product they never bought.
    let (_, stranger) = app.customer("Stranger").await;
    app.post(&path, Some(&stranger), json!({"rating": 1}))
        .await
        .expect(403);
    assert_eq!(product_rating(&app, &product).await.1, 1);
}

async fn reviews_move_the_product_rating(app: TestApp) {
    let product = app.product("Toaster", 30.00, 10).await;
    assert_eq!(product_rating(&app, &product).await, (json!(0.0), json!(0)));

    let (asha_id, asha) = buyer(&app, "Asha", &product).await;
    let resp = app
        .post(
            &reviews_path(&product),
            Some(&asha),
            json!({"rating": 4, "title": "  Solid  ", "comment": "Browns evenly."}),
        )
        .await
        .expect(201);
    let data = resp.data();
    let review = &data["review"];
    assert!(review["_id"].is_string());
    assert_eq!(review["productId"], product.as_str());
    assert_eq!(review["userId"], asha_id.as_str());
    assert_eq!(review["userName"], "Asha");
    assert_eq!(review["rating"], 4);
    assert_eq!(review["title"], "Solid");
    assert_eq!(review["comment"], "Browns evenly.");
    assert!(review["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(review["createdAt"], review["updatedAt"]);
    assert_eq!(data["ratingAverage"], 4.0);
    assert_eq!(data["ratingCount"], 1);
    assert_eq!(product_rating(&app, &product).await, (json!(4.0), json!(1)));

    let (_, ben) = buyer(&app, "Ben", &product).await;
    post_review(&app, &ben, &product, 5).await;
    assert_eq!(product_rating(&app, &product).await, (json!(4.5), json!(2)));

    // 14 / 3 = 4.666... shows as 4.7, the same rounding as the catalog.
    let (_, chen) = buyer(&app, "Chen", &product).await;
    let third = post_review(&app, &chen, &product, 5).await;
    assert_eq!(third["ratingAverage"], 4.7);
    assert_eq!(product_rating(&app, &product).await, (json!(4.7), json!(3)));

    let list = app.get(&reviews_path(&product), None).await.expect(200);
    assert_eq!(list.data()["ratingAverage"], 4.7);
    assert_eq!(list.data()["ratingCount"], 3);
    let names: Vec<&str> = list.data()["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Chen", "Ben", "Asha"], "newest first");
}

async fn second_review_is_a_conflict(app: TestApp) {
    let product = app.product("Fan", 25.00, 5).await;
    let (_, token) = buyer(&app, "Twice", &product).await;
    post_review(&app, &token, &product, 3).await;
    let resp = app
        .post(&reviews_path(&product), Some(&token), json!({"rating": 5}))
        .await
        .expect_error(409, "already_reviewed");
    assert!(
        resp.body["message"]
            .as_str()
            .unwrap()
            .contains("PUT /products/"),
        "{}",
        resp.body
    );
    // The refused review left the totals alone.
    assert_eq!(product_rating(&app, &product).await, (json!(3.0), json!(1)));
    // Buying it again does not open a second review either.
    app.delivered_order(&token, &product).await;
    app.post(&reviews_path(&product), Some(&token), json!({"rating": 5}))
        .await
        .expect_error(409, "already_reviewed");
}

async fn update_and_delete_my_review(app: TestApp) {
    let product = app.product("Heater", 50.00, 10).await;
    let (_, ana) = buyer(&app, "Ana", &product).await;
    let (_, bo) = buyer(&app, "Bo", &product).await;
    app.post(
        &reviews_path(&product),
        Some(&ana),
        json!({"rating": 2, "title": "Meh", "comment": "Noisy"}),
    )
    .await
    .expect(201);
    post_review(&app, &bo, &product, 4).await;
    assert_eq!(product_rating(&app, &product).await, (json!(3.0), json!(2)));

    // PUT replaces the review: the rating moves the sum, a left-out comment is removed.
    let updated = app
        .put(
            &mine_path(&product),
            Some(&ana),
            json!({"rating": 5, "title": "Grew on me"}),
        )
        .await
        .expect(200);
    let data = updated.data();
    assert_eq!(data["review"]["rating"], 5);
    assert_eq!(data["review"]["title"], "Grew on me");
    assert_eq!(data["review"]["comment"], Value::Null);
    assert_eq!(data["ratingAverage"], 4.5);
    assert_eq!(data["ratingCount"], 2);
    assert_eq!(product_rating(&app, &product).await, (json!(4.5), json!(2)));
    let list = app.get(&reviews_path(&product), None).await.expect(200);
    assert_eq!(list.data()["reviews"].as_array().unwrap().len(), 2);

    let deleted = app
        .delete(&mine_path(&product), Some(&ana))
        .await
        .expect(200);
    assert!(deleted.data()["_id"].is_string());
    assert_eq!(deleted.data()["ratingAverage"], 4.0);
    assert_eq!(deleted.data()["ratingCount"], 1);
    assert_eq!(product_rating(&app, &product).await, (json!(4.0), json!(1)));
    app.delete(&mine_path(&product), Some(&ana))
        .await
        .expect(404);
    app.put(&mine_path(&product), Some(&ana), json!({"rating": 1}))
        .await
        .expect(404);

    // With the old review gone, a new one may be written.
    post_review(&app, &ana, &product, 1).await;
    assert_eq!(product_rating(&app, &product).await, (json!(2.5), json!(2)));

    // Someone who never reviewed has nothing to change.
    let (_, nobody) = app.customer("Nobody").await;
    app.put(&mine_path(&product), Some(&nobody), json!({"rating": 3}))
        .await
        .expect(404);
    app.delete(&mine_path(&product), Some(&nobody))
        .await
        .expect(404);
    app.delete(&mine_path(&product), None).await.expect(401);
}

async fn only_customers_review(app: TestApp) {
    let product = app.product("Stool", 15.00, 5).await;
    let (_, vendor) = app.user_with_role("Vendy", "vendor").await;
    let body = json!({"rating": 5});
    let resp = app
        .post(&reviews_path(&product), Some(&vendor), body.clone())
        .await
        .expect(403);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("Only customers"));
    app.post(
        &reviews_path(&product),
        Some(&app.admin_token),
        body.clone(),
    )
    .await
    .expect(403);
    app.put(&mine_path(&product), Some(&vendor), body.clone())
        .await
        .expect(403);
    app.post(&reviews_path(&product), None, body)
        .await
        .expect(401);
    assert_eq!(product_rating(&app, &product).await.1, 0);
}

async fn review_fields_are_validated(app: TestApp) {
    let product = app.product("Rug", 60.00, 5).await;
    let (_, token) = buyer(&app, "Careful", &product).await;
    let path = reviews_path(&product);
    let cases = [
        (json!({"rating": 0}), "rating"),
        (json!({"rating": 6}), "rating"),
        (json!({"rating": "five"}), "rating"),
        (json!({"rating": 3.5}), "rating"),
        (json!({"rating": null}), "rating"),
        (json!({"title": "No rating"}), "rating"),
        (json!({"rating": 4, "title": "t".repeat(101)}), "title"),
        (json!({"rating": 4, "comment": "c".repeat(2001)}), "comment"),
    ];
    for (body, field) in cases {
        let resp = app
            .post(&path, Some(&token), body.clone())
            .await
            .expect(400);
        assert_eq!(
            resp.body["errors"][0]["field"], field,
            "{body}: {}",
            resp.body
        );
    }
    assert_eq!(product_rating(&app, &product).await.1, 0);

    // The limits themselves are allowed.
    let resp = app
        .post(
            &path,
            Some(&token),
            json!({"rating": 1, "title": "t".repeat(100), "comment": "c".repeat(2000)}),
        )
        .await
        .expect(201);
    assert_eq!(
        resp.data()["review"]["comment"].as_str().unwrap().len(),
        2000
    );
    // PUT checks the same fields.
    let resp = app
        .put(&mine_path(&product), Some(&token), json!({"rating": 9}))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "rating");
    assert_eq!(product_rating(&app, &product).await, (json!(1.0), json!(1)));
}

async fn reviews_of_unknown_or_inactive_products_are_not_found(app: TestApp) {
    let (_, token) = app.customer("Lost").await;
    let unknown = "0190f8e0-0000-7000-8000-000000000000";
    let resp = app.get(&reviews_path(unknown), None).await.expect(404);
    assert!(resp.body["message"]
        .as_str()
        .unwrap()
        .contains("Product not found"));
    app.post(&reviews_path(unknown), Some(&token), json!({"rating": 5}))
        .await
        .expect(404);
    app.put(&mine_path(unknown), Some(&token), json!({"rating": 5}))
        .await
        .expect(404);
    app.delete(&mine_path(unknown), Some(&token))
        .await
        .expect(404);
    let resp = app.get(&reviews_path("not-an-id"), None).await.expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "id");

    let product = app.product("Retired", 10.00, 5).await;
    let (_, buyer_token) = buyer(&app, "Late", &product).await;
    app.delete(&format!("/products/{product}"), Some(&app.admin_token))
        .await
        .expect(200);
    app.get(&reviews_path(&product), None).await.expect(404);
    app.post(
        &reviews_path(&product),
        Some(&buyer_token),
        json!({"rating": 4}),
    )
    .await
    .expect(404);
}

async fn reviews_are_paginated(app: TestApp) {
    let product = app.product("Chair", 35.00, 10).await;
    let empty = app.get(&reviews_path(&product), None).await.expect(200);
    assert_eq!(empty.data()["reviews"], json!([]));
    assert_eq!(empty.data()["ratingAverage"], 0.0);
    assert_eq!(empty.data()["ratingCount"], 0);
    assert_eq!(empty.data()["pagination"]["totalItems"], 0);

    for (name, rating) in [("Uma", 3), ("Vik", 4), ("Wen", 5)] {
        let (_, token) = buyer(&app, name, &product).await;
        post_review(&app, &token, &product, rating).await;
    }
    let page1 = app
        .get(&format!("{}?page=1&limit=2", reviews_path(&product)), None)
        .await
        .expect(200);
    let page2 = app
        .get(&format!("{}?page=2&limit=2", reviews_path(&product)), None)
        .await
        .expect(200);
    assert_eq!(page1.data()["reviews"].as_array().unwrap().len(), 2);
    assert_eq!(page2.data()["reviews"].as_array().unwrap().len(), 1);
    assert_eq!(
        page1.data()["pagination"],
        json!({"currentPage": 1, "totalPages": 2, "totalItems": 3, "hasNext": true, "hasPrev": false})
    );
    assert_eq!(
        page2.data()["pagination"],
        json!({"currentPage": 2, "totalPages": 2, "totalItems": 3, "hasNext": false, "hasPrev": true})
    );
    assert_eq!(page2.data()["reviews"][0]["userName"], "Uma");
    assert_eq!(page1.data()["ratingAverage"], 4.0);
    app.get(&format!("{}?limit=101", reviews_path(&product)), None)
        .await
        .expect(400);
}

/// Sends the same kind of request `n` times at once; returns the statuses.
async fn at_once(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    bodies: Vec<Value>,
) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for body in bodies {
        let request = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(token)
            .json(&body);
        set.spawn(async move { read(request.send().await.expect("request sent")).await });
    }
    let mut statuses = Vec::new();
    while let Some(resp) = set.join_next().await {
        let resp = resp.unwrap();
        assert!(resp.status.as_u16() < 500, "{}", resp.body);
        statuses.push(resp.status.as_u16());
    }
    statuses.sort();
    statuses
}

async fn racing_reviews_land_once(app: TestApp) {
    let product = app.product("Racer", 9.00, 5).await;
    let (_, token) = buyer(&app, "Quick", &product).await;
    let bodies = (0..8).map(|_| json!({"rating": 5})).collect();
    let statuses = at_once(
        &app,
        reqwest::Method::POST,
        &reviews_path(&product),
        &token,
        bodies,
    )
    .await;
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(product_rating(&app, &product).await, (json!(5.0), json!(1)));
}

async fn racing_edits_keep_the_rating_sum_true(app: TestApp) {
    let product = app.product("Seesaw", 9.00, 5).await;
    let (_, token) = buyer(&app, "Fickle", &product).await;
    post_review(&app, &token, &product, 3).await;
    let bodies = [1, 5, 2, 4, 1, 5, 2, 4]
        .into_iter()
        .map(|rating| json!({"rating": rating}))
        .collect();
    let statuses = at_once(
        &app,
        reqwest::Method::PUT,
        &mine_path(&product),
        &token,
        bodies,
    )
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Whichever edit landed last, the product's sum must equal that one rating.
    let list = app.get(&reviews_path(&product), None).await.expect(200);
    let rating = list.data()["reviews"][0]["rating"].as_i64().unwrap();
    assert_eq!(
        product_rating(&app, &product).await,
        (json!(rating as f64), json!(1))
    );
}
