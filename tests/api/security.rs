//! Hostile input and misplaced trust: SQL-injection strings in every text field and query
//! parameter, junk and traversal in path ids, huge and negative numbers, unicode and empty names,
//! customers and vendors on routes that are not theirs, replayed webhooks, tokens of deactivated
//! accounts, oversized bodies and wrong content types. Every refusal is the JSON error envelope
//! with an `x-request-id`, and nothing answers 5xx.

use crate::api_tests;
use crate::fake_razorpay::FakeRazorpay;
use crate::helpers::{read, unique, Db, Resp, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

api_tests!(
    sql_injection_in_query_parameters_is_refused_or_matches_nothing,
    sql_injection_in_text_fields_is_stored_as_plain_text,
    junk_and_traversal_in_path_ids_are_400_or_404,
    nul_bytes_in_paths_queries_and_bodies_are_400,
    huge_negative_and_fractional_numbers_are_400,
    unicode_names_round_trip_and_empty_names_are_400,
    customer_gets_403_on_every_admin_and_vendor_route,
    vendor_gets_403_on_every_admin_route,
    vendor_cannot_edit_or_delete_another_vendors_product,
    vendor_cannot_see_or_move_another_vendors_order,
    deactivated_accounts_tokens_are_401_on_every_route_kind,
    two_mib_bodies_are_413_on_every_kind_of_route,
    wrong_content_type_is_400,
    error_responses_are_envelopes_with_request_ids,
    openapi_documents_the_refusals_every_operation_can_give,
);

const INJECTIONS: &[&str] = &[
    "' OR 1=1 --",
    "\"; DROP TABLE users; --",
    "%' UNION SELECT id, email, password_hash FROM users --",
    "1; DELETE FROM products WHERE 1=1",
    "') OR ('a'='a",
    "\\'; SELECT pg_sleep(5); --",
];

/// Asserts a refusal: one of `statuses`, the error envelope, and a request id.
#[track_caller]
fn refused(resp: &Resp, statuses: &[u16], what: &str) {
    assert!(
        statuses.contains(&resp.status.as_u16()),
        "{what}: status {} not in {statuses:?}; body: {}",
        resp.status,
        resp.body
    );
    assert_error_envelope(resp, what);
}

#[track_caller]
fn assert_error_envelope(resp: &Resp, what: &str) {
    assert_eq!(resp.body["success"], json!(false), "{what}: {}", resp.body);
    assert!(resp.body["message"].is_string(), "{what}: {}", resp.body);
    assert!(resp.body["errors"].is_array(), "{what}: {}", resp.body);
    assert!(
        resp.headers.contains_key("x-request-id"),
        "{what}: no x-request-id"
    );
}

/// Asserts either a success envelope or one of the refusals, and never a 5xx.
#[track_caller]
fn harmless(resp: &Resp, refusals: &[u16], what: &str) {
    if resp.status.is_success() {
        assert_eq!(resp.body["success"], json!(true), "{what}: {}", resp.body);
    } else {
        refused(resp, refusals, what);
    }
}

/// Sends raw bytes with any content type (or none).
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    let mut builder = app.client.request(method, app.url(path)).body(body);
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    read(builder.send().await.expect("request sent")).await
}

/// Sends an oversized body. The server may answer 413 and close the connection before the client
/// has finished writing, which the client can see as a broken pipe; that attempt is repeated.
async fn send_big(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Resp {
    // A connection of its own: the server answers 413 and closes it without reading the rest of
    // the body, and a pooled connection in that state would break the test's next request.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut last_error = None;
    for _ in 0..5 {
        let mut builder = client
            .request(method.clone(), app.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        match builder.send().await {
            Ok(response) => return read(response).await,
            Err(err) => last_error = Some(err),
        }
    }
    panic!("{method} {path}: no answer to an oversized body: {last_error:?}");
}

/// A GET with query parameters, percent-encoded by the client.
async fn get_query(app: &TestApp, path: &str, token: Option<&str>, query: &[(&str, &str)]) -> Resp {
    let mut builder = app.client.get(app.url(path)).query(query);
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    read(builder.send().await.expect("request sent")).await
}

/// Every operation of the served OpenAPI document: (method, path template, request body schema).
async fn operations(app: &TestApp) -> Vec<(Method, String, Option<String>)> {
    let doc = app.get("/openapi.json", None).await.body;
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .map(String::from);
            out.push((method, path.clone(), schema));
        }
    }
    out
}

/// A well-formed body for a request schema, so that a refusal is about who calls or which id,
/// not about the body.
fn valid_body(schema: Option<&str>) -> Option<Value> {
    Some(match schema? {
        "AddressBody" | "ShippingAddressBody" => {
            json!({"street": "1 Main St", "city": "Mumbai", "state": "MH", "zipCode": "400001", "phone": "+1234567890"})
        }
        "DiscountCodeBody" => {
            json!({"code": format!("X{}", &unique()[..8]).to_uppercase(), "type": "percent", "value": 10})
        }
        "CreateUserBody" => {
            json!({"name": "Made", "email": format!("made-{}@example.com", unique()), "password": "password123", "role": "admin"})
        }
        "UpdateUserBody" => json!({"role": "admin"}),
        "QuantityBody" => json!({"quantity": 1}),
        "ProductBody" => json!({"name": "Renamed", "price": 1, "stock": 1}),
        "ProductPatch" => json!({"price": 0.01}),
        "ReasonBody" => json!({"reason": "changed my mind"}),
        "ReturnBody" => json!({"reason": "broken"}),
        "ReviewBody" => json!({"rating": 5}),
        "StatusBody" => json!({"status": "shipped", "trackingNumber": "TRK1"}),
        "ReturnDecisionBody" => json!({"action": "approve"}),
        "AddItemBody" => json!({"productId": uuid::Uuid::new_v4().to_string(), "quantity": 1}),
        "ApplyDiscountBody" => json!({"discountCode": "NOPE"}),
        _ => json!({}),
    })
}

fn fill(template: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("closing brace") + start;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn admin_user_count(app: &TestApp) -> i64 {
    app.get("/admin/users?limit=100", Some(&app.admin_token))
        .await
        .expect(200)
        .data()["pagination"]["totalItems"]
        .as_i64()
        .expect("totalItems")
}

/// After the hostile input, the users table still answers, the admin still logs in and the
/// catalog still holds `products` items.
async fn nothing_broke(app: &TestApp, users_at_least: i64, products: i64) {
    assert!(admin_user_count(app).await >= users_at_least);
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let listed = app.get("/products?limit=100", None).await.expect(200);
    assert_eq!(listed.data()["pagination"]["totalItems"], json!(products));
}

async fn sql_injection_in_query_parameters_is_refused_or_matches_nothing(app: TestApp) {
    let product = app.product("Plain Soap", 10.0, 5).await;
    let (_, customer) = app.customer("Shopper").await;
    let (_, vendor) = app.user_with_role("Seller", "vendor").await;
    let users = admin_user_count(&app).await;
    app.cod_order(&customer, &product, 1).await;
    let admin = app.admin_token.clone();

    let lists: &[(&str, Option<&str>, &[&str])] = &[
        (
            "/products",
            None,
            &[
                "search",
                "category",
                "brand",
                "minPrice",
                "maxPrice",
                "sortBy",
                "sortOrder",
                "page",
                "limit",
            ],
        ),
        (
            "/orders/my-orders",
            Some(&customer),
            &["status", "sortBy", "sortOrder", "page", "limit"],
        ),
        (
            "/orders/admin/all",
            Some(&admin),
            &[
                "status",
                "paymentStatus",
                "userId",
                "startDate",
                "endDate",
                "sortBy",
                "sortOrder",
                "page",
                "limit",
            ],
        ),
        (
            "/orders/admin/stats",
            Some(&admin),
            &["startDate", "endDate", "userId"],
        ),
        ("/admin/users", Some(&admin), &["role", "page", "limit"]),
        ("/admin/discounts", Some(&admin), &["page", "limit"]),
        (
            "/notifications",
            Some(&customer),
            &["unread", "page", "limit"],
        ),
        (
            "/vendor/orders",
            Some(&vendor),
            &["status", "page", "limit"],
        ),
        ("/addresses", Some(&customer), &["page", "limit"]),
    ];
    let reviews = format!("/products/{product}/reviews");
    for injection in INJECTIONS {
        for (path, token, params) in
            lists
                .iter()
                .copied()
                .chain([(reviews.as_str(), None, &["page", "limit"][..])])
        {
            for param in params {
                let resp = get_query(&app, path, token, &[(param, injection)]).await;
                let what = format!("GET {path}?{param}={injection}");
                harmless(&resp, &[400], &what);
                if resp.status.is_success() {
                    // Accepted as text: it must match nothing, as a literal string would.
                    let data = resp.data();
                    let total = data["pagination"]["totalItems"]
                        .as_i64()
                        .or_else(|| data["totalOrders"].as_i64())
                        .unwrap_or(0);
                    assert_eq!(total, 0, "{what} matched something: {data}");
                }
            }
        }
    }
    nothing_broke(&app, users, 1).await;
}

async fn sql_injection_in_text_fields_is_stored_as_plain_text(app: TestApp) {
    let admin = app.admin_token.clone();
    let mut registered = 0;
    let mut products = 0;
    for injection in INJECTIONS {
        // Account names come back exactly as sent; as e-mail or password they are refused.
        let email = format!("inj-{}@example.com", unique());
        let resp = app
            .post(
                "/auth/register",
                None,
                json!({"name": injection, "email": email, "password": "password123"}),
            )
            .await
            .expect(201);
        registered += 1;
        let token = resp.data()["token"].as_str().unwrap().to_string();
        let me = app.get("/auth/me", Some(&token)).await.expect(200);
        assert_eq!(me.data()["name"], json!(injection.trim()));
        let resp = app
            .post(
                "/auth/register",
                None,
                json!({"name": "x", "email": injection, "password": "password123"}),
            )
            .await;
        refused(&resp, &[400], "register with an injected e-mail");
        let resp = app
            .post(
                "/auth/login",
                None,
                json!({"email": injection, "password": injection}),
            )
            .await;
        refused(&resp, &[400, 401], "login with injected credentials");
        let resp = app
            .post(
                "/auth/login",
                None,
                json!({"email": ADMIN_EMAIL, "password": injection}),
            )
            .await;
        refused(&resp, &[400, 401], "admin login with an injected password");

        // Product text fields are data, found again only by the literal text.
        let tag = unique();
        let name = format!("{injection} {tag}");
        let created = app
            .post(
                "/products",
                Some(&admin),
                json!({"name": name, "description": injection, "brand": injection,
                       "category": injection, "price": 5, "stock": 3}),
            )
            .await
            .expect(201);
        products += 1;
        let id = created.data()["_id"].as_str().unwrap().to_string();
        let shown = app.product_json(&id).await;
        assert_eq!(shown["name"], json!(name.trim()));
        assert_eq!(shown["description"], json!(injection.trim()));
        assert_eq!(shown["brand"], json!(injection.trim()));
        let found = get_query(&app, "/products", None, &[("search", &name)])
            .await
            .expect(200);
        assert_eq!(found.data()["pagination"]["totalItems"], json!(1), "{name}");
        assert_eq!(found.data()["products"][0]["_id"], json!(id));
        let resp = app
            .post(
                "/products",
                Some(&admin),
                json!({"name": "Sku", "price": 1, "stock": 1, "sku": injection}),
            )
            .await;
        harmless(&resp, &[400], "product with an injected SKU");
        if resp.status.is_success() {
            products += 1;
        }
        let resp = app
            .patch(
                &format!("/products/{id}"),
                Some(&admin),
                json!({"brand": injection}),
            )
            .await
            .expect(200);
        assert_eq!(resp.data()["brand"], json!(injection.trim()));

        // Address book, cart address, cart lines and discount codes.
        let address = app
            .post(
                "/addresses",
                Some(&token),
                json!({"name": injection, "street": injection, "city": injection, "state": injection,
                       "zipCode": "400001", "phone": "+1234567890", "country": injection}),
            )
            .await;
        harmless(&address, &[400], "address with injected text");
        if address.status.is_success() {
            assert_eq!(address.data()["street"], json!(injection.trim()));
        }
        for field in ["zipCode", "phone"] {
            let mut body = json!({"street": "1 Main St", "city": "Mumbai", "state": "MH",
                                  "zipCode": "400001", "phone": "+1234567890"});
            body[field] = json!(injection);
            let resp = app.post("/addresses", Some(&token), body).await;
            refused(&resp, &[400], &format!("address with injected {field}"));
        }
        let resp = app
            .put(
                "/cart/shipping-address",
                Some(&token),
                json!({"street": injection, "city": injection, "state": injection,
                       "zipCode": "400001", "phone": "+1234567890"}),
            )
            .await;
        harmless(&resp, &[400], "cart address with injected text");
        let resp = app
            .post(
                "/cart/items",
                Some(&token),
                json!({"productId": injection, "quantity": 1}),
            )
            .await;
        refused(&resp, &[400], "cart line with an injected product id");
        app.add_to_cart(&token, &id, 1).await;
        let resp = app
            .post(
                "/cart/discount",
                Some(&token),
                json!({"discountCode": injection}),
            )
            .await;
        refused(&resp, &[400, 404], "injected discount code");
        let resp = app
            .post(
                "/admin/discounts",
                Some(&admin),
                json!({"code": injection, "type": "percent", "value": 10}),
            )
            .await;
        refused(&resp, &[400], "discount created with an injected code");

        // Order notes, cancellation and return reasons, tracking numbers, reviews.
        app.set_address(&token).await;
        let order = app
            .post(
                "/orders",
                Some(&token),
                json!({"paymentMethod": "cod", "notes": injection}),
            )
            .await
            .expect(201);
        let order_id = order.data()["order"]["_id"].as_str().unwrap().to_string();
        let cancelled = app
            .patch(
                &format!("/orders/{order_id}/cancel"),
                Some(&token),
                json!({"reason": injection}),
            )
            .await
            .expect(200);
        assert_eq!(cancelled.data()["status"], "cancelled");
        let delivered = app.delivered_order(&token, &id).await;
        let resp = app
            .post(
                &format!("/orders/{delivered}/return"),
                Some(&token),
                json!({"reason": injection}),
            )
            .await
            .expect(200);
        assert_eq!(resp.body["success"], json!(true));
        let resp = app
            .patch(
                &format!("/orders/admin/{delivered}/return"),
                Some(&admin),
                json!({"action": "reject", "reason": injection}),
            )
            .await;
        harmless(
            &resp,
            &[400, 409],
            "return decision with an injected reason",
        );
        let resp = app
            .post(
                &format!("/products/{id}/reviews"),
                Some(&token),
                json!({"rating": 4, "title": injection, "comment": injection}),
            )
            .await
            .expect(201);
        assert_eq!(resp.data()["review"]["comment"], json!(injection.trim()));
        let shipped = app.cod_order(&token, &id, 1).await;
        let resp = app
            .admin_status(
                &shipped,
                json!({"status": "shipped", "trackingNumber": injection}),
            )
            .await;
        harmless(&resp, &[400], "injected tracking number");

        // Admin user management with injected names and roles.
        let (user_id, _) = app.customer("Target").await;
        registered += 1;
        app.patch(
            &format!("/admin/users/{user_id}"),
            Some(&admin),
            json!({"name": injection}),
        )
        .await
        .expect(200);
        let resp = app
            .patch(
                &format!("/admin/users/{user_id}"),
                Some(&admin),
                json!({"role": injection}),
            )
            .await;
        refused(&resp, &[400], "injected role");
    }
    nothing_broke(&app, registered + 1, products).await;
}

async fn junk_and_traversal_in_path_ids_are_400_or_404(app: TestApp) {
    let (_, customer) = app.customer("Prober").await;
    let (_, vendor) = app.user_with_role("Prober Vendor", "vendor").await;
    let product = app.product("Kept", 3.0, 5).await;
    let long = "a".repeat(5000);
    let junk: Vec<&str> = vec![
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "..%5C..%5Cwindows%5Cwin.ini",
        "%00",
        "abc%00def",
        &long,
        "%F0%9F%98%80%C3%B1",
        "%FF%FE",
        "%27%20OR%201%3D1%20--",
        "-1",
        "0",
        "9223372036854775808",
        "1e308",
        "00000000-0000-0000-0000-000000000000",
        "%20",
    ];
    let operations = operations(&app).await;
    let with_ids: Vec<_> = operations
        .iter()
        .filter(|(_, p, _)| p.contains('{'))
        .collect();
    assert!(
        with_ids.len() > 20,
        "{} operations with ids",
        with_ids.len()
    );
    for (method, template, schema) in &with_ids {
        let token = if template.starts_with("/admin") || template.starts_with("/orders/admin") {
            &app.admin_token
        } else if template.starts_with("/vendor") {
            &vendor
        } else if template.starts_with("/products/{id}") && !template.contains("reviews") {
            &app.admin_token
        } else {
            &customer
        };
        for value in &junk {
            let path = fill(template, value);
            let body = valid_body(schema.as_deref());
            let resp = app.request(method.clone(), &path, Some(token), body).await;
            let shown: String = path.chars().take(80).collect();
            refused(&resp, &[400, 404], &format!("{method} {shown}"));
        }
    }
    // Unencoded dot segments are resolved before routing: they lead nowhere.
    for path in [
        "/products/../../etc/passwd",
        "/products/%2e%2e/%2e%2e/etc/passwd",
        "/openapi.json/../../../etc/passwd",
    ] {
        let resp = app.get(path, Some(&customer)).await;
        refused(&resp, &[400, 404], path);
    }
    assert_eq!(app.product_json(&product).await["name"], "Kept");
}

async fn nul_bytes_in_paths_queries_and_bodies_are_400(app: TestApp) {
    let (_, customer) = app.customer("Nul").await;
    let product = app.product("Nul Target", 4.0, 5).await;
    let order = app.cod_order(&customer, &product, 1).await;
    let admin = app.admin_token.clone();
    let number = app
        .get(&format!("/orders/{order}"), Some(&customer))
        .await
        .expect(200)
        .data()["orderNumber"]
        .as_str()
        .unwrap()
        .to_string();

    // Order references are looked up as text: a NUL in one must not reach the database.
    for path in [
        format!("/orders/{number}%00"),
        format!("/orders/{number}%00/tracking"),
        "/orders/%00".to_string(),
        format!("/orders/admin/{number}%00/status"),
        "/admin/discounts/A%00B".to_string(),
    ] {
        let method = if path.ends_with("/status") {
            Method::PATCH
        } else {
            Method::GET
        };
        let body =
            (method == Method::PATCH).then(|| json!({"status": "shipped", "trackingNumber": "T"}));
        let token = if path.contains("admin") {
            &admin
        } else {
            &customer
        };
        let resp = app.request(method, &path, Some(token), body).await;
        refused(&resp, &[400, 404], &path);
    }
    // Query values.
    for (path, token, param) in [
        ("/products", None, "search"),
        ("/products", None, "category"),
        ("/products", None, "brand"),
        ("/orders/my-orders", Some(customer.as_str()), "status"),
        ("/orders/admin/all", Some(admin.as_str()), "userId"),
        ("/orders/admin/all", Some(admin.as_str()), "status"),
        ("/admin/users", Some(admin.as_str()), "role"),
    ] {
        let resp = get_query(&app, path, token, &[(param, "soap\0")]).await;
        refused(&resp, &[400], &format!("{path}?{param}=<NUL>"));
    }
    // Text in bodies.
    let resp = app
        .post(
            "/auth/register",
            None,
            json!({"name": "Bad\u{0}Name", "email": format!("nul-{}@example.com", unique()), "password": "password123"}),
        )
        .await;
    refused(&resp, &[400], "register with a NUL in the name");
    let resp = app
        .post(
            "/auth/login",
            None,
            json!({"email": "a\u{0}@example.com", "password": "password123"}),
        )
        .await;
    refused(&resp, &[400], "login with a NUL in the e-mail");
    let resp = app
        .post(
            "/products",
            Some(&admin),
            json!({"name": "Soap", "description": "x\u{0}y", "price": 1, "stock": 1}),
        )
        .await;
    refused(&resp, &[400], "product with a NUL in the description");
    let resp = app
        .post(
            "/addresses",
            Some(&customer),
            json!({"street": "1\u{0}", "city": "Mumbai", "state": "MH", "zipCode": "400001", "phone": "+1234567890"}),
        )
        .await;
    refused(&resp, &[400], "address with a NUL");
    let resp = app
        .post(
            "/cart/discount",
            Some(&customer),
            json!({"discountCode": "SAVE\u{0}"}),
        )
        .await;
    refused(&resp, &[400], "discount code with a NUL");
    let resp = app
        .patch(
            &format!("/orders/{order}/cancel"),
            Some(&customer),
            json!({"reason": "because\u{0}"}),
        )
        .await;
    refused(&resp, &[400], "cancel reason with a NUL");
    // An escaped backslash before "u0000" is plain text, not a NUL.
    let resp = raw(
        &app,
        Method::POST,
        "/products",
        Some(&admin),
        Some("application/json"),
        br#"{"name": "Back\\u0000slash", "price": 1, "stock": 1}"#.to_vec(),
    )
    .await
    .expect(201);
    assert_eq!(resp.data()["name"], json!("Back\\u0000slash"));
    nothing_broke(&app, 2, 2).await;
}

async fn huge_negative_and_fractional_numbers_are_400(app: TestApp) {
    let admin = app.admin_token.clone();
    let product = app.product("Counted", 10.0, 5).await;
    let (_, customer) = app.customer("Counter").await;

    let bad_prices: &[&str] = &[
        "1e308",
        "1e400",
        "9223372036854775808",
        "-9223372036854775809",
        "-1",
        "-0.01",
        "1.005",
        "0.001",
        "10000000.01",
        "\"12\"",
        "null",
        "true",
    ];
    let bad_stocks: &[&str] = &[
        "-1",
        "1e308",
        "9223372036854775808",
        "1.5",
        "1000001",
        "\"5\"",
        "null",
    ];
    for price in bad_prices {
        let body = format!(r#"{{"name": "Bad", "price": {price}, "stock": 1}}"#);
        let resp = raw(
            &app,
            Method::POST,
            "/products",
            Some(&admin),
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        refused(&resp, &[400], &format!("price {price}"));
        if *price == "null" {
            continue; // a PATCH field sent as null is left unchanged
        }
        let body = format!(r#"{{"price": {price}}}"#);
        let resp = raw(
            &app,
            Method::PATCH,
            &format!("/products/{product}"),
            Some(&admin),
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        refused(&resp, &[400], &format!("patched price {price}"));
    }
    for stock in bad_stocks {
        let body = format!(r#"{{"name": "Bad", "price": 1, "stock": {stock}}}"#);
        let resp = raw(
            &app,
            Method::POST,
            "/products",
            Some(&admin),
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        refused(&resp, &[400], &format!("stock {stock}"));
        if *stock == "null" {
            continue;
        }
        let body = format!(r#"{{"stock": {stock}}}"#);
        let resp = raw(
            &app,
            Method::PATCH,
            &format!("/products/{product}"),
            Some(&admin),
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        refused(&resp, &[400], &format!("patched stock {stock}"));
    }
    let shown = app.product_json(&product).await;
    assert_eq!(shown["price"], json!(10.0));
    assert_eq!(shown["stock"], json!(5));

    for quantity in [
        "0",
        "-1",
        "1e308",
        "9223372036854775808",
        "2147483648",
        "1.5",
        "\"1\"",
    ] {
        let body = format!(r#"{{"productId": "{product}", "quantity": {quantity}}}"#);
        let resp = raw(
            &app,
            Method::POST,
            "/cart/items",
            Some(&customer),
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        refused(&resp, &[400, 409], &format!("quantity {quantity}"));
    }
    let cart = app.get("/cart", Some(&customer)).await.expect(200);
    assert_eq!(
        cart.data()["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        cart.body
    );

    for (field, value) in [
        ("value", "1e308"),
        ("value", "-1"),
        ("value", "101"),
        ("value", "9223372036854775808"),
        ("value", "10.005"),
        ("minOrderAmount", "-1"),
        ("minOrderAmount", "1e308"),
        ("maxDiscountAmount", "-5"),
        ("usageLimit", "-1"),
        ("usageLimit", "9223372036854775808"),
        ("perUserLimit", "-1"),
    ] {
        let code = format!("HUGE{}", &unique()[..6]).to_uppercase();
        let body = if field == "value" {
            format!(r#"{{"code": "{code}", "type": "percent", "value": {value}}}"#)
        } else {
            format!(r#"{{"code": "{code}", "type": "percent", "value": 10, "{field}": {value}}}"#)
        };
        let resp = raw(
            &app,
            Method::POST,
            "/admin/discounts",
            Some(&admin),
            Some("application/json"),
            body.clone().into_bytes(),
        )
        .await;
        refused(&resp, &[400], &format!("discount {body}"));
    }
    for (param, value) in [
        ("minPrice", "1e308"),
        ("maxPrice", "-1"),
        ("minPrice", "1.005"),
        ("page", "9223372036854775808"),
        ("page", "-1"),
        ("limit", "1e308"),
        ("limit", "-1"),
    ] {
        let resp = get_query(&app, "/products", None, &[(param, value)]).await;
        refused(&resp, &[400], &format!("{param}={value}"));
    }
}

async fn unicode_names_round_trip_and_empty_names_are_400(app: TestApp) {
    let admin = app.admin_token.clone();
    for name in ["", "   ", "\t\n"] {
        let resp = app
            .post(
                "/auth/register",
                None,
                json!({"name": name, "email": format!("e-{}@example.com", unique()), "password": "password123"}),
            )
            .await;
        refused(&resp, &[400], &format!("register name {name:?}"));
        let resp = app
            .post(
                "/products",
                Some(&admin),
                json!({"name": name, "price": 1, "stock": 1}),
            )
            .await;
        refused(&resp, &[400], &format!("product name {name:?}"));
        let resp = app
            .post(
                "/admin/discounts",
                Some(&admin),
                json!({"code": name, "type": "percent", "value": 10}),
            )
            .await;
        harmless(&resp, &[400], &format!("discount code {name:?}"));
    }
    let (_, customer) = app.customer("Unicode").await;
    let resp = app
        .post(
            "/addresses",
            Some(&customer),
            json!({"street": "", "city": "", "state": "", "zipCode": "", "phone": ""}),
        )
        .await;
    refused(&resp, &[400], "empty address");

    let unicode = "Zoë Ünïcødé 😀 名前 ميزة \u{202e}txt.exe";
    let resp = app
        .post(
            "/auth/register",
            None,
            json!({"name": unicode, "email": format!("u-{}@example.com", unique()), "password": "pässwörd-😀"}),
        )
        .await
        .expect(201);
    assert_eq!(resp.data()["user"]["name"], json!(unicode));
    let email = resp.data()["user"]["email"].as_str().unwrap().to_string();
    app.login(&email, "pässwörd-😀").await;

    let product_name = "Crème brûlée 🍮 ميزة";
    let id = app
        .product_with(json!({"name": product_name, "brand": "Brûlerie", "price": 2.5, "stock": 3}))
        .await;
    assert_eq!(app.product_json(&id).await["name"], json!(product_name));
    for search in ["brûlée", "🍮", "ميزة", "Brûlerie"] {
        let found = get_query(&app, "/products", None, &[("search", search)])
            .await
            .expect(200);
        assert_eq!(
            found.data()["pagination"]["totalItems"],
            json!(1),
            "search {search}"
        );
    }
    // Length limits count characters, not bytes: 200 four-byte characters fit, 201 do not.
    app.product_with(json!({"name": "😀".repeat(200), "price": 1, "stock": 1}))
        .await;
    let resp = app
        .post(
            "/products",
            Some(&admin),
            json!({"name": "😀".repeat(201), "price": 1, "stock": 1}),
        )
        .await;
    refused(&resp, &[400], "201-character name");
}

/// Every admin and vendor route of the document, with the body each is called with.
const PRIVILEGED: &[(&str, &str)] = &[
    ("GET", "/admin/discounts"),
    ("POST", "/admin/discounts"),
    ("GET", "/admin/discounts/{code}"),
    ("PUT", "/admin/discounts/{code}"),
    ("DELETE", "/admin/discounts/{code}"),
    ("GET", "/admin/users"),
    ("GET", "/admin/refunds"),
    ("POST", "/admin/refunds/{refundId}/retry"),
    ("GET", "/admin/emails"),
    ("POST", "/admin/emails/{emailId}/retry"),
    ("POST", "/admin/users"),
    ("PATCH", "/admin/users/{id}"),
    ("GET", "/orders/admin/all"),
    ("GET", "/orders/admin/export.csv"),
    ("GET", "/orders/admin/stats"),
    ("GET", "/orders/admin/stats/daily"),
    ("PATCH", "/orders/admin/{orderId}/return"),
    ("PATCH", "/orders/admin/{orderId}/status"),
    ("GET", "/vendor/orders"),
    ("GET", "/vendor/orders/{orderId}"),
    ("PATCH", "/vendor/orders/{orderId}/status"),
    ("GET", "/admin/gst/export"),
];

/// The privileged operations as the document lists them; fails if the table above is incomplete.
async fn privileged_operations(app: &TestApp) -> Vec<(Method, String, Option<String>)> {
    let found: Vec<_> = operations(app)
        .await
        .into_iter()
        .filter(|(_, p, _)| {
            p.starts_with("/admin/") || p.starts_with("/orders/admin/") || p.starts_with("/vendor/")
        })
        .collect();
    let listed: BTreeSet<(String, String)> = found
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = PRIVILEGED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert!(!listed.is_empty());
    assert_eq!(listed, expected, "admin and vendor routes in /openapi.json");
    found
}

/// Calls every route in `ops` (but `skip_vendor` ones) as `token` and expects 403 each time; ids
/// are real ones the caller owns or can see, so only the role stands in the way.
async fn expect_403_everywhere(
    app: &TestApp,
    ops: &[(Method, String, Option<String>)],
    token: &str,
    user_id: &str,
    order_id: &str,
    code: &str,
    skip_vendor: bool,
) {
    for (method, template, schema) in ops {
        if skip_vendor && template.starts_with("/vendor/") {
            continue;
        }
        let path = template
            .replace("{code}", code)
            .replace("{id}", user_id)
            .replace("{orderId}", order_id)
            .replace("{refundId}", order_id)
            .replace("{emailId}", order_id);
        let resp = app
            .request(
                method.clone(),
                &path,
                Some(token),
                valid_body(schema.as_deref()),
            )
            .await;
        refused(&resp, &[403], &format!("{method} {path}"));
    }
}

async fn customer_gets_403_on_every_admin_and_vendor_route(app: TestApp) {
    let ops = privileged_operations(&app).await;
    let (customer_id, customer) = app.customer("Climber").await;
    let product = app.product("Climbing Rope", 12.0, 10).await;
    let order_id = app.cod_order(&customer, &product, 1).await;
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": "KEEPME", "type": "percent", "value": 10}),
    )
    .await
    .expect(201);

    expect_403_everywhere(
        &app,
        &ops,
        &customer,
        &customer_id,
        &order_id,
        "KEEPME",
        false,
    )
    .await;
    // The catalog routes reserved to admins and vendors too.
    for (method, path, body) in [
        (
            Method::POST,
            "/products".to_string(),
            Some(json!({"name": "Mine", "price": 1, "stock": 1})),
        ),
        (
            Method::PUT,
            format!("/products/{product}"),
            Some(json!({"name": "Mine", "price": 1, "stock": 1})),
        ),
        (
            Method::PATCH,
            format!("/products/{product}"),
            Some(json!({"price": 0.01})),
        ),
        (Method::DELETE, format!("/products/{product}"), None),
    ] {
        let resp = app
            .request(method.clone(), &path, Some(&customer), body)
            .await;
        refused(&resp, &[403], &format!("customer {method} {path}"));
    }

    // Nothing moved: still a customer, the code still there, the order still confirmed.
    let me = app.get("/auth/me", Some(&customer)).await.expect(200);
    assert_eq!(me.data()["role"], "customer");
    app.get("/admin/discounts/KEEPME", Some(&app.admin_token))
        .await
        .expect(200);
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "confirmed");
    let shown = app.product_json(&product).await;
    assert_eq!(shown["price"], json!(12.0));
    assert_eq!(shown["isActive"], json!(true));
}

async fn vendor_gets_403_on_every_admin_route(app: TestApp) {
    let ops = privileged_operations(&app).await;
    let (vendor_id, vendor) = app.user_with_role("Ambitious Vendor", "vendor").await;
    let product = app
        .product_with(json!({"name": "Vendor Good", "price": 5, "stock": 5, "vendorId": vendor_id}))
        .await;
    let (_, customer) = app.customer("Buyer").await;
    let order_id = app.cod_order(&customer, &product, 1).await;
    app.post(
        "/admin/discounts",
        Some(&app.admin_token),
        json!({"code": "VENDORNO", "type": "percent", "value": 10}),
    )
    .await
    .expect(201);
    expect_403_everywhere(&app, &ops, &vendor, &vendor_id, &order_id, "VENDORNO", true).await;
    let me = app.get("/auth/me", Some(&vendor)).await.expect(200);
    assert_eq!(me.data()["role"], "vendor");
    // Admins are not vendors either: the vendor desk is the vendor's alone.
    let resp = app.get("/vendor/orders", Some(&app.admin_token)).await;
    refused(&resp, &[403], "admin on /vendor/orders");
}

async fn vendor_cannot_edit_or_delete_another_vendors_product(app: TestApp) {
    let (owner_id, owner) = app.user_with_role("Owner Vendor", "vendor").await;
    let (rival_id, rival) = app.user_with_role("Rival Vendor", "vendor").await;
    let created = app
        .post(
            "/products",
            Some(&owner),
            json!({"name": "Owned Lamp", "price": 40, "stock": 7}),
        )
        .await
        .expect(201);
    let id = created.data()["_id"].as_str().unwrap().to_string();
    assert_eq!(created.data()["vendorId"], json!(owner_id));

    let attempts = [
        (
            Method::PUT,
            Some(json!({"name": "Stolen", "price": 1, "stock": 0})),
        ),
        (Method::PATCH, Some(json!({"price": 0.01}))),
        (Method::PATCH, Some(json!({"vendorId": rival_id}))),
        (Method::PATCH, Some(json!({"isActive": false}))),
        (Method::DELETE, None),
    ];
    for (method, body) in attempts {
        let resp = app
            .request(
                method.clone(),
                &format!("/products/{id}"),
                Some(&rival),
                body,
            )
            .await;
        refused(&resp, &[403], &format!("rival {method}"));
    }
    // Nor can a vendor hand its own product to, or create one for, someone else.
    let own = app
        .post(
            "/products",
            Some(&rival),
            json!({"name": "Rival Lamp", "price": 30, "stock": 2}),
        )
        .await
        .expect(201);
    let own_id = own.data()["_id"].as_str().unwrap();
    let resp = app
        .patch(
            &format!("/products/{own_id}"),
            Some(&rival),
            json!({"vendorId": owner_id}),
        )
        .await;
    refused(&resp, &[403], "vendor handing a product away");
    let resp = app
        .post(
            "/products",
            Some(&rival),
            json!({"name": "Planted", "price": 1, "stock": 1, "vendorId": owner_id}),
        )
        .await;
    refused(
        &resp,
        &[403],
        "vendor creating a product for another vendor",
    );

    let shown = app.product_json(&id).await;
    assert_eq!(shown["name"], "Owned Lamp");
    assert_eq!(shown["price"], json!(40.0));
    assert_eq!(shown["stock"], json!(7));
    assert_eq!(shown["isActive"], json!(true));
    assert_eq!(shown["vendorId"], json!(owner_id));
}

async fn vendor_cannot_see_or_move_another_vendors_order(app: TestApp) {
    let (owner_id, owner) = app.user_with_role("Owner Vendor", "vendor").await;
    let (rival_id, rival) = app.user_with_role("Rival Vendor", "vendor").await;
    let owned = app
        .product_with(json!({"name": "Owner Good", "price": 10, "stock": 10, "vendorId": owner_id}))
        .await;
    let rivals = app
        .product_with(json!({"name": "Rival Good", "price": 10, "stock": 10, "vendorId": rival_id}))
        .await;
    let (_, customer) = app.customer("Buyer").await;
    let order_id = app.cod_order(&customer, &owned, 1).await;
    let number = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200)
        .data()["orderNumber"]
        .as_str()
        .unwrap()
        .to_string();

    for reference in [&order_id, &number] {
        let resp = app
            .get(&format!("/vendor/orders/{reference}"), Some(&rival))
            .await;
        refused(&resp, &[404], "rival reads the order");
        let resp = app
            .patch(
                &format!("/vendor/orders/{reference}/status"),
                Some(&rival),
                json!({"status": "processing"}),
            )
            .await;
        refused(&resp, &[404], "rival moves the order");
        // Vendors do not use the customer's or the admin's order routes either.
        let resp = app.get(&format!("/orders/{reference}"), Some(&rival)).await;
        refused(&resp, &[403, 404], "rival on /orders/{id}");
    }
    let listed = app.get("/vendor/orders", Some(&rival)).await.expect(200);
    assert_eq!(listed.data()["pagination"]["totalItems"], json!(0));

    // An order holding both vendors' lines: each sees only its own lines and neither moves it.
    app.add_to_cart(&customer, &owned, 1).await;
    app.add_to_cart(&customer, &rivals, 1).await;
    app.set_address(&customer).await;
    let mixed = app
        .post("/orders", Some(&customer), json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
    let mixed_id = mixed.data()["order"]["_id"].as_str().unwrap().to_string();
    let seen = app
        .get(&format!("/vendor/orders/{mixed_id}"), Some(&rival))
        .await
        .expect(200);
    let items = seen.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", seen.body);
    let resp = app
        .patch(
            &format!("/vendor/orders/{mixed_id}/status"),
            Some(&rival),
            json!({"status": "processing"}),
        )
        .await;
    refused(&resp, &[409], "vendor moves a shared order");

    // The owner moves its own order; the order is untouched by the rival's attempts until then.
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "confirmed");
    app.patch(
        &format!("/vendor/orders/{order_id}/status"),
        Some(&owner),
        json!({"status": "processing"}),
    )
    .await
    .expect(200);
}

async fn deactivated_accounts_tokens_are_401_on_every_route_kind(app: TestApp) {
    let admin = app.admin_token.clone();
    let product = app.product("Still Here", 5.0, 10).await;
    let (customer_id, customer) = app.customer("Leaving").await;
    let order_id = app.cod_order(&customer, &product, 1).await;
    let (vendor_id, vendor) = app.user_with_role("Leaving Vendor", "vendor").await;
    let (admin2_id, admin2) = app.user_with_role("Leaving Admin", "admin").await;
    for id in [&customer_id, &vendor_id, &admin2_id] {
        app.patch(
            &format!("/admin/users/{id}"),
            Some(&admin),
            json!({"isActive": false}),
        )
        .await
        .expect(200);
    }
    let everyone = [customer.as_str(), vendor.as_str(), admin2.as_str()];
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/auth/me".into(), None),
        // `GET /products` ignores any token; the single product reads it when one is sent.
        (Method::GET, format!("/products/{product}"), None),
        (
            Method::POST,
            "/products".into(),
            Some(json!({"name": "x", "price": 1, "stock": 1})),
        ),
        (
            Method::PATCH,
            format!("/products/{product}"),
            Some(json!({"price": 1})),
        ),
        (Method::GET, "/cart".into(), None),
        (
            Method::POST,
            "/cart/items".into(),
            Some(json!({"productId": product, "quantity": 1})),
        ),
        (Method::DELETE, "/cart".into(), None),
        (Method::GET, "/addresses".into(), None),
        (
            Method::POST,
            "/orders".into(),
            Some(json!({"paymentMethod": "cod"})),
        ),
        (Method::GET, "/orders/my-orders".into(), None),
        (Method::GET, format!("/orders/{order_id}"), None),
        (
            Method::PATCH,
            format!("/orders/{order_id}/cancel"),
            Some(json!({})),
        ),
        (Method::GET, "/notifications".into(), None),
        (
            Method::POST,
            format!("/products/{product}/reviews"),
            Some(json!({"rating": 5})),
        ),
        (Method::GET, "/vendor/orders".into(), None),
        (Method::GET, "/admin/users".into(), None),
        (
            Method::PATCH,
            format!("/admin/users/{customer_id}"),
            Some(json!({"isActive": true})),
        ),
        (Method::GET, "/orders/admin/all".into(), None),
        (
            Method::PATCH,
            format!("/orders/admin/{order_id}/status"),
            Some(json!({"status": "processing"})),
        ),
        (Method::GET, "/admin/discounts".into(), None),
    ];
    for token in everyone {
        for (method, path, body) in &routes {
            let resp = app
                .request(method.clone(), path, Some(token), body.clone())
                .await;
            refused(&resp, &[401], &format!("deactivated {method} {path}"));
        }
    }
    // Logging in again does not bring a deactivated account back.
    let me = app
        .get("/admin/users?limit=100", Some(&admin))
        .await
        .expect(200);
    let users = me.data()["users"].as_array().unwrap();
    for user in users.iter().filter(|u| u["_id"] == json!(customer_id)) {
        assert_eq!(user["isActive"], json!(false));
        let resp = app
            .post(
                "/auth/login",
                None,
                json!({"email": user["email"], "password": "password123"}),
            )
            .await;
        refused(&resp, &[401], "deactivated login");
    }
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&admin))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "confirmed");
}

async fn two_mib_bodies_are_413_on_every_kind_of_route(app: TestApp) {
    let (_, customer) = app.customer("Big Sender").await;
    let product = app.product("Small", 1.0, 1).await;
    let order_id = app.cod_order(&customer, &product, 1).await;
    let big = {
        let filler = "x".repeat(2 * 1024 * 1024);
        format!(r#"{{"name": "{filler}"}}"#).into_bytes()
    };
    let routes: Vec<(Method, String, Option<&str>)> = vec![
        (Method::POST, "/auth/register".into(), None),
        (Method::POST, "/auth/login".into(), None),
        (Method::POST, "/products".into(), Some(&app.admin_token)),
        (
            Method::PUT,
            format!("/products/{product}"),
            Some(&app.admin_token),
        ),
        (Method::POST, "/cart/items".into(), Some(&customer)),
        (
            Method::PUT,
            "/cart/shipping-address".into(),
            Some(&customer),
        ),
        (Method::POST, "/addresses".into(), Some(&customer)),
        (Method::POST, "/orders".into(), Some(&customer)),
        (
            Method::PATCH,
            format!("/orders/{order_id}/cancel"),
            Some(&customer),
        ),
        (
            Method::POST,
            "/admin/discounts".into(),
            Some(&app.admin_token),
        ),
        (Method::POST, "/webhooks/razorpay".into(), None),
    ];
    for (method, path, token) in routes {
        let resp = send_big(&app, method.clone(), &path, token, &big).await;
        refused(&resp, &[413], &format!("2 MiB {method} {path}"));
    }
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "confirmed");
}

async fn wrong_content_type_is_400(app: TestApp) {
    let (_, customer) = app.customer("Typer").await;
    let product = app.product("Typed", 1.0, 5).await;
    let login = format!(r#"{{"email": "{ADMIN_EMAIL}", "password": "{ADMIN_PASSWORD}"}}"#);
    let item = format!(r#"{{"productId": "{product}", "quantity": 1}}"#);
    let cases: Vec<(&str, Option<&str>, String)> = vec![
        ("/auth/login", None, login),
        ("/cart/items", Some(&customer), item),
        (
            "/products",
            Some(&app.admin_token),
            r#"{"name": "x", "price": 1, "stock": 1}"#.into(),
        ),
    ];
    for (path, token, body) in cases {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
            None,
        ] {
            let resp = raw(
                &app,
                Method::POST,
                path,
                token,
                content_type,
                body.clone().into_bytes(),
            )
            .await;
            refused(&resp, &[400], &format!("{path} as {content_type:?}"));
        }
    }
    let cart = app.get("/cart", Some(&customer)).await.expect(200);
    assert_eq!(cart.data()["items"].as_array().map(Vec::len), Some(0));
}

async fn error_responses_are_envelopes_with_request_ids(app: TestApp) {
    let (_, customer) = app.customer("Errant").await;
    let cases: Vec<(Resp, u16, &str)> = vec![
        (app.get("/no/such/route", None).await, 404, "not_found"),
        (
            app.request(Method::DELETE, "/health", None, None).await,
            405,
            "method_not_allowed",
        ),
        (app.get("/auth/me", None).await, 401, "unauthorized"),
        (
            app.get("/auth/me", Some("not-a-token")).await,
            401,
            "unauthorized",
        ),
        (
            app.get("/admin/users", Some(&customer)).await,
            403,
            "forbidden",
        ),
        (
            app.get("/products?limit=101", None).await,
            400,
            "validation_failed",
        ),
        (
            app.get(&format!("/products/{}", uuid::Uuid::new_v4()), None)
                .await,
            404,
            "not_found",
        ),
        (
            raw(
                &app,
                Method::POST,
                "/auth/login",
                None,
                Some("application/json"),
                b"{not json".to_vec(),
            )
            .await,
            400,
            "validation_failed",
        ),
        (
            app.post(
                "/auth/login",
                None,
                json!({"email": ADMIN_EMAIL, "password": "wrong-password"}),
            )
            .await,
            401,
            "unauthorized",
        ),
    ];
    for (resp, status, code) in cases {
        refused(&resp, &[status], &format!("expected {status}"));
        assert_eq!(resp.body["code"], code, "{}", resp.body);
    }
    // A request id sent by the client is echoed back, on errors as on successes.
    let resp = app
        .client
        .get(app.url("/no/such/route"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-me-123");
}

// ---- webhook replays, against a fake Razorpay ----

const KEY_ID: &str = "rzp_test_SecurityKey01";
const KEY_SECRET: &str = "security_key_secret";
const WEBHOOK_SECRET: &str = "security_webhook_secret";

mod replayed_webhooks_do_nothing_the_second_time {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::replayed_webhooks_do_nothing_the_second_time(crate::helpers::Db::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::replayed_webhooks_do_nothing_the_second_time(crate::helpers::Db::Postgres).await;
    }
}

async fn replayed_webhooks_do_nothing_the_second_time(db: Db) {
    let fake = FakeRazorpay::start(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).await;
    let base = fake.base_url();
    let Some(app) = TestApp::spawn_with(
        db,
        &[
            ("PAYMENT_GATEWAY", "razorpay"),
            ("RAZORPAY_KEY_ID", KEY_ID),
            ("RAZORPAY_KEY_SECRET", KEY_SECRET),
            ("RAZORPAY_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("RAZORPAY_API_BASE", base.as_str()),
            ("RAZORPAY_TIMEOUT_MS", "1500"),
        ],
    )
    .await
    else {
        return;
    };
    let webhook_url = app.url("/webhooks/razorpay");
    fake.set_webhook_target(&webhook_url);
    let product = app.product("Replayed", 25.99, 10).await;
    let (_, token) = app.customer("Replayer").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 2).await;
    let (payment_id, _) = fake.pay(&gateway_order);
    let capture = fake.prepare_webhook("payment.captured", &payment_id);

    let deliver = |body: Vec<u8>, signature: String, event_id: String| {
        let client = app.client.clone();
        let url = webhook_url.clone();
        async move {
            read(
                client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("X-Razorpay-Signature", signature)
                    .header("x-razorpay-event-id", event_id)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let first = deliver(
        capture.body.clone(),
        capture.signature.clone(),
        capture.event_id.clone(),
    )
    .await
    .expect(200);
    assert_eq!(first.data()["outcome"], "processed");
    let after_first = order_data(&app, &token, &order_id).await;
    assert_eq!(after_first["status"], "confirmed");
    let stock = app.product_json(&product).await["stock"].clone();
    assert_eq!(stock, json!(8));
    let notifications = app
        .get("/notifications", Some(&token))
        .await
        .expect(200)
        .data()["pagination"]["totalItems"]
        .clone();

    // The same event id and signature, delivered again: acknowledged as a duplicate.
    for _ in 0..3 {
        let again = deliver(
            capture.body.clone(),
            capture.signature.clone(),
            capture.event_id.clone(),
        )
        .await
        .expect(200);
        assert_eq!(again.data()["outcome"], "duplicate");
    }
    // The same signed body under a new event id is processed, but has no second effect.
    let renamed = deliver(
        capture.body.clone(),
        capture.signature.clone(),
        format!("evt_{}", unique()),
    )
    .await
    .expect(200);
    assert_eq!(renamed.body["success"], json!(true));
    // A replayed body with a signature of another body is refused.
    let paid = fake.prepare_webhook("order.paid", &gateway_order);
    let resp = deliver(
        capture.body.clone(),
        paid.signature.clone(),
        format!("evt_{}", unique()),
    )
    .await;
    refused(&resp, &[400], "replayed body under another signature");

    let after = order_data(&app, &token, &order_id).await;
    assert_eq!(after["status"], "confirmed");
    assert_eq!(after["paymentStatus"], after_first["paymentStatus"]);
    assert_eq!(after["updatedAt"], after_first["updatedAt"]);
    assert_eq!(app.product_json(&product).await["stock"], stock);
    let notifications_after = app
        .get("/notifications", Some(&token))
        .await
        .expect(200)
        .data()["pagination"]["totalItems"]
        .clone();
    assert_eq!(notifications_after, notifications);
    assert_eq!(fake.refunds().len(), 0);
}

async fn order_data(app: &TestApp, token: &str, order_id: &str) -> Value {
    app.get(&format!("/orders/{order_id}"), Some(token))
        .await
        .expect(200)
        .data()
        .clone()
}

/// What schemathesis found undocumented: every operation documents the refusals of the shared
/// extractors and middleware, and a field error's `value` may be any JSON value.
async fn openapi_documents_the_refusals_every_operation_can_give(app: TestApp) {
    let doc = app.get("/openapi.json", None).await.body;
    let value = &doc["components"]["schemas"]["FieldError"]["properties"]["value"];
    assert!(value.get("type").is_none(), "FieldError.value: {value}");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            let what = format!("{method} {path}");
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if secured {
                assert!(has("401"), "{what} lacks 401");
            }
            if op.get("requestBody").is_some() {
                assert!(has("400") && has("413"), "{what} lacks 400 or 413");
            }
            if params
                .iter()
                .any(|p| p["in"] == "path" || p["in"] == "query")
            {
                assert!(has("400"), "{what} lacks 400");
            }
            if params.iter().any(|p| {
                p["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("idempotency-key"))
            }) {
                assert!(has("409") && has("422"), "{what} lacks 409 or 422");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema,
                        &json!("#/components/schemas/ErrorBody"),
                        "{what} {status}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} operations");
}
