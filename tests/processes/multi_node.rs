//! Two API processes on one PostgreSQL schema, started at the same moment (so their migrations and
//! admin bootstrap race too), with the background jobs running on both. The checkout race tests
//! run with requests alternating between the nodes: nothing that must happen once may happen
//! twice because two processes, rather than two tasks of one process, got there together.

use crate::fake_razorpay::FakeRazorpay;
use crate::node::{simulated_signature, Api, Database, Kind, Node, Resp, Sql};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// Short, so that both nodes' jobs pass several times within a test.
const JOB_INTERVAL: &str = "1";

/// Two nodes on one fresh PostgreSQL schema; other test files (`invoices`) start one too.
pub(crate) struct Cluster {
    pub(crate) a: Node,
    pub(crate) b: Node,
    pub(crate) api: Api,
    pub(crate) admin: String,
    pub(crate) sql: Sql,
    // Dropped last: the nodes are killed before their schema goes.
    _db: Database,
}

impl Cluster {
    /// Two nodes on a fresh schema with the background jobs running on both, or `None` when
    /// PostgreSQL is not configured.
    async fn start(extra: &[(&str, &str)]) -> Option<Cluster> {
        let mut vars = vec![
            ("JOBS_ENABLED", "true"),
            ("JOB_INTERVAL_SECONDS", JOB_INTERVAL),
        ];
        vars.extend_from_slice(extra);
        Cluster::with_vars(&vars).await
    }

    /// Two nodes on a fresh schema, started at the same moment with exactly `vars`.
    pub(crate) async fn with_vars(vars: &[(&str, &str)]) -> Option<Cluster> {
        let db = Database::new(Kind::Postgres).await?;
        let (a, b) = tokio::join!(Node::start("a", &db, vars), Node::start("b", &db, vars));
        let api = Api::new();
        let admin = api.admin_token(&a).await;
        let sql = db.connect().await;
        Some(Cluster {
            a,
            b,
            api,
            admin,
            sql,
            _db: db,
        })
    }

    /// Node A for even `i`, node B for odd.
    pub(crate) fn node(&self, i: usize) -> &Node {
        if i % 2 == 0 {
            &self.a
        } else {
            &self.b
        }
    }

    async fn history_count(&self, order_id: &str, status: &str) -> i64 {
        self.sql
            .count(
                "SELECT COUNT(*) FROM order_status_history WHERE order_id = $1 AND status = $2",
                &[order_id, status],
            )
            .await
    }

    async fn notification_count(&self, order_id: &str, kind: &str) -> i64 {
        self.sql
            .count(
                "SELECT COUNT(*) FROM notifications WHERE order_id = $1 AND kind = $2",
                &[order_id, kind],
            )
            .await
    }

    /// `(stock, reserved)` read from the table, not through either node's view.
    async fn stock_row(&self, product_id: &str) -> (i64, i64) {
        let rows = self
            .sql
            .rows(
                "SELECT id, stock, reserved FROM products WHERE id = $1",
                &[product_id],
            )
            .await;
        (rows[0].1, rows[0].2)
    }
}

/// Sends every `(node, path, token, body)` at once; returns the responses in the same order.
async fn all_at_once(api: &Api, requests: Vec<(String, String, serde_json::Value)>) -> Vec<Resp> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let mut tasks = Vec::new();
    for (url, token, body) in requests {
        let api = api.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            api.send(Method::POST, &url, Some(&token), Some(body)).await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_units_across_two_nodes_go_to_exactly_five_buyers() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let product = c.api.product(&c.a, &c.admin, "Two Node Palette", 5).await;
    let customers = c.api.customers(&[&c.a, &c.b], "Racer", 20).await;
    for (i, (_, token)) in customers.iter().enumerate() {
        c.api.add_to_cart(c.node(i), token, &product, 1).await;
        c.api.set_address(c.node(i + 1), token).await;
    }
    let requests = customers
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let method = if i % 4 < 2 { "cod" } else { "razorpay" };
            (
                c.node(i).url("/orders"),
                token.clone(),
                json!({"paymentMethod": method}),
            )
        })
        .collect();
    let responses = all_at_once(&c.api, requests).await;
    let (mut cod, mut online, mut conflicts) = (0, 0, 0);
    for resp in &responses {
        match resp.status {
            201 if resp.data()["razorpayOrder"].is_null() => cod += 1,
            201 => online += 1,
            409 => {
                conflicts += 1;
                assert!(
                    resp.message().contains("Insufficient stock"),
                    "{}",
                    resp.body
                );
            }
            other => panic!("unexpected {other}: {}", resp.body),
        }
    }
    assert_eq!((cod + online, conflicts), (5, 15));
    // Cash-on-delivery orders took their units; online ones hold a reservation.
    assert_eq!(c.stock_row(&product).await, (5 - cod, online));
    // Node B serves the catalog from memory: the checkouts A committed reach it through the change
    // feed, within the one second CONTRACT §4 allows.
    within_a_second("B sees no stock left", || async {
        c.api.stock(&c.b, &c.admin, &product).await.1 == 0
    })
    .await;
    let orders = c
        .sql
        .count(
            "SELECT COUNT(*) FROM order_items WHERE product_id = $1",
            &[&product],
        )
        .await;
    assert_eq!(orders, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_payment_confirmed_on_both_nodes_at_once_counts_once() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let product = c.api.product(&c.a, &c.admin, "Two Node Cream", 10).await;
    let (_, token) = c.api.customer(&c.a, "Double").await;
    let (order_id, gateway_order) = c.api.unpaid_order(&c.a, &token, &product, 3).await;
    let payment_id = "pay_TwoNodes000001";
    let signature = simulated_signature(&gateway_order, payment_id);
    // verify-payment and POST /payments, each sent to both nodes, several times.
    let requests = (0..8)
        .map(|i| {
            let node = c.node(i / 2);
            if i % 2 == 0 {
                (
                    node.url("/orders/verify-payment"),
                    token.clone(),
                    json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
                )
            } else {
                (
                    node.url("/payments"),
                    token.clone(),
                    json!({"orderId": order_id, "paymentMethod": "upi", "paymentId": payment_id, "signature": signature}),
                )
            }
        })
        .collect();
    for resp in all_at_once(&c.api, requests).await {
        resp.expect(200);
    }
    assert_eq!(c.stock_row(&product).await, (7, 0));
    assert_eq!(c.history_count(&order_id, "confirmed").await, 1);
    assert_eq!(c.notification_count(&order_id, "order_confirmed").await, 1);
    let captures = c
        .sql
        .count(
            "SELECT COUNT(*) FROM payment_transactions WHERE order_id = $1 AND kind = 'payment_captured'",
            &[&order_id],
        )
        .await;
    assert_eq!(captures, 1);
    let order = c
        .api
        .get(&c.b, &format!("/orders/{order_id}"), &token)
        .await
        .expect(200);
    assert_eq!(order.data()["status"], "confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_discount_use_across_two_nodes_goes_to_one_order() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    c.api
        .post(
            &c.a,
            "/admin/discounts",
            &c.admin,
            json!({"code": "ONELEFT", "type": "fixed", "value": 5, "minOrderAmount": 0, "usageLimit": 1, "isActive": true}),
        )
        .await
        .expect(201);
    let product = c.api.product(&c.a, &c.admin, "Two Node Candle", 100).await;
    let customers = c.api.customers(&[&c.a, &c.b], "Coupon", 10).await;
    for (i, (_, token)) in customers.iter().enumerate() {
        c.api.add_to_cart(c.node(i), token, &product, 1).await;
        c.api.set_address(c.node(i), token).await;
        c.api
            .post(
                c.node(i + 1),
                "/cart/discount",
                token,
                json!({"discountCode": "ONELEFT"}),
            )
            .await
            .expect(200);
    }
    let requests = customers
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let method = if i % 3 == 0 { "cod" } else { "razorpay" };
            (
                c.node(i).url("/orders"),
                token.clone(),
                json!({"paymentMethod": method}),
            )
        })
        .collect();
    let mut won = 0;
    for resp in all_at_once(&c.api, requests).await {
        match resp.status {
            201 => {
                won += 1;
                assert_eq!(resp.data()["order"]["discount"], json!(5.0));
            }
            409 => assert!(resp.message().contains("used up"), "{}", resp.body),
            other => panic!("unexpected {other}: {}", resp.body),
        }
    }
    assert_eq!(won, 1);
    let code = c
        .api
        .get(&c.b, "/admin/discounts/ONELEFT", &c.admin)
        .await
        .expect(200);
    assert_eq!(code.data()["usedCount"], 1);
    let uses = c
        .sql
        .count(
            "SELECT COUNT(*) FROM discount_uses WHERE code = $1",
            &["ONELEFT"],
        )
        .await;
    assert_eq!(uses, 1);
    let (stock, reserved) = c.stock_row(&product).await;
    assert_eq!(stock - reserved, 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_on_one_node_and_verify_on_the_other_confirm_once() {
    const KEY_ID: &str = "rzp_test_TwoNodes01";
    const KEY_SECRET: &str = "two_nodes_key_secret";
    const WEBHOOK_SECRET: &str = "two_nodes_webhook_secret";
    let fake = FakeRazorpay::start(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).await;
    let base = fake.base_url();
    let Some(c) = Cluster::start(&[
        ("PAYMENT_GATEWAY", "razorpay"),
        ("RAZORPAY_KEY_ID", KEY_ID),
        ("RAZORPAY_KEY_SECRET", KEY_SECRET),
        ("RAZORPAY_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("RAZORPAY_API_BASE", base.as_str()),
        ("RAZORPAY_TIMEOUT_MS", "3000"),
    ])
    .await
    else {
        return;
    };
    fake.set_webhook_target(&c.a.url("/webhooks/razorpay"));
    let product = c.api.product(&c.a, &c.admin, "Two Node Rinse", 20).await;
    // Several orders, so the webhook and the browser meet in more than one interleaving.
    let customers = c.api.customers(&[&c.a, &c.b], "Hook", 4).await;
    let mut orders = Vec::new();
    for (i, (_, token)) in customers.iter().enumerate() {
        let (order_id, gateway_order) = c.api.unpaid_order(c.node(i), token, &product, 2).await;
        orders.push((order_id, gateway_order, token.clone()));
    }
    let mut tasks = Vec::new();
    for (_, gateway_order, token) in &orders {
        let (payment_id, signature) = fake.pay(gateway_order);
        let captured = fake.prepare_webhook("payment.captured", &payment_id);
        let paid = fake.prepare_webhook("order.paid", gateway_order);
        for webhook in [captured.clone(), paid, captured] {
            let fake = fake.clone();
            tasks.push(tokio::spawn(async move { fake.deliver(&webhook).await }));
        }
        let api = c.api.clone();
        let url = c.b.url("/orders/verify-payment");
        let (token, body) = (
            token.clone(),
            json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
        );
        tasks.push(tokio::spawn(async move {
            api.send(Method::POST, &url, Some(&token), Some(body))
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    for (order_id, _, _) in &orders {
        assert_eq!(
            c.history_count(order_id, "confirmed").await,
            1,
            "{order_id}"
        );
        assert_eq!(
            c.notification_count(order_id, "order_confirmed").await,
            1,
            "{order_id}"
        );
    }
    assert_eq!(
        c.stock_row(&product).await,
        (20 - 2 * orders.len() as i64, 0)
    );
    // Nothing was refunded: each capture is the order's own.
    assert!(fake.refunds().is_empty(), "{:?}", fake.refunds());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_jobs_on_both_nodes_cancel_an_unpaid_order_once() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    // Many orders, so a job pass takes long enough for the two nodes' passes to overlap.
    let product = c.api.product(&c.a, &c.admin, "Two Node Balm", 100).await;
    let customers = c.api.customers(&[&c.a, &c.b], "Slow", 3).await;
    let mut orders = Vec::new();
    for round in 0..10 {
        for (i, (_, token)) in customers.iter().enumerate() {
            let node = c.node(round + i);
            orders.push(c.api.unpaid_order(node, token, &product, 2).await.0);
        }
    }
    assert_eq!(c.stock_row(&product).await, (100, 60));
    // Age the orders past their payment time instead of waiting 30 minutes.
    let aged = c
        .sql
        .execute(
            "UPDATE orders SET payment_expires_at = 1000 WHERE status = 'pending'",
            &[],
        )
        .await;
    assert_eq!(aged, orders.len() as u64);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending = c
            .sql
            .count(
                "SELECT COUNT(*) FROM orders WHERE status <> 'cancelled'",
                &[],
            )
            .await;
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} orders still not expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let both nodes' jobs pass a few more times over the cancelled orders.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for order_id in &orders {
        assert_eq!(
            c.history_count(order_id, "cancelled").await,
            1,
            "{order_id}"
        );
        assert_eq!(
            c.notification_count(order_id, "order_cancelled").await,
            1,
            "{order_id}"
        );
    }
    assert_eq!(c.stock_row(&product).await, (100, 0));
    let released = c
        .sql
        .count(
            "SELECT COUNT(*) FROM orders WHERE stock_state = 'released'",
            &[],
        )
        .await;
    assert_eq!(released, orders.len() as i64);
    // Each node logs how many orders each of its passes expired: together exactly one per order.
    // Which node did the work depends on how their ticks fall; shown so a run tells.
    let mut total = 0;
    for node in [&c.a, &c.b] {
        let expired: Vec<i64> = node
            .log_events("cancelled unpaid orders past their payment time")
            .iter()
            .map(|event| event["expired"].as_i64().unwrap_or(0))
            .collect();
        eprintln!("node {} expired {expired:?} orders per pass", node.name);
        total += expired.iter().sum::<i64>();
    }
    assert_eq!(total, orders.len() as i64);
}

/// Polls `check` until it holds, failing when that takes a second or more. Returns how long it
/// took.
async fn within_a_second<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: not seen within one second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deactivation_and_role_change_on_one_node_bite_on_the_other_within_a_second() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let (user_id, token) = c.api.customer(&c.a, "Changing").await;
    // Node B has the account cached as a customer: vendor routes are refused.
    c.api.get(&c.b, "/vendor/orders", &token).await.expect(403);
    c.api.get(&c.b, "/cart", &token).await.expect(200);
    c.api
        .send(
            Method::PATCH,
            &c.a.url(&format!("/admin/users/{user_id}")),
            Some(&c.admin),
            Some(json!({"role": "vendor"})),
        )
        .await
        .expect(200);
    let took = within_a_second("the role change on B", || async {
        c.api.get(&c.b, "/vendor/orders", &token).await.status == 200
    })
    .await;
    eprintln!("role change seen by B after {took:?}");
    c.api
        .send(
            Method::PATCH,
            &c.a.url(&format!("/admin/users/{user_id}")),
            Some(&c.admin),
            Some(json!({"isActive": false})),
        )
        .await
        .expect(200);
    let took = within_a_second("the deactivation on B", || async {
        c.api.get(&c.b, "/cart", &token).await.status == 401
    })
    .await;
    eprintln!("deactivation seen by B after {took:?}");
    // And it stays refused on both.
    c.api.get(&c.a, "/cart", &token).await.expect(401);
    c.api.get(&c.b, "/vendor/orders", &token).await.expect(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_on_one_node_ends_the_token_on_the_other_within_a_second() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let (_, token) = c.api.customer(&c.a, "Leaving").await;
    // Node B has the session cached as valid.
    c.api.get(&c.b, "/cart", &token).await.expect(200);
    c.api.get(&c.b, "/auth/me", &token).await.expect(200);
    c.api
        .post(&c.a, "/auth/logout", &token, json!({}))
        .await
        .expect(200);
    // At once on the node that logged out.
    c.api.get(&c.a, "/cart", &token).await.expect(401);
    let took = within_a_second("the logout on B", || async {
        c.api.get(&c.b, "/cart", &token).await.status == 401
    })
    .await;
    eprintln!("logout seen by B after {took:?}");
    // B's cached answer would also lapse by itself (the cache's 900 ms safety net); well under
    // that shows the change feed told B (the users trigger fires on `session_version`).
    assert!(
        took < Duration::from_millis(500),
        "the feed did not tell B: {took:?}"
    );
    let resp = c.api.get(&c.b, "/auth/me", &token).await.expect(401);
    assert_eq!(resp.message(), "Session has ended; log in again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_price_edit_and_a_stock_move_on_one_node_show_on_the_other_within_a_second() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let product = c.api.product(&c.a, &c.admin, "Two Node Tonic", 10).await;
    let path = format!("/products/{product}");
    let page = "/products?limit=10&search=two%20node%20tonic";
    let seen_on_b = |path: String| {
        let c = &c;
        async move { c.api.get(&c.b, &path, &c.admin).await.expect(200) }
    };
    // B reads (and caches) the product and a page holding it.
    assert_eq!(seen_on_b(path.clone()).await.data()["price"], json!(10.0));
    assert_eq!(
        seen_on_b(page.to_string()).await.data()["products"][0]["price"],
        json!(10.0)
    );
    c.api
        .send(
            Method::PATCH,
            &c.a.url(&path),
            Some(&c.admin),
            Some(json!({"price": 12.5})),
        )
        .await
        .expect(200);
    let took = within_a_second("the price edit on B", || async {
        seen_on_b(path.clone()).await.data()["price"] == json!(12.5)
            && seen_on_b(page.to_string()).await.data()["products"][0]["price"] == json!(12.5)
    })
    .await;
    eprintln!("price edit seen by B after {took:?}");

    // A checkout on A takes 3 units; B shows the stock it has left.
    let (_, token) = c.api.customer(&c.a, "Buyer").await;
    c.api.add_to_cart(&c.a, &token, &product, 3).await;
    c.api.set_address(&c.a, &token).await;
    assert_eq!(seen_on_b(path.clone()).await.data()["availableStock"], 10);
    c.api
        .post(&c.a, "/orders", &token, json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
    let took = within_a_second("the checkout's stock move on B", || async {
        let product = seen_on_b(path.clone()).await;
        let listed = seen_on_b(page.to_string()).await;
        product.data()["stock"] == 7
            && product.data()["availableStock"] == 7
            && listed.data()["products"][0]["availableStock"] == 7
    })
    .await;
    eprintln!("stock move seen by B after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_on_one_node_never_lets_the_other_sell_the_last_unit() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    for round in 0..3 {
        let product = c
            .api
            .product(&c.a, &c.admin, &format!("Last Unit {round}"), 1)
            .await;
        let (_, first) = c.api.customer(&c.a, "First").await;
        let (_, second) = c.api.customer(&c.b, "Second").await;
        c.api.add_to_cart(&c.a, &first, &product, 1).await;
        c.api.set_address(&c.a, &first).await;
        c.api.add_to_cart(&c.b, &second, &product, 1).await;
        c.api.set_address(&c.b, &second).await;
        // B has the product cached with one unit available.
        assert_eq!(c.api.stock(&c.b, &c.admin, &product).await, (1, 1));
        c.api
            .post(&c.a, "/orders", &first, json!({"paymentMethod": "cod"}))
            .await
            .expect(201);
        // At once, before B can have heard of it: B's checkout is decided by the database.
        let refused = c
            .api
            .post(
                &c.b,
                "/orders",
                &second,
                json!({"paymentMethod": "razorpay"}),
            )
            .await
            .expect(409);
        assert!(
            refused.message().contains("Insufficient stock"),
            "{}",
            refused.body
        );
        let again = c
            .api
            .post(
                &c.b,
                "/cart/items",
                &second,
                json!({"productId": product, "quantity": 1}),
            )
            .await;
        assert!(again.status == 409 || again.status == 404, "{}", again.body);
        assert_eq!(c.stock_row(&product).await, (0, 0));
        let sold = c
            .sql
            .count(
                "SELECT COUNT(*) FROM order_items WHERE product_id = $1",
                &[&product],
            )
            .await;
        assert_eq!(sold, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_made_behind_the_nodes_backs_reaches_their_caches_within_a_second() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let product = c.api.product(&c.a, &c.admin, "Backdoor Rinse", 10).await;
    let (user_id, token) = c.api.customer(&c.a, "Backdoor").await;
    let path = format!("/products/{product}");
    for node in [&c.a, &c.b] {
        assert_eq!(
            c.api.get(node, &path, &c.admin).await.expect(200).data()["price"],
            json!(10.0)
        );
        c.api.get(node, "/cart", &token).await.expect(200);
    }
    // Plain SQL, as an operator or another program would write: the triggers still tell both
    // nodes, since no code path of Cartwright is involved.
    c.sql
        .execute(
            "UPDATE products SET price = 1500 WHERE id = $1",
            &[&product],
        )
        .await;
    c.sql
        .execute(
            "UPDATE users SET is_active = FALSE WHERE id = $1",
            &[&user_id],
        )
        .await;
    for node in [&c.a, &c.b] {
        within_a_second("the price written by SQL", || async {
            c.api.get(node, &path, &c.admin).await.expect(200).data()["price"] == json!(15.0)
        })
        .await;
        within_a_second("the deactivation written by SQL", || async {
            c.api.get(node, "/cart", &token).await.status == 401
        })
        .await;
    }
}

/// Issue 18, defect 5: two admins demoting each other at the same moment, each through another
/// node, never leave the shop without an admin: the write locks the active admins' rows in the
/// database both nodes share, and the second to get them finds its caller demoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_demoting_each_other_on_two_nodes_at_once_leave_one_admin() {
    let Some(c) = Cluster::start(&[]).await else {
        return;
    };
    let mut admins = Vec::new();
    for name in ["a", "b"] {
        let email = format!("admin-{name}-{}@example.com", crate::node::unique());
        let made = c
            .api
            .post(
                &c.a,
                "/admin/users",
                &c.admin,
                json!({"name": format!("Admin {name}"), "email": email, "password": "password123", "role": "admin"}),
            )
            .await
            .expect(201);
        let id = made.data()["_id"].as_str().unwrap().to_string();
        admins.push((id, c.api.login(&c.a, &email, "password123").await));
    }
    let (a, a_token) = admins[0].clone();
    let (b, b_token) = admins[1].clone();
    // The bootstrap admin steps down, so A and B are the only admins.
    let me = c.api.get(&c.a, "/auth/me", &c.admin).await.expect(200);
    let first = me.data()["_id"].as_str().unwrap().to_string();
    c.api
        .send(
            Method::PATCH,
            &c.a.url(&format!("/admin/users/{first}")),
            Some(&a_token),
            Some(json!({"role": "customer"})),
        )
        .await
        .expect(200);
    let active_admins = "SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active";

    for round in 0..10 {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for (url, token) in [
            (c.a.url(&format!("/admin/users/{b}")), a_token.clone()),
            (c.b.url(&format!("/admin/users/{a}")), b_token.clone()),
        ] {
            let (api, barrier) = (c.api.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                api.send(
                    Method::PATCH,
                    &url,
                    Some(&token),
                    Some(json!({"role": "customer"})),
                )
                .await
            }));
        }
        let mut made = 0;
        for task in tasks {
            let resp = task.await.unwrap();
            match resp.status {
                200 => made += 1,
                401 | 403 => {}
                other => panic!("round {round}: unexpected {other}: {}", resp.body),
            }
        }
        assert_eq!(made, 1, "round {round}: exactly one demotion is made");
        assert_eq!(c.sql.count(active_admins, &[]).await, 1, "round {round}");

        // Both admins again, behind the nodes' backs, and seen as such by both nodes.
        c.sql
            .execute(
                "UPDATE users SET role = 'admin' WHERE id = $1 OR id = $2",
                &[&a, &b],
            )
            .await;
        for node in [&c.a, &c.b] {
            for token in [&a_token, &b_token] {
                within_a_second("the restored admin", || async {
                    c.api.get(node, "/admin/users", token).await.status == 200
                })
                .await;
            }
        }
    }
}
