//! `cartwright backup PATH` while a node serves writes: the copy opens, passes SQLite's integrity
//! check and holds every order committed before the backup started. An existing file is never
//! overwritten, and a PostgreSQL `DATABASE_URL` is refused with a pointer at `pg_dump`.

use crate::node::{Api, Database, Kind, Node};
use reqwest::Method;
use serde_json::json;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn backup(database_url: &str, path: &std::path::Path) -> std::process::Output {
    let binary = std::env::var("CARTWRIGHT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cartwright").to_string());
    Command::new(binary)
        .arg("backup")
        .arg(path)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running cartwright backup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_while_serving_writes_is_whole_and_holds_every_earlier_order() {
    let db = Database::new(Kind::Sqlite).await.unwrap();
    let node = Node::start("backup", &db, &[]).await;
    let api = Api::new();
    let admin = api.admin_token(&node).await;
    let product = api.product(&node, &admin, "Backup Item", 100_000).await;

    let mut before = Vec::new();
    for i in 0..5 {
        let (_, token) = api.customer(&node, &format!("Early{i}")).await;
        let (order, _) = api.unpaid_order(&node, &token, &product, 1).await;
        before.push(order);
    }

    // Writers keep checking out on the node for the whole backup.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (api, stop, written) = (api.clone(), stop.clone(), written.clone());
        let (base, product) = (node.base.clone(), product.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let url = |path: &str| format!("{base}{path}");
                let email = format!("busy{w}x{i}-{}@example.com", crate::node::unique());
                let token = api
                    .send(
                        Method::POST,
                        &url("/auth/register"),
                        None,
                        Some(json!({"name": "Busy", "email": email, "password": "password123"})),
                    )
                    .await
                    .expect(201)
                    .data()["token"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let add = json!({"productId": product, "quantity": 1});
                api.send(Method::POST, &url("/cart/items"), Some(&token), Some(add))
                    .await;
                let address = json!({"street": "1 Main St", "city": "Mumbai", "state": "Maharashtra", "zipCode": "400001", "phone": "+1234567890"});
                api.send(Method::PUT, &url("/cart/shipping-address"), Some(&token), Some(address))
                    .await
                    .expect(200);
                api.send(Method::POST, &url("/orders"), Some(&token), Some(json!({"paymentMethod": "cod"})))
                    .await
                    .expect(201);
                written.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    // The backup starts with the writers under way.
    while written.load(Ordering::Relaxed) < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_start = written.load(Ordering::Relaxed);
    let copy = db.dir.path.join("copy.db");
    let url = db.url.clone();
    let copy_path = copy.clone();
    let output = tokio::task::spawn_blocking(move || backup(&url, &copy_path))
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The node kept serving writes after the backup began.
    while written.load(Ordering::Relaxed) < at_start + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }

    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&copy)
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("the backup opens");
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, vec!["ok".to_string()]);
    for order in &before {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id = ?")
            .bind(order)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1, "order {order}, committed before the backup, is in it");
        let items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_items WHERE order_id = ?")
            .bind(order)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(items, 1, "order {order} has its item in the backup");
    }
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(orders >= (before.len() + at_start) as i64);
    conn.close().await.unwrap();

    // A second backup to the same file is refused and leaves the first intact.
    let size = std::fs::metadata(&copy).unwrap().len();
    let again = backup(&db.url, &copy);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
}

#[test]
fn backup_of_postgres_points_at_pg_dump() {
    let dir = crate::node::TempDir::new();
    let copy = dir.path.join("copy.db");
    let output = backup("postgres://nobody@127.0.0.1:1/none", &copy);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!copy.exists());
}
