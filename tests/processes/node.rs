//! Test harness for the real `cartwright` binary: each `Node` is a child process on a free port of
//! 127.0.0.1, started with an explicit environment (nothing inherited, no `.env`), and killed when
//! the guard is dropped, also when the test panics. `Database` is the storage a test owns: a
//! temporary SQLite file or a fresh PostgreSQL schema, removed at the end.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@test.local";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const JWT_SECRET: &str = "processes-secret-processes-secret-0123";

/// How long a node may take from spawn to answering `/ready` (migrations, admin bootstrap).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A process-unique suffix for names, e-mails and schemas.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// A temporary folder removed when the test ends.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("cartwright-proc-{}", unique()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The database a test owns, and a direct sqlx connection to it for checking invariants.
pub struct Database {
    /// `DATABASE_URL` for the nodes.
    pub url: String,
    pub dir: TempDir,
    pg_schema: Option<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Database {
    /// A fresh database. For PostgreSQL `TEST_DATABASE_URL` must be set: without it the test
    /// fails (it never passes untested). Always `Some`; the `Option` keeps callers unchanged.
    pub async fn new(kind: Kind) -> Option<Database> {
        let dir = TempDir::new();
        match kind {
            Kind::Sqlite => Some(Database {
                url: format!("sqlite://{}", dir.path.join("shop.db").display()),
                dir,
                pg_schema: None,
            }),
            Kind::Postgres => {
                // A PostgreSQL test without a server fails: it must never pass without running.
                let base = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
                    panic!(
                        "TEST_DATABASE_URL is not set, so this PostgreSQL test cannot run: use \
                         scripts/test (it starts a throwaway PostgreSQL) or set TEST_DATABASE_URL"
                    )
                });
                use sqlx::Connection;
                let schema = format!("p_{}", unique());
                let mut conn = sqlx::PgConnection::connect(&base)
                    .await
                    .expect("connecting to TEST_DATABASE_URL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await
                    .expect("creating test schema");
                let _ = conn.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                Some(Database {
                    url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                    dir,
                    pg_schema: Some((base, schema)),
                })
            }
        }
    }

    pub fn kind(&self) -> Kind {
        if self.pg_schema.is_some() {
            Kind::Postgres
        } else {
            Kind::Sqlite
        }
    }

    /// A direct connection for reading state and ageing data behind the nodes' backs.
    pub async fn connect(&self) -> Sql {
        match self.kind() {
            Kind::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .busy_timeout(Duration::from_secs(10));
                Sql::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(options)
                        .await
                        .expect("opening the SQLite database"),
                )
            }
            Kind::Postgres => Sql::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&self.url)
                    .await
                    .expect("connecting to the test schema"),
            ),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some((base, schema)) = self.pg_schema.take() else {
            return;
        };
        // Drop may run inside the test's runtime, so the clean-up gets a small runtime of its own.
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

/// A direct sqlx pool on the test's database. Statements use `$n` placeholders and types both
/// back-ends read the same way (sums are cast to BIGINT: PostgreSQL's SUM of BIGINT is NUMERIC).
pub enum Sql {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Sql {
    /// Runs a statement with text arguments; returns the rows affected.
    pub async fn execute(&self, sql: &str, args: &[&str]) -> u64 {
        match self {
            Sql::Sqlite(pool) => {
                let mut query = sqlx::query(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.execute(pool).await.unwrap().rows_affected()
            }
            Sql::Postgres(pool) => {
                let mut query = sqlx::query(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.execute(pool).await.unwrap().rows_affected()
            }
        }
    }

    /// Rows of one text column and two integer columns.
    pub async fn rows(&self, sql: &str, args: &[&str]) -> Vec<(String, i64, i64)> {
        match self {
            Sql::Sqlite(pool) => {
                let mut query = sqlx::query_as(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_all(pool).await.unwrap()
            }
            Sql::Postgres(pool) => {
                let mut query = sqlx::query_as(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_all(pool).await.unwrap()
            }
        }
    }

    /// Rows of two text columns.
    pub async fn pairs(&self, sql: &str, args: &[&str]) -> Vec<(String, String)> {
        match self {
            Sql::Sqlite(pool) => {
                let mut query = sqlx::query_as(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_all(pool).await.unwrap()
            }
            Sql::Postgres(pool) => {
                let mut query = sqlx::query_as(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_all(pool).await.unwrap()
            }
        }
    }

    /// One integer.
    pub async fn count(&self, sql: &str, args: &[&str]) -> i64 {
        match self {
            Sql::Sqlite(pool) => {
                let mut query = sqlx::query_as::<_, (i64,)>(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_one(pool).await.unwrap().0
            }
            Sql::Postgres(pool) => {
                let mut query = sqlx::query_as::<_, (i64,)>(sql);
                for arg in args {
                    query = query.bind(*arg);
                }
                query.fetch_one(pool).await.unwrap().0
            }
        }
    }

    pub async fn close(self) {
        match self {
            Sql::Sqlite(pool) => pool.close().await,
            Sql::Postgres(pool) => pool.close().await,
        }
    }
}

/// A running `cartwright serve` child process. Dropping it kills the process (SIGKILL).
pub struct Node {
    pub name: String,
    pub base: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Starts a node on `database` with the test defaults plus `extra`, and waits until `/ready`
    /// answers 200. A port taken between choosing and binding is retried with another.
    pub async fn start(name: &str, database: &Database, extra: &[(&str, &str)]) -> Node {
        let mut last_error = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let log = database.dir.path.join(format!("{name}-{attempt}.log"));
            let mut vars: HashMap<&str, String> = [
                ("DATABASE_URL", database.url.clone()),
                ("HOST", "127.0.0.1".into()),
                ("PORT", port.to_string()),
                ("DATA_DIR", database.dir.path.display().to_string()),
                ("JWT_SECRET", JWT_SECRET.into()),
                ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
                ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
                ("DEMO_DATA", "false".into()),
                ("AUTH_RATE_LIMIT_PER_MINUTE", "100000".into()),
                ("DATABASE_MAX_CONNECTIONS", "8".into()),
                ("JOBS_ENABLED", "false".into()),
                ("LOG_FORMAT", "json".into()),
                ("RUST_LOG", "warn,cartwright=info".into()),
            ]
            .into_iter()
            .collect();
            for (k, v) in extra {
                vars.insert(k, v.to_string());
            }
            let out = std::fs::File::create(&log).expect("creating the node log");
            // `CARTWRIGHT_BIN` runs the tests against another build (an earlier release, to see a
            // regression test fail on it).
            let binary = std::env::var("CARTWRIGHT_BIN")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cartwright").to_string());
            let child = Command::new(binary)
                .arg("serve")
                .current_dir(&database.dir.path)
                .env_clear()
                .envs(&vars)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("spawning the cartwright binary");
            let mut node = Node {
                name: name.to_string(),
                base: format!("http://127.0.0.1:{port}"),
                child,
                log,
            };
            match node.wait_ready().await {
                Ok(()) => return node,
                Err(e) => last_error = format!("{e}\n--- log ---\n{}", node.log_tail()),
            }
        }
        panic!("node {name} did not become ready: {last_error}");
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if let Ok(resp) = client
                .get(format!("{}/ready", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                if resp.status() == StatusCode::OK {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err("timed out waiting for /ready".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, no flush, exactly what a crash looks like to the database.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to end (a graceful shutdown); SIGKILL after `within`.
    pub async fn terminate(&mut self, within: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "node {} did not stop within {within:?} of SIGTERM",
            self.name
        );
    }

    /// The node's resident memory in bytes, from `/proc/<pid>/status` (`VmRSS`).
    pub fn rss_bytes(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The most resident memory the node has had since it started (`VmHWM`), in bytes.
    pub fn peak_rss_bytes(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("reading the node's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"));
        kib * 1024
    }

    /// Everything the node logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The node's log events (JSON lines) whose message is `message`.
    pub fn log_events(&self, message: &str) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["message"] == message)
            .collect()
    }

    /// The last lines the node logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            eprintln!(
                "--- last log lines of node {} ---\n{}",
                self.name,
                self.log_tail()
            );
        }
    }
}

/// A port that was free a moment ago; `Node::start` retries if another process takes it first.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A response read whole: status and JSON body (Null when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
}

impl Resp {
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

/// An HTTP client for talking to nodes; any node accepts any token, as they share the secret.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
}

impl Api {
    pub fn new() -> Api {
        Api {
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// Sends a request; a transport error (refused, reset) is `Err`.
    pub async fn try_send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Resp, reqwest::Error> {
        let mut builder = self.client.request(method, url);
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok(Resp {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.try_send(method, url, token, body)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    pub async fn get(&self, node: &Node, path: &str, token: &str) -> Resp {
        self.send(Method::GET, &node.url(path), Some(token), None)
            .await
    }

    pub async fn post(&self, node: &Node, path: &str, token: &str, body: Value) -> Resp {
        self.send(Method::POST, &node.url(path), Some(token), Some(body))
            .await
    }

    pub async fn login(&self, node: &Node, email: &str, password: &str) -> String {
        let resp = self
            .send(
                Method::POST,
                &node.url("/auth/login"),
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await
            .expect(200);
        resp.data()["token"].as_str().unwrap().to_string()
    }

    pub async fn admin_token(&self, node: &Node) -> String {
        self.login(node, ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Registers a customer; returns `(user id, token)`.
    pub async fn customer(&self, node: &Node, name: &str) -> (String, String) {
        let email = format!("{}-{}@example.com", name.to_lowercase(), unique());
        let resp = self
            .send(
                Method::POST,
                &node.url("/auth/register"),
                None,
                Some(json!({"name": name, "email": email, "password": "password123"})),
            )
            .await
            .expect(201);
        (
            resp.data()["user"]["_id"].as_str().unwrap().to_string(),
            resp.data()["token"].as_str().unwrap().to_string(),
        )
    }

    /// Registers `n` customers at once, spread over `nodes`; returns their `(user id, token)`.
    pub async fn customers(
        &self,
        nodes: &[&Node],
        prefix: &str,
        n: usize,
    ) -> Vec<(String, String)> {
        let mut tasks = Vec::new();
        for i in 0..n {
            let api = self.clone();
            let url = nodes[i % nodes.len()].base.clone();
            let name = format!("{prefix}{i}");
            tasks.push(tokio::spawn(async move {
                let node_url = |path: &str| format!("{url}{path}");
                let email = format!("{}-{}@example.com", name.to_lowercase(), unique());
                let resp = api
                    .send(
                        Method::POST,
                        &node_url("/auth/register"),
                        None,
                        Some(json!({"name": name, "email": email, "password": "password123"})),
                    )
                    .await
                    .expect(201);
                (
                    resp.data()["user"]["_id"].as_str().unwrap().to_string(),
                    resp.data()["token"].as_str().unwrap().to_string(),
                )
            }));
        }
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }

    /// Creates an active product as the admin; returns its id.
    pub async fn product(&self, node: &Node, admin: &str, name: &str, stock: i64) -> String {
        let resp = self
            .post(
                node,
                "/products",
                admin,
                json!({"name": name, "price": 10.0, "stock": stock, "category": "test", "brand": "TestBrand"}),
            )
            .await
            .expect(201);
        resp.data()["_id"].as_str().unwrap().to_string()
    }

    pub async fn add_to_cart(&self, node: &Node, token: &str, product_id: &str, quantity: i64) {
        let resp = self
            .post(
                node,
                "/cart/items",
                token,
                json!({"productId": product_id, "quantity": quantity}),
            )
            .await;
        assert!(resp.status < 300, "add to cart: {}", resp.body);
    }

    pub async fn set_address(&self, node: &Node, token: &str) {
        self.send(
            Method::PUT,
            &node.url("/cart/shipping-address"),
            Some(token),
            Some(json!({"street": "123 Main St", "city": "Mumbai", "state": "Maharashtra", "zipCode": "400001", "phone": "+1234567890"})),
        )
        .await
        .expect(200);
    }

    /// Fills the cart with one line and checks out online; returns `(order id, gateway order id)`.
    pub async fn unpaid_order(
        &self,
        node: &Node,
        token: &str,
        product_id: &str,
        quantity: i64,
    ) -> (String, String) {
        self.add_to_cart(node, token, product_id, quantity).await;
        self.set_address(node, token).await;
        let resp = self
            .post(node, "/orders", token, json!({"paymentMethod": "razorpay"}))
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

    /// `(stock, availableStock)` of a product as the admin sees it.
    pub async fn stock(&self, node: &Node, admin: &str, product_id: &str) -> (i64, i64) {
        let product = self
            .get(node, &format!("/products/{product_id}"), admin)
            .await
            .expect(200);
        (
            product.data()["stock"].as_i64().unwrap(),
            product.data()["availableStock"].as_i64().unwrap(),
        )
    }
}

/// The checkout signature the simulated gateway (keyed with `simulated_secret`) expects.
pub fn simulated_signature(gateway_order_id: &str, payment_id: &str) -> String {
    cartwright::payments::hmac_sha256_hex(
        b"simulated_secret",
        format!("{gateway_order_id}|{payment_id}").as_bytes(),
    )
}
