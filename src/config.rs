//! Typed settings (CONTRACT §1) read from the environment and an optional `.env` file. Every bad
//! value is refused at start with one line naming the variable and what is wrong with it.

use crate::domain::money::{BasisPoints, Money};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayKind {
    Simulated,
    Razorpay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// A secret that never shows in `Debug` output or logs, and is wiped from memory when dropped
/// (`secrecy`); `expose` is the one way to read it.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Connections per node when `DATABASE_MAX_CONNECTIONS` is not set: four per CPU core, 4 to 32.
/// The database's work is CPU work on a machine like ours, and connections beyond that only wait:
/// two nodes of 16 connections on 2 cores queued 32 transactions on a popular product's row and
/// checked out a fifth slower than two nodes of 8, and two nodes of 4 a fifth faster again
/// (docs/BENCHMARKS.md, hot products). So the budget is the database's, about four per core of
/// its machine, and nodes sharing one database split it; a node cannot count its peers, so that
/// split is the operator's setting (README).
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (u32::try_from(cores).unwrap_or(8).saturating_mul(4)).clamp(4, 32)
}

/// The highest `CART_MAX_LINES` accepted: a cart is read, priced and sent whole on every request.
pub const MAX_CART_LINES_SETTING: i64 = 1_000;

/// The key secret the simulated gateway signs checkouts with when none is set (CONTRACT §6); it
/// is public, so Razorpay mode refuses it.
pub const SIMULATED_KEY_SECRET: &str = "simulated_secret";

#[derive(Clone, Debug)]
pub struct RazorpaySettings {
    pub key_id: String,
    pub key_secret: Secret,
    pub webhook_secret: Secret,
    pub api_base: String,
    pub timeout_ms: u64,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub database: DatabaseUrl,
    /// Where the embedded database, the generated JWT secret and other local state live.
    pub data_dir: PathBuf,
    pub database_max_connections: u32,
    pub sqlite_synchronous_full: bool,
    pub jwt_secret: Option<Secret>,
    pub jwt_ttl_minutes: i64,
    /// Whether the session cookie is marked `Secure` (sent over HTTPS only): `COOKIE_SECURE`,
    /// by default true when `PUBLIC_URL` is an `https://` address.
    pub cookie_secure: bool,
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
    pub demo_data: bool,
    pub gateway: GatewayKind,
    pub razorpay: RazorpaySettings,
    pub currency: String,
    pub tax_rate: BasisPoints,
    /// `TAX_MODE=gst` (CONTRACT §10): the shop's registration and how prices are shown; `None`
    /// is `TAX_MODE=flat`, the single `tax_rate`.
    pub gst: Option<GstSettings>,
    pub shipping_fee: Money,
    pub free_shipping_threshold: Option<Money>,
    pub order_payment_timeout_minutes: i64,
    pub return_window_days: i64,
    /// How long after an unpaid order was cancelled or expired reconciliation still asks the
    /// gateway for a capture (Razorpay may capture up to its auto-capture timeout after payment).
    pub payment_reconcile_window_days: i64,
    pub log_format: LogFormat,
    /// Login and register attempts allowed per client address per minute.
    pub auth_rate_limit_per_minute: u32,
    /// Wrong passwords one account takes per `login_failure_window_secs` before its logins are
    /// refused (429), from whatever addresses they come.
    pub login_failures_per_account: u32,
    pub login_failure_window_secs: u64,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: crate::domain::net::TrustedProxies,
    /// How long one request may run before it is stopped (503). Also the bound after which an
    /// unfinished `Idempotency-Key` claim is known abandoned (its request crashed).
    pub request_timeout_secs: u64,
    /// How often the background jobs (unpaid-order expiry, reconciliation) wake up.
    pub job_interval_secs: u64,
    pub jobs_enabled: bool,
    /// Where `/metrics` is served instead of the public listener; unset, the public listener
    /// answers it to loopback clients only (CONTRACT §11).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// How long a client may take to send a request's headers before the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Open connections this node serves at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// How many distinct products one cart may hold. Every cart read prices every line and
    /// checkout writes them all, so an unbounded cart makes each request slower than the last.
    pub cart_max_lines: i64,
    /// Email (CONTRACT §9): the SMTP server, or `None` to compose and keep emails unsent.
    pub smtp: Option<SmtpSettings>,
    /// `MAIL_FROM`: the sender of every email.
    pub mail_from: String,
    /// `PUBLIC_URL` without a trailing slash; `None` means `http://127.0.0.1:<bound port>`.
    pub public_url: Option<String>,
    pub password_reset_ttl_minutes: i64,
    /// How long a request waits for a PostgreSQL pool connection before it is answered 503.
    pub database_acquire_timeout_secs: u64,
    /// How long one attempt to reach PostgreSQL at start-up may take.
    pub database_connect_timeout_secs: u64,
    /// How long start-up keeps trying to reach PostgreSQL (a database starting alongside the
    /// shop) before it gives up; 0: one attempt.
    pub database_wait_secs: u64,
    /// Where uploaded product pictures are kept (CONTRACT §8).
    pub pictures: PictureStorage,
}

/// Where product pictures live: `UPLOAD_DIR` (default `<DATA_DIR>/uploads`, i.e. `data/uploads`)
/// for one node, or `STORAGE_URL=s3://bucket/prefix` for several, with the standard `AWS_*`
/// variables (`AWS_ENDPOINT_URL` for a store that is not AWS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PictureStorage {
    Folder(PathBuf),
    S3(S3Settings),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix inside the bucket, without slashes at its ends; may be empty.
    pub prefix: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

fn picture_storage(
    storage_url: Option<String>,
    upload_dir: Option<String>,
    data_dir: &std::path::Path,
    aws: &dyn Fn(&str) -> Option<String>,
) -> Result<PictureStorage, ConfigError> {
    let Some(raw) = storage_url else {
        return Ok(PictureStorage::Folder(
            upload_dir
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("uploads")),
        ));
    };
    let rest = raw.trim().strip_prefix("s3://").ok_or_else(|| {
        bad(
            "STORAGE_URL",
            format!("{raw:?} is not an s3://bucket/prefix address"),
        )
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !valid_bucket {
        return Err(bad(
            "STORAGE_URL",
            format!("{bucket:?} is not an S3 bucket name"),
        ));
    }
    let endpoint = aws("AWS_ENDPOINT_URL").map(|e| e.trim().trim_end_matches('/').to_string());
    if let Some(endpoint) = &endpoint {
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(bad(
                "AWS_ENDPOINT_URL",
                format!("{endpoint:?} is not an http(s) URL"),
            ));
        }
    }
    Ok(PictureStorage::S3(S3Settings {
        bucket: bucket.to_string(),
        prefix: prefix.trim_matches('/').to_string(),
        region: aws("AWS_REGION")
            .or_else(|| aws("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
        endpoint,
        access_key_id: aws("AWS_ACCESS_KEY_ID"),
        secret_access_key: aws("AWS_SECRET_ACCESS_KEY").map(Secret::new),
        session_token: aws("AWS_SESSION_TOKEN").map(Secret::new),
    }))
}

/// The settings of `TAX_MODE=gst`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GstSettings {
    pub seller: crate::domain::gst::Seller,
    /// `PRICES_INCLUDE_TAX`: product prices (and the shipping fee) already hold the GST.
    pub prices_include_tax: bool,
}

/// Reads `TAX_MODE` and, for `gst`, the seller's registration: every `SELLER_*` is required, the
/// GSTIN's check character is verified and `SELLER_STATE` (a code or a name; the GSTIN's state
/// when unset) must be the state the GSTIN is registered in.
fn gst_settings(vars: &Vars<'_>) -> Result<Option<GstSettings>, ConfigError> {
    use crate::domain::gst::{Gstin, Seller, StateCode};
    match vars.string("TAX_MODE", "flat").trim() {
        "flat" => return Ok(None),
        "gst" => {}
        other => return Err(bad("TAX_MODE", format!("{other:?} is not flat or gst"))),
    }
    let required = |name: &'static str| {
        vars.get(name)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| bad(name, "is required when TAX_MODE=gst"))
    };
    let name = required("SELLER_NAME")?;
    let address = required("SELLER_ADDRESS")?;
    let raw_gstin = required("SELLER_GSTIN")?;
    let gstin = Gstin::parse(&raw_gstin)
        .map_err(|why| bad("SELLER_GSTIN", format!("{raw_gstin:?}: {why}")))?;
    let state = match vars.get("SELLER_STATE") {
        None => gstin.state(),
        Some(raw) => StateCode::parse(&raw).ok_or_else(|| {
            bad(
                "SELLER_STATE",
                format!("{raw:?} is not an Indian state or its GST code"),
            )
        })?,
    };
    if state != gstin.state() {
        return Err(bad(
            "SELLER_STATE",
            format!(
                "{state} does not match the GSTIN, registered in {}",
                gstin.state()
            ),
        ));
    }
    Ok(Some(GstSettings {
        seller: Seller {
            name,
            address,
            gstin,
            state,
        },
        prices_include_tax: vars.flag("PRICES_INCLUDE_TAX", false)?,
    }))
}

/// How the SMTP server is reached: `SMTP_URL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Bound on one message's delivery (connect, dialogue and data): `SMTP_TIMEOUT_SECONDS`.
    pub timeout_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtp://...?tls=none`: plain text, for a local catcher.
    None,
}

/// Parses `SMTP_URL`: `smtp://[user:pass@]host[:port][?tls=none]` (STARTTLS unless `tls=none`,
/// port 587 by default) or `smtps://[user:pass@]host[:port]` (port 465 by default).
fn parse_smtp_url(raw: &str, timeout_secs: u64) -> Result<SmtpSettings, ConfigError> {
    let invalid = |why: &str| {
        bad("SMTP_URL", format!("{why} (e.g. smtp://user:pass@mail.example.com:587, smtps://mail.example.com:465 or smtp://127.0.0.1:2525?tls=none)"))
    };
    let raw = raw.trim();
    let (tls, rest) = if let Some(rest) = raw.strip_prefix("smtps://") {
        (SmtpTls::Implicit, rest)
    } else if let Some(rest) = raw.strip_prefix("smtp://") {
        (SmtpTls::StartTls, rest)
    } else {
        return Err(invalid("must start with smtp:// or smtps://"));
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let tls = match query {
        None | Some("") => tls,
        Some("tls=none") if tls == SmtpTls::StartTls => SmtpTls::None,
        Some("tls=starttls") if tls == SmtpTls::StartTls => SmtpTls::StartTls,
        Some(other) => return Err(invalid(&format!("unknown option {other:?}"))),
    };
    let rest = rest.trim_end_matches('/');
    let (credentials, server) = match rest.rsplit_once('@') {
        Some((credentials, server)) => (Some(credentials), server),
        None => (None, rest),
    };
    let (username, password) = match credentials {
        None => (None, None),
        Some(credentials) => {
            let (user, pass) = credentials.split_once(':').unwrap_or((credentials, ""));
            let user =
                percent_decode(user).ok_or_else(|| invalid("bad %-escape in the user name"))?;
            let pass =
                percent_decode(pass).ok_or_else(|| invalid("bad %-escape in the password"))?;
            if user.is_empty() {
                return Err(invalid("has credentials without a user name"));
            }
            (Some(user), Some(Secret::new(pass)))
        }
    };
    let (host, port) = match server.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid(&format!("{port:?} is not a port")))?,
        ),
        None => (server, if tls == SmtpTls::Implicit { 465 } else { 587 }),
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(invalid("has no host"));
    }
    Ok(SmtpSettings {
        host: host.to_string(),
        port,
        tls,
        username,
        password,
        timeout_secs,
    })
}

/// `%XX` escapes of a URL's user or password (a password may hold `@` or `:`).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks `MAIL_FROM`: `Name <address>` or a bare address, as the mailer will parse it.
fn check_mail_from(raw: &str) -> Result<String, ConfigError> {
    let value = raw.trim();
    if value.contains(['\r', '\n']) || value.parse::<lettre::message::Mailbox>().is_err() {
        return Err(bad(
            "MAIL_FROM",
            format!("{value:?} is not an address like \"Cartwright <shop@example.com>\""),
        ));
    }
    Ok(value.to_string())
}

/// The one-line reason the program refused to start.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn bad(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// Reads variables through a lookup function so tests can configure an app without touching the
/// process environment.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn string(&self, name: &'static str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_string())
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| bad(name, format!("{raw:?} is not {what}"))),
        }
    }

    fn ranged(
        &self,
        name: &'static str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let value: i64 = self.parse(name, default, "a whole number")?;
        if !(min..=max).contains(&value) {
            return Err(bad(name, format!("{value} is outside {min}..={max}")));
        }
        Ok(value)
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(bad(name, format!("{v:?} is not true or false"))),
        }
    }

    fn money(&self, name: &'static str) -> Result<Option<Money>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => match Money::parse_major(raw.trim()) {
                Some(m) if m.minor() >= 0 => Ok(Some(m)),
                _ => Err(bad(
                    name,
                    format!("{raw:?} is not a non-negative amount with at most two decimals"),
                )),
            },
        }
    }
}

impl Config {
    /// The display name of `MAIL_FROM` ("Cartwright" in `Cartwright <shop@localhost>`), or the
    /// shop's name when it has none: how emails sign.
    pub fn mail_sender_name(&self) -> String {
        match self.mail_from.rfind('<') {
            Some(open) => {
                let name = self.mail_from[..open].trim().trim_matches('"').trim();
                if name.is_empty() {
                    "Cartwright".to_string()
                } else {
                    name.to_string()
                }
            }
            None => "Cartwright".to_string(),
        }
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs)
    }

    /// Reads `.env` (if present) and the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let _ = dotenvy::dotenv();
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Builds a configuration from explicit variables; unset ones take their defaults.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(&|name| vars.get(name).cloned())
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars(lookup);

        let port: u16 = vars.parse("PORT", 8000, "a port number (0-65535)")?;
        let host = vars.string("HOST", "127.0.0.1");
        if host.parse::<std::net::IpAddr>().is_err() && host != "localhost" {
            return Err(bad("HOST", format!("{host:?} is not an IP address")));
        }

        let database =
            parse_database_url(&vars.string("DATABASE_URL", "sqlite://data/cartwright.db"))?;
        let data_dir = match (vars.get("DATA_DIR"), &database) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, DatabaseUrl::Sqlite(path)) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
            (None, DatabaseUrl::Postgres(_)) => PathBuf::from("data"),
        };

        let jwt_secret = match vars.get("JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(bad("JWT_SECRET", "must be at least 32 characters"))
            }
            other => other.map(Secret::new),
        };

        let admin_email = vars.get("ADMIN_EMAIL");
        let admin_password = vars.get("ADMIN_PASSWORD");
        if admin_email.is_some() != admin_password.is_some() {
            return Err(bad(
                "ADMIN_PASSWORD",
                "ADMIN_EMAIL and ADMIN_PASSWORD must be set together",
            ));
        }
        if let Some(email) = &admin_email {
            crate::domain::user::normalize_email(email)
                .map_err(|_| bad("ADMIN_EMAIL", format!("{email:?} is not an e-mail address")))?;
        }
        if let Some(password) = &admin_password {
            crate::domain::user::check_password(password)
                .map_err(|_| bad("ADMIN_PASSWORD", "must be 8 to 128 characters"))?;
        }

        let key_id = vars.get("RAZORPAY_KEY_ID");
        let gateway = match vars.get("PAYMENT_GATEWAY").as_deref().map(str::trim) {
            None if key_id.is_some() => GatewayKind::Razorpay,
            None | Some("simulated") => GatewayKind::Simulated,
            Some("razorpay") => GatewayKind::Razorpay,
            Some(other) => {
                return Err(bad(
                    "PAYMENT_GATEWAY",
                    format!("{other:?} is not simulated or razorpay"),
                ))
            }
        };
        let key_secret = vars.get("RAZORPAY_KEY_SECRET");
        let webhook_secret = vars.get("RAZORPAY_WEBHOOK_SECRET");
        if gateway == GatewayKind::Razorpay {
            if key_id.is_none() {
                return Err(bad(
                    "RAZORPAY_KEY_ID",
                    "is required when PAYMENT_GATEWAY=razorpay",
                ));
            }
            // No default secret in Razorpay mode: a public default would let anyone sign a
            // checkout or a webhook. Empty or the simulated gateway's defaults count as missing.
            for (variable, value) in [
                ("RAZORPAY_KEY_SECRET", &key_secret),
                ("RAZORPAY_WEBHOOK_SECRET", &webhook_secret),
            ] {
                match value.as_deref().map(str::trim) {
                    None | Some("") => {
                        return Err(bad(variable, "is required when PAYMENT_GATEWAY=razorpay"))
                    }
                    Some(SIMULATED_KEY_SECRET) => {
                        return Err(bad(
                            variable,
                            "is the simulated gateway's public default; set the secret from the Razorpay dashboard",
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        let api_base = vars
            .string("RAZORPAY_API_BASE", "https://api.razorpay.com/v1")
            .trim_end_matches('/')
            .to_string();
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            return Err(bad(
                "RAZORPAY_API_BASE",
                format!("{api_base:?} is not an http(s) URL"),
            ));
        }
        let razorpay = RazorpaySettings {
            key_id: key_id.unwrap_or_else(|| "rzp_test_simulated".into()),
            key_secret: Secret::new(key_secret.unwrap_or_else(|| SIMULATED_KEY_SECRET.into())),
            // Unset means no webhook is accepted (the simulated gateway sends none).
            webhook_secret: Secret::new(webhook_secret.unwrap_or_default()),
            api_base,
            timeout_ms: vars.ranged("RAZORPAY_TIMEOUT_MS", 10_000, 100, 120_000)? as u64,
        };

        let currency = vars.string("CURRENCY", "INR").trim().to_uppercase();
        match crate::domain::money::minor_unit_exponent(&currency) {
            Some(2) => {}
            Some(exponent) => {
                return Err(bad(
                    "CURRENCY",
                    format!(
                        "{currency} has {exponent} decimal places; Cartwright handles currencies with 2 (INR, USD, EUR, ...)"
                    ),
                ))
            }
            None => {
                return Err(bad(
                    "CURRENCY",
                    format!("{currency:?} is not an ISO 4217 currency Cartwright knows"),
                ))
            }
        }
        let tax_rate = match vars.get("TAX_RATE") {
            None => BasisPoints(1800),
            Some(raw) => BasisPoints::parse_fraction(&raw).ok_or_else(|| {
                bad("TAX_RATE", format!("{raw:?} is not a fraction between 0 and 1 with at most 4 decimals (e.g. 0.18)"))
            })?,
        };

        let log_format = match vars.string("LOG_FORMAT", "pretty").trim() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("{other:?} is not json or pretty"),
                ))
            }
        };

        let sqlite_synchronous_full = match vars.string("SQLITE_SYNCHRONOUS", "full").trim() {
            "full" | "FULL" => true,
            "normal" | "NORMAL" => false,
            other => {
                return Err(bad(
                    "SQLITE_SYNCHRONOUS",
                    format!("{other:?} is not full or normal"),
                ))
            }
        };

        let metrics_addr = match vars.get("METRICS_ADDR") {
            None => None,
            Some(raw) => Some(raw.trim().parse().map_err(|_| {
                bad(
                    "METRICS_ADDR",
                    format!("{raw:?} is not an address and port (e.g. 127.0.0.1:9100)"),
                )
            })?),
        };

        let trusted_proxies =
            crate::domain::net::TrustedProxies::parse(&vars.string("TRUSTED_PROXIES", ""))
                .map_err(|entry| {
                    bad(
                        "TRUSTED_PROXIES",
                        format!(
                    "{entry:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8, 127.0.0.1)"
                ),
                    )
                })?;

        let smtp_timeout = vars.ranged("SMTP_TIMEOUT_SECONDS", 10, 1, 300)? as u64;
        let smtp = match vars.get("SMTP_URL") {
            None => None,
            Some(raw) => Some(parse_smtp_url(&raw, smtp_timeout)?),
        };
        let public_url = match vars.get("PUBLIC_URL") {
            None => None,
            Some(raw) => {
                let url = raw.trim().trim_end_matches('/').to_string();
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"));
                if rest.is_none_or(|host| {
                    host.is_empty() || host.contains(['#', '?', ' ', '"', '<', '>'])
                }) {
                    return Err(bad(
                        "PUBLIC_URL",
                        format!("{raw:?} is not an http(s) address like https://shop.example.com"),
                    ));
                }
                Some(url)
            }
        };

        let pictures = picture_storage(
            vars.get("STORAGE_URL"),
            vars.get("UPLOAD_DIR"),
            &data_dir,
            &|name: &str| vars.get(name),
        )?;

        Ok(Config {
            pictures,
            host,
            port,
            database,
            data_dir,
            database_max_connections: vars.ranged(
                "DATABASE_MAX_CONNECTIONS",
                i64::from(default_pool_size()),
                1,
                1000,
            )? as u32,
            sqlite_synchronous_full,
            jwt_secret,
            jwt_ttl_minutes: vars.ranged("JWT_TTL_MINUTES", 1440, 1, 525_600)?,
            cookie_secure: vars.flag(
                "COOKIE_SECURE",
                vars.get("PUBLIC_URL")
                    .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://")),
            )?,
            admin_email,
            admin_password: admin_password.map(Secret::new),
            demo_data: vars.flag("DEMO_DATA", true)?,
            gateway,
            razorpay,
            currency,
            tax_rate,
            gst: gst_settings(&vars)?,
            shipping_fee: vars.money("SHIPPING_FEE")?.unwrap_or(Money::ZERO),
            free_shipping_threshold: vars.money("FREE_SHIPPING_THRESHOLD")?,
            order_payment_timeout_minutes: vars.ranged(
                "ORDER_PAYMENT_TIMEOUT_MINUTES",
                30,
                1,
                10_080,
            )?,
            return_window_days: vars.ranged("RETURN_WINDOW_DAYS", 7, 0, 365)?,
            payment_reconcile_window_days: vars.ranged(
                "PAYMENT_RECONCILE_WINDOW_DAYS",
                5,
                1,
                60,
            )?,
            log_format,
            auth_rate_limit_per_minute: vars.ranged(
                "AUTH_RATE_LIMIT_PER_MINUTE",
                10,
                1,
                1_000_000,
            )? as u32,
            login_failures_per_account: vars.ranged(
                "LOGIN_FAILURES_PER_ACCOUNT",
                20,
                1,
                1_000_000,
            )? as u32,
            login_failure_window_secs: vars.ranged(
                "LOGIN_FAILURE_WINDOW_SECONDS",
                900,
                1,
                86_400,
            )? as u64,
            trusted_proxies,
            request_timeout_secs: vars.ranged("REQUEST_TIMEOUT_SECONDS", 30, 1, 600)? as u64,
            job_interval_secs: vars.ranged("JOB_INTERVAL_SECONDS", 30, 1, 86_400)? as u64,
            jobs_enabled: vars.flag("JOBS_ENABLED", true)?,
            metrics_addr,
            header_read_timeout_secs: vars.ranged("HEADER_READ_TIMEOUT_SECONDS", 10, 1, 600)?
                as u64,
            max_connections: vars.ranged("MAX_CONNECTIONS", 1024, 1, 1_000_000)? as usize,
            cart_max_lines: vars.ranged("CART_MAX_LINES", 100, 1, MAX_CART_LINES_SETTING)?,
            smtp,
            mail_from: check_mail_from(&vars.string("MAIL_FROM", "Cartwright <shop@localhost>"))?,
            public_url,
            password_reset_ttl_minutes: vars.ranged("PASSWORD_RESET_TTL_MINUTES", 30, 1, 1440)?,
            database_acquire_timeout_secs: vars.ranged(
                "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
                3,
                1,
                600,
            )? as u64,
            database_connect_timeout_secs: vars.ranged(
                "DATABASE_CONNECT_TIMEOUT_SECONDS",
                10,
                1,
                600,
            )? as u64,
            database_wait_secs: vars.ranged("DATABASE_WAIT_SECONDS", 0, 0, 86_400)? as u64,
        })
    }
}

fn parse_database_url(url: &str) -> Result<DatabaseUrl, ConfigError> {
    let url = url.trim();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(bad("DATABASE_URL", "sqlite URL has no file path"));
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DatabaseUrl::Postgres(url.to_string()));
    }
    Err(bad(
        "DATABASE_URL",
        "must start with sqlite:// or postgres://",
    ))
}

/// The pricing rules as configured (the domain does not know where settings come from).
impl crate::domain::pricing::PricingSettings {
    pub fn from_config(config: &Config) -> Self {
        crate::domain::pricing::PricingSettings {
            tax_rate: config.tax_rate,
            shipping_fee: config.shipping_fee,
            free_shipping_threshold: config.free_shipping_threshold,
            gst: config
                .gst
                .as_ref()
                .map(|gst| crate::domain::pricing::GstPricing {
                    seller_state: gst.seller.state,
                    prices_include_tax: gst.prices_include_tax,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults_are_the_contract_defaults() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 8000);
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.database, DatabaseUrl::Sqlite("data/cartwright.db".into()));
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert_eq!(c.tax_rate, BasisPoints(1800));
        assert_eq!(c.gateway, GatewayKind::Simulated);
        assert_eq!(c.jwt_ttl_minutes, 1440);
        assert_eq!(c.order_payment_timeout_minutes, 30);
        assert_eq!(c.return_window_days, 7);
        assert_eq!(c.payment_reconcile_window_days, 5);
        assert_eq!(c.cart_max_lines, 100);
        assert!(c.trusted_proxies.is_empty());
        assert_eq!(
            (c.login_failures_per_account, c.login_failure_window_secs),
            (20, 900)
        );
    }

    #[test]
    fn smtp_urls_name_their_tls_mode_port_and_credentials() {
        let c = config(&[("SMTP_URL", "smtp://user:p%40ss@mail.example.com:587")]).unwrap();
        let smtp = c.smtp.unwrap();
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.tls),
            ("mail.example.com", 587, SmtpTls::StartTls)
        );
        assert_eq!(smtp.username.as_deref(), Some("user"));
        assert_eq!(smtp.password.unwrap().expose(), "p@ss");
        let smtp = config(&[("SMTP_URL", "smtps://mail.example.com")])
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!((smtp.port, smtp.tls), (465, SmtpTls::Implicit));
        let smtp = config(&[("SMTP_URL", "smtp://127.0.0.1:2525?tls=none")])
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!(
            (smtp.port, smtp.tls, smtp.username),
            (2525, SmtpTls::None, None)
        );
        let c = config(&[]).unwrap();
        assert!(c.smtp.is_none());
        assert_eq!(c.mail_from, "Cartwright <shop@localhost>");
        assert_eq!(c.password_reset_ttl_minutes, 30);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (pairs, variable) in [
            (vec![("PORT", "eighty")], "PORT"),
            (vec![("SMTP_URL", "mail.example.com")], "SMTP_URL"),
            (vec![("SMTP_URL", "smtp://host:99999")], "SMTP_URL"),
            (vec![("SMTP_URL", "smtp://host?tls=maybe")], "SMTP_URL"),
            (vec![("MAIL_FROM", "not an address")], "MAIL_FROM"),
            (vec![("PUBLIC_URL", "shop.example.com")], "PUBLIC_URL"),
            (
                vec![("PASSWORD_RESET_TTL_MINUTES", "0")],
                "PASSWORD_RESET_TTL_MINUTES",
            ),
            (vec![("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (vec![("TAX_RATE", "18%")], "TAX_RATE"),
            (vec![("JWT_SECRET", "short")], "JWT_SECRET"),
            (vec![("PAYMENT_GATEWAY", "stripe")], "PAYMENT_GATEWAY"),
            (vec![("PAYMENT_GATEWAY", "razorpay")], "RAZORPAY_KEY_ID"),
            (
                vec![
                    ("RAZORPAY_KEY_ID", "rzp_test_x"),
                    ("RAZORPAY_KEY_SECRET", "s"),
                ],
                "RAZORPAY_WEBHOOK_SECRET",
            ),
            (
                vec![
                    ("RAZORPAY_KEY_ID", "rzp_test_x"),
                    ("RAZORPAY_KEY_SECRET", "s"),
                    ("RAZORPAY_WEBHOOK_SECRET", " "),
                ],
                "RAZORPAY_WEBHOOK_SECRET",
            ),
            (
                vec![
                    ("RAZORPAY_KEY_ID", "rzp_test_x"),
                    ("RAZORPAY_KEY_SECRET", "simulated_secret"),
                    ("RAZORPAY_WEBHOOK_SECRET", "w"),
                ],
                "RAZORPAY_KEY_SECRET",
            ),
            (vec![("CURRENCY", "JPY")], "CURRENCY"),
            (vec![("CURRENCY", "KWD")], "CURRENCY"),
            (vec![("CURRENCY", "XYZ")], "CURRENCY"),
            (vec![("SHIPPING_FEE", "-1")], "SHIPPING_FEE"),
            (vec![("DEMO_DATA", "maybe")], "DEMO_DATA"),
            (vec![("CART_MAX_LINES", "0")], "CART_MAX_LINES"),
            (vec![("CART_MAX_LINES", "many")], "CART_MAX_LINES"),
            (vec![("CART_MAX_LINES", "1001")], "CART_MAX_LINES"),
            (
                vec![("TRUSTED_PROXIES", "10.0.0.0/8,nginx")],
                "TRUSTED_PROXIES",
            ),
            (vec![("TRUSTED_PROXIES", "10.0.0.0/40")], "TRUSTED_PROXIES"),
            (
                vec![("LOGIN_FAILURES_PER_ACCOUNT", "0")],
                "LOGIN_FAILURES_PER_ACCOUNT",
            ),
        ] {
            let err = config(&pairs).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }

    #[test]
    fn razorpay_is_chosen_when_a_key_is_set() {
        let c = config(&[
            ("RAZORPAY_KEY_ID", "rzp_test_x"),
            ("RAZORPAY_KEY_SECRET", "s"),
            ("RAZORPAY_WEBHOOK_SECRET", "w"),
        ])
        .unwrap();
        assert_eq!(c.gateway, GatewayKind::Razorpay);
    }

    const GST: [(&str, &str); 4] = [
        ("TAX_MODE", "gst"),
        ("SELLER_NAME", "Cartwright Retail"),
        ("SELLER_ADDRESS", "12 Marine Drive, Mumbai"),
        ("SELLER_GSTIN", "27AAPFU0939F1ZV"),
    ];

    #[test]
    fn gst_mode_takes_the_state_from_the_gstin_and_is_off_by_default() {
        assert_eq!(config(&[]).unwrap().gst, None);
        let c = config(&GST).unwrap();
        let gst = c.gst.unwrap();
        assert_eq!(gst.seller.state.code(), 27);
        assert!(!gst.prices_include_tax);
        let mut named = GST.to_vec();
        named.push(("SELLER_STATE", "Maharashtra"));
        named.push(("PRICES_INCLUDE_TAX", "true"));
        assert!(config(&named).unwrap().gst.unwrap().prices_include_tax);
    }

    #[test]
    fn gst_settings_are_checked() {
        let with = |extra: (&'static str, &'static str)| {
            let mut pairs = GST.to_vec();
            pairs.retain(|(k, _)| *k != extra.0);
            pairs.push(extra);
            config(&pairs).unwrap_err().variable
        };
        assert_eq!(
            config(&[("TAX_MODE", "vat")]).unwrap_err().variable,
            "TAX_MODE"
        );
        assert_eq!(
            config(&[("TAX_MODE", "gst")]).unwrap_err().variable,
            "SELLER_NAME"
        );
        assert_eq!(with(("SELLER_GSTIN", "27AAPFU0939F1ZA")), "SELLER_GSTIN");
        assert_eq!(with(("SELLER_STATE", "29")), "SELLER_STATE");
        assert_eq!(with(("SELLER_STATE", "Atlantis")), "SELLER_STATE");
        assert_eq!(with(("SELLER_ADDRESS", " ")), "SELLER_ADDRESS");
    }
}
