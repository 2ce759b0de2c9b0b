//! Regression tests for defect 10 of issue 23: three nodes on one PostgreSQL, all with their jobs
//! enabled, elect one leader for the periodic jobs (`jobs_leader` 1 on it, 0 on the others); when
//! it dies another takes over within two job intervals, when it stops gracefully at once; and a
//! job's work is done by the leader alone, not once per node.

use crate::fake_razorpay::FakeRazorpay;
use crate::node::{Api, Database, Kind, Node};
use std::time::{Duration, Instant};

/// The job interval of these tests, in seconds.
const INTERVAL_SECS: u64 = 2;

/// Slack for polling `/metrics` and for the nodes' scheduling on a busy machine, on top of a bound.
const SLACK: Duration = Duration::from_millis(500);

/// The node's `jobs_leader` gauge, `None` when it does not answer or does not show it.
async fn jobs_leader(api: &Api, node: &Node) -> Option<f64> {
    let text = api
        .client
        .get(node.url("/metrics"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("jobs_leader "))
        .and_then(|value| value.trim().parse().ok())
}

/// The indexes of the nodes reporting `jobs_leader 1`; every node must show the gauge.
async fn leaders(api: &Api, nodes: &[&Node]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let value = jobs_leader(api, node)
            .await
            .unwrap_or_else(|| panic!("node {} shows no jobs_leader gauge", node.name));
        assert!(value == 0.0 || value == 1.0, "jobs_leader {value}");
        if value == 1.0 {
            out.push(i);
        }
    }
    out
}

/// Polls until exactly one of `nodes` leads; returns it and how long that took.
async fn one_leader_within(api: &Api, nodes: &[&Node], within: Duration) -> (usize, Duration) {
    let started = Instant::now();
    loop {
        let found = leaders(api, nodes).await;
        assert!(found.len() <= 1, "more than one leader: {found:?}");
        if let [leader] = found[..] {
            return (leader, started.elapsed());
        }
        assert!(started.elapsed() < within, "no leader within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn three_nodes(db: &Database, extra: &[(&str, &str)]) -> Vec<Node> {
    let interval = INTERVAL_SECS.to_string();
    let mut vars = vec![
        ("JOBS_ENABLED", "true"),
        ("JOB_INTERVAL_SECONDS", interval.as_str()),
    ];
    vars.extend_from_slice(extra);
    let (a, b, c) = tokio::join!(
        Node::start("a", db, &vars),
        Node::start("b", db, &vars),
        Node::start("c", db, &vars),
    );
    vec![a, b, c]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_of_three_nodes_leads_and_another_takes_over_within_two_intervals_of_a_kill() {
    let db = Database::new(Kind::Postgres).await.unwrap();
    let mut nodes = three_nodes(&db, &[]).await;
    let api = Api::new();
    let interval = Duration::from_secs(INTERVAL_SECS);
    let all: Vec<&Node> = nodes.iter().collect();
    let (leader, _) = one_leader_within(&api, &all, interval * 2).await;
    // It stays the one leader over several renewals.
    for _ in 0..6 {
        tokio::time::sleep(interval / 2).await;
        assert_eq!(leaders(&api, &all).await, vec![leader]);
    }

    nodes[leader].kill9();
    let killed_at = Instant::now();
    let rest: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, node)| node)
        .collect();
    let (_, _) = one_leader_within(&api, &rest, interval * 2 + SLACK).await;
    let took = killed_at.elapsed();
    assert!(
        took <= interval * 2 + SLACK,
        "took over {took:?} after the kill"
    );
    // And only one took over.
    for _ in 0..4 {
        tokio::time::sleep(interval / 2).await;
        assert_eq!(leaders(&api, &rest).await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_stopping_gracefully_hands_over_at_once() {
    let db = Database::new(Kind::Postgres).await.unwrap();
    let mut nodes = three_nodes(&db, &[]).await;
    let api = Api::new();
    let interval = Duration::from_secs(INTERVAL_SECS);
    let all: Vec<&Node> = nodes.iter().collect();
    let (leader, _) = one_leader_within(&api, &all, interval * 2).await;
    // Just renewed: without a release the lease would last 1.5 intervals more.
    nodes[leader].terminate(Duration::from_secs(15)).await;
    let stopped_at = Instant::now();
    let rest: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, node)| node)
        .collect();
    one_leader_within(&api, &rest, interval).await;
    // The next try of a follower (every quarter interval), not the lease running out.
    let took = stopped_at.elapsed();
    assert!(
        took <= interval / 4 + SLACK,
        "took over {took:?} after the stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_ask_the_gateway_about_an_unpaid_order_once_not_once_each() {
    const KEY_ID: &str = "rzp_test_Leader0001";
    const KEY_SECRET: &str = "leader_key_secret";
    const WEBHOOK_SECRET: &str = "leader_webhook_secret";
    let fake = FakeRazorpay::start(KEY_ID, KEY_SECRET, WEBHOOK_SECRET).await;
    let base = fake.base_url();
    let db = Database::new(Kind::Postgres).await.unwrap();
    let nodes = three_nodes(
        &db,
        &[
            ("PAYMENT_GATEWAY", "razorpay"),
            ("RAZORPAY_KEY_ID", KEY_ID),
            ("RAZORPAY_KEY_SECRET", KEY_SECRET),
            ("RAZORPAY_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("RAZORPAY_API_BASE", base.as_str()),
        ],
    )
    .await;
    let api = Api::new();
    let admin = api.admin_token(&nodes[0]).await;
    let product = api
        .product(&nodes[0], &admin, "Leader Polled Soap", 5)
        .await;
    let (_, token) = api.customer(&nodes[1], "Unpaid").await;
    let (order_id, gateway_order) = api.unpaid_order(&nodes[1], &token, &product, 1).await;
    let path = format!("/orders/{gateway_order}/payments");
    // The gateway takes its time: every pass that lists the order while one is asking asks too.
    fake.hang_next_on("GET", &path, 3, Duration::from_secs(3));
    // Old enough to be reconciled (two minutes), far from expiring (thirty).
    let sql = db.connect().await;
    sql.execute(
        "UPDATE orders SET created_at = created_at - 180000 WHERE id = $1",
        &[&order_id],
    )
    .await;
    let asked = || fake.request_count_for("GET", &path);
    let deadline = Instant::now() + Duration::from_secs(INTERVAL_SECS * 3);
    while asked() == 0 {
        assert!(Instant::now() < deadline, "no node reconciled the order");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Three more intervals: each node's jobs run several times while the answer is awaited.
    tokio::time::sleep(Duration::from_secs(INTERVAL_SECS * 3)).await;
    assert_eq!(asked(), 1, "the gateway was asked once, by the leader");
    let checked = sql
        .count(
            "SELECT COUNT(*) FROM orders WHERE id = $1 AND gateway_checked_at IS NOT NULL
               AND status = 'pending'",
            &[&order_id],
        )
        .await;
    assert_eq!(checked, 1, "checked, and still waiting for its payment");
    sql.close().await;
    drop(nodes);
}
