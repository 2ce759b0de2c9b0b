//! Regression tests for the guard defects of issue 9: exact money at the JSON edge, a vendor's
//! view of a shared order, return rejections, `nbf`, the `/docs` CSP, hyper's own 4xx answers,
//! idempotency claims of crashed requests and shared login limits.

use crate::api_tests;
use crate::fake_razorpay::FakeRazorpay;
use crate::helpers::{Db, TestApp};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

api_tests!(
    rejections_written_by_hyper_itself_keep_their_status,
    amounts_with_more_than_two_decimals_are_refused_however_written,
    amounts_in_exponent_notation_are_exact_or_refused,
    vendor_view_of_a_shared_order_shows_only_its_share,
    rejecting_a_return_requires_a_reason,
    token_not_yet_valid_is_unauthorized,
    docs_are_served_under_a_strict_csp,
    hyper_rejections_come_in_the_envelope_with_a_request_id,
    idempotency_claim_of_a_request_that_cannot_be_running_is_reclaimed,
    idempotency_claim_still_inside_the_request_timeout_is_a_conflict,
    request_past_the_timeout_is_stopped_and_its_key_freed_after_the_bound,
    login_limit_answers_429_with_retry_after_in_the_envelope,
);

/// Bodies whose JSON numbers are written exactly as given (serde_json would re-format them).
async fn post_raw(app: &TestApp, path: &str, token: &str, body: &str) -> crate::helpers::Resp {
    let resp = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    crate::helpers::read(resp).await
}

async fn product_count(app: &TestApp) -> i64 {
    app.get("/products?limit=1", Some(&app.admin_token))
        .await
        .expect(200)
        .data()["pagination"]["totalItems"]
        .as_i64()
        .unwrap()
}

async fn amounts_with_more_than_two_decimals_are_refused_however_written(app: TestApp) {
    let admin = app.admin_token.clone();
    let before = product_count(&app).await;
    for price in [
        "1.999999999999999999999",
        "1.239",
        "0.001",
        "1e-3",
        "2.0000000000000000001",
        "25.991",
    ] {
        let body = format!(r#"{{"name":"Precise","price":{price},"stock":1}}"#);
        let resp = post_raw(&app, "/products", &admin, &body).await.expect(400);
        assert_eq!(
            resp.body["errors"][0]["field"], "price",
            "{price}: {}",
            resp.body
        );
    }
    assert_eq!(product_count(&app).await, before, "no product was created");

    // Every other money field of a request body: discount value, minOrderAmount, maxDiscountAmount.
    for (field, body) in [
        (
            "value",
            r#"{"code":"PREC1","type":"fixed","value":1.999999999999999999999}"#,
        ),
        (
            "minOrderAmount",
            r#"{"code":"PREC2","type":"fixed","value":5,"minOrderAmount":10.001}"#,
        ),
        (
            "maxDiscountAmount",
            r#"{"code":"PREC3","type":"percent","value":10,"maxDiscountAmount":99.9999999999999999999}"#,
        ),
    ] {
        let resp = post_raw(&app, "/admin/discounts", &admin, body)
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], field, "{}", resp.body);
    }
    app.get("/admin/discounts/PREC1", Some(&admin))
        .await
        .expect(404);

    // A product update with an over-precise price changes nothing.
    let id = app.product("Steady", 10.0, 5).await;
    let resp = app
        .client
        .patch(app.url(&format!("/products/{id}")))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(r#"{"price":9.999999999999999999999}"#)
        .send()
        .await
        .unwrap();
    crate::helpers::read(resp).await.expect(400);
    assert_eq!(app.product_json(&id).await["price"], json!(10.0));

    // Query filters.
    for query in [
        "minPrice=1.999999999999999999999",
        "maxPrice=1.239",
        "minPrice=1e-3",
    ] {
        app.get(&format!("/products?{query}"), None)
            .await
            .expect(400);
    }

    // Exactly two decimals, however many trailing zeros, is an amount.
    let resp = post_raw(
        &app,
        "/products",
        &admin,
        r#"{"name":"Exact","price":1.2300000000000000000000,"stock":1}"#,
    )
    .await
    .expect(201);
    assert_eq!(resp.data()["price"], json!(1.23));
}

async fn amounts_in_exponent_notation_are_exact_or_refused(app: TestApp) {
    let admin = app.admin_token.clone();
    for (written, expected) in [
        ("1.2e1", json!(12.0)),
        ("1999e-2", json!(19.99)),
        ("5E0", json!(5.0)),
    ] {
        let body = format!(r#"{{"name":"Exp","price":{written},"stock":1}}"#);
        let resp = post_raw(&app, "/products", &admin, &body).await.expect(201);
        assert_eq!(resp.data()["price"], expected, "{written}");
    }
    for written in ["1e-3", "1999e-3", "1e400", "1e-400", "-0.5"] {
        let body = format!(r#"{{"name":"Exp","price":{written},"stock":1}}"#);
        post_raw(&app, "/products", &admin, &body).await.expect(400);
    }
}

async fn vendor_view_of_a_shared_order_shows_only_its_share(app: TestApp) {
    let (_, vendor_a) = app.user_with_role("Vendor A", "vendor").await;
    let (_, vendor_b) = app.user_with_role("Vendor B", "vendor").await;
    let product = |token: String, name: &'static str, price: f64| {
        let app = &app;
        async move {
            let resp = app
                .post(
                    "/products",
                    Some(&token),
                    json!({"name": name, "price": price, "stock": 10}),
                )
                .await
                .expect(201);
            resp.data()["_id"].as_str().unwrap().to_string()
        }
    };
    let a_product = product(vendor_a.clone(), "A Cheap", 10.0).await;
    let b_product = product(vendor_b.clone(), "B Dear", 990.0).await;
    let (_, token) = app.customer("Mixed").await;
    app.add_to_cart(&token, &a_product, 1).await;
    app.add_to_cart(&token, &b_product, 1).await;
    app.set_address(&token).await;
    let placed = app
        .post(
            "/orders",
            Some(&token),
            json!({"paymentMethod": "razorpay"}),
        )
        .await
        .expect(201);
    let order_id = placed.data()["order"]["_id"].as_str().unwrap().to_string();
    app.post(
        "/payments",
        Some(&token),
        json!({"orderId": order_id, "paymentMethod": "razorpay"}),
    )
    .await
    .expect(200);
    let whole = app
        .get(&format!("/orders/{order_id}"), Some(&token))
        .await
        .expect(200);
    // 1000.00 + 18 % tax.
    assert_eq!(whole.data()["totalAmount"], json!(1180.0));

    let single = app
        .get(&format!("/vendor/orders/{order_id}"), Some(&vendor_a))
        .await
        .expect(200);
    let listed = app.get("/vendor/orders", Some(&vendor_a)).await.expect(200);
    let listed = listed.data()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["_id"] == json!(order_id))
        .cloned()
        .unwrap();
    for view in [single.data().clone(), listed] {
        let items = view["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{view}");
        assert_eq!(items[0]["productName"], "A Cheap");
        assert_eq!(view["subtotal"], json!(10.0), "{view}");
        assert_eq!(view["totalItems"], json!(1), "{view}");
        assert_eq!(view["tax"], json!(1.8), "{view}");
        assert_eq!(view["totalAmount"], json!(11.8), "{view}");
        assert_eq!(view["paymentDetails"]["amount"], json!(11.8), "{view}");
        // Nothing of vendor B's 990.00 (or of the order's 1180.00) shows anywhere in the view.
        // Numbers are compared as numbers: an order number or id may contain "990" as digits.
        let mut amounts = Vec::new();
        numbers_in(&view, &mut amounts);
        for leak in [990.0, 1180.0, 1168.0, 178.2] {
            assert!(
                !amounts.iter().any(|n| (n - leak).abs() < 1e-9),
                "{leak} leaks in {view}"
            );
        }
        assert_eq!(view["paymentDetails"]["razorpayPaymentId"], Value::Null);
    }
}

/// Every number anywhere in `value`.
fn numbers_in(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::Array(items) => items.iter().for_each(|v| numbers_in(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| numbers_in(v, out)),
        _ => {}
    }
}

async fn rejecting_a_return_requires_a_reason(app: TestApp) {
    let product = app.product("Returnable", 20.0, 10).await;
    let (_, token) = app.customer("Returner").await;
    let order = app.delivered_order(&token, &product).await;
    app.post(
        &format!("/orders/{order}/return"),
        Some(&token),
        json!({"reason": "Does not fit"}),
    )
    .await
    .expect(200);
    let path = format!("/orders/admin/{order}/return");
    for body in [
        json!({"action": "reject"}),
        json!({"action": "reject", "reason": ""}),
        json!({"action": "reject", "reason": "   "}),
        json!({"action": "reject", "reason": "x".repeat(201)}),
    ] {
        let resp = app
            .patch(&path, Some(&app.admin_token), body.clone())
            .await
            .expect(400);
        assert_eq!(resp.body["errors"][0]["field"], "reason", "{body}");
    }
    let still = app
        .get(&format!("/orders/{order}"), Some(&token))
        .await
        .expect(200);
    assert_eq!(still.data()["returnStatus"], "requested");
    let rejected = app
        .patch(
            &path,
            Some(&app.admin_token),
            json!({"action": "reject", "reason": "Worn"}),
        )
        .await
        .expect(200);
    assert_eq!(rejected.data()["returnStatus"], "rejected");
    assert_eq!(rejected.data()["returnDecisionReason"], "Worn");
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&mac.finalize().into_bytes()))
}

async fn token_not_yet_valid_is_unauthorized(app: TestApp) {
    let (id, _) = app.customer("Early").await;
    let secret = app
        .config
        .jwt_secret
        .as_ref()
        .unwrap()
        .expose()
        .as_bytes()
        .to_vec();
    let now = chrono::Utc::now().timestamp();
    let claims = |nbf: i64| json!({"sub": id, "role": "customer", "iat": now, "exp": now + 7200, "nbf": nbf});
    // The same helper with `nbf` in the past gives a working token: the signing is right.
    app.get("/auth/me", Some(&hs256(&secret, &claims(now - 60))))
        .await
        .expect(200);
    app.get("/auth/me", Some(&hs256(&secret, &claims(now + 3600))))
        .await
        .expect(401);
}

async fn docs_are_served_under_a_strict_csp(app: TestApp) {
    let _ = Db::Sqlite;
    for path in [
        "/docs/",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui-bundle.js",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let csp = resp
            .headers()
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path} has no CSP"))
            .to_str()
            .unwrap()
            .to_string();
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in {csp}"))
                .to_string()
        };
        assert_eq!(directive("default-src"), "default-src 'none'");
        assert_eq!(directive("script-src"), "script-src 'self'");
        assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        if path == "/docs/" {
            // Under `script-src 'self'` an inline script would not run: every script is a file.
            let page = resp.text().await.unwrap();
            let scripts = page.matches("<script").count();
            assert!(scripts >= 3, "{page}");
            assert_eq!(page.matches("<script src=").count(), scripts, "{page}");
        } else if path == "/docs/swagger-initializer.js" {
            let text = resp.text().await.unwrap();
            assert!(text.contains("/openapi.json"), "{text}");
        }
    }
}

async fn hyper_rejections_come_in_the_envelope_with_a_request_id(app: TestApp) {
    // A request target over the server's limit (8 KiB) but under hyper's own (64 KiB).
    let long = format!("/products?search={}", "a".repeat(10_000));
    let resp = app.client.get(app.url(&long)).send().await.unwrap();
    let id = resp.headers().get("x-request-id").cloned();
    let resp = crate::helpers::read(resp)
        .await
        .expect_error(414, "uri_too_long");
    assert!(id.is_some(), "414 without x-request-id");
    assert!(resp.body["message"].as_str().unwrap().contains("URI"));
    // A header value byte hyper lets through but no header of this API can hold.
    let resp = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(app.customer("Bytes").await.1)
        .header(
            "Idempotency-Key",
            reqwest::header::HeaderValue::from_bytes(b"key-\xff").unwrap(),
        )
        .json(&json!({"paymentMethod": "cod"}))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("x-request-id").is_some());
    let resp = crate::helpers::read(resp).await.expect(400);
    assert_eq!(resp.body["errors"][0]["field"], "Idempotency-Key");
}

/// Places a cash-on-delivery order with an `Idempotency-Key`; returns the response.
async fn keyed_order(app: &TestApp, token: &str, key: &str) -> crate::helpers::Resp {
    let resp = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"paymentMethod": "cod"}))
        .send()
        .await
        .unwrap();
    crate::helpers::read(resp).await
}

/// Makes the key's stored claim look like one whose request died mid-way `age_ms` ago: no
/// response stored, claimed `age_ms` before now.
async fn abandon_claim(app: &TestApp, key: &str, age_ms: i64) {
    let now = chrono::Utc::now().timestamp_millis();
    app.exec_sql(
        "UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, created_at = $2
         WHERE idempotency_key = $1",
        key,
        now - age_ms,
    )
    .await;
}

const SHORT_TIMEOUT: &[(&str, &str)] = &[("REQUEST_TIMEOUT_SECONDS", "3")];

async fn idempotency_claim_of_a_request_that_cannot_be_running_is_reclaimed(app: TestApp) {
    let app = TestApp::spawn_with(app.db, SHORT_TIMEOUT).await.unwrap();
    let product = app.product("Keyed", 10.0, 10).await;
    let (_, token) = app.customer("Keyed").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    let key = format!("crash-{}", crate::helpers::unique());
    let first = keyed_order(&app, &token, &key).await.expect(201);
    // The process died after claiming the key: the claim is unfinished and older than the
    // request timeout (3 s) plus its margin, so no request can still be running under it.
    abandon_claim(&app, &key, 6_000).await;
    app.add_to_cart(&token, &product, 1).await;
    let retry = keyed_order(&app, &token, &key).await.expect(201);
    assert_eq!(retry.headers.get("idempotent-replayed"), None);
    assert_ne!(retry.data()["order"]["_id"], first.data()["order"]["_id"]);
    // Its answer is stored and replayed as usual from now on.
    let replay = keyed_order(&app, &token, &key).await.expect(201);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.data()["order"]["_id"], retry.data()["order"]["_id"]);
}

async fn idempotency_claim_still_inside_the_request_timeout_is_a_conflict(app: TestApp) {
    let app = TestApp::spawn_with(app.db, SHORT_TIMEOUT).await.unwrap();
    let product = app.product("Keyed", 10.0, 10).await;
    let (_, token) = app.customer("Keyed").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    let key = format!("running-{}", crate::helpers::unique());
    keyed_order(&app, &token, &key).await.expect(201);
    // Claimed a second ago and unfinished: its request may still be running.
    abandon_claim(&app, &key, 1_000).await;
    app.add_to_cart(&token, &product, 1).await;
    keyed_order(&app, &token, &key)
        .await
        .expect_error(409, "idempotency_in_progress");
}

async fn request_past_the_timeout_is_stopped_and_its_key_freed_after_the_bound(app: TestApp) {
    let fake = FakeRazorpay::start(
        "rzp_test_GuardSlow01",
        "slow_key_secret",
        "slow_hook_secret",
    )
    .await;
    let base = fake.base_url();
    let app = TestApp::spawn_with(
        app.db,
        &[
            ("PAYMENT_GATEWAY", "razorpay"),
            ("RAZORPAY_KEY_ID", "rzp_test_GuardSlow01"),
            ("RAZORPAY_KEY_SECRET", "slow_key_secret"),
            ("RAZORPAY_WEBHOOK_SECRET", "slow_hook_secret"),
            ("RAZORPAY_API_BASE", base.as_str()),
            ("RAZORPAY_TIMEOUT_MS", "20000"),
            ("REQUEST_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await
    .unwrap();
    let product = app.product("Slow Gateway Item", 10.0, 10).await;
    let (_, token) = app.customer("Patient").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    fake.hang_next_on("POST", "/orders", 1, std::time::Duration::from_secs(8));
    let key = format!("slow-{}", crate::helpers::unique());
    let started = std::time::Instant::now();
    let checkout = || {
        app.client
            .post(app.url("/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .json(&json!({"paymentMethod": "razorpay"}))
            .send()
    };
    let stopped = checkout().await.unwrap();
    assert!(stopped.headers().get("x-request-id").is_some());
    let stopped = crate::helpers::read(stopped).await.expect(503);
    // Stopped by the deadline: the gateway call gives up in the time left (the gateway is
    // unavailable to this request), or the server's own timeout answers.
    assert!(
        ["service_unavailable", "request_timeout"]
            .contains(&stopped.body["code"].as_str().unwrap()),
        "{}",
        stopped.body
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped by the 1 s request timeout, not the gateway's answer: {:?}",
        started.elapsed()
    );
    assert!(stopped.body["message"]
        .as_str()
        .unwrap()
        .contains("too long"));
    // The stopped request left nothing behind: the cart is intact.
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(
        cart.data()["items"].as_array().unwrap().len(),
        1,
        "{}",
        cart.body
    );
    // Past the bound (1 s timeout + 2 s margin) the same key and body run.
    let bound = std::time::Duration::from_millis(3_500);
    if let Some(wait) = bound.checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let placed = crate::helpers::read(checkout().await.unwrap())
        .await
        .expect(201);
    assert!(placed.data()["order"]["_id"].is_string());
}

async fn login_limit_answers_429_with_retry_after_in_the_envelope(app: TestApp) {
    let app = TestApp::spawn_with(app.db, &[("AUTH_RATE_LIMIT_PER_MINUTE", "10")])
        .await
        .unwrap();
    wait_for_a_fresh_window().await;
    let attempt = || {
        app.post(
            "/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "password123"}),
        )
    };
    // The harness's own admin login may fall in the previous window, so count up to the refusal.
    let mut refused = None;
    for n in 1..=11 {
        let resp = attempt().await;
        if resp.status == 429 {
            refused = Some((n, resp));
            break;
        }
        resp.expect(401);
    }
    let (n, resp) = refused.expect("the 11th attempt is refused");
    assert!((10..=11).contains(&n), "refused at attempt {n}");
    let retry_after: u64 = resp.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    resp.expect(429);
    // Registration shares the limit.
    app.post(
        "/auth/register",
        None,
        json!({"name": "Late", "email": "late@example.com", "password": "password123"}),
    )
    .await
    .expect(429);
}

/// The shared limit counts per fixed minute: start a run of attempts early in a minute so it
/// cannot straddle two windows.
pub async fn wait_for_a_fresh_window() {
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

/// Sends raw bytes and reads the whole answer (the server closes the connection after these).
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A header hyper cannot read (400), a target over hyper's own 64 KiB (414) and a header section
/// over its limit (431) are answered by hyper before any service runs: with their status and the
/// connection closed (bare, as CONTRACT §2 allows), and the server goes on serving.
async fn rejections_written_by_hyper_itself_keep_their_status(app: TestApp) {
    let long_target = format!("/products?search={}", "a".repeat(70_000));
    let many_headers: String = (0..200)
        .map(|i| format!("x-h{i}: {}\r\n", "v".repeat(4000)))
        .collect();
    let cases: [(Vec<u8>, &str); 3] = [
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\nBad\x01Name: y\r\n\r\n".to_vec(),
            "400",
        ),
        (
            format!("GET {long_target} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes(),
            "414",
        ),
        (
            format!("GET /health HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            "431",
        ),
    ];
    for (request, status) in cases {
        let answer = raw_exchange(&app, &request).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
    }
    // The server is still up and answering normally.
    app.get("/health", None).await.expect(200);
}
