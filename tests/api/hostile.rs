//! Regression tests for defects 4, 5 and 7 of issue 18: a cart's distinct products bounded (and
//! no statement binding more values than the database takes), admins unable to leave the shop
//! without an admin however their changes interleave, and idempotency keys, webhook events and
//! rate-limit rows purged by the jobs, with only replayable answers stored.

use crate::api_tests;
use crate::helpers::{Db, TestApp};
use cartwright::domain::user::Role;
use serde_json::{json, Value};

api_tests!(
    a_cart_holds_at_most_cart_max_lines_distinct_products,
    concurrent_adds_never_push_a_cart_past_its_limit,
    a_cart_longer_than_the_bind_limit_checks_out,
    admins_demoting_each_other_at_once_never_leave_the_shop_without_one,
    an_order_refused_for_an_empty_cart_runs_again_with_its_key_once_the_cart_is_filled,
    jobs_purge_idempotency_keys_older_than_a_day_and_keep_newer_ones,
    jobs_purge_webhook_events_older_than_thirty_days_and_finished_rate_limit_windows,
);

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let resp = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn add(app: &TestApp, token: &str, product: &str, quantity: i64) -> crate::helpers::Resp {
    app.post(
        "/cart/items",
        Some(token),
        json!({"productId": product, "quantity": quantity}),
    )
    .await
}

async fn a_cart_holds_at_most_cart_max_lines_distinct_products(app: TestApp) {
    let app = TestApp::spawn_with(app.db, &[("CART_MAX_LINES", "3")])
        .await
        .unwrap();
    let mut products = Vec::new();
    for i in 0..4 {
        products.push(app.product(&format!("Capped {i}"), 10.0, 50).await);
    }
    let (_, token) = app.customer("Capped").await;
    for product in &products[..3] {
        add(&app, &token, product, 1).await.expect(200);
    }

    let full = add(&app, &token, &products[3], 1)
        .await
        .expect_error(409, "cart_full");
    let message = full.body["message"].as_str().unwrap();
    assert!(
        message.contains("full") && message.contains('3'),
        "the refusal says the cart is full and names the limit: {message}"
    );

    // More of a product already in the cart is not a new line.
    let more = add(&app, &token, &products[0], 2).await.expect(200);
    let items = more.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let first = items
        .iter()
        .find(|item| item["productId"]["_id"] == json!(products[0]))
        .expect("the first product's line");
    assert_eq!(first["quantity"], json!(3));

    // A line removed makes room again.
    app.delete(&format!("/cart/items/{}", products[1]), Some(&token))
        .await
        .expect(200);
    let cart = add(&app, &token, &products[3], 1).await.expect(200);
    assert_eq!(cart.data()["items"].as_array().unwrap().len(), 3);
}

/// A transaction of the test's own holding rows the requests under test need, so that racing
/// requests all queue behind it and go on together when it is released: on PostgreSQL it locks
/// the rows, on SQLite it holds the one writer connection.
enum Held {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Held {
    async fn release(self) {
        match self {
            Held::Sqlite(tx) => tx.commit().await.unwrap(),
            Held::Postgres(tx) => tx.commit().await.unwrap(),
        }
    }
}

/// Holds what `lock` (PostgreSQL; `$1` is `arg`) locks, or SQLite's writer.
async fn hold(app: &TestApp, lock: &str, arg: &str) -> Held {
    match &app.state.store.backend {
        cartwright::store::Backend::Sqlite(db) => {
            let mut tx = db.write.begin().await.unwrap();
            sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
                .bind(arg)
                .execute(&mut *tx)
                .await
                .unwrap();
            Held::Sqlite(tx)
        }
        cartwright::store::Backend::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(lock).bind(arg).execute(&mut *tx).await.unwrap();
            Held::Postgres(tx)
        }
    }
}

async fn concurrent_adds_never_push_a_cart_past_its_limit(app: TestApp) {
    const LIMIT: usize = 100;
    const RACERS: usize = 20;
    let (user_id, token) = app.customer("Racing cart").await;
    let mut products = Vec::new();
    for i in 0..(LIMIT - 5 + RACERS) {
        products.push(app.product(&format!("Line {i:03}"), 1.0, 50).await);
    }
    for product in &products[..LIMIT - 5] {
        app.add_to_cart(&token, product, 1).await;
    }

    // The racers are held at the cart's row until all of them are queued there, so they do
    // race: the lock is released while every one of them is waiting for it.
    let held = hold(
        &app,
        "SELECT id FROM carts WHERE user_id = $1 FOR UPDATE",
        &user_id,
    )
    .await;
    let mut tasks = Vec::new();
    for product in &products[LIMIT - 5..] {
        let (client, url, token, product) = (
            app.client.clone(),
            app.url("/cart/items"),
            token.clone(),
            product.clone(),
        );
        tasks.push(tokio::spawn(async move {
            send(
                &client,
                reqwest::Method::POST,
                url,
                &token,
                json!({"productId": product, "quantity": 1}),
            )
            .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    held.release().await;
    let mut added = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => added += 1,
            409 => assert!(
                body["message"].as_str().unwrap().contains("full"),
                "a refused add says the cart is full: {body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(added, 5, "exactly the five free lines were taken");
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["items"].as_array().unwrap().len(), LIMIT);
}

/// A cart from before the limit (or from a larger `CART_MAX_LINES`) with more lines than one
/// statement could bind: 8 values per order line passed SQLite's 32,766 above 4,095 lines and
/// PostgreSQL's 65,535 above 8,191, and checkout answered 500.
async fn a_cart_longer_than_the_bind_limit_checks_out(app: TestApp) {
    const LINES: i64 = 8_200;
    let (user_id, token) = app.customer("Long cart").await;
    app.get("/cart", Some(&token)).await.expect(200);
    app.exec_sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
         INSERT INTO products (id, name, price, stock, created_at, updated_at)
         SELECT $1 || '-' || i, 'Bulk ' || i, 100, 10, 0, 0 FROM n",
        "bulk",
        LINES,
    )
    .await;
    app.exec_sql(
        "INSERT INTO cart_items (cart_id, product_id, quantity, added_at, updated_at)
         SELECT c.id, p.id, 1, $2, $2 FROM carts c, products p
         WHERE c.user_id = $1 AND p.name LIKE 'Bulk %'",
        &user_id,
        1,
    )
    .await;
    app.set_address(&token).await;

    let placed = app
        .post("/orders", Some(&token), json!({"paymentMethod": "cod"}))
        .await
        .expect(201);
    let order = &placed.data()["order"];
    assert_eq!(order["items"].as_array().unwrap().len(), LINES as usize);
    assert_eq!(order["totalItems"], json!(LINES));
    let cart = app.get("/cart", Some(&token)).await.expect(200);
    assert_eq!(cart.data()["items"], json!([]));
}

/// Whether the account is an active admin, as stored.
async fn is_active_admin(app: &TestApp, id: &str) -> bool {
    app.state
        .store
        .active_account(id)
        .await
        .unwrap()
        .map(|account| account.role)
        == Some(Role::Admin)
}

/// Makes `id` an active admin again, behind the API's back, and waits until the app sees it.
/// Returns a token for it: a deactivation ended the sessions it had.
async fn restore_admin(app: &TestApp, id: &str) -> String {
    let restore = match app.db {
        Db::Sqlite => {
            "UPDATE users SET role = 'admin', is_active = 1, updated_at = $2 WHERE id = $1"
        }
        Db::Postgres => {
            "UPDATE users SET role = 'admin', is_active = TRUE, updated_at = $2 WHERE id = $1"
        }
    };
    app.exec_sql(restore, id, chrono::Utc::now().timestamp_millis())
        .await;
    let account = app.state.store.active_account(id).await.unwrap().unwrap();
    let token = app
        .state
        .jwt
        .issue(id, Role::Admin, account.session_version)
        .unwrap();
    for _ in 0..100 {
        if app.get("/admin/users", Some(&token)).await.status == 200 {
            return token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the restored admin {id} is still refused");
}

async fn admins_demoting_each_other_at_once_never_leave_the_shop_without_one(app: TestApp) {
    let (a, mut a_token) = app.user_with_role("Admin A", "admin").await;
    let (b, mut b_token) = app.user_with_role("Admin B", "admin").await;
    // The test's own admin steps down, so A and B are the only admins.
    let me = app
        .get("/auth/me", Some(&app.admin_token))
        .await
        .expect(200);
    let first_admin = me.data()["_id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/admin/users/{first_admin}"),
        Some(&a_token),
        json!({"role": "customer"}),
    )
    .await
    .expect(200);

    for round in 0..20 {
        let change = if round % 2 == 0 {
            json!({"role": "customer"})
        } else {
            json!({"isActive": false})
        };
        // Every other round both requests queue behind the admins' rows and go on together.
        let held = if round % 4 >= 2 {
            Some(
                hold(
                    &app,
                    "SELECT id FROM users WHERE role = 'admin' AND is_active AND id <> $1
                     ORDER BY id FOR NO KEY UPDATE",
                    &first_admin,
                )
                .await,
            )
        } else {
            None
        };
        let mut tasks = Vec::new();
        for (token, target) in [(&a_token, &b), (&b_token, &a)] {
            let (client, url, token, change) = (
                app.client.clone(),
                app.url(&format!("/admin/users/{target}")),
                token.clone(),
                change.clone(),
            );
            tasks.push(tokio::spawn(async move {
                send(&client, reqwest::Method::PATCH, url, &token, change).await
            }));
        }
        let queued = held.is_some();
        if let Some(held) = held {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            held.release().await;
        }
        let mut succeeded = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                200 => succeeded += 1,
                401 | 403 | 409 => {
                    assert_eq!(body["success"], json!(false), "{body}");
                    if queued {
                        // Both got past the token check while the other was still an admin: the
                        // check inside the write is what refused this one.
                        assert_eq!(status, 403, "round {round}: {body}");
                        assert!(
                            body["message"]
                                .as_str()
                                .unwrap()
                                .contains("no longer an active admin"),
                            "round {round}: {body}"
                        );
                    }
                }
                other => panic!("round {round}: unexpected {other}: {body}"),
            }
        }
        assert_eq!(
            succeeded, 1,
            "round {round}: exactly one of the two demotions is made"
        );
        let remaining = [
            is_active_admin(&app, &a).await,
            is_active_admin(&app, &b).await,
        ];
        assert!(
            remaining.contains(&true),
            "round {round}: no active admin left"
        );
        a_token = restore_admin(&app, &a).await;
        b_token = restore_admin(&app, &b).await;
    }

    // An admin may not demote or deactivate themself.
    for change in [json!({"role": "customer"}), json!({"isActive": false})] {
        let refused = app
            .patch(&format!("/admin/users/{a}"), Some(&a_token), change)
            .await
            .expect(409);
        assert!(refused.body["message"]
            .as_str()
            .unwrap()
            .contains("your own account"));
    }
    assert!(is_active_admin(&app, &a).await);

    // An admin demoted a moment ago can demote nobody, whatever its token still says.
    app.patch(
        &format!("/admin/users/{b}"),
        Some(&a_token),
        json!({"role": "vendor"}),
    )
    .await
    .expect(200);
    let status = app
        .patch(
            &format!("/admin/users/{a}"),
            Some(&b_token),
            json!({"role": "customer"}),
        )
        .await
        .status
        .as_u16();
    assert!(
        status == 403 || status == 401,
        "a demoted admin was obeyed: {status}"
    );
    assert!(is_active_admin(&app, &a).await);
}

/// One number read from the app's database (`$1` the text argument).
async fn count(app: &TestApp, sql: &str, arg: &str) -> i64 {
    match &app.state.store.backend {
        cartwright::store::Backend::Sqlite(db) => sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_one(&db.write)
            .await
            .unwrap(),
        cartwright::store::Backend::Postgres(pool) => sqlx::query_scalar(sql)
            .bind(arg)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

const HOUR_MS: i64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

async fn keyed_order(app: &TestApp, token: &str, key: &str) -> crate::helpers::Resp {
    let resp = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"paymentMethod": "cod"}))
        .send()
        .await
        .unwrap();
    crate::helpers::read(resp).await
}

async fn an_order_refused_for_an_empty_cart_runs_again_with_its_key_once_the_cart_is_filled(
    app: TestApp,
) {
    let product = app.product("Retry Soap", 12.0, 10).await;
    let (_, token) = app.customer("Early Clicker").await;
    app.set_address(&token).await;

    let refused = keyed_order(&app, &token, "checkout-1").await.expect(400);
    assert!(refused.body["message"].as_str().unwrap().contains("empty"));

    app.add_to_cart(&token, &product, 2).await;
    let placed = keyed_order(&app, &token, "checkout-1").await.expect(201);
    assert_eq!(
        placed.headers.get("idempotent-replayed"),
        None,
        "the retry ran, it was not the stored 400"
    );
    assert_eq!(app.product_json(&product).await["stock"], 8);

    // The success is what the key now replays.
    let replayed = keyed_order(&app, &token, "checkout-1").await.expect(201);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(
        replayed.data()["order"]["_id"],
        placed.data()["order"]["_id"]
    );
    assert_eq!(app.product_json(&product).await["stock"], 8);

    // A conflict is an answer a retry would meet again: it is kept and replayed, even after
    // the stock came back.
    app.add_to_cart(&token, &product, 2).await;
    app.patch(
        &format!("/products/{product}"),
        Some(&app.admin_token),
        json!({"stock": 1}),
    )
    .await
    .expect(200);
    let short = keyed_order(&app, &token, "checkout-2")
        .await
        .expect_error(409, "insufficient_stock");
    app.patch(
        &format!("/products/{product}"),
        Some(&app.admin_token),
        json!({"stock": 5}),
    )
    .await
    .expect(200);
    // The replay is the stored answer, code and all.
    let replayed = keyed_order(&app, &token, "checkout-2")
        .await
        .expect_error(409, "insufficient_stock");
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.body, short.body);
}

async fn jobs_purge_idempotency_keys_older_than_a_day_and_keep_newer_ones(app: TestApp) {
    let now = now_ms();
    // More than one batch of aged keys, so the pass has to go on past its first statement.
    let insert = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
         INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, response_status,
                                       response_body, created_at)
         SELECT 'some-user', $1 || i, 'hash', 201, '{}', $2 FROM n";
    app.exec_sql(insert, "aged-", now - DAY_MS - 60_000).await;
    app.exec_sql(insert, "fresh-", now - 23 * HOUR_MS).await;
    // A key a real request stored, aged past the day.
    let product = app.product("Purged Key Balm", 5.0, 10).await;
    let (_, token) = app.customer("Key Holder").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    keyed_order(&app, &token, "real-aged").await.expect(201);
    app.exec_sql(
        "UPDATE idempotency_keys SET created_at = $2 WHERE idempotency_key = $1",
        "real-aged",
        now - DAY_MS - 1,
    )
    .await;

    let keys = "SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key LIKE $1";
    assert_eq!(count(&app, keys, "aged-%").await, 1200);
    cartwright::jobs::run_once(&app.state, now_ms())
        .await
        .unwrap();
    assert_eq!(count(&app, keys, "aged-%").await, 0);
    assert_eq!(count(&app, keys, "real-aged").await, 0);
    assert_eq!(count(&app, keys, "fresh-%").await, 1200);
}

async fn jobs_purge_webhook_events_older_than_thirty_days_and_finished_rate_limit_windows(
    app: TestApp,
) {
    let now = now_ms();
    let insert = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
         INSERT INTO webhook_events (event_id, event_type, received_at)
         SELECT $1 || i, 'payment.captured', $2 FROM n";
    app.exec_sql(insert, "evt_old_", now - 31 * DAY_MS).await;
    app.exec_sql(insert, "evt_recent_", now - 29 * DAY_MS).await;
    let counters = "INSERT INTO rate_limits (bucket, client, window_start, count)
         VALUES ('auth', $1, $2, 3)";
    app.exec_sql(counters, "10.0.0.1", now - 3 * 60_000).await;
    app.exec_sql(counters, "10.0.0.2", now).await;

    cartwright::jobs::run_once(&app.state, now_ms())
        .await
        .unwrap();

    let events = "SELECT COUNT(*) FROM webhook_events WHERE event_id LIKE $1";
    assert_eq!(count(&app, events, "evt_old_%").await, 0);
    assert_eq!(count(&app, events, "evt_recent_%").await, 700);
    let windows = "SELECT COUNT(*) FROM rate_limits WHERE client = $1";
    if app.db == Db::Postgres {
        // The shared limiter's counters (SQLite's limiter counts in process and has none).
        assert_eq!(
            count(&app, windows, "10.0.0.1").await,
            0,
            "a finished window"
        );
    }
    assert_eq!(
        count(&app, windows, "10.0.0.2").await,
        1,
        "the current window"
    );
}
