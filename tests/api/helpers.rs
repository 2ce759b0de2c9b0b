//! Black-box test harness: each test gets the real application on a random port with a fresh
//! database of its own, SQLite or PostgreSQL, and talks to it over HTTP.
//!
//! PostgreSQL tests need `TEST_DATABASE_URL` (a server the tests may create schemas in). Without it
//! they are skipped with a notice, unless `CI` is set, where a missing server is a failure.

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
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Db::Sqlite).await {
                        super::$name(app).await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Db::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub config: Config,
    _dir: TempDir,
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

pub const ADMIN_EMAIL: &str = "admin@test.local";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

impl TestApp {
    pub async fn spawn(db: Db) -> Option<TestApp> {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the app with extra configuration variables on top of the test defaults.
    pub async fn spawn_with(db: Db, extra: &[(&str, &str)]) -> Option<TestApp> {
        let dir = TempDir::new();
        let database_url = match db {
            Db::Sqlite => format!("sqlite://{}", dir.path.join("test.db").display()),
            Db::Postgres => postgres_schema_url().await?,
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
        tokio::spawn(app.run_until(std::future::pending()));
        let client = reqwest::Client::builder().build().unwrap();
        let mut test_app = TestApp {
            address,
            db,
            client,
            admin_token: String::new(),
            config,
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
        let resp = self
            .post("/products", Some(&self.admin_token), body)
            .await
            .expect(201);
        resp.data()["_id"].as_str().unwrap().to_string()
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

/// A fresh schema on the test PostgreSQL server, as a URL whose connections use it.
async fn postgres_schema_url() -> Option<String> {
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        if std::env::var("CI").is_ok() {
            panic!(
                "CI is set but TEST_DATABASE_URL is not: PostgreSQL tests cannot be skipped in CI"
            );
        }
        eprintln!("skipping PostgreSQL test: TEST_DATABASE_URL is not set");
        return None;
    };
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
    Some(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
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
