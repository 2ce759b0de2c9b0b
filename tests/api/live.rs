//! Live updates (`GET /events`, Server-Sent Events) and the daily order statistics the admin
//! console charts (`GET /orders/admin/stats/daily`).

use crate::api_tests;
use crate::helpers::TestApp;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

api_tests!(
    a_shipment_reaches_the_customer_and_vendor_streams_only,
    the_stream_of_a_deactivated_account_ends,
    the_stream_ends_when_its_token_expires,
    the_stream_of_a_vendor_demoted_to_customer_ends,
    a_vendor_hears_only_of_orders_it_can_read,
    the_stream_needs_a_token,
    daily_stats_agree_with_the_stats_overview,
    daily_stats_reject_bad_ranges,
);

/// One Server-Sent Events stream read as it arrives.
struct Stream {
    response: reqwest::Response,
    buffer: String,
    ended: bool,
}

/// `(event, data)`; data parsed as JSON.
type SseEvent = (String, Value);

impl Stream {
    async fn open(app: &TestApp, token: &str) -> Stream {
        let response = app
            .client
            .get(app.url("/events"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut stream = Stream {
            response,
            buffer: String::new(),
            ended: false,
        };
        let ready = stream.next(Duration::from_secs(5)).await;
        assert_eq!(ready, Some(("ready".to_string(), json!({}))));
        stream
    }

    /// The next event within `wait`, or `None` (nothing came, or the stream ended).
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event = Some(name.trim().to_string());
                    } else if let Some(text) = line.strip_prefix("data:") {
                        data.push_str(text.trim_start());
                    }
                }
                // Comments (keep-alives) carry no event.
                if let Some(event) = event {
                    return Some((event, serde_json::from_str(&data).unwrap()));
                }
                continue;
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => self.ended = true,
            }
        }
    }

    /// Events until `done` says enough, within `wait` in all.
    async fn collect_until(
        &mut self,
        wait: Duration,
        done: impl Fn(&[SseEvent]) -> bool,
    ) -> Vec<SseEvent> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while !done(&seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(event) => seen.push(event),
                None => break,
            }
        }
        seen
    }
}

async fn a_shipment_reaches_the_customer_and_vendor_streams_only(app: TestApp) {
    let (vendor_id, vendor) = app.user_with_role("Stream Vendor", "vendor").await;
    let product = app
        .post(
            "/products",
            Some(&vendor),
            json!({"name": "Streamed Serum", "price": 20.0, "stock": 10}),
        )
        .await
        .expect(201)
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, customer) = app.customer("Streamer").await;
    let (_, other) = app.customer("Bystander").await;
    let order_id = app.cod_order(&customer, &product, 1).await;
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&customer))
        .await
        .expect(200);
    let number = order.data()["orderNumber"].as_str().unwrap().to_string();

    let mut customer_stream = Stream::open(&app, &customer).await;
    let mut vendor_stream = Stream::open(&app, &vendor).await;
    let mut other_stream = Stream::open(&app, &other).await;
    app.patch(
        &format!("/vendor/orders/{order_id}/status"),
        Some(&vendor),
        json!({"status": "shipped", "trackingNumber": "TRKLIVE1"}),
    )
    .await
    .expect(200);

    // The checkout's own `order` and `notification` events may still be on their way when the
    // stream opens (the SQLite feed reads its log every 50 ms): look for the shipment's.
    let shipped = |(event, data): &SseEvent| event == "order" && data["status"] == "shipped";
    let seen = customer_stream
        .collect_until(Duration::from_secs(3), |seen| seen.iter().any(shipped))
        .await;
    let order_event = seen.iter().find(|e| shipped(e)).map(|(_, d)| d);
    assert_eq!(
        order_event,
        Some(&json!({"orderId": order_id, "orderNumber": number, "status": "shipped"})),
        "{seen:?}"
    );
    // The shipment's notification is the customer's newest one, and its event came.
    let listed = app.get("/notifications", Some(&customer)).await.expect(200);
    let newest = &listed.data()["notifications"][0];
    assert_eq!(newest["kind"], "order_shipped");
    let expected = json!({"notificationId": newest["_id"], "orderId": order_id});
    let mut seen = seen;
    if !seen
        .iter()
        .any(|(e, d)| e == "notification" && *d == expected)
    {
        seen.extend(
            customer_stream
                .collect_until(Duration::from_secs(3), |seen| {
                    seen.iter()
                        .any(|(e, d)| e == "notification" && *d == expected)
                })
                .await,
        );
    }
    assert!(
        seen.iter()
            .any(|(e, d)| e == "notification" && *d == expected),
        "no notification event {expected}: {seen:?}"
    );

    // The vendor whose lines the order holds hears of the move; it gets no notification.
    let seen = vendor_stream
        .collect_until(Duration::from_secs(3), |seen| seen.iter().any(shipped))
        .await;
    assert_eq!(
        seen.last(),
        Some(&(
            "order".to_string(),
            json!({"orderId": order_id, "orderNumber": number, "status": "shipped"})
        )),
        "vendor {vendor_id}: {seen:?}"
    );
    assert!(
        seen.iter().all(|(e, _)| e == "order"),
        "vendor {vendor_id}: {seen:?}"
    );
    // Another customer hears nothing of it.
    assert_eq!(other_stream.next(Duration::from_millis(500)).await, None);
}

async fn the_stream_of_a_deactivated_account_ends(app: TestApp) {
    let (user_id, token) = app.customer("Leaving").await;
    let mut stream = Stream::open(&app, &token).await;
    app.patch(
        &format!("/admin/users/{user_id}"),
        Some(&app.admin_token),
        json!({"isActive": false}),
    )
    .await
    .expect(200);
    assert_eq!(stream.next(Duration::from_secs(3)).await, None);
    assert!(stream.ended, "the stream is still open");
    app.get("/events", Some(&token)).await.expect(401);
}

/// A token for `user_id` signed with the test app's secret that expires in `seconds`.
fn short_lived_token(app: &TestApp, user_id: &str, role: &str, seconds: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user_id, "role": role, "iat": now, "exp": now + seconds});
    let secret = app.config.jwt_secret.as_ref().unwrap().expose().as_bytes();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

/// A stream lives no longer than its token: it ends at `exp`, as any request with that token would
/// then be refused.
async fn the_stream_ends_when_its_token_expires(app: TestApp) {
    let (user_id, _) = app.customer("Expiring").await;
    let token = short_lived_token(&app, &user_id, "customer", 2);
    let mut stream = Stream::open(&app, &token).await;
    let opened = Instant::now();
    assert_eq!(stream.next(Duration::from_secs(5)).await, None);
    assert!(stream.ended, "the stream outlived its token");
    assert!(opened.elapsed() < Duration::from_secs(4), "ended late");
    // It ended when the token stopped working, not before.
    app.get("/auth/me", Some(&token)).await.expect(401);
}

/// A vendor demoted to customer stops hearing vendor events at once: its stream ends.
async fn the_stream_of_a_vendor_demoted_to_customer_ends(app: TestApp) {
    let (vendor_id, vendor) = app.user_with_role("Demoted Vendor", "vendor").await;
    let mut stream = Stream::open(&app, &vendor).await;
    app.patch(
        &format!("/admin/users/{vendor_id}"),
        Some(&app.admin_token),
        json!({"role": "customer"}),
    )
    .await
    .expect(200);
    assert_eq!(stream.next(Duration::from_secs(3)).await, None);
    assert!(stream.ended, "the demoted vendor's stream is still open");
}

/// A vendor reads an order once it was confirmed (`GET /vendor/orders/:id`), so its stream says
/// nothing of a checkout still unpaid, nor of its cancellation, and tells it of a confirmed one.
async fn a_vendor_hears_only_of_orders_it_can_read(app: TestApp) {
    let (_, vendor) = app.user_with_role("Careful Vendor", "vendor").await;
    let product = app
        .product_by(
            &vendor,
            json!({"name": "Quiet Balm", "price": 12.0, "stock": 10}),
        )
        .await;
    let (_, customer) = app.customer("Undecided").await;
    let mut stream = Stream::open(&app, &vendor).await;
    let (unpaid, _) = app.unpaid_order(&customer, &product, 1).await;
    app.get(&format!("/vendor/orders/{unpaid}"), Some(&vendor))
        .await
        .expect(404);
    app.patch(
        &format!("/orders/{unpaid}/cancel"),
        Some(&customer),
        json!({"reason": "changed my mind"}),
    )
    .await
    .expect(200);
    let confirmed = app.cod_order(&customer, &product, 1).await;
    let seen = stream
        .collect_until(Duration::from_secs(3), |seen| {
            seen.iter().any(|(_, d)| d["orderId"] == confirmed)
        })
        .await;
    assert!(
        seen.iter().any(|(_, d)| d["orderId"] == confirmed),
        "no event of the confirmed order: {seen:?}"
    );
    assert!(
        seen.iter().all(|(_, d)| d["orderId"] != unpaid),
        "the vendor heard of an order it cannot read: {seen:?}"
    );
}

async fn the_stream_needs_a_token(app: TestApp) {
    app.get("/events", None).await.expect(401);
    app.get("/events", Some("not-a-token")).await.expect(401);
}

const DAY: i64 = 24 * 60 * 60 * 1000;

/// Moves an order's creation to `at` (the daily totals follow through their triggers).
async fn created_at(app: &TestApp, order_id: &str, at: i64) {
    app.exec_sql(
        "UPDATE orders SET created_at = $2 WHERE id = $1",
        order_id,
        at,
    )
    .await;
}

async fn daily_stats_agree_with_the_stats_overview(app: TestApp) {
    let product = app.product("Daily Drops", 10.0, 100).await;
    let (_, token) = app.customer("Daily").await;
    // 2024-03-01 00:00 UTC.
    let first = 1_709_251_200_000;
    // Day 1: a paid order (revenue) and a cash-on-delivery one (confirmed, payment pending).
    let paid = app.paid_order(&token, &product, 2).await;
    let cod = app.cod_order(&token, &product, 1).await;
    created_at(&app, &paid, first + 3_600_000).await;
    created_at(&app, &cod, first + DAY - 1).await;
    // Day 2: a delivered cash-on-delivery order (paid on delivery) and a paid order cancelled and
    // refunded (no revenue).
    let delivered = app.delivered_order(&token, &product).await;
    created_at(&app, &delivered, first + DAY).await;
    let refunded = app.paid_order(&token, &product, 3).await;
    app.admin_status(&refunded, json!({"status": "cancelled"}))
        .await
        .expect(200);
    created_at(&app, &refunded, first + DAY + 5_000).await;
    // Day 4: an unpaid order. Day 6 is outside the range.
    let (unpaid, _) = app.unpaid_order(&token, &product, 1).await;
    created_at(&app, &unpaid, first + 3 * DAY + 1).await;
    let outside = app.paid_order(&token, &product, 1).await;
    created_at(&app, &outside, first + 5 * DAY).await;

    let daily = app
        .get(
            "/orders/admin/stats/daily?from=2024-03-01&to=2024-03-05",
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    let data = daily.data();
    assert_eq!(data["from"], "2024-03-01");
    assert_eq!(data["to"], "2024-03-05");
    let days: Vec<(String, i64, f64)> = data["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_string(),
                d["orders"].as_i64().unwrap(),
                d["revenue"].as_f64().unwrap(),
            )
        })
        .collect();
    // Totals: 20.00 + 18 % tax = 23.60 (paid); 10.00 + tax = 11.80 (delivered, cash on delivery).
    assert_eq!(
        days,
        vec![
            ("2024-03-01".to_string(), 2, 23.6),
            ("2024-03-02".to_string(), 2, 11.8),
            ("2024-03-03".to_string(), 0, 0.0),
            ("2024-03-04".to_string(), 1, 0.0),
            ("2024-03-05".to_string(), 0, 0.0),
        ],
        "{}",
        daily.body
    );
    // Sales (issue 21): paid online or cash on delivery, neither unpaid nor cancelled:
    // 23.60 + 11.80 + 11.80.
    assert_eq!(
        data["totals"],
        json!({"orders": 5, "revenue": 35.4, "saleOrders": 3, "saleAmount": 47.2})
    );

    let stats = app
        .get(
            "/orders/admin/stats?startDate=2024-03-01&endDate=2024-03-05",
            Some(&app.admin_token),
        )
        .await
        .expect(200);
    let overview = &stats.data()["overview"];
    assert_eq!(overview["totalRevenue"], data["totals"]["revenue"]);
    assert_eq!(overview["totalOrders"], data["totals"]["orders"]);
    assert_eq!(overview["saleOrders"], data["totals"]["saleOrders"]);
    assert_eq!(overview["saleAmount"], data["totals"]["saleAmount"]);
    assert_eq!(stats.data()["statusBreakdown"], data["statusBreakdown"]);
    let statuses: Vec<(&str, i64)> = data["statusBreakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["_id"].as_str().unwrap(), s["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("confirmed", 2),
            ("cancelled", 1),
            ("delivered", 1),
            ("pending", 1)
        ]
    );
}

async fn daily_stats_reject_bad_ranges(app: TestApp) {
    let admin = Some(app.admin_token.as_str());
    for query in [
        "from=2024-13-01&to=2024-12-31",
        "from=yesterday",
        "from=2024-03-02&to=2024-03-01",
        "from=2023-01-01&to=2024-01-02",
        "to=2024-3-1",
    ] {
        let resp = app
            .get(&format!("/orders/admin/stats/daily?{query}"), admin)
            .await
            .expect(400);
        assert_eq!(resp.body["success"], false, "{query}");
        assert!(resp.body["errors"].is_array(), "{query}");
    }
    // 366 days is the longest range.
    let longest = app
        .get(
            "/orders/admin/stats/daily?from=2023-01-01&to=2024-01-01",
            admin,
        )
        .await
        .expect(200);
    assert_eq!(longest.data()["days"].as_array().unwrap().len(), 366);
    // By default: the last 30 days, today included.
    let recent = app
        .get("/orders/admin/stats/daily", admin)
        .await
        .expect(200);
    let days = recent.data()["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(days[29]["date"], json!(today));
    let (_, customer) = app.customer("Curious").await;
    app.get("/orders/admin/stats/daily", Some(&customer))
        .await
        .expect(403);
}
