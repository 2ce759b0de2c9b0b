//! The order export streams (issue 21): 100,000 orders generated straight into a SQLite database
//! download whole from the real binary while its resident memory stays under 100 MB, polled
//! during the download and checked against the kernel's high-water mark after it.

use crate::node::{Api, Database, Kind, Node};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ORDERS: i64 = 100_000;
const MIB: u64 = 1024 * 1024;
const RSS_LIMIT: u64 = 100 * MIB;

/// Copies the order `template` `count` times in one statement: fresh ids, order numbers and
/// creation times, everything else as the real order has it. The change-log rows the insert
/// trigger writes are dropped: these orders were made behind the application's back.
async fn generate_orders(database: &Database, template: &str, count: i64) {
    let sql = database.connect().await;
    let columns: Vec<String> = sql
        .pairs("SELECT name, type FROM pragma_table_info('orders')", &[])
        .await
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" | "gateway_order_id" => format!("o.{c} || '-' || n.i"),
            "order_number" => "'ORD' || printf('%013d', n.i)".to_string(),
            "created_at" | "updated_at" => format!("o.{c} - n.i * 1000"),
            other => format!("o.{other}"),
        })
        .collect();
    let insert = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
         INSERT INTO orders ({}) SELECT {} FROM orders o, n WHERE o.id = $1",
        columns.join(", "),
        values.join(", ")
    );
    assert_eq!(sql.execute(&insert, &[template]).await, count as u64);
    sql.execute("DELETE FROM change_log", &[]).await;
    sql.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_100k_orders_keeps_the_node_under_100_mb() {
    let database = Database::new(Kind::Sqlite).await.unwrap();
    let api = Api::new();
    // A real order through the API, then the node stops while its copies are written.
    let mut node = Node::start("setup", &database, &[]).await;
    let admin = api.admin_token(&node).await;
    let product = api.product(&node, &admin, "Kettle", 10).await;
    let (_, customer) = api.customer(&node, "Asha").await;
    let (template, _) = api.unpaid_order(&node, &customer, &product, 1).await;
    node.terminate(Duration::from_secs(10)).await;
    let started = Instant::now();
    generate_orders(&database, &template, ORDERS).await;
    eprintln!("generated {ORDERS} orders in {:?}", started.elapsed());

    let node = Node::start("export", &database, &[]).await;
    let admin = api.admin_token(&node).await;
    let before = node.rss_bytes();
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let pid_status = format!("/proc/{}/status", node.pid());
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(&pid_status) {
                    let kib: u64 = status
                        .lines()
                        .find_map(|line| line.strip_prefix("VmRSS:"))
                        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                        .unwrap_or(0);
                    peak.fetch_max(kib * 1024, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let started = Instant::now();
    let mut resp = reqwest::Client::new()
        .get(node.url("/orders/admin/export.csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers().get("content-length").is_none(),
        "the export is streamed, not sized up front"
    );
    let (mut bytes, mut lines, mut first_line) = (0usize, 0usize, Vec::new());
    while let Some(chunk) = resp.chunk().await.unwrap() {
        if lines == 0 {
            first_line.extend_from_slice(&chunk);
        }
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let high_water = node.peak_rss_bytes();
    let sampled = peak.load(Ordering::Relaxed);
    eprintln!(
        "export: {} rows, {bytes} bytes in {seconds:.1} s; RSS before {:.1} MiB, sampled peak \
         {:.1} MiB, VmHWM {:.1} MiB",
        lines - 1,
        before as f64 / MIB as f64,
        sampled as f64 / MIB as f64,
        high_water as f64 / MIB as f64
    );
    assert!(String::from_utf8_lossy(&first_line).starts_with("orderNumber,createdAt,"));
    // The header, the real order and its copies.
    assert_eq!(lines as i64, 1 + 1 + ORDERS);
    assert!(sampled < RSS_LIMIT, "sampled RSS {sampled} bytes");
    assert!(high_water < RSS_LIMIT, "VmHWM {high_water} bytes");
}
