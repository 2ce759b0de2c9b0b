//! The browser apps served beside the API (CONTRACT §8): pages and assets with a strict
//! Content-Security-Policy, compressed, cached by build hash or ETag; the API keeps its paths.

use crate::api_tests;
use crate::helpers::TestApp;

api_tests!(
    pages_carry_the_policy_and_revalidate,
    assets_are_versioned_compressed_and_immutable,
    api_paths_beside_the_apps_are_unchanged,
    json_over_a_kilobyte_is_gzipped_for_clients_that_ask,
);

async fn pages_carry_the_policy_and_revalidate(app: TestApp) {
    for path in ["/", "/vendor", "/vendor/", "/admin", "/admin/"] {
        let page = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let headers = page.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("razorpay"), "simulated gateway: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-cache");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let etag = headers["etag"].clone();
        let html = page.text().await.unwrap();
        assert!(html.contains("<main"), "{path}");
        assert!(!html.contains("__BUILD__") && !html.contains("style="));
        let again = app
            .client
            .get(app.url(path))
            .header("If-None-Match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
}

async fn assets_are_versioned_compressed_and_immutable(app: TestApp) {
    let html = app
        .client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads a script")
        .to_string();
    assert!(script.starts_with("/assets/") && script.ends_with("/shop/app.js"));
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let js = raw
        .get(app.url(&script))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.headers()["content-encoding"], "gzip");
    assert!(js.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(js.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("object-src 'none'"));
    let plain = raw.get(app.url(&script)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert!(plain
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    let image = raw
        .get(app.url("/assets/demo/shampoo.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    // The demo pictures never change within a release: cached for a week.
    let cache = image.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_string();
    let age: u64 = cache
        .split("max-age=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{cache}"));
    assert!(age >= 7 * 24 * 3600, "{cache}");
    for missing in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/shop/index.html",
    ] {
        let response = raw.get(app.url(missing)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{missing}");
    }
}

async fn api_paths_beside_the_apps_are_unchanged(app: TestApp) {
    // `/vendor/orders` is the API, not the vendor desk: without a token it is a JSON 401.
    let orders = app.get("/vendor/orders", None).await;
    orders.expect(401);
    let users = app.get("/admin/users", None).await;
    users.expect(401);
    app.get("/products", None).await.expect(200);
    app.get("/no-such-route", None).await.expect(404);
}

async fn json_over_a_kilobyte_is_gzipped_for_clients_that_ask(app: TestApp) {
    use std::io::Read;
    for n in 0..4 {
        app.product(&format!("Gzip Test Product {n}"), 10.0 + n as f64, 5)
            .await;
    }
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let zipped = raw
        .get(app.url("/products?limit=20"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("a gzip body");
    assert!(text.len() > 1024, "{} bytes", text.len());
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["success"], true);
    assert!(body["data"]["products"].as_array().unwrap().len() >= 4);

    // Without Accept-Encoding the same answer is plain; a small answer is never compressed.
    let plain = raw.get(app.url("/products?limit=20")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let small = raw
        .get(app.url("/cart/summary"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 401);
    assert!(small.headers().get("content-encoding").is_none());
}
