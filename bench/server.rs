//! Fresh databases (a SQLite file or a PostgreSQL schema of their own), the real server binary run
//! as a child process against one, its resident memory, and a small HTTP client.

use anyhow::{bail, Context};
use cartwright::config::Config;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub const ADMIN_EMAIL: &str = "admin@bench.local";
pub const ADMIN_PASSWORD: &str = "bench-admin-password";
pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret-01";

/// A database made for one run, dropped (PostgreSQL schema) or left in its folder (SQLite).
pub enum Db {
    Sqlite(PathBuf),
    Postgres { base: String, schema: String },
}

impl Db {
    /// A new SQLite file in `dir`, or a new schema on the PostgreSQL server of `database_url`.
    pub async fn fresh(database_url: Option<&str>, dir: &Path, name: &str) -> anyhow::Result<Db> {
        match database_url {
            Some(url) if url.starts_with("postgres") => {
                use sqlx::Connection;
                let schema = format!("bench_{name}_{}", hex::encode(rand::random::<[u8; 4]>()));
                let mut conn = sqlx::PgConnection::connect(url)
                    .await
                    .context("connecting to PostgreSQL")?;
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                Ok(Db::Postgres {
                    base: url.to_string(),
                    schema,
                })
            }
            Some(url) => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .context("--database-url must start with sqlite:// or postgres://")?;
                Ok(Db::Sqlite(PathBuf::from(path)))
            }
            None => Ok(Db::Sqlite(dir.join(format!("{name}.db")))),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Db::Sqlite(path) => format!("sqlite://{}", path.display()),
            Db::Postgres { base, schema } => {
                let separator = if base.contains('?') { '&' } else { '?' };
                format!("{base}{separator}options=-c%20search_path%3D{schema}")
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    /// Drops a PostgreSQL schema; a SQLite file goes with its temporary folder.
    pub async fn drop_schema(&self) {
        if let Db::Postgres { base, schema } = self {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
    }
}

/// The settings the server child and the in-process store share.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub max_connections: u32,
    pub sqlite_synchronous: String,
    /// `SMTP_URL` for the server (email on), `None` to keep emails in the outbox unsent.
    pub smtp_url: Option<String>,
}

impl Settings {
    pub fn vars(&self, port: u16) -> HashMap<String, String> {
        [
            ("DATABASE_URL", self.database_url.clone()),
            ("PORT", port.to_string()),
            ("HOST", "127.0.0.1".into()),
            ("DATA_DIR", self.data_dir.display().to_string()),
            ("JWT_SECRET", JWT_SECRET.into()),
            ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
            ("DEMO_DATA", "false".into()),
            ("PAYMENT_GATEWAY", "simulated".into()),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "1000000".into()),
            ("DATABASE_MAX_CONNECTIONS", self.max_connections.to_string()),
            ("SQLITE_SYNCHRONOUS", self.sqlite_synchronous.clone()),
            ("JOBS_ENABLED", "false".into()),
            ("RUST_LOG", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(
            self.smtp_url
                .clone()
                .map(|url| ("SMTP_URL".to_string(), url)),
        )
        .collect()
    }

    /// The configuration the in-process store (storage ceiling, generator) connects with.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config::from_map(&self.vars(0))?)
    }
}

/// The real server binary running as a child process; killed when dropped.
pub struct Server {
    pub base: String,
    pub pid: u32,
    child: tokio::process::Child,
}

impl Server {
    pub async fn spawn(binary: &Path, settings: &Settings) -> anyhow::Result<Server> {
        if !binary.exists() {
            bail!(
                "{} not found: run `cargo build --release` first or pass --server-bin",
                binary.display()
            );
        }
        let port = free_port()?;
        let log = std::fs::File::create(settings.data_dir.join(format!("server-{port}.log")))?;
        let child = tokio::process::Command::new(binary)
            .arg("serve")
            .envs(settings.vars(port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("server exited at once")?;
        let server = Server {
            base: format!("http://127.0.0.1:{port}"),
            pid,
            child,
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(resp) = client.get(format!("{}/health", server.base)).send().await {
                if resp.status().is_success() {
                    return Ok(server);
                }
            }
            if started.elapsed() > Duration::from_secs(120) {
                bail!("the server did not answer /health within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resident set size now and its high-water mark, in KiB, of the server process alone.
    pub fn rss_kib(&self) -> (u64, u64) {
        rss_kib(self.pid)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A temporary folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> anyhow::Result<TempDir> {
        let path = std::env::temp_dir().join(format!(
            "cartwright-bench-{label}-{}",
            hex::encode(rand::random::<[u8; 4]>())
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One virtual user's HTTP client: its own connection pool.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

/// Status and raw body of a response read in full; the body is parsed only by callers that need
/// a field of it, so the load generator spends its CPU on sending.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(4)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            base: base.to_string(),
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        Ok(Reply { status, body })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<Reply> {
        self.send(reqwest::Method::PUT, path, token, Some(body))
            .await
    }

    /// Logs in and returns the bearer token.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let reply = self
            .post(
                "/auth/login",
                None,
                &serde_json::json!({"email": email, "password": password}),
            )
            .await?;
        if reply.status != 200 {
            bail!(
                "login as {email} answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        reply.json()["data"]["token"]
            .as_str()
            .map(str::to_string)
            .context("login answer without a token")
    }

    /// Sets the caller's cart shipping address.
    pub async fn set_address(&self, token: &str) -> anyhow::Result<()> {
        let reply = self
            .put(
                "/cart/shipping-address",
                Some(token),
                &serde_json::json!({"street": "1 Bench Road", "city": "Mumbai", "state": "Maharashtra",
                    "zipCode": "400001", "phone": "+919876543210"}),
            )
            .await?;
        if reply.status != 200 {
            bail!("setting the shipping address answered {}", reply.status);
        }
        Ok(())
    }
}
