//! Memory under hostile anonymous traffic (issue 18): whatever anonymous clients send (distinct
//! catalog filters, invented methods, distinct paths), a node's resident memory stays within a
//! fixed distance of where it started, and comes back down when its caches are flushed. Measured
//! on the real binary's RSS, on both databases.

use crate::node::{Api, Database, Kind, Node};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: u64 = 1024 * 1024;
/// How far above its starting point a node's RSS may be after the hostile traffic.
const RSS_ALLOWANCE: u64 = 64 * MIB;

/// A catalog of `count` active products, each with the longest description allowed (5,000
/// characters), so every catalog page of 100 products is about half a megabyte.
async fn wordy_catalog(api: &Api, node: &Node, count: usize) {
    let token = api.admin_token(node).await;
    let description = "A long description of a salon product. ".repeat(130);
    for i in 0..count {
        api.post(
            node,
            "/products",
            &token,
            json!({"name": format!("Product {i}"), "description": description[..5000],
                   "price": 10 + i, "stock": 5, "category": "Hair", "brand": "Wordy"}),
        )
        .await
        .expect(201);
    }
}

/// Sends `total` GETs over `connections` concurrent workers; `path_of(i)` names the i-th path.
async fn flood(node: &Node, total: usize, connections: usize, path_of: fn(usize) -> String) {
    let api = Api::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (api, next, base) = (api.clone(), next.clone(), node.base.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let url = format!("{base}{}", path_of(i));
                let resp = api.send(Method::GET, &url, None, None).await;
                assert!(resp.status < 500, "{url}: {}", resp.status);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
}

/// Sends `total` requests whose method is an invented 8 KB token, on raw connections.
async fn invented_methods(node: &Node, total: usize, connections: usize) {
    let address = node.base.trim_start_matches("http://").to_string();
    let per_worker = total / connections;
    let mut workers = Vec::new();
    for worker in 0..connections {
        let address = address.clone();
        workers.push(tokio::spawn(async move {
            for i in 0..per_worker {
                let method = format!("X{worker}Y{i}Z{}", "M".repeat(8000));
                let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
                let request =
                    format!("{method} /products HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                stream.write_all(request.as_bytes()).await.unwrap();
                let mut answer = Vec::new();
                tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
                    .await
                    .expect("an answer within 10 s")
                    .unwrap();
                let head = String::from_utf8_lossy(&answer[..answer.len().min(40)]).into_owned();
                assert!(head.starts_with("HTTP/1.1 405"), "{head}");
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
}

async fn metrics_text(node: &Node) -> String {
    let resp = reqwest::get(node.url("/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// Warms a node up (the first requests of each kind allocate for good: pools, the OpenAPI text,
/// the exporter), then returns its RSS as the starting point.
async fn settled_rss(node: &Node) -> u64 {
    flood(node, 200, 4, |i| {
        format!("/products?limit=100&page={}", 1 + i % 2)
    })
    .await;
    invented_methods(node, 20, 2).await;
    metrics_text(node).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.rss_bytes()
}

fn filter_path(i: usize) -> String {
    format!("/products?limit=100&maxPrice=1000{i}.00")
}

async fn distinct_catalog_filters_are_bounded_in_memory(kind: Kind) {
    let db = Database::new(kind).await.unwrap();
    let node = Node::start("filters", &db, &[]).await;
    let api = Api::new();
    wordy_catalog(&api, &node, 100).await;
    let start = settled_rss(&node).await;
    // 400 pages of half a megabyte each: 200 MB if each were kept.
    flood(&node, 400, 8, filter_path).await;
    let peak = node.rss_bytes();
    assert!(
        peak < start + RSS_ALLOWANCE,
        "RSS rose from {} MiB to {} MiB over 400 distinct filters",
        start / MIB,
        peak / MIB
    );
    // A catalog write flushes the cache, and the memory goes back.
    let token = api.admin_token(&node).await;
    api.post(
        &node,
        "/products",
        &token,
        json!({"name": "Flush", "price": 1, "stock": 1}),
    )
    .await
    .expect(201);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = node.rss_bytes();
    assert!(
        after < start + 32 * MIB,
        "RSS stayed at {} MiB after the flush (started at {} MiB)",
        after / MIB,
        start / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_catalog_filters_are_bounded_in_memory_sqlite() {
    distinct_catalog_filters_are_bounded_in_memory(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_catalog_filters_are_bounded_in_memory_postgres() {
    distinct_catalog_filters_are_bounded_in_memory(Kind::Postgres).await;
}

/// Invented methods are answered 405 and add no metric series: `/metrics` neither names them nor
/// grows with them.
async fn invented_methods_add_no_metric_series(kind: Kind) {
    let db = Database::new(kind).await.unwrap();
    let node = Node::start("methods", &db, &[]).await;
    invented_methods(&node, 20, 2).await;
    let before = metrics_text(&node).await;
    invented_methods(&node, 1000, 8).await;
    let after = metrics_text(&node).await;
    assert!(
        !after.contains("MMMMMMMM"),
        "an invented method became a label"
    );
    assert!(
        after.contains(r#"method="other""#),
        "invented methods are counted as other"
    );
    assert!(
        after.len() < before.len() + 4096,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invented_methods_add_no_metric_series_sqlite() {
    invented_methods_add_no_metric_series(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invented_methods_add_no_metric_series_postgres() {
    invented_methods_add_no_metric_series(Kind::Postgres).await;
}

/// The soak of issue 18: 20,000 anonymous requests (distinct filters over a wordy catalog,
/// invented methods, distinct paths) leave the node's RSS within 64 MB of where it started.
async fn soak_of_anonymous_requests_keeps_memory_bounded(kind: Kind) {
    let db = Database::new(kind).await.unwrap();
    let node = Node::start("soak", &db, &[]).await;
    let api = Api::new();
    wordy_catalog(&api, &node, 100).await;
    let start = settled_rss(&node).await;
    let began = Instant::now();
    // Distinct filters, small pages and the largest.
    flood(&node, 4_000, 8, |i| {
        format!(
            "/products?limit={}&minPrice=0.{:02}&search=p{i}",
            1 + i % 20,
            i % 100
        )
    })
    .await;
    flood(&node, 1_000, 8, filter_path).await;
    // Distinct paths, matched by no route or by a route with a path parameter.
    flood(&node, 7_000, 8, |i| {
        if i % 2 == 0 {
            format!("/no/such/path/{i}/{}", "p".repeat(i % 500))
        } else {
            format!("/products/{}", uuid::Uuid::new_v4())
        }
    })
    .await;
    // Invented methods.
    invented_methods(&node, 8_000, 8).await;
    let elapsed = began.elapsed();
    let end = node.rss_bytes();
    eprintln!(
        "soak ({kind:?}): 20,000 requests in {:.1} s, RSS {} MiB -> {} MiB",
        elapsed.as_secs_f64(),
        start / MIB,
        end / MIB
    );
    assert!(
        end < start + RSS_ALLOWANCE,
        "RSS rose from {} MiB to {} MiB over the soak",
        start / MIB,
        end / MIB
    );
    // Still serving.
    api.send(Method::GET, &node.url("/products?limit=5"), None, None)
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_of_anonymous_requests_keeps_memory_bounded_sqlite() {
    soak_of_anonymous_requests_keeps_memory_bounded(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_of_anonymous_requests_keeps_memory_bounded_postgres() {
    soak_of_anonymous_requests_keeps_memory_bounded(Kind::Postgres).await;
}
