//! SQL statements per request on the hot path: `GET /cart` and `POST /orders` (cash on delivery
//! and online), counted on SQLite and PostgreSQL and held to a budget.
//!
//! sqlx reports every statement it executes as a `tracing` event with target `sqlx::query` (DEBUG
//! by default; sqlx-core 0.8 `QueryLogger::finish`). A layer installed as the global subscriber of
//! this test binary counts those events while a request is measured. The binary holds a single
//! test so nothing else runs statements in the measured window; the app runs in-process with its
//! background jobs off. Transaction control is logged unevenly by sqlx (PostgreSQL logs COMMIT but
//! sends BEGIN unlogged; SQLite logs neither), so counts are of data statements plus COMMIT on
//! PostgreSQL, and each back-end has its own budget.

use cartwright::config::Config;
use cartwright::Application;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

static RECORDING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records the summary of each `sqlx::query` event while `RECORDING` is set.
struct StatementCounter;

impl<S: tracing::Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" || !RECORDING.load(Ordering::SeqCst) {
            return;
        }
        let mut summary = Summary(String::new());
        event.record(&mut summary);
        // The change feed reads (and trims) its log on its own clock, not per request (sqlx
        // summaries are cut after a few words, hence the prefixes).
        // Nor is a pool opening a connection (its PRAGMAs), which may fall inside a window.
        if summary.0.starts_with("SELECT seq, payload FROM")
            || summary.0.starts_with("SELECT pg_snapshot_xmin")
            || summary.0.starts_with("DELETE FROM change_log")
            || summary.0.starts_with("PRAGMA ")
        {
            return;
        }
        STATEMENTS.lock().unwrap().push(summary.0);
    }
}

struct Summary(String);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.to_string();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}");
        }
    }
}

/// The statements one request ran.
async fn measure(send: impl std::future::Future<Output = reqwest::Response>) -> Vec<String> {
    STATEMENTS.lock().unwrap().clear();
    RECORDING.store(true, Ordering::SeqCst);
    let response = send.await;
    let status = response.status();
    let body = response.text().await.unwrap();
    RECORDING.store(false, Ordering::SeqCst);
    assert!(status.is_success(), "{status}: {body}");
    std::mem::take(&mut *STATEMENTS.lock().unwrap())
}

/// Per-request budgets. Each is the statement count of the request as written today, itemised so
/// a new statement on the hot path is a deliberate change to this table, with a line of why.
struct Budget {
    get_cart: usize,
    get_cart_hit: usize,
    list_products_miss: usize,
    list_products_hit: usize,
    get_product_hit: usize,
    checkout_cod: usize,
    checkout_online: usize,
    add_item: usize,
}

/// The measured cart: two lines and a discount code, so every per-line and per-code statement
/// shows. Budgets below are for exactly this cart.
const LINES: usize = 2;

/// `GET /cart` when the cart cache (`app::cache::CartCache`) does not hold the caller's cart (just
/// after a write to it), 2 lines + a code without a per-user limit (no transaction, both
/// back-ends):
///   0 auth: the account check is answered by the account cache (`app::cache`), kept by the
///     change feed (it was 1 query per request); an entry is read again at most every 0.9 s per
///     user, the safety net of the one-second promise, so the measured requests come right after
///     an authenticated read (`touch_account`)
///   1 the cart row, its lines joined with their products, the code's row and (for a code with a
///     per-user limit) the caller's uses of it, in one statement (`CART_READ_SQL`); it was 3
const GET_CART: usize = 1;

/// `GET /cart` again, the cart unchanged: priced from the cached snapshot, nothing read.
const GET_CART_HIT: usize = 0;

/// `GET /products?limit=10` the first time (the page and its count), then again while the catalog
/// cache holds the page (nothing), and `GET /products/:id` of a cached product (nothing).
const LIST_PRODUCTS_MISS: usize = 2;
const LIST_PRODUCTS_HIT: usize = 0;
const GET_PRODUCT_HIT: usize = 0;

/// `POST /orders`, cash on delivery, 2 lines + a code, SQLite (no COMMIT logged):
///   0 auth (the account cache)
///   1 the draft before the transaction (`Store::draft_checkout` -> `priced_cart`): cart, lines
///     and code in one statement. Needed for online orders, whose gateway order (and amount) is
///     created before the transaction; for cash on delivery it is redundant with the
///     in-transaction re-read
///   1 in the transaction: the cart, its lines and its code in one statement (`lock_cart`, the
///     cart row locked on PostgreSQL); it was 2
///   3 the code (`reserve_discount_use`): conditional used_count UPDATE returning the rule, the
///     caller's own uses (per-user limit), the discount_uses row
///   1 cod: `finalize_discount_use` flips the row just inserted to 'final'
///   2 stock: one conditional UPDATE per line (LINES); PostgreSQL moves every line in one
///     statement (`store::stock`), so 1 there
///   1 the order row, read back with RETURNING
///   1 its lines, one multi-row INSERT returning them; it was one per line
///   2 history: pending, confirmed
///   1 the "order confirmed" notification
///   1 the receipt email kept in the outbox (CONTRACT §9; composed from the rows in hand, its
///     recipient read by the INSERT itself); the measured products have no vendor, so no
///     vendor email
///   2 empty the cart: DELETE lines, clear the code; one statement on PostgreSQL, so 1 there
///   0 the response view: built from the rows the transaction wrote (it read items and ledger
///     again, 2)
///   = 16 on SQLite, 14 on PostgreSQL (+ its COMMIT)
const CHECKOUT_COD_SQLITE: usize = 16;
const CHECKOUT_COD_POSTGRES: usize = 14;

/// `POST /orders`, online, same cart: the cash-on-delivery list without the discount
/// finalisation, the confirmed history and the notification (-3), with the gateway_order ledger
/// row (+1); the receipt email becomes the "waiting for your payment" email (the same one
/// INSERT): 14 on SQLite, 12 on PostgreSQL (+ its COMMIT).
const CHECKOUT_ONLINE_SQLITE: usize = 14;
const CHECKOUT_ONLINE_POSTGRES: usize = 12;

/// `POST /cart/items` of a product not yet in the cart:
///   0 auth (the account cache)
///   2 SQLite: the cart touched (made or its `updated_at` moved), then the conditional line
///     upsert (which also counts the cart's lines against `CART_MAX_LINES`), in one transaction;
///     PostgreSQL does both in one statement on its own (no BEGIN or COMMIT either: it was 4
///     round trips), so 1 there
///   1 the response: the cart read again (`CART_READ_SQL`), the write having dropped its cache
///     entry
const ADD_ITEM_SQLITE: usize = 3;
const ADD_ITEM_POSTGRES: usize = 2;

fn budget(postgres: bool) -> Budget {
    // sqlx logs COMMIT on PostgreSQL only (and BEGIN on neither).
    let (cod, online) = if postgres {
        (CHECKOUT_COD_POSTGRES + 1, CHECKOUT_ONLINE_POSTGRES + 1)
    } else {
        (CHECKOUT_COD_SQLITE, CHECKOUT_ONLINE_SQLITE)
    };
    Budget {
        get_cart: GET_CART,
        get_cart_hit: GET_CART_HIT,
        list_products_miss: LIST_PRODUCTS_MISS,
        list_products_hit: LIST_PRODUCTS_HIT,
        get_product_hit: GET_PRODUCT_HIT,
        checkout_cod: cod,
        checkout_online: online,
        add_item: if postgres {
            ADD_ITEM_POSTGRES
        } else {
            ADD_ITEM_SQLITE
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

struct Shop {
    address: String,
    client: reqwest::Client,
    admin: String,
    _dir: TempDir,
    pg_schema: Option<(String, String)>,
}

impl Shop {
    async fn start(db: Db) -> Option<Shop> {
        let dir = TempDir::new();
        let mut pg_schema = None;
        let database_url = match db {
            Db::Sqlite => format!("sqlite://{}", dir.0.join("budget.db").display()),
            Db::Postgres => {
                // Without a server the budget fails: it must never pass without being measured.
                let base = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
                    panic!(
                        "TEST_DATABASE_URL is not set, so the PostgreSQL budget cannot be \
                         measured: use scripts/test or set TEST_DATABASE_URL"
                    )
                });
                use sqlx::Connection;
                let schema = format!("b_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let _ = conn.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                pg_schema = Some((base, schema));
                url
            }
        };
        let vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url.as_str()),
            ("PORT", "0"),
            ("DATA_DIR", dir.0.to_str().unwrap()),
            ("JWT_SECRET", "budget-secret-budget-secret-budget-0123"),
            ("ADMIN_EMAIL", "admin@test.local"),
            ("ADMIN_PASSWORD", "admin-password-1"),
            ("DEMO_DATA", "false"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "100000"),
            ("JOBS_ENABLED", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let app = Application::build(Config::from_map(&vars).unwrap())
            .await
            .expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until(std::future::pending()));
        let mut shop = Shop {
            address,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            admin: String::new(),
            _dir: dir,
            pg_schema,
        };
        shop.admin = shop
            .call(
                "POST",
                "/auth/login",
                None,
                json!({"email": "admin@test.local", "password": "admin-password-1"}),
            )
            .await["token"]
            .as_str()
            .unwrap()
            .to_string();
        Some(shop)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut builder = self
            .client
            .request(method.clone(), format!("{}{path}", self.address));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if method != reqwest::Method::GET {
            builder = builder.json(&body);
        }
        builder
    }

    /// Sends a request that must succeed; returns its `data`.
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Value {
        let response = self
            .request(method, path, token, body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body["data"].clone()
    }

    /// A customer with `LINES` lines, an address and a discount code in the cart.
    async fn customer_with_cart(&self, products: &[String], n: usize) -> String {
        let data = self
            .call(
                "POST",
                "/auth/register",
                None,
                json!({"name": "Budget", "email": format!("budget{n}-{}@example.com", uuid::Uuid::new_v4().simple()), "password": "password123"}),
            )
            .await;
        let token = data["token"].as_str().unwrap().to_string();
        self.fill_cart(&token, products).await;
        token
    }

    /// An authenticated read, so that the account cache holds the caller fresh for the request
    /// measured next (an entry is refilled, with one query, at most every 0.9 s per user).
    async fn touch_account(&self, token: &str) {
        self.call("GET", "/auth/me", Some(token), Value::Null).await;
    }

    async fn fill_cart(&self, token: &str, products: &[String]) {
        for product in products {
            self.call(
                "POST",
                "/cart/items",
                Some(token),
                json!({"productId": product, "quantity": 1}),
            )
            .await;
        }
        self.call(
            "PUT",
            "/cart/shipping-address",
            Some(token),
            json!({"street": "123 Main St", "city": "Mumbai", "state": "Maharashtra", "zipCode": "400001", "phone": "+1234567890"}),
        )
        .await;
        self.call(
            "POST",
            "/cart/discount",
            Some(token),
            json!({"discountCode": "BUDGET10"}),
        )
        .await;
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let Some((base, schema)) = self.pg_schema.take() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("cartwright-budget-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Counts for one back-end: `(GET /cart twice, GET /products?limit=10 twice, GET /products/:id,
/// POST /orders cod, POST /orders online)` and their lists.
async fn count_statements(db: Db) -> Option<[(usize, Vec<String>); 8]> {
    let shop = Shop::start(db).await?;
    shop.call(
        "POST",
        "/admin/discounts",
        Some(&shop.admin),
        json!({"code": "BUDGET10", "type": "percent", "value": 10, "minOrderAmount": 0, "isActive": true}),
    )
    .await;
    let mut products = Vec::new();
    for i in 0..LINES {
        let data = shop
            .call(
                "POST",
                "/products",
                Some(&shop.admin),
                json!({"name": format!("Budget Item {i}"), "price": 10.0, "stock": 1000, "category": "test", "brand": "TestBrand"}),
            )
            .await;
        products.push(data["_id"].as_str().unwrap().to_string());
    }
    // Warm-up: every statement of the measured paths runs once (connections open, statements
    // prepared) before anything is counted.
    let warm = shop.customer_with_cart(&products, 0).await;
    for method in ["cod", "razorpay"] {
        shop.call("GET", "/cart", Some(&warm), Value::Null).await;
        shop.call(
            "POST",
            "/orders",
            Some(&warm),
            json!({"paymentMethod": method}),
        )
        .await;
        shop.fill_cart(&warm, &products).await;
    }

    let token = shop.customer_with_cart(&products, 1).await;
    // Let the change feed deliver what filling the cart changed (the SQLite feed reads its log
    // every 50 ms), so nothing drops the cached cart between the two reads.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    shop.touch_account(&token).await;
    let get_cart = measure(async {
        shop.request("GET", "/cart", Some(&token), Value::Null)
            .send()
            .await
            .unwrap()
    })
    .await;
    let get_cart_hit = measure(async {
        shop.request("GET", "/cart", Some(&token), Value::Null)
            .send()
            .await
            .unwrap()
    })
    .await;
    // Let the change feed deliver what the warm-up changed (the SQLite feed reads its log every
    // 50 ms), so nothing empties the catalog cache between the two list reads.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let list_miss = measure(async {
        shop.request("GET", "/products?limit=10", None, Value::Null)
            .send()
            .await
            .unwrap()
    })
    .await;
    let list_hit = measure(async {
        shop.request("GET", "/products?limit=10", None, Value::Null)
            .send()
            .await
            .unwrap()
    })
    .await;
    shop.call(
        "GET",
        &format!("/products/{}", products[0]),
        None,
        Value::Null,
    )
    .await;
    let product_hit = measure(async {
        shop.request(
            "GET",
            &format!("/products/{}", products[0]),
            None,
            Value::Null,
        )
        .send()
        .await
        .unwrap()
    })
    .await;
    shop.touch_account(&token).await;
    let cod = measure(async {
        shop.request(
            "POST",
            "/orders",
            Some(&token),
            json!({"paymentMethod": "cod"}),
        )
        .send()
        .await
        .unwrap()
    })
    .await;
    shop.fill_cart(&token, &products).await;
    shop.touch_account(&token).await;
    let online = measure(async {
        shop.request(
            "POST",
            "/orders",
            Some(&token),
            json!({"paymentMethod": "razorpay"}),
        )
        .send()
        .await
        .unwrap()
    })
    .await;
    shop.touch_account(&token).await;
    let add_item = measure(async {
        shop.request(
            "POST",
            "/cart/items",
            Some(&token),
            json!({"productId": products[0], "quantity": 1}),
        )
        .send()
        .await
        .unwrap()
    })
    .await;
    Some([
        (get_cart.len(), get_cart),
        (get_cart_hit.len(), get_cart_hit),
        (list_miss.len(), list_miss),
        (list_hit.len(), list_hit),
        (product_hit.len(), product_hit),
        (cod.len(), cod),
        (online.len(), online),
        (add_item.len(), add_item),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_paths_stay_within_their_statement_budget() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(StatementCounter))
        .expect("this test binary installs the only subscriber");
    let mut failures = Vec::new();
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(measured) = count_statements(db).await else {
            continue;
        };
        let budget = budget(db == Db::Postgres);
        for ((count, statements), (name, limit)) in measured.iter().zip([
            ("GET /cart (cache miss)", budget.get_cart),
            ("GET /cart (cache hit)", budget.get_cart_hit),
            (
                "GET /products?limit=10 (cache miss)",
                budget.list_products_miss,
            ),
            (
                "GET /products?limit=10 (cache hit)",
                budget.list_products_hit,
            ),
            ("GET /products/:id (cache hit)", budget.get_product_hit),
            ("POST /orders cod", budget.checkout_cod),
            ("POST /orders online", budget.checkout_online),
            ("POST /cart/items", budget.add_item),
        ]) {
            eprintln!(
                "{db:?} {name}: {count} statements (budget {limit})\n  {}",
                statements.join("\n  ")
            );
            if *count == 0 && limit > 0 {
                // Zero is never the real cost of a request that reads: the counting itself is
                // broken. (Cache hits cost nothing by design; the misses measured in the same run
                // prove the counter works.)
                failures.push(format!(
                    "{db:?} {name}: counted no statements at all, so nothing was measured"
                ));
            }
            if *count < limit {
                eprintln!("  {db:?} {name} is under budget: lower the budget to {count}");
            }
            if *count > limit {
                failures.push(format!(
                    "{db:?} {name}: {count} statements, budget {limit}:\n  {}",
                    statements.join("\n  ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
