//! The email sender across processes (CONTRACT §9): two nodes on one PostgreSQL sending to one
//! SMTP server deliver each email once; a node killed with SIGKILL after the server took a
//! message but before the node heard its 250 leaves at most one duplicate, with the same
//! Message-ID, sent by the node that comes back.

use crate::node::{Api, Database, Kind, Node, Sql};
use crate::smtp_catcher::SmtpCatcher;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(90);

/// Places a cash-on-delivery order of one unit through `node` (one receipt email each).
async fn cod_order(api: &Api, node: &Node, token: &str, product: &str) {
    api.add_to_cart(node, token, product, 1).await;
    api.set_address(node, token).await;
    api.post(node, "/orders", token, json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
}

/// Waits until every outbox row is sent.
async fn all_sent(sql: &Sql, expected: i64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let sent = sql
            .count(
                "SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'",
                &[],
            )
            .await;
        let total = sql.count("SELECT COUNT(*) FROM email_outbox", &[]).await;
        if sent == expected && total == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sent} of {total} emails sent, {expected} expected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_deliver_each_email_once_postgres() {
    const ORDERS: usize = 40;
    let catcher = SmtpCatcher::start().await;
    let url = catcher.url();
    let db = Database::new(Kind::Postgres).await.unwrap();
    let vars = [("SMTP_URL", url.as_str()), ("SMTP_TIMEOUT_SECONDS", "3")];
    let (a, b) = tokio::join!(Node::start("a", &db, &vars), Node::start("b", &db, &vars));
    let api = Api::new();
    let admin = api.admin_token(&a).await;
    let product = api.product(&a, &admin, "Shared Mail Item", 1_000).await;
    let customers = api.customers(&[&a, &b], "Mailer", 8).await;
    let mut tasks = Vec::new();
    for (i, (_, token)) in customers.into_iter().enumerate() {
        let (api, product) = (api.clone(), product.clone());
        let node_base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let other_base = if i % 2 == 0 {
            b.base.clone()
        } else {
            a.base.clone()
        };
        tasks.push(tokio::spawn(async move {
            for round in 0..ORDERS / 8 {
                let base = if round % 2 == 0 { &node_base } else { &other_base };
                let resp = api
                    .send(
                        reqwest::Method::POST,
                        &format!("{base}/cart/items"),
                        Some(&token),
                        Some(json!({"productId": product, "quantity": 1})),
                    )
                    .await;
                assert!(resp.status < 300, "{}", resp.body);
                api.send(
                    reqwest::Method::PUT,
                    &format!("{base}/cart/shipping-address"),
                    Some(&token),
                    Some(json!({"street": "1 Road", "city": "Pune", "state": "Maharashtra", "zipCode": "411001", "phone": "+1234567890"})),
                )
                .await
                .expect(200);
                api.send(
                    reqwest::Method::POST,
                    &format!("{base}/orders"),
                    Some(&token),
                    Some(json!({"paymentMethod": "cod"})),
                )
                .await
                .expect(201);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let sql = db.connect().await;
    all_sent(&sql, ORDERS as i64).await;
    let messages = catcher.wait_for(ORDERS, WAIT).await;
    assert_eq!(messages.len(), ORDERS, "each email exactly once");
    let ids: HashSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), ORDERS);
    // Each row was claimed once: one attempt each, none lost to the race.
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM email_outbox WHERE attempts <> 1", &[])
            .await,
        0
    );
    sql.close().await;
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_send_resends_once_with_the_same_message_id_sqlite() {
    killed_mid_send(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_send_resends_once_with_the_same_message_id_postgres() {
    killed_mid_send(Kind::Postgres).await;
}

async fn killed_mid_send(kind: Kind) {
    let catcher = SmtpCatcher::start().await;
    let url = catcher.url();
    let db = Database::new(kind).await.unwrap();
    let vars = [("SMTP_URL", url.as_str()), ("SMTP_TIMEOUT_SECONDS", "3")];
    let mut node = Node::start("sender", &db, &vars).await;
    let api = Api::new();
    let admin = api.admin_token(&node).await;
    let product = api.product(&node, &admin, "Crash Mail Item", 10).await;
    let (_, token) = api.customer(&node, "Crashy").await;

    // The catcher keeps the message, then holds its 250: the node is killed while waiting.
    catcher.hold_after_data(Duration::from_secs(60));
    cod_order(&api, &node, &token, &product).await;
    let first = catcher.wait_for(1, WAIT).await;
    node.kill9();
    catcher.hold_after_data(Duration::ZERO);

    let sql = db.connect().await;
    let (status, attempts, _) = sql
        .rows("SELECT status, attempts, attempts FROM email_outbox", &[])
        .await
        .remove(0);
    assert_eq!((status.as_str(), attempts), ("sending", 1));

    // Back on the same database: once the dead node's claim runs out, the row is sent again.
    let node = Node::start("sender-again", &db, &vars).await;
    all_sent(&sql, 1).await;
    let messages = catcher.messages();
    assert_eq!(messages.len(), 2, "at most one duplicate");
    let first_id = first[0].header("Message-ID").unwrap();
    assert_eq!(messages[1].header("Message-ID").unwrap(), first_id);
    assert_eq!(messages[0].rcpt_to, messages[1].rcpt_to);
    assert_eq!(
        sql.rows("SELECT status, attempts, attempts FROM email_outbox", &[])
            .await[0]
            .1,
        2
    );
    sql.close().await;
    drop(node);
}
