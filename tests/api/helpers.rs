//! Black-box test harness: each test gets the real application on a random port with a fresh
//! database of its own, SQLite or PostgreSQL, and talks to it over HTTP.
//!
//! PostgreSQL tests need `TEST_DATABASE_URL` (a server the tests may create schemas in); without it
//! they fail with a message saying so, never pass untested. `scripts/test` provides one.

use cartwright::config::Config;
use cartwright::Application;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per database for each named `async fn(TestApp)`.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite).await;
                    super::$name(app.expect("the test app starts")).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Db::Postgres).await;
                    super::$name(app.expect("the test app starts")).await;
                }
            }
        )*
    };
}

pub struct TestApp {
    pub address: String,
    /// The running app's state, for tests that drive background jobs or age data directly.
    pub state: cartwright::http::AppState,
    pub db: Db,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub config: Config,
    /// The PostgreSQL schema this test owns, dropped when the test ends.
    pg_schema: Option<(String, String)>,
    _dir: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some((base, schema)) = self.pg_schema.take() else {
            return;
        };
        // Drop runs inside the test's runtime, so the clean-up gets a small runtime of its own.
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

/// A response read in full: status, headers and JSON body (`Value::Null` when not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Asserts a 2xx status in the success envelope.
    #[track_caller]
    pub fn expect_ok(self) -> Self {
        assert!(
            self.status.is_success(),
            "unexpected status {}; body: {}",
            self.status,
            self.body
        );
        assert_eq!(
            self.body["success"],
            json!(true),
            "success envelope: {}",
            self.body
        );
        self
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        if status >= 400 {
            assert_eq!(
                self.body["success"],
                json!(false),
                "error envelope: {}",
                self.body
            );
            assert!(
                self.body["errors"].is_array(),
                "errors must be an array: {}",
                self.body
            );
            assert!(
                self.body["message"].is_string(),
                "message must be a string: {}",
                self.body
            );
            assert!(
                self.body["code"].as_str().is_some_and(|c| !c.is_empty()),
                "every error carries a code: {}",
                self.body
            );
        } else {
            assert_eq!(
                self.body["success"],
                json!(true),
                "success envelope: {}",
                self.body
            );
        }
        self
    }
}

impl Resp {
    /// Asserts an error answer: its status, the envelope and its stable `code`.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let resp = self.expect(status);
        assert_eq!(
            resp.body["code"],
            json!(code),
            "error code; body: {}",
            resp.body
        );
        resp
    }
}

pub const ADMIN_EMAIL: &str = "admin@test.local";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

impl TestApp {
    pub async fn spawn(db: Db) -> Option<TestApp> {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the app with extra configuration variables on top of the test defaults.
    pub async fn spawn_with(db: Db, extra: &[(&str, &str)]) -> Option<TestApp> {
        init_test_logs();
        let dir = TempDir::new();
        let mut pg_schema = None;
        let database_url = match db {
            Db::Sqlite => format!("sqlite://{}", dir.path.join("test.db").display()),
            Db::Postgres => {
                let (url, schema) = postgres_schema_url().await?;
                pg_schema = Some(schema);
                url
            }
        };
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url.as_str()),
            ("PORT", "0"),
            ("DATA_DIR", dir.path.to_str().unwrap()),
            ("JWT_SECRET", "test-secret-test-secret-test-secret-0123"),
            ("ADMIN_EMAIL", ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("DEMO_DATA", "false"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "100000"),
            ("DATABASE_MAX_CONNECTIONS", "8"),
            ("SQLITE_SYNCHRONOUS", "normal"),
            ("JOBS_ENABLED", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_map(&vars).expect("test configuration is valid");
        let app = Application::build(config.clone())
            .await
            .expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        tokio::spawn(app.run_until(std::future::pending()));
        let client = reqwest::Client::builder().build().unwrap();
        let mut test_app = TestApp {
            address,
            state,
            db,
            client,
            admin_token: String::new(),
            config,
            pg_schema,
            _dir: dir,
        };
        test_app.admin_token = test_app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        Some(test_app)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut builder = self.client.request(method, self.url(path));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        read(builder.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::PUT, path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.request(Method::PATCH, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, token, None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let resp = self
            .post(
                "/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await
            .expect(200);
        resp.data()["token"].as_str().unwrap().to_string()
    }

    /// Registers a customer with this name, email and password; returns the token.
    pub async fn register(&self, name: &str, email: &str, password: &str) -> String {
        let resp = self
            .post(
                "/auth/register",
                None,
                json!({"name": name, "email": email, "password": password}),
            )
            .await
            .expect(201);
        resp.data()["token"].as_str().unwrap().to_string()
    }

    /// Registers a new customer and returns `(user id, token)`.
    pub async fn customer(&self, name: &str) -> (String, String) {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "."),
            unique()
        );
        let resp = self
            .post(
                "/auth/register",
                None,
                json!({"name": name, "email": email, "password": "password123"}),
            )
            .await
            .expect(201);
        (
            resp.data()["user"]["_id"].as_str().unwrap().to_string(),
            resp.data()["token"].as_str().unwrap().to_string(),
        )
    }

    /// Creates an active product as the admin (`POST /products`) and returns its id.
    pub async fn product(&self, name: &str, price: f64, stock: i64) -> String {
        self.product_with(json!({"name": name, "price": price, "stock": stock, "category": "test", "brand": "TestBrand"}))
            .await
    }

    /// Creates a product from a full body as the admin and returns its id.
    pub async fn product_with(&self, body: Value) -> String {
        self.product_by(&self.admin_token, body).await
    }

    /// Creates a product from a full body as `token`'s account (an admin or a vendor) and
    /// returns its id.
    pub async fn product_by(&self, token: &str, body: Value) -> String {
        let resp = self.post("/products", Some(token), body).await.expect(201);
        resp.data()["_id"].as_str().unwrap().to_string()
    }

    /// Sets the caller's cart shipping address to a valid Mumbai address.
    pub async fn set_address(&self, token: &str) {
        self.put(
            "/cart/shipping-address",
            Some(token),
            json!({"street": "123 Main St", "city": "Mumbai", "state": "Maharashtra", "zipCode": "400001", "phone": "+1234567890"}),
        )
        .await
        .expect(200);
    }

    pub async fn add_to_cart(&self, token: &str, product_id: &str, quantity: i64) {
        let resp = self
            .post(
                "/cart/items",
                Some(token),
                json!({"productId": product_id, "quantity": quantity}),
            )
            .await;
        assert!(resp.status.is_success(), "add to cart: {}", resp.body);
    }

    /// Fills the cart with one line, sets the address and checks out with `method`.
    pub async fn checkout(
        &self,
        token: &str,
        product_id: &str,
        quantity: i64,
        method: &str,
    ) -> Resp {
        self.add_to_cart(token, product_id, quantity).await;
        self.set_address(token).await;
        self.post("/orders", Some(token), json!({"paymentMethod": method}))
            .await
    }

    /// A cash-on-delivery order (confirmed at once); returns its id.
    pub async fn cod_order(&self, token: &str, product_id: &str, quantity: i64) -> String {
        let resp = self
            .checkout(token, product_id, quantity, "cod")
            .await
            .expect(201);
        resp.data()["order"]["_id"].as_str().unwrap().to_string()
    }

    /// An online order, unpaid; returns `(order id, gateway order id)`.
    pub async fn unpaid_order(
        &self,
        token: &str,
        product_id: &str,
        quantity: i64,
    ) -> (String, String) {
        let resp = self
            .checkout(token, product_id, quantity, "razorpay")
            .await
            .expect(201);
        (
            resp.data()["order"]["_id"].as_str().unwrap().to_string(),
            resp.data()["razorpayOrder"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// An online order paid through `POST /payments` (simulated gateway); returns its id.
    pub async fn paid_order(&self, token: &str, product_id: &str, quantity: i64) -> String {
        let (order_id, _) = self.unpaid_order(token, product_id, quantity).await;
        self.post(
            "/payments",
            Some(token),
            json!({"orderId": order_id, "paymentMethod": "razorpay"}),
        )
        .await
        .expect(200);
        order_id
    }

    /// Moves an order as the admin.
    pub async fn admin_status(&self, order_id: &str, body: Value) -> Resp {
        self.patch(
            &format!("/orders/admin/{order_id}/status"),
            Some(&self.admin_token),
            body,
        )
        .await
    }

    /// Reads a product as the admin.
    pub async fn product_json(&self, product_id: &str) -> Value {
        self.get(&format!("/products/{product_id}"), Some(&self.admin_token))
            .await
            .expect(200)
            .data()
            .clone()
    }

    /// Runs SQL against the app's database (for tests that need to move time, e.g. age a delivery).
    pub async fn exec_sql(&self, sql: &str, text_arg: &str, int_arg: i64) {
        match &self.state.store.backend {
            cartwright::store::Backend::Sqlite(db) => {
                sqlx::query(sql)
                    .bind(text_arg)
                    .bind(int_arg)
                    .execute(&db.write)
                    .await
                    .unwrap();
            }
            cartwright::store::Backend::Postgres(pool) => {
                sqlx::query(sql)
                    .bind(text_arg)
                    .bind(int_arg)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// Runs a `SELECT COUNT(*)` (or any one BIGINT) with one text argument.
    pub async fn query_count(&self, sql: &str, text_arg: &str) -> i64 {
        match &self.state.store.backend {
            cartwright::store::Backend::Sqlite(db) => sqlx::query_scalar(sql)
                .bind(text_arg)
                .fetch_one(&db.write)
                .await
                .unwrap(),
            cartwright::store::Backend::Postgres(pool) => sqlx::query_scalar(sql)
                .bind(text_arg)
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    /// Creates an account of any role through the admin API and returns `(user id, token)`.
    pub async fn user_with_role(&self, name: &str, role: &str) -> (String, String) {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "."),
            unique()
        );
        let resp = self
            .post(
                "/admin/users",
                Some(&self.admin_token),
                json!({"name": name, "email": email, "password": "password123", "role": role}),
            )
            .await
            .expect(201);
        let id = resp.data()["_id"].as_str().unwrap().to_string();
        (id, self.login(&email, "password123").await)
    }

    /// Takes one unit of the product through the public API to a delivered order of the customer:
    /// a cash-on-delivery checkout (confirmed at once), then the admin ships and delivers it.
    /// Returns the order's `_id`.
    pub async fn delivered_order(&self, customer_token: &str, product_id: &str) -> String {
        let order_id = self.cod_order(customer_token, product_id, 1).await;
        self.admin_status(
            &order_id,
            json!({"status": "shipped", "trackingNumber": "TRK1"}),
        )
        .await
        .expect(200);
        self.admin_status(&order_id, json!({"status": "delivered"}))
            .await
            .expect(200);
        order_id
    }
}

pub async fn read(response: reqwest::Response) -> Resp {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body read");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

/// A process-unique suffix for names and e-mails.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// The PostgreSQL server the tests may create schemas in. A PostgreSQL test without one fails:
/// it must never pass without having run. `scripts/test` always provides one.
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_DATABASE_URL is not set, so this PostgreSQL test cannot run: use scripts/test \
             (it starts a throwaway PostgreSQL) or set TEST_DATABASE_URL to a server the tests \
             may create schemas in"
        )
    })
}

/// A fresh schema on the test PostgreSQL server, as a URL whose connections use it.
async fn postgres_schema_url() -> Option<(String, (String, String))> {
    let base = test_database_url();
    use sqlx::Connection;
    let schema = format!("t_{}", unique());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("connecting to TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("creating test schema");
    let _ = conn.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    Some((url, (base, schema)))
}

/// A temporary folder removed when the test ends.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("cartwright-test-{}", unique()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The checkout signature Razorpay (and the simulated gateway, keyed with `simulated_secret`)
/// gives for a payment.
pub fn checkout_signature(gateway_order_id: &str, payment_id: &str) -> String {
    cartwright::payments::hmac_sha256_hex(
        b"simulated_secret",
        format!("{gateway_order_id}|{payment_id}").as_bytes(),
    )
}

/// Errors logged by the app (a 500's cause) show in a failing test's captured output.
fn init_test_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()),
            ))
            .with_test_writer()
            .try_init();
    });
}
