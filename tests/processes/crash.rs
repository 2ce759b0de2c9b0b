//! Crash safety: a node is killed with SIGKILL in the middle of a checkout load, restarted on the
//! same database, and the books must balance. Every order a client was told about (201) exists;
//! an order nobody was told about can only come from a request that was in flight at the kill, at
//! most one per client; no order is half-written; and for every product, on-hand stock plus units
//! sold equals the initial stock, with `reserved` exactly the units of unpaid orders.

use crate::node::{Api, Database, Kind, Node, Sql};
use rand::Rng;
use reqwest::Method;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRODUCTS: usize = 4;
const INITIAL_STOCK: i64 = 5_000;
const CLIENTS: usize = 8;
/// How long the load runs before the kill.
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);

const CONFIRMED_OR_LATER: &str = "('confirmed', 'processing', 'shipped', 'delivered')";

/// What the clients saw.
#[derive(Default)]
struct Ledger {
    /// Orders acknowledged with a 201: order id -> user id.
    acknowledged: HashMap<String, String>,
    /// Users whose `POST /orders` never got an answer (it was in flight at the kill).
    unanswered: HashSet<String>,
    /// Orders whose payment was acknowledged with a 200.
    paid: HashSet<String>,
    /// Answers that are never acceptable (5xx, unexpected 4xx), with their bodies.
    unexpected: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_checkout_loses_and_invents_nothing_sqlite() {
    kill_9_mid_checkout(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_checkout_loses_and_invents_nothing_postgres() {
    kill_9_mid_checkout(Kind::Postgres).await;
}

async fn kill_9_mid_checkout(kind: Kind) {
    let Some(db) = Database::new(kind).await else {
        return;
    };
    // SQLite runs with its default SQLITE_SYNCHRONOUS=full.
    let mut node = Node::start("crash", &db, &[]).await;
    let api = Api::new();
    let admin = api.admin_token(&node).await;
    let mut products = Vec::new();
    for i in 0..PRODUCTS {
        products.push(
            api.product(&node, &admin, &format!("Crash Item {i}"), INITIAL_STOCK)
                .await,
        );
    }
    let customers = api.customers(&[&node], "Load", CLIENTS).await;
    for (_, token) in &customers {
        api.set_address(&node, token).await;
    }

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for (user_id, token) in customers.clone() {
        let (api, base, products) = (api.clone(), node.base.clone(), products.clone());
        let (ledger, stop, in_flight) = (ledger.clone(), stop.clone(), in_flight.clone());
        clients.push(tokio::spawn(async move {
            let url = |path: &str| format!("{base}{path}");
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let lines: Vec<(String, i64)> = {
                    let mut rng = rand::thread_rng();
                    (0..rng.gen_range(1..=2))
                        .map(|_| {
                            (
                                products[rng.gen_range(0..products.len())].clone(),
                                rng.gen_range(1..=3),
                            )
                        })
                        .collect()
                };
                for (product, quantity) in lines {
                    let body = json!({"productId": product, "quantity": quantity});
                    if api
                        .try_send(Method::POST, &url("/cart/items"), Some(&token), Some(body))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                let method = if round % 2 == 0 { "cod" } else { "razorpay" };
                in_flight.fetch_add(1, Ordering::SeqCst);
                let placed = api
                    .try_send(
                        Method::POST,
                        &url("/orders"),
                        Some(&token),
                        Some(json!({"paymentMethod": method})),
                    )
                    .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let order_id = match placed {
                    Err(_) => {
                        ledger.lock().unwrap().unanswered.insert(user_id.clone());
                        return;
                    }
                    Ok(resp) if resp.status == 201 => {
                        let id = resp.data()["order"]["_id"].as_str().unwrap().to_string();
                        ledger
                            .lock()
                            .unwrap()
                            .acknowledged
                            .insert(id.clone(), user_id.clone());
                        id
                    }
                    Ok(resp) => {
                        ledger
                            .lock()
                            .unwrap()
                            .unexpected
                            .push(format!("POST /orders {}: {}", resp.status, resp.body));
                        continue;
                    }
                };
                // Two online orders in three are paid; the rest stay pending with their stock
                // reserved.
                if method == "razorpay" && round % 3 != 0 {
                    let body = json!({"orderId": order_id, "paymentMethod": "razorpay"});
                    match api
                        .try_send(Method::POST, &url("/payments"), Some(&token), Some(body))
                        .await
                    {
                        Err(_) => return,
                        Ok(resp) if resp.status == 200 => {
                            ledger.lock().unwrap().paid.insert(order_id);
                        }
                        Ok(resp) => ledger
                            .lock()
                            .unwrap()
                            .unexpected
                            .push(format!("POST /payments {}: {}", resp.status, resp.body)),
                    }
                }
            }
        }));
    }

    // On a slow machine, wait a little longer so the kill lands in a load that is really going.
    tokio::time::sleep(LOAD_BEFORE_KILL).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ledger.lock().unwrap().acknowledged.len() < 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let in_flight_at_kill = in_flight.load(Ordering::SeqCst);
    node.kill9();
    let killed_at = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(
        ledger.unexpected.is_empty(),
        "answers before the kill that are never acceptable: {:#?}",
        ledger.unexpected
    );
    assert!(
        !ledger.acknowledged.is_empty(),
        "no order was placed before the kill; the load did not run"
    );

    let node = Node::start("crash-restarted", &db, &[]).await;
    let restart = killed_at.elapsed();
    let sql = db.connect().await;
    if kind == Kind::Sqlite {
        let (check,): (String,) = match &sql {
            Sql::Sqlite(pool) => sqlx::query_as("PRAGMA integrity_check")
                .fetch_one(pool)
                .await
                .unwrap(),
            Sql::Postgres(_) => unreachable!(),
        };
        assert_eq!(check, "ok");
    }

    // 1. Every acknowledged order exists, with the status the client was told about or later.
    let stored: HashMap<String, String> = sql
        .pairs("SELECT id, user_id FROM orders", &[])
        .await
        .into_iter()
        .collect();
    let lost: Vec<&String> = ledger
        .acknowledged
        .keys()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged orders lost: {lost:?}");
    let paid_but_not_confirmed = sql
        .pairs(
            &format!("SELECT id, status FROM orders WHERE status NOT IN {CONFIRMED_OR_LATER}"),
            &[],
        )
        .await
        .into_iter()
        .filter(|(id, _)| ledger.paid.contains(id))
        .collect::<Vec<_>>();
    assert!(
        paid_but_not_confirmed.is_empty(),
        "payments acknowledged but orders not confirmed: {paid_but_not_confirmed:?}"
    );
    let admin = api.admin_token(&node).await;
    for id in ledger.acknowledged.keys().take(10) {
        api.get(&node, &format!("/orders/{id}"), &admin)
            .await
            .expect(200);
    }

    // 2. Orders nobody was told about came from requests in flight at the kill, one per client.
    let unacknowledged: Vec<(&String, &String)> = stored
        .iter()
        .filter(|(id, _)| !ledger.acknowledged.contains_key(*id))
        .collect();
    assert!(
        unacknowledged.len() <= ledger.unanswered.len(),
        "{} orders exist that no client was told about, but only {} requests were unanswered: {unacknowledged:?}",
        unacknowledged.len(),
        ledger.unanswered.len()
    );
    let mut per_user = HashMap::new();
    for (id, user) in &unacknowledged {
        assert!(
            ledger.unanswered.contains(*user),
            "order {id} of user {user} exists, but that user had no request in flight"
        );
        *per_user.entry(*user).or_insert(0) += 1;
        assert!(per_user[user] <= 1, "two unacknowledged orders for {user}");
    }

    // 3. No half-written order: each has its lines, its opening history, and its stock state
    //    matches its status.
    let without_lines = sql
        .count(
            "SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)
                OR NOT EXISTS (SELECT 1 FROM order_status_history h WHERE h.order_id = o.id AND h.status = 'pending')",
            &[],
        )
        .await;
    assert_eq!(without_lines, 0, "orders without lines or history");
    let mismatched = sql
        .count(
            &format!(
                "SELECT COUNT(*) FROM orders WHERE NOT ((status = 'pending' AND stock_state = 'reserved')
                    OR (status IN {CONFIRMED_OR_LATER} AND stock_state = 'committed'))"
            ),
            &[],
        )
        .await;
    assert_eq!(
        mismatched, 0,
        "orders whose stock state contradicts their status"
    );
    // Paid online orders carry exactly one capture; every online order its gateway order.
    let bad_ledger = sql
        .count(
            "SELECT COUNT(*) FROM orders o WHERE o.payment_method <> 'cod' AND (
                (o.payment_status = 'completed' AND (SELECT COUNT(*) FROM payment_transactions t
                    WHERE t.order_id = o.id AND t.kind = 'payment_captured') <> 1)
                OR (SELECT COUNT(*) FROM payment_transactions t
                    WHERE t.order_id = o.id AND t.kind = 'gateway_order') <> 1)",
            &[],
        )
        .await;
    assert_eq!(bad_ledger, 0, "online orders with a wrong payment ledger");

    // 4. Stock: on hand + sold == initial; reserved == units of unpaid orders.
    let on_hand: HashMap<String, (i64, i64)> = sql
        .rows("SELECT id, stock, reserved FROM products", &[])
        .await
        .into_iter()
        .map(|(id, stock, reserved)| (id, (stock, reserved)))
        .collect();
    let ordered: HashMap<String, (i64, i64)> = sql
        .rows(
            &format!(
                "SELECT i.product_id,
                    CAST(COALESCE(SUM(CASE WHEN o.status IN {CONFIRMED_OR_LATER} THEN i.quantity ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN o.status = 'pending' THEN i.quantity ELSE 0 END), 0) AS BIGINT)
                 FROM order_items i JOIN orders o ON o.id = i.order_id GROUP BY i.product_id"
            ),
            &[],
        )
        .await
        .into_iter()
        .map(|(id, sold, pending)| (id, (sold, pending)))
        .collect();
    for product in &products {
        let (stock, reserved) = on_hand[product];
        let (sold, pending) = ordered.get(product).copied().unwrap_or((0, 0));
        assert_eq!(
            stock + sold,
            INITIAL_STOCK,
            "product {product}: on hand {stock} + sold {sold} != {INITIAL_STOCK}"
        );
        assert_eq!(
            reserved, pending,
            "product {product}: reserved {reserved} != units of pending orders {pending}"
        );
    }

    // 5. The restarted node takes orders again.
    let (_, token) = &customers[0];
    api.send(Method::DELETE, &node.url("/cart"), Some(token), None)
        .await
        .expect(200);
    api.add_to_cart(&node, token, &products[0], 1).await;
    api.post(&node, "/orders", token, json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
    sql.close().await;
    eprintln!(
        "{kind:?}: {} orders acknowledged ({} paid), {} in flight at the kill, {} unanswered, {} placed but unacknowledged; restart took {restart:?}",
        ledger.acknowledged.len(),
        ledger.paid.len(),
        in_flight_at_kill,
        ledger.unanswered.len(),
        unacknowledged.len()
    );
}
