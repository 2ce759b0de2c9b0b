//! Regression tests for the fault-handling defects of issue 23: lost database connections and a
//! locked database are 503s with `Retry-After`, idempotency refusals say when to retry, expiry
//! never cancels an order whose payment it could not learn, a failed SQLite COMMIT does not
//! block later writes, a refund is sent by one party at a time, and a database that stops
//! answering is a prompt 503.

use crate::api_tests;
use crate::helpers::{Db, TestApp};
use axum::response::IntoResponse;
use cartwright::error::Error;
use serde_json::json;
use std::time::{Duration, Instant};

api_tests!(
    lost_connections_and_a_locked_database_are_503_with_retry_after,
    idempotency_conflict_says_when_the_claim_can_be_reclaimed,
    request_stopped_by_the_timeout_says_when_to_retry,
);

crate::db_tests!(
    expiry_never_cancels_an_order_whose_payment_it_could_not_apply,
    a_new_refund_is_sent_by_one_party_at_a_time,
    a_capture_cut_short_by_the_request_time_can_be_retried_at_once,
    a_committed_cancel_is_answered_as_committed_while_its_refund_hangs,
);

/// Tests of SQLite's single writer connection; PostgreSQL has no such connection.
macro_rules! sqlite_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite).await;
                    super::$name(app.expect("the test app starts")).await;
                }
            }
        )*
    };
}

sqlite_tests!(
    a_failed_commit_does_not_block_later_writes,
    ready_checks_the_sqlite_writer,
);

/// The answer an error becomes: its status and its `Retry-After` in seconds, if any.
fn answer(err: sqlx::Error) -> (u16, Option<u64>) {
    let response = Error::from(err).into_response();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status().as_u16(), retry_after)
}

async fn lost_connections_and_a_locked_database_are_503_with_retry_after(app: TestApp) {
    use sqlx::{Connection, Executor};
    for kind in [
        std::io::ErrorKind::ConnectionReset,
        std::io::ErrorKind::UnexpectedEof,
        std::io::ErrorKind::BrokenPipe,
    ] {
        let lost = sqlx::Error::Io(std::io::Error::new(kind, "connection lost"));
        assert_eq!(answer(lost), (503, Some(1)), "{kind:?}");
    }
    match app.db {
        Db::Sqlite => {
            let cartwright::config::DatabaseUrl::Sqlite(path) = &app.config.database else {
                unreachable!()
            };
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(Duration::ZERO);
            let mut holder = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            holder.execute("BEGIN IMMEDIATE").await.unwrap();
            let mut other = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            let locked = other.execute("BEGIN IMMEDIATE").await.unwrap_err();
            assert!(locked.to_string().contains("locked"), "{locked}");
            assert_eq!(answer(locked), (503, Some(1)));
            holder.execute("ROLLBACK").await.unwrap();
            // A bug is still a 500.
            let bug = other
                .execute("SELECT * FROM no_such_table")
                .await
                .unwrap_err();
            assert_eq!(answer(bug), (500, None));
        }
        Db::Postgres => {
            let url = crate::helpers::test_database_url();
            let mut victim = sqlx::PgConnection::connect(&url).await.unwrap();
            let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
                .fetch_one(&mut victim)
                .await
                .unwrap();
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(&mut admin)
                .await
                .unwrap();
            // The server ended the session (57P01, or the connection is simply gone).
            let shut = sqlx::query("SELECT 1")
                .execute(&mut victim)
                .await
                .unwrap_err();
            assert_eq!(answer(shut), (503, Some(1)));
            let bug = sqlx::query("SELECT * FROM no_such_table")
                .execute(&mut admin)
                .await
                .unwrap_err();
            assert_eq!(answer(bug), (500, None));
        }
    }
}

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

fn retry_after(resp: &crate::helpers::Resp) -> u64 {
    resp.headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}: {}", resp.status, resp.body))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn idempotency_conflict_says_when_the_claim_can_be_reclaimed(app: TestApp) {
    let app = TestApp::spawn_with(app.db, &[("REQUEST_TIMEOUT_SECONDS", "3")])
        .await
        .unwrap();
    let product = app.product("Keyed Fault", 10.0, 10).await;
    let (_, token) = app.customer("Keyed").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    let key = format!("busy-{}", crate::helpers::unique());
    keyed_order(&app, &token, &key).await.expect(201);
    // Claimed a second ago and unfinished: its request may still be running for 2 s more, and
    // the claim is reclaimable 2 s (the margin) after that.
    let now = chrono::Utc::now().timestamp_millis();
    app.exec_sql(
        "UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, created_at = $2
         WHERE idempotency_key = $1",
        &key,
        now - 1_000,
    )
    .await;
    app.add_to_cart(&token, &product, 1).await;
    let busy = keyed_order(&app, &token, &key)
        .await
        .expect_error(409, "idempotency_in_progress");
    let wait = retry_after(&busy);
    assert!((3..=5).contains(&wait), "Retry-After {wait}");
    // Retrying when told to runs the request.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    keyed_order(&app, &token, &key).await.expect(201);
}

async fn request_stopped_by_the_timeout_says_when_to_retry(app: TestApp) {
    let fake = crate::fake_razorpay::FakeRazorpay::start(
        "rzp_test_FaultSlow01",
        "slow_key_secret",
        "slow_hook_secret",
    )
    .await;
    let base = fake.base_url();
    let app = TestApp::spawn_with(
        app.db,
        &[
            ("PAYMENT_GATEWAY", "razorpay"),
            ("RAZORPAY_KEY_ID", "rzp_test_FaultSlow01"),
            ("RAZORPAY_KEY_SECRET", "slow_key_secret"),
            ("RAZORPAY_WEBHOOK_SECRET", "slow_hook_secret"),
            ("RAZORPAY_API_BASE", base.as_str()),
            ("RAZORPAY_TIMEOUT_MS", "20000"),
            ("REQUEST_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await
    .unwrap();
    let product = app.product("Slow Fault Item", 10.0, 10).await;
    let (_, token) = app.customer("Patient").await;
    app.add_to_cart(&token, &product, 1).await;
    app.set_address(&token).await;
    fake.hang_next_on("POST", "/orders", 1, Duration::from_secs(8));
    let key = format!("slow-{}", crate::helpers::unique());
    let checkout = || async {
        let resp = app
            .client
            .post(app.url("/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", &key)
            .json(&json!({"paymentMethod": "razorpay"}))
            .send()
            .await
            .unwrap();
        crate::helpers::read(resp).await
    };
    let stopped = checkout().await.expect(503);
    // Stopped by the deadline: the gateway call gives up in the time left (the gateway is
    // unavailable to this request), or the server's own timeout answers.
    assert!(
        ["service_unavailable", "request_timeout"]
            .contains(&stopped.body["code"].as_str().unwrap()),
        "{}",
        stopped.body
    );
    let answered = Instant::now();
    let wait = retry_after(&stopped);
    assert!((1..=4).contains(&wait), "Retry-After {wait}");
    // Retrying when told to runs the request rather than meeting the dead request's claim.
    tokio::time::sleep(Duration::from_secs(wait).saturating_sub(answered.elapsed())).await;
    checkout().await.expect(201);
}

/// One nullable integer read from the app's database (`sql` takes the text argument `$1`).
async fn read_i64(app: &TestApp, sql: &str, arg: &str) -> Option<i64> {
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

async fn order_status(app: &TestApp, token: &str, order_id: &str) -> String {
    app.get(&format!("/orders/{order_id}"), Some(token))
        .await
        .expect(200)
        .data()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn expiry_never_cancels_an_order_whose_payment_it_could_not_apply(db: Db) {
    let Some((fake, app)) = crate::razorpay_shop::shop(db, &[]).await else {
        return;
    };
    let product = app.product("Authorized Elsewhere", 20.0, 10).await;
    let (_, token) = app.customer("Authorized").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    // The customer paid: Razorpay holds an authorized payment, but capturing it fails for now.
    let (payment_id, _) = fake.authorize(&gateway_order);
    let capture = format!("/payments/{payment_id}/capture");
    let now = chrono::Utc::now().timestamp_millis();
    let flagged = "SELECT payment_unresolved_at FROM orders WHERE id = $1";

    fake.fail_next_on("POST", &capture, 3, 500);
    let expired = cartwright::jobs::expire_unpaid_orders(&app.state, now + 31 * 60 * 1000)
        .await
        .unwrap();
    assert_eq!(expired, 0);
    assert_eq!(order_status(&app, &token, &order_id).await, "pending");
    assert_eq!(read_i64(&app, flagged, &order_id).await, None);
    assert_eq!(app.product_json(&product).await["availableStock"], 9);

    // Still unknown a day past the deadline: flagged for an admin, still not cancelled.
    fake.fail_next_on("POST", &capture, 3, 500);
    let later = now + 25 * 60 * 60 * 1000;
    cartwright::jobs::expire_unpaid_orders(&app.state, later)
        .await
        .unwrap();
    assert_eq!(order_status(&app, &token, &order_id).await, "pending");
    assert_eq!(read_i64(&app, flagged, &order_id).await, Some(later));

    // The gateway recovered: the next pass captures and confirms.
    cartwright::jobs::expire_unpaid_orders(&app.state, later + 60_000)
        .await
        .unwrap();
    assert_eq!(order_status(&app, &token, &order_id).await, "confirmed");
    assert_eq!(fake.payment(&payment_id).unwrap().status, "captured");
}

fn sqlite_writer(app: &TestApp) -> &sqlx::SqlitePool {
    match &app.state.store.backend {
        cartwright::store::Backend::Sqlite(db) => &db.write,
        cartwright::store::Backend::Postgres(_) => unreachable!("a SQLite test"),
    }
}

async fn a_failed_commit_does_not_block_later_writes(app: TestApp) {
    let product = app.product("Commit Probe", 10.0, 10).await;
    let (at_commit_id, at_commit) = app.customer("Fails At Commit").await;
    let (rolled_back_id, rolled_back) = app.customer("Rolled Back By SQLite").await;
    let (_, healthy) = app.customer("Healthy").await;
    // The first customer's checkout fails at its COMMIT (a deferred foreign key is only checked
    // then). The second's is rolled back by SQLite itself mid-way, as SQLite does when a COMMIT
    // fails for a full disk or an I/O error: the ROLLBACK that follows then fails too ("no
    // transaction is active").
    sqlx::raw_sql(&format!(
        "CREATE TABLE fault_parent (id INTEGER PRIMARY KEY);
         CREATE TABLE fault_child (parent INTEGER REFERENCES fault_parent (id) DEFERRABLE INITIALLY DEFERRED);
         CREATE TRIGGER fault_at_commit AFTER INSERT ON orders WHEN NEW.user_id = '{at_commit_id}'
         BEGIN INSERT INTO fault_child (parent) VALUES (42); END;
         CREATE TRIGGER fault_rolled_back AFTER INSERT ON orders WHEN NEW.user_id = '{rolled_back_id}'
         BEGIN SELECT RAISE(ROLLBACK, 'disk I/O error (simulated)'); END;"
    ))
    .execute(sqlite_writer(&app))
    .await
    .unwrap();
    for token in [&at_commit, &rolled_back] {
        let failed = app.checkout(token, &product, 1, "cod").await;
        assert!(
            failed.status.is_server_error(),
            "{}: {}",
            failed.status,
            failed.body
        );
        // Nothing of it stayed, and the next writes go through without a restart.
        assert_eq!(app.product_json(&product).await["stock"], 10);
        app.get("/ready", None).await.expect(200);
        let cart = app.get("/cart", Some(token)).await.expect(200);
        assert_eq!(cart.data()["items"].as_array().unwrap().len(), 1);
    }
    let started = Instant::now();
    app.cod_order(&healthy, &product, 2).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.product_json(&product).await["stock"], 8);
}

async fn ready_checks_the_sqlite_writer(app: TestApp) {
    app.get("/ready", None).await.expect(200);
    // The writer does not answer (here: held by someone else the whole time).
    let held = sqlite_writer(&app).acquire().await.unwrap();
    let started = Instant::now();
    app.get("/ready", None).await.expect(503);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(held);
    app.get("/ready", None).await.expect(200);
}

async fn a_new_refund_is_sent_by_one_party_at_a_time(db: Db) {
    let Some((fake, app)) = crate::razorpay_shop::shop(db, &[]).await else {
        return;
    };
    let product = app.product("Refunded Once", 50.0, 10).await;
    let (_, token) = app.customer("Cancels").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
    )
    .await
    .expect(200);
    // Razorpay is slow to answer the refund the cancel sends; meanwhile the refund job passes.
    let refund_path = format!("/payments/{payment_id}/refund");
    fake.hang_next_on("POST", &refund_path, 1, Duration::from_millis(1200));
    let cancel_path = format!("/orders/{order_id}/cancel");
    let cancel = app.patch(
        &cancel_path,
        Some(&token),
        json!({"reason": "Changed my mind"}),
    );
    let job = async {
        let deadline = Instant::now() + Duration::from_secs(5);
        while fake.request_count_for("POST", &refund_path) == 0 {
            assert!(
                Instant::now() < deadline,
                "the cancel never sent its refund"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cartwright::jobs::resend_refunds(&app.state, chrono::Utc::now().timestamp_millis())
            .await
            .unwrap();
    };
    let (cancelled, ()) = tokio::join!(cancel, job);
    cancelled.expect(200);
    assert_eq!(fake.request_count_for("POST", &refund_path), 1);
    let refunds: Vec<_> = fake
        .refunds()
        .into_iter()
        .filter(|r| r.payment_id == payment_id)
        .collect();
    assert_eq!(refunds.len(), 1);
}

/// A shop whose requests may run 2 s while one Razorpay call may take 20 s.
async fn short_request_shop(db: Db) -> (crate::fake_razorpay::FakeRazorpay, TestApp) {
    crate::razorpay_shop::shop(
        db,
        &[
            ("REQUEST_TIMEOUT_SECONDS", "2"),
            ("RAZORPAY_TIMEOUT_MS", "20000"),
        ],
    )
    .await
    .unwrap()
}

async fn a_capture_cut_short_by_the_request_time_can_be_retried_at_once(db: Db) {
    let (fake, app) = short_request_shop(db).await;
    let product = app.product("Slow Capture", 20.0, 10).await;
    let (_, token) = app.customer("Captured").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.authorize(&gateway_order);
    // Razorpay does not answer this capture within the request's time (nor captures meanwhile).
    fake.hang_next_on(
        "POST",
        &format!("/payments/{payment_id}/capture"),
        1,
        Duration::from_secs(60),
    );
    let verify = json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature});
    let started = Instant::now();
    app.post("/orders/verify-payment", Some(&token), verify.clone())
        .await
        .expect(503);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    // Razorpay answers again: the retry captures at once rather than waiting on the claim of
    // the request that ran out of time.
    app.post("/orders/verify-payment", Some(&token), verify)
        .await
        .expect(200);
    assert_eq!(order_status(&app, &token, &order_id).await, "confirmed");
}

async fn a_committed_cancel_is_answered_as_committed_while_its_refund_hangs(db: Db) {
    let (fake, app) = short_request_shop(db).await;
    let product = app.product("Slow Refund", 50.0, 10).await;
    let (_, token) = app.customer("Cancels").await;
    let (order_id, gateway_order) = app.unpaid_order(&token, &product, 1).await;
    let (payment_id, signature) = fake.pay(&gateway_order);
    app.post(
        "/orders/verify-payment",
        Some(&token),
        json!({"orderId": gateway_order, "paymentId": payment_id, "signature": signature}),
    )
    .await
    .expect(200);
    fake.hang_next_on(
        "POST",
        &format!("/payments/{payment_id}/refund"),
        1,
        Duration::from_secs(4),
    );
    let started = Instant::now();
    let cancelled = app
        .patch(
            &format!("/orders/{order_id}/cancel"),
            Some(&token),
            json!({"reason": "Changed my mind"}),
        )
        .await
        .expect(200);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cancelled.data()["status"], "cancelled");
    assert_eq!(app.product_json(&product).await["availableStock"], 10);
    // The refund job sends the refund (with its idempotency key, so once) when Razorpay answers.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let later = chrono::Utc::now().timestamp_millis() + 60 * 60 * 1000;
        cartwright::jobs::resend_refunds(&app.state, later)
            .await
            .unwrap();
        let order = app
            .get(&format!("/orders/{order_id}"), Some(&token))
            .await
            .expect(200);
        if order.data()["paymentDetails"]["status"] == "refunded" {
            break;
        }
        assert!(Instant::now() < deadline, "never refunded: {}", order.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let refunds = fake
        .refunds()
        .into_iter()
        .filter(|r| r.payment_id == payment_id)
        .count();
    assert_eq!(refunds, 1);
}
