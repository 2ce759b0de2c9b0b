//! Guard defects of issue 9 that need real processes: an `Idempotency-Key` claim left by a node
//! killed mid-request is given to the retry once its request can no longer be running, and the
//! login limit is shared by every node on one PostgreSQL.

use crate::fake_razorpay::FakeRazorpay;
use crate::node::{Api, Database, Kind, Node, Resp, Sql};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const KEY_ID: &str = "rzp_test_GuardNode01";
const KEY_SECRET: &str = "guard_node_key_secret";
const WEBHOOK_SECRET: &str = "guard_node_webhook_secret";
/// The nodes' `REQUEST_TIMEOUT_SECONDS`: a claim is abandoned after this plus a 2 s margin.
const REQUEST_TIMEOUT_SECS: u64 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_a_crash_mid_request_runs_once_the_claim_expires_sqlite() {
    retry_after_a_crash_mid_request(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_after_a_crash_mid_request_runs_once_the_claim_expires_postgres() {
    retry_after_a_crash_mid_request(Kind::Postgres).await;
}

async fn keyed_checkout(api: &Api, node: &Node, token: &str, key: &str) -> Result<Resp, String> {
    let response = api
        .client
        .request(Method::POST, node.url("/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"paymentMethod": "razorpay"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or_default();
    Ok(Resp { status, body })
}

async fn unfinished_claims(sql: &Sql, key: &str) -> i64 {
    sql.count(
        "SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = $1 AND response_status IS NULL",
        &[key],
    )
    .await
}

async fn retry_after_a_crash_mid_request(kind: Kind) {
    let fake = FakeRazorpay::start(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).await;
    let base = fake.base_url();
    let timeout = REQUEST_TIMEOUT_SECS.to_string();
    let vars = [
        ("PAYMENT_GATEWAY", "razorpay"),
        ("RAZORPAY_KEY_ID", KEY_ID),
        ("RAZORPAY_KEY_SECRET", KEY_SECRET),
        ("RAZORPAY_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("RAZORPAY_API_BASE", base.as_str()),
        ("RAZORPAY_TIMEOUT_MS", "60000"),
        ("REQUEST_TIMEOUT_SECONDS", timeout.as_str()),
    ];
    let db = Database::new(kind).await.unwrap();
    let mut node = Node::start("before-crash", &db, &vars).await;
    let sql = db.connect().await;
    let api = Api::new();
    let admin = api.admin_token(&node).await;
    let product = api.product(&node, &admin, "Crash Key Item", 10).await;
    let (_, token) = api.customer(&node, "Crashy").await;
    api.add_to_cart(&node, &token, &product, 2).await;
    api.set_address(&node, &token).await;

    // The gateway stalls on creating the order, so the checkout holds its claim when the node dies.
    fake.hang_next_on("POST", "/orders", 1, Duration::from_secs(60));
    let key = format!("crash-{}", crate::node::unique());
    let stalled = {
        let (api, token, key, url) = (api.clone(), token.clone(), key.clone(), node.base.clone());
        tokio::spawn(async move {
            api.client
                .post(format!("{url}/orders"))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&json!({"paymentMethod": "razorpay"}))
                .send()
                .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.request_count_for("POST", "/orders") == 0 {
        assert!(
            Instant::now() < deadline,
            "the checkout never reached the gateway"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let claimed_at = Instant::now();
    assert_eq!(unfinished_claims(&sql, &key).await, 1, "the key is claimed");
    node.kill9();
    assert!(stalled.await.unwrap().is_err(), "the client saw the crash");
    // The claim outlived its process.
    assert_eq!(unfinished_claims(&sql, &key).await, 1);

    let node = Node::start("after-crash", &db, &vars).await;
    // Inside the bound the first request might still be running somewhere: the key is busy.
    if claimed_at.elapsed() < Duration::from_secs(REQUEST_TIMEOUT_SECS) {
        let early = keyed_checkout(&api, &node, &token, &key).await.unwrap();
        assert_eq!(early.status, 409, "{}", early.body);
    }
    // Once no request can still hold it, the same key and body run.
    let bound = Duration::from_secs(REQUEST_TIMEOUT_SECS + 2) + Duration::from_millis(500);
    if let Some(wait) = bound.checked_sub(claimed_at.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let retry = keyed_checkout(&api, &node, &token, &key).await.unwrap();
    assert_eq!(
        retry.status, 201,
        "the retry after the bound ran: {}",
        retry.body
    );
    let order_id = retry.data()["order"]["_id"].as_str().unwrap().to_string();
    // Exactly one order exists for the customer, and the key now replays it.
    let orders = sql
        .count(
            "SELECT COUNT(*) FROM orders WHERE user_id = (SELECT user_id FROM idempotency_keys WHERE idempotency_key = $1)",
            &[&key],
        )
        .await;
    assert_eq!(orders, 1);
    let replay = keyed_checkout(&api, &node, &token, &key).await.unwrap();
    assert_eq!(replay.status, 201);
    assert_eq!(replay.data()["order"]["_id"], json!(order_id));
    drop(node);
    sql.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_limit_is_shared_by_two_nodes_postgres() {
    let db = Database::new(Kind::Postgres).await.unwrap();
    let vars = [("AUTH_RATE_LIMIT_PER_MINUTE", "10")];
    let (a, b) = tokio::join!(Node::start("a", &db, &vars), Node::start("b", &db, &vars));
    let api = Api::new();
    // A run of attempts must not straddle two of the limit's one-minute windows.
    let second = chrono::Utc::now().timestamp() % 60;
    if second > 45 {
        tokio::time::sleep(Duration::from_secs((61 - second) as u64)).await;
    }
    let attempt = |node: &Node| {
        api.client
            .post(node.url("/auth/login"))
            .json(&json!({"email": "nobody@example.com", "password": "password123"}))
            .send()
    };
    // Ten attempts, alternating nodes: each node has seen only five.
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        let resp = attempt(node).await.unwrap();
        assert_eq!(
            resp.status(),
            401,
            "attempt {} on node {}",
            i + 1,
            node.name
        );
    }
    for node in [&a, &b] {
        let resp = attempt(node).await.unwrap();
        assert_eq!(resp.status(), 429, "11th attempt on node {}", node.name);
        let retry_after: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["success"], json!(false));
        assert!(body["errors"].is_array());
    }
}
