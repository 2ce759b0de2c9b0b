//! The catalog: creation, visibility, editing rights, filters, sorting, pagination, validation.

use crate::api_tests;
use crate::helpers::{Resp, TestApp};
use cartwright::store::{Backend, Store};
use serde_json::{json, Value};

api_tests!(
    admin_creates_reads_replaces_patches_and_deletes_a_product,
    vendor_product_belongs_to_the_vendor,
    only_admin_or_owning_vendor_may_edit,
    admin_may_assign_a_product_to_a_vendor,
    deleted_product_is_hidden_except_from_admin_and_owner,
    bad_or_unknown_product_id,
    search_matches_name_or_brand_ignoring_case,
    filters_by_category_brand_and_price,
    price_filters_are_checked,
    sorts_by_price_name_created_at_and_rating,
    bad_sort_is_a_400,
    pagination_edges,
    invalid_products_are_rejected_and_nothing_is_created,
    invalid_updates_change_nothing,
    duplicate_sku_is_a_conflict,
    injection_looking_searches_return_empty_lists,
    stock_cannot_drop_below_reserved_units,
    demo_catalog_loads_once_even_when_raced,
);

fn names(resp: &Resp) -> Vec<String> {
    resp.data()["products"]
        .as_array()
        .expect("products is an array")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

async fn list(app: &TestApp, query: &str) -> Resp {
    app.get(&format!("/products{query}"), None)
        .await
        .expect(200)
}

async fn total(app: &TestApp) -> i64 {
    list(app, "").await.data()["pagination"]["totalItems"]
        .as_i64()
        .unwrap()
}

/// Sets `reserved` directly, standing in for unpaid orders.
async fn set_reserved(app: &TestApp, product_id: &str, reserved: i64) {
    let store = Store::connect(&app.config).await.unwrap();
    let sql = "UPDATE products SET reserved = $1 WHERE id = $2";
    match &store.backend {
        Backend::Sqlite(sqlite) => {
            sqlx::query(sql)
                .bind(reserved)
                .bind(product_id)
                .execute(&sqlite.write)
                .await
                .unwrap();
        }
        Backend::Postgres(pg) => {
            sqlx::query(sql)
                .bind(reserved)
                .bind(product_id)
                .execute(pg)
                .await
                .unwrap();
        }
    }
    store.close().await;
    // Written by another connection, as another node would: this node hears of it through the
    // change feed, within the one second CONTRACT §4 allows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let product = app.product_json(product_id).await;
        let (stock, available) = (
            product["stock"].as_i64().unwrap(),
            product["availableStock"].as_i64().unwrap(),
        );
        if available == (stock - reserved).max(0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "reserved = {reserved} not seen within 1 s: {product}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn admin_creates_reads_replaces_patches_and_deletes_a_product(app: TestApp) {
    let admin = Some(app.admin_token.as_str());
    let created = app
        .post(
            "/products",
            admin,
            json!({
                "name": "Professional Hair Shampoo",
                "description": "Salon shampoo",
                "price": 25.99,
                "stock": 50,
                "brand": "SalonPro",
                "category": "hair_care",
                "imageUrls": ["https://example.com/image1.jpg"],
                "sku": "SP-1"
            }),
        )
        .await
        .expect(201);
    let p = created.data().clone();
    let id = p["_id"].as_str().unwrap().to_string();
    assert_eq!(p["name"], "Professional Hair Shampoo");
    assert_eq!(p["description"], "Salon shampoo");
    assert_eq!(p["price"], json!(25.99));
    assert_eq!(p["stock"], 50);
    assert_eq!(p["availableStock"], 50);
    assert_eq!(p["brand"], "SalonPro");
    assert_eq!(p["category"], "hair_care");
    assert_eq!(p["imageUrls"], json!(["https://example.com/image1.jpg"]));
    assert_eq!(p["sku"], "SP-1");
    assert_eq!(p["isActive"], true);
    assert_eq!(p["vendorId"], Value::Null);
    assert_eq!(p["ratingAverage"], json!(0.0));
    assert_eq!(p["ratingCount"], 0);
    assert!(p["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(p["updatedAt"].as_str().unwrap().ends_with('Z'));

    let got = app.get(&format!("/products/{id}"), None).await.expect(200);
    assert_eq!(got.data(), &p);

    // PUT replaces: optional fields left out become empty.
    let replaced = app
        .put(
            &format!("/products/{id}"),
            admin,
            json!({"name": "Shampoo 2", "price": 30, "stock": 10}),
        )
        .await
        .expect(200);
    let r = replaced.data();
    assert_eq!(r["name"], "Shampoo 2");
    assert_eq!(r["price"], json!(30.0));
    assert_eq!(r["stock"], 10);
    assert_eq!(r["description"], "");
    assert_eq!(r["brand"], "");
    assert_eq!(r["imageUrls"], json!([]));
    assert_eq!(r["sku"], Value::Null);
    assert_eq!(r["isActive"], true);
    assert_eq!(r["createdAt"], p["createdAt"]);

    // PATCH changes only what it names.
    let patched = app
        .patch(
            &format!("/products/{id}"),
            admin,
            json!({"price": 19.5, "brand": "SalonPro", "sku": "SP-2"}),
        )
        .await
        .expect(200);
    let q = patched.data();
    assert_eq!(q["price"], json!(19.5));
    assert_eq!(q["brand"], "SalonPro");
    assert_eq!(q["sku"], "SP-2");
    assert_eq!(q["name"], "Shampoo 2");
    assert_eq!(q["stock"], 10);
    // `null` clears the SKU; an empty patch changes nothing.
    let cleared = app
        .patch(&format!("/products/{id}"), admin, json!({"sku": null}))
        .await
        .expect(200);
    assert_eq!(cleared.data()["sku"], Value::Null);
    assert_eq!(cleared.data()["brand"], "SalonPro");
    app.patch(&format!("/products/{id}"), admin, json!({}))
        .await
        .expect(200);

    let deleted = app
        .delete(&format!("/products/{id}"), admin)
        .await
        .expect(200);
    assert_eq!(deleted.data()["isActive"], false);
    app.get(&format!("/products/{id}"), None).await.expect(404);
    // Reactivating is an edit.
    app.patch(&format!("/products/{id}"), admin, json!({"isActive": true}))
        .await
        .expect(200);
    app.get(&format!("/products/{id}"), None).await.expect(200);
}

async fn vendor_product_belongs_to_the_vendor(app: TestApp) {
    let (vendor_id, vendor) = app.user_with_role("Vendor One", "vendor").await;
    let resp = app
        .post(
            "/products",
            Some(&vendor),
            json!({"name": "Nail Kit", "price": 12, "stock": 3}),
        )
        .await
        .expect(201);
    assert_eq!(resp.data()["vendorId"], vendor_id.as_str());
    // Naming itself is fine; naming someone else is not.
    let own = app
        .post(
            "/products",
            Some(&vendor),
            json!({"name": "Nail Kit 2", "price": 12, "stock": 3, "vendorId": vendor_id}),
        )
        .await
        .expect(201);
    assert_eq!(own.data()["vendorId"], vendor_id.as_str());
    let (other_id, _) = app.user_with_role("Vendor Two", "vendor").await;
    app.post(
        "/products",
        Some(&vendor),
        json!({"name": "Nail Kit 3", "price": 12, "stock": 3, "vendorId": other_id}),
    )
    .await
    .expect(403);

    let (_, customer) = app.customer("Shopper").await;
    app.post(
        "/products",
        Some(&customer),
        json!({"name": "Nope", "price": 1, "stock": 1}),
    )
    .await
    .expect(403);
    app.post(
        "/products",
        None,
        json!({"name": "Nope", "price": 1, "stock": 1}),
    )
    .await
    .expect(401);
    assert_eq!(total(&app).await, 2);
}

async fn only_admin_or_owning_vendor_may_edit(app: TestApp) {
    let (_, owner) = app.user_with_role("Owner", "vendor").await;
    let (other_id, other) = app.user_with_role("Rival", "vendor").await;
    let (_, customer) = app.customer("Shopper").await;
    let id = app
        .post(
            "/products",
            Some(&owner),
            json!({"name": "Clipper", "price": 40, "stock": 5}),
        )
        .await
        .expect(201)
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/products/{id}");
    let full = json!({"name": "Clipper X", "price": 45, "stock": 5});

    app.patch(&path, Some(&other), json!({"price": 1}))
        .await
        .expect(403);
    app.put(&path, Some(&other), full.clone()).await.expect(403);
    app.delete(&path, Some(&other)).await.expect(403);
    app.patch(&path, Some(&customer), json!({"price": 1}))
        .await
        .expect(403);
    app.delete(&path, Some(&customer)).await.expect(403);
    app.patch(&path, None, json!({"price": 1}))
        .await
        .expect(401);
    let unchanged = app.get(&path, None).await.expect(200);
    assert_eq!(unchanged.data()["price"], json!(40.0));

    // The owner cannot give the product away either.
    app.patch(&path, Some(&owner), json!({"vendorId": other_id}))
        .await
        .expect(403);

    let by_owner = app.put(&path, Some(&owner), full).await.expect(200);
    assert_eq!(by_owner.data()["name"], "Clipper X");
    let by_admin = app
        .patch(&path, Some(&app.admin_token), json!({"stock": 9}))
        .await
        .expect(200);
    assert_eq!(by_admin.data()["stock"], 9);

    // A vendor cannot edit the shop's own products, and an unknown product is a 404.
    let shop = app.product("Shop Item", 10.0, 1).await;
    app.patch(
        &format!("/products/{shop}"),
        Some(&owner),
        json!({"stock": 2}),
    )
    .await
    .expect(403);
    app.patch(
        "/products/0190f8e0-0000-7000-8000-000000000000",
        Some(&owner),
        json!({"stock": 2}),
    )
    .await
    .expect(404);
    app.delete(&path, Some(&owner)).await.expect(200);
}

async fn admin_may_assign_a_product_to_a_vendor(app: TestApp) {
    let (vendor_id, vendor) = app.user_with_role("Assigned", "vendor").await;
    let (customer_id, _) = app.customer("Not A Vendor").await;
    let admin = Some(app.admin_token.as_str());
    let resp = app
        .post(
            "/products",
            admin,
            json!({"name": "Comb", "price": 2, "stock": 10, "vendorId": vendor_id}),
        )
        .await
        .expect(201);
    assert_eq!(resp.data()["vendorId"], vendor_id.as_str());
    let id = resp.data()["_id"].as_str().unwrap().to_string();
    // The assigned vendor may now edit it.
    app.patch(
        &format!("/products/{id}"),
        Some(&vendor),
        json!({"stock": 11}),
    )
    .await
    .expect(200);

    let bad = app
        .post(
            "/products",
            admin,
            json!({"name": "Comb", "price": 2, "stock": 10, "vendorId": customer_id}),
        )
        .await
        .expect(400);
    assert_eq!(bad.body["errors"][0]["field"], "vendorId");
    app.post(
        "/products",
        admin,
        json!({"name": "Comb", "price": 2, "stock": 10, "vendorId": "nope"}),
    )
    .await
    .expect(400);
    // `null` hands it back to the shop.
    let back = app
        .patch(&format!("/products/{id}"), admin, json!({"vendorId": null}))
        .await
        .expect(200);
    assert_eq!(back.data()["vendorId"], Value::Null);
    assert_eq!(total(&app).await, 1);
}

async fn deleted_product_is_hidden_except_from_admin_and_owner(app: TestApp) {
    let (_, owner) = app.user_with_role("Owner", "vendor").await;
    let (_, other) = app.user_with_role("Other", "vendor").await;
    let (_, customer) = app.customer("Shopper").await;
    let id = app
        .post(
            "/products",
            Some(&owner),
            json!({"name": "Brush", "price": 5, "stock": 5}),
        )
        .await
        .expect(201)
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let keep = app.product("Keeper", 3.0, 1).await;
    let path = format!("/products/{id}");
    app.delete(&path, Some(&owner)).await.expect(200);

    let listed = list(&app, "").await;
    assert_eq!(names(&listed), vec!["Keeper"]);
    assert_eq!(listed.data()["products"][0]["_id"], keep.as_str());
    app.get(&path, None).await.expect(404);
    app.get(&path, Some(&customer)).await.expect(404);
    app.get(&path, Some(&other)).await.expect(404);
    let seen = app.get(&path, Some(&owner)).await.expect(200);
    assert_eq!(seen.data()["isActive"], false);
    app.get(&path, Some(&app.admin_token)).await.expect(200);
    // Deleting again is harmless.
    app.delete(&path, Some(&app.admin_token)).await.expect(200);
    // A bad token is still a 401 on a public route.
    app.get(&path, Some("garbage")).await.expect(401);
}

async fn bad_or_unknown_product_id(app: TestApp) {
    let resp = app.get("/products/not-an-id", None).await.expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "id");
    app.get("/products/1%20OR%201=1", None).await.expect(400);
    app.get("/products/0190f8e0-0000-7000-8000-000000000000", None)
        .await
        .expect(404);
    app.delete("/products/nope", Some(&app.admin_token))
        .await
        .expect(400);
}

async fn search_matches_name_or_brand_ignoring_case(app: TestApp) {
    for (name, brand) in [
        ("Professional Hair Shampoo", "SalonPro"),
        ("Argan Conditioner", "SalonPro"),
        ("Face Serum", "GlowLab"),
        ("Shampoo Brush", "ToolCo"),
    ] {
        app.product_with(json!({"name": name, "price": 10, "stock": 1, "brand": brand}))
            .await;
    }
    let mut found = names(&list(&app, "?search=SHAMPOO&sortBy=name").await);
    found.sort();
    assert_eq!(found, vec!["Professional Hair Shampoo", "Shampoo Brush"]);
    let mut by_brand = names(&list(&app, "?search=salonpro").await);
    by_brand.sort();
    assert_eq!(
        by_brand,
        vec!["Argan Conditioner", "Professional Hair Shampoo"]
    );
    assert_eq!(names(&list(&app, "?search=glow").await), vec!["Face Serum"]);
    assert!(names(&list(&app, "?search=nothing-like-it").await).is_empty());
    // Whitespace-only search is no filter.
    assert_eq!(names(&list(&app, "?search=%20%20").await).len(), 4);
}

async fn filters_by_category_brand_and_price(app: TestApp) {
    for (name, price, category, brand) in [
        ("Cheap Shampoo", 5.0, "hair_care", "SalonPro"),
        ("Mid Shampoo", 25.99, "hair_care", "SalonPro"),
        ("Dear Shampoo", 99.5, "hair_care", "Luxe"),
        ("Serum", 25.99, "skin_care", "GlowLab"),
    ] {
        app.product_with(
            json!({"name": name, "price": price, "stock": 1, "category": category, "brand": brand}),
        )
        .await;
    }
    let sorted = |resp: Resp| {
        let mut n = names(&resp);
        n.sort();
        n
    };
    assert_eq!(
        sorted(list(&app, "?category=hair_care").await),
        vec!["Cheap Shampoo", "Dear Shampoo", "Mid Shampoo"]
    );
    assert_eq!(
        sorted(list(&app, "?brand=salonpro").await),
        vec!["Cheap Shampoo", "Mid Shampoo"]
    );
    assert_eq!(
        sorted(list(&app, "?minPrice=25.99&maxPrice=25.99").await),
        vec!["Mid Shampoo", "Serum"]
    );
    assert_eq!(
        sorted(list(&app, "?minPrice=26").await),
        vec!["Dear Shampoo"]
    );
    assert_eq!(
        sorted(list(&app, "?maxPrice=25.98").await),
        vec!["Cheap Shampoo"]
    );
    assert_eq!(
        sorted(list(&app, "?category=hair_care&brand=SalonPro&minPrice=10").await),
        vec!["Mid Shampoo"]
    );
    let none = list(&app, "?category=nails").await;
    assert!(names(&none).is_empty());
    assert_eq!(none.data()["pagination"]["totalItems"], 0);
    assert_eq!(none.data()["pagination"]["totalPages"], 0);
}

async fn price_filters_are_checked(app: TestApp) {
    for (query, field) in [
        ("?minPrice=abc", "minPrice"),
        ("?maxPrice=1.234", "maxPrice"),
        ("?minPrice=-1", "minPrice"),
        ("?minPrice=1e3", "minPrice"),
        ("?minPrice=50&maxPrice=10", "minPrice"),
    ] {
        let resp = app
            .get(&format!("/products{query}"), None)
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "{query}");
    }
}

async fn sorts_by_price_name_created_at_and_rating(app: TestApp) {
    for (name, price) in [("banana", 30.0), ("Apple", 10.0), ("cherry", 20.0)] {
        app.product(name, price, 1).await;
    }
    assert_eq!(
        names(&list(&app, "?sortBy=price&sortOrder=asc").await),
        vec!["Apple", "cherry", "banana"]
    );
    assert_eq!(
        names(&list(&app, "?sortBy=price&sortOrder=desc").await),
        vec!["banana", "cherry", "Apple"]
    );
    // Price and name default to ascending; names sort ignoring case.
    assert_eq!(
        names(&list(&app, "?sortBy=price").await),
        vec!["Apple", "cherry", "banana"]
    );
    assert_eq!(
        names(&list(&app, "?sortBy=name").await),
        vec!["Apple", "banana", "cherry"]
    );
    assert_eq!(
        names(&list(&app, "?sortBy=name&sortOrder=DESC").await),
        vec!["cherry", "banana", "Apple"]
    );
    // Newest first by default.
    assert_eq!(
        names(&list(&app, "").await),
        vec!["cherry", "Apple", "banana"]
    );
    assert_eq!(
        names(&list(&app, "?sortBy=createdAt&sortOrder=asc").await),
        vec!["banana", "Apple", "cherry"]
    );
    // Unrated products tie on rating; the order is still stable (newest id first).
    assert_eq!(
        names(&list(&app, "?sortBy=rating").await),
        names(&list(&app, "?sortBy=rating").await)
    );
    assert_eq!(names(&list(&app, "?sortBy=rating").await).len(), 3);
}

async fn bad_sort_is_a_400(app: TestApp) {
    let resp = app
        .get("/products?sortBy=popularity", None)
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "sortBy");
    let resp = app
        .get("/products?sortBy=price;DROP", None)
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "sortBy");
    let resp = app
        .get("/products?sortOrder=sideways", None)
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "sortOrder");
}

async fn pagination_edges(app: TestApp) {
    for i in 0..5 {
        app.product(&format!("Item {i}"), 1.0 + i as f64, 1).await;
    }
    let first = list(&app, "?limit=2&sortBy=price").await;
    assert_eq!(names(&first), vec!["Item 0", "Item 1"]);
    let pagination = &first.data()["pagination"];
    assert_eq!(pagination["currentPage"], 1);
    assert_eq!(pagination["totalPages"], 3);
    assert_eq!(pagination["totalItems"], 5);
    assert_eq!(pagination["hasNext"], true);
    assert_eq!(pagination["hasPrev"], false);
    let last = list(&app, "?limit=2&page=3&sortBy=price").await;
    assert_eq!(names(&last), vec!["Item 4"]);
    assert_eq!(last.data()["pagination"]["hasNext"], false);
    assert_eq!(last.data()["pagination"]["hasPrev"], true);
    let past = list(&app, "?limit=2&page=9").await;
    assert!(names(&past).is_empty());
    assert_eq!(past.data()["pagination"]["totalItems"], 5);
    assert_eq!(
        list(&app, "?limit=100").await.data()["products"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // Default page size is 10.
    assert_eq!(
        list(&app, "").await.data()["products"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=abc", "limit"),
        ("?page=0", "page"),
        ("?page=-1", "page"),
    ] {
        let resp = app
            .get(&format!("/products{query}"), None)
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "{query}");
    }
}

async fn invalid_products_are_rejected_and_nothing_is_created(app: TestApp) {
    let (_, vendor) = app.user_with_role("Vendor", "vendor").await;
    let long = |n: usize| "x".repeat(n);
    let cases = [
        (json!({"name": "A", "price": -1, "stock": 1}), "price"),
        (json!({"name": "A", "price": 25.999, "stock": 1}), "price"),
        (json!({"name": "A", "price": "25.99", "stock": 1}), "price"),
        (
            json!({"name": "A", "price": 10000000.01, "stock": 1}),
            "price",
        ),
        (json!({"name": "A", "price": 1, "stock": "two"}), "stock"),
        (json!({"name": "A", "price": 1, "stock": 1.5}), "stock"),
        (json!({"name": "A", "price": 1, "stock": -1}), "stock"),
        (
            json!({"name": "A", "price": 1, "stock": 1_000_001}),
            "stock",
        ),
        (json!({"price": 1, "stock": 1}), "name"),
        (json!({"name": "   ", "price": 1, "stock": 1}), "name"),
        (json!({"name": long(201), "price": 1, "stock": 1}), "name"),
        (json!({"name": "A", "price": 1}), "stock"),
        (
            json!({"name": "A", "price": 1, "stock": 1, "description": long(5001)}),
            "description",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1, "brand": long(101)}),
            "brand",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1, "category": long(101)}),
            "category",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1, "sku": long(65)}),
            "sku",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1, "imageUrls": ["ftp://x.com/a.jpg"]}),
            "imageUrls",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1, "imageUrls": ["javascript:alert(1)"]}),
            "imageUrls",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1,
                   "imageUrls": [format!("https://example.com/{}", long(2048))]}),
            "imageUrls",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1,
                   "imageUrls": (0..11).map(|i| format!("https://example.com/{i}.jpg")).collect::<Vec<_>>()}),
            "imageUrls",
        ),
        (
            json!({"name": "A", "price": 1, "stock": 1, "isActive": "yes"}),
            "isActive",
        ),
    ];
    for (body, field) in cases {
        let resp = app
            .post("/products", Some(&vendor), body.clone())
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "body: {body}");
    }
    assert_eq!(total(&app).await, 0);

    // The boundaries themselves are fine.
    let ok = app
        .post(
            "/products",
            Some(&vendor),
            json!({"name": long(200), "price": 10000000, "stock": 1_000_000, "price_note": "ignored",
                   "imageUrls": (0..10).map(|i| format!("http://example.com/{i}.jpg")).collect::<Vec<_>>()}),
        )
        .await
        .expect(201);
    assert_eq!(ok.data()["price"], json!(10000000.0));
    let free = app
        .post(
            "/products",
            Some(&vendor),
            json!({"name": "Sample", "price": 0, "stock": 0, "isActive": false}),
        )
        .await
        .expect(201);
    assert_eq!(free.data()["isActive"], false);
    // Inactive from the start: not listed.
    assert_eq!(total(&app).await, 1);
}

async fn invalid_updates_change_nothing(app: TestApp) {
    let id = app.product("Stable", 10.0, 5).await;
    let path = format!("/products/{id}");
    let admin = Some(app.admin_token.as_str());
    for (body, field) in [
        (json!({"price": -5}), "price"),
        (json!({"price": 1.001}), "price"),
        (json!({"stock": "two"}), "stock"),
        (json!({"stock": -1}), "stock"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "Fine", "imageUrls": ["not a url"]}),
            "imageUrls",
        ),
    ] {
        let resp = app.patch(&path, admin, body.clone()).await.expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "body: {body}");
    }
    let resp = app
        .put(&path, admin, json!({"name": "New", "price": 1}))
        .await
        .expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "stock");
    let p = app.get(&path, None).await.expect(200);
    assert_eq!(p.data()["name"], "Stable");
    assert_eq!(p.data()["price"], json!(10.0));
    assert_eq!(p.data()["stock"], 5);
}

async fn duplicate_sku_is_a_conflict(app: TestApp) {
    let admin = Some(app.admin_token.as_str());
    app.post(
        "/products",
        admin,
        json!({"name": "A", "price": 1, "stock": 1, "sku": "DUP-1"}),
    )
    .await
    .expect(201);
    let resp = app
        .post(
            "/products",
            admin,
            json!({"name": "B", "price": 1, "stock": 1, "sku": "DUP-1"}),
        )
        .await
        .expect_error(409, "already_exists");
    assert!(resp.body["message"].as_str().unwrap().contains("SKU"));
    let b = app.product("B", 1.0, 1).await;
    app.patch(&format!("/products/{b}"), admin, json!({"sku": "DUP-1"}))
        .await
        .expect_error(409, "already_exists");
    assert_eq!(total(&app).await, 2);
    // Products without a SKU never collide.
    app.product("C", 1.0, 1).await;
}

async fn injection_looking_searches_return_empty_lists(app: TestApp) {
    app.product("Plain Shampoo", 5.0, 1).await;
    for search in [
        "' OR 1=1 --",
        "'; DROP TABLE products; --",
        "%",
        "_",
        "\\",
        "%' OR '1'='1",
        "\" OR \"\"=\"",
    ] {
        let resp = app
            .client
            .get(app.url("/products"))
            .query(&[("search", search)])
            .send()
            .await
            .unwrap();
        let resp = crate::helpers::read(resp).await.expect(200);
        assert!(names(&resp).is_empty(), "search {search:?}: {}", resp.body);
    }
    let resp = app
        .client
        .get(app.url("/products"))
        .query(&[("category", "' OR 1=1 --"), ("brand", "x' --")])
        .send()
        .await
        .unwrap();
    assert!(names(&crate::helpers::read(resp).await.expect(200)).is_empty());
    // The table is still there and the wildcard characters match literally.
    app.product("100% Natural_Oil", 5.0, 1).await;
    assert_eq!(total(&app).await, 2);
    assert_eq!(
        names(&list(&app, "?search=100%25").await),
        vec!["100% Natural_Oil"]
    );
    assert_eq!(
        names(&list(&app, "?search=l_o").await),
        vec!["100% Natural_Oil"]
    );
}

async fn stock_cannot_drop_below_reserved_units(app: TestApp) {
    let (_, owner) = app.user_with_role("Owner", "vendor").await;
    let id = app
        .post(
            "/products",
            Some(&owner),
            json!({"name": "Popular", "price": 10, "stock": 10}),
        )
        .await
        .expect(201)
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    set_reserved(&app, &id, 4).await;
    let path = format!("/products/{id}");
    let p = app.get(&path, None).await.expect(200);
    assert_eq!(p.data()["stock"], 10);
    assert_eq!(p.data()["availableStock"], 6);
    assert_eq!(
        list(&app, "").await.data()["products"][0]["availableStock"],
        6
    );

    let resp = app
        .patch(&path, Some(&owner), json!({"stock": 3, "name": "Renamed"}))
        .await
        .expect(409);
    assert!(
        resp.body["message"].as_str().unwrap().contains('4'),
        "names the reserved count: {}",
        resp.body
    );
    app.put(
        &path,
        Some(&app.admin_token),
        json!({"name": "Renamed", "price": 10, "stock": 0}),
    )
    .await
    .expect(409);
    let unchanged = app.get(&path, None).await.expect(200);
    assert_eq!(unchanged.data()["name"], "Popular");
    assert_eq!(unchanged.data()["stock"], 10);

    let at_limit = app
        .patch(&path, Some(&owner), json!({"stock": 4}))
        .await
        .expect(200);
    assert_eq!(at_limit.data()["stock"], 4);
    assert_eq!(at_limit.data()["availableStock"], 0);
    // Edits that leave stock alone are not blocked by the reservation.
    app.patch(&path, Some(&owner), json!({"price": 11}))
        .await
        .expect(200);
}

async fn demo_catalog_loads_once_even_when_raced(app: TestApp) {
    let store = Store::connect(&app.config).await.unwrap();
    let (a, b) = tokio::join!(
        cartwright::demo::load_if_empty(&store),
        cartwright::demo::load_if_empty(&store)
    );
    let loaded = [a.unwrap(), b.unwrap()];
    assert_eq!(loaded.iter().filter(|l| **l).count(), 1, "{loaded:?}");
    assert!(!cartwright::demo::load_if_empty(&store).await.unwrap());
    store.close().await;

    let all = list(&app, "?limit=100").await;
    let products = all.data()["products"].as_array().unwrap();
    assert!(products.len() >= 12);
    let categories: std::collections::HashSet<_> = products
        .iter()
        .map(|p| p["category"].as_str().unwrap())
        .collect();
    assert!(categories.len() >= 3, "{categories:?}");
    let vendors: std::collections::HashSet<_> = products
        .iter()
        .map(|p| p["vendorId"].as_str().unwrap())
        .collect();
    assert_eq!(vendors.len(), 1);

    let shampoo = list(&app, "?search=Professional%20Hair%20Shampoo").await;
    let p = &shampoo.data()["products"][0];
    assert_eq!(p["name"], "Professional Hair Shampoo");
    assert_eq!(p["brand"], "SalonPro");
    assert_eq!(p["category"], "hair_care");
    assert_eq!(p["price"], json!(25.99));
    assert_eq!(p["stock"], 50);
    assert_eq!(p["imageUrls"], json!(["/assets/demo/shampoo.svg"]));
    // Newest first puts the shampoo at the top of the default listing.
    assert_eq!(list(&app, "").await.data()["products"][0]["_id"], p["_id"]);

    // The demo vendor is a real vendor account.
    let vendors = app
        .get("/admin/users?role=vendor", Some(&app.admin_token))
        .await
        .expect(200);
    assert_eq!(
        vendors.data()["users"][0]["email"],
        "vendor@cartwright.local"
    );
    assert_eq!(vendors.data()["users"][0]["name"], "SalonPro Supplies");
}
