//! Persistence. One surface (`Store` and its methods in the submodules) over two real back-ends:
//! embedded SQLite and PostgreSQL.
//!
//! Each query is written once and compiled once per back-end by the `read!`, `write!` and
//! `transaction!` macros, which expand their body inside a `match` on the back-end, so every
//! statement runs on the back-end's own driver with its own types (no `sqlx::Any`). Statements use
//! `$1` placeholders, which both SQLite and PostgreSQL understand. Where the two differ (row locks),
//! the code matches on the back-end itself.
//!
//! A step that several transactions share is a method of a step trait called on the `tx` of
//! `transaction!` (`tx.lock_order(..)`, `tx.record_history(..)`, `tx.move_stock(..)`,
//! `tx.reserve_discount_use(..)`, `tx.lock_cart(..)`), written once and implemented for both
//! back-ends by one `impl_*!` macro next to the trait. The commit is `transaction!`'s, after the
//! body: a step never commits.
//!
//! SQLite runs with one writer connection and a pool of readers (WAL): writes are serialized by
//! the writer, which is what SQLite does anyway, without `SQLITE_BUSY` retries; reads run in
//! parallel. PostgreSQL uses row locks and conditional updates.

pub mod addresses;
pub mod cart;
pub mod discounts;
pub mod emails;
pub mod gate;
pub mod idempotency;
pub mod invoices;
pub mod leases;
pub mod moves;
pub mod notifications;
pub mod order_queries;
pub mod orders;
pub mod payments;
pub mod products;
pub mod rate_limits;
pub mod reviews;
pub mod sql_types;
pub mod stock;
pub mod users;
pub mod views;

use crate::config::{Config, DatabaseUrl};
use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SqliteBackend {
    pub read: SqlitePool,
    pub write: SqlitePool,
    /// The folder holding the database file and its WAL, whose free space `/ready` checks.
    pub folder: std::path::PathBuf,
}

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(SqliteBackend),
    Postgres(PgPool),
}

#[derive(Clone, Debug)]
pub struct Store {
    pub backend: Backend,
    /// This node's queue in front of product rows (see `gate`).
    pub stock_gate: std::sync::Arc<gate::StockGate>,
    /// What emails composed in a transaction link to (`emails::MailSettings`).
    pub mail: std::sync::Arc<emails::MailSettings>,
    /// The shop's GST registration in `TAX_MODE=gst`: invoices are issued on confirmation.
    pub gst: Option<std::sync::Arc<crate::domain::gst::Seller>>,
}

/// Runs `$body` with `$pool` bound to a pool that may serve reads.
macro_rules! read {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(sqlite) => {
                let $pool = &sqlite.read;
                $body
            }
            $crate::store::Backend::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
}

/// Runs `$body` with `$pool` bound to a pool that may serve a single-statement write.
macro_rules! write {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(sqlite) => {
                let $pool = &sqlite.write;
                $body
            }
            $crate::store::Backend::Postgres(pg) => {
                let $pool = pg;
                $body
            }
        }
    };
}

/// Runs `$body` inside one transaction bound to `$tx` (use `&mut *$tx` as the executor) and
/// evaluates to the body's value.
///
/// The body runs inside its own `async` block, so neither `?` nor `return` can skip the commit:
/// `return Err(..)` (or `?`) rolls back and fails the whole expression, `return Ok(value)` ends the
/// body early and commits like reaching its end. On PostgreSQL a serialization failure or deadlock
/// (SQLSTATE 40001 / 40P01) rolls back and runs the body again, after a short jittered pause;
/// every statement of the body is in the rolled-back transaction, so a retry repeats nothing. A
/// conflict that persists becomes `Error::Contention` (a 503 with `Retry-After`).
macro_rules! transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: $crate::error::Result<_> = match &$store.backend {
                $crate::store::Backend::Sqlite(sqlite) => {
                    async {
                        let mut writer = sqlite.write.acquire().await?;
                        // Whether the connection is known to be out of any transaction at the
                        // end; a failed COMMIT or ROLLBACK leaves SQLite's transaction open (and
                        // sqlx's count of it), so that connection is closed, not pooled.
                        let mut clean = true;
                        let outcome = async {
                            #[allow(unused_mut)]
                            // IMMEDIATE: the write lock is taken at the start, so another process
                            // writing the same file (a tool, a second server by mistake) makes
                            // this one wait its busy timeout, never fail with SQLITE_BUSY after a
                            // read.
                            let mut $tx = $crate::store::gate::Tx::new(
                                sqlx::Connection::begin_with(&mut *writer, "BEGIN IMMEDIATE")
                                    .await?,
                                &$store.stock_gate,
                            );
                            let out = match async { Ok::<_, $crate::error::Error>($body) }.await {
                                Ok(out) => out,
                                Err(err) => {
                                    clean = $tx.rollback().await.is_ok();
                                    return Err(err);
                                }
                            };
                            if let Err(err) = $tx.commit().await {
                                clean = false;
                                return Err(err.into());
                            }
                            Ok::<_, $crate::error::Error>(out)
                        }
                        .await;
                        if !clean {
                            $crate::store::discard_writer(writer).await;
                        }
                        outcome
                    }
                    .await
                }
                $crate::store::Backend::Postgres(pg) => {
                    async {
                        #[allow(unused_mut)]
                        let mut $tx =
                            $crate::store::gate::Tx::new(pg.begin().await?, &$store.stock_gate);
                        let out = async { Ok::<_, $crate::error::Error>($body) }.await?;
                        $tx.commit().await?;
                        Ok::<_, $crate::error::Error>(out)
                    }
                    .await
                }
            };
            match $crate::store::retry_decision(outcome, attempt).await {
                std::ops::ControlFlow::Break(result) => break result,
                std::ops::ControlFlow::Continue(()) => continue,
            }
        }?
    }};
}

/// Closes the SQLite writer connection after a COMMIT or ROLLBACK failed on it (a full disk, a
/// deferred constraint, an I/O error): SQLite keeps the transaction open then, and a connection
/// returned to the pool in that state would refuse every later `BEGIN`. Closing it rolls the
/// transaction back; the pool opens a fresh writer for the next write.
pub(crate) async fn discard_writer(writer: sqlx::pool::PoolConnection<sqlx::Sqlite>) {
    metrics::counter!("db_writer_replaced_total").increment(1);
    tracing::error!("a COMMIT or ROLLBACK failed on the SQLite writer; replacing the connection");
    if let Err(err) = writer.close().await {
        tracing::warn!(error = %err, "closing the failed SQLite writer");
    }
}

/// Below this much free space where the SQLite database lives, `/ready` answers 503: a
/// checkout's WAL frames and a checkpoint's new pages need room, and a node that cannot store an
/// order should be taken out of rotation before shoppers meet the errors.
const MIN_FREE_BYTES_FOR_WRITES: u64 = 1024 * 1024;

/// Bytes available to this process on the file system holding `folder` (`statvfs`).
fn free_bytes(folder: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(folder.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `path` is a NUL-terminated string and `stats` a writable statvfs; the call only
    // writes into `stats`, which is read only when it succeeded.
    let status = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `stats`.
    let stats = unsafe { stats.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field widths differ between targets
    Ok((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

/// The most values a statement binds for a list that grows with its input (ids in an `IN (...)`,
/// rows of a multi-row `VALUES`); a longer list is sent in several statements. Both databases cap
/// a statement's bind variables (SQLite at 32,766, PostgreSQL at 65,535), and a list built from
/// what a user can grow (an order's lines, a cart) must never reach that: past it the statement
/// fails as a whole.
pub(crate) const MAX_LIST_BINDS: usize = 800;

/// Attempts a conflicting transaction gets before the request is answered 503.
const TRANSACTION_ATTEMPTS: u32 = 6;

/// After one attempt of `transaction!`: a database conflict (serialization failure, deadlock)
/// waits a jittered, growing pause and asks for another attempt, up to `TRANSACTION_ATTEMPTS`;
/// anything else is the result.
pub(crate) async fn retry_decision<T>(
    outcome: crate::error::Result<T>,
    attempt: u32,
) -> std::ops::ControlFlow<crate::error::Result<T>> {
    use std::ops::ControlFlow;
    match outcome {
        Err(crate::error::Error::Contention(reason)) => {
            if attempt >= TRANSACTION_ATTEMPTS {
                metrics::counter!("db_transaction_giveups_total").increment(1);
                tracing::warn!(attempt, reason = %reason, "database conflict persisted; answering 503");
                return ControlFlow::Break(Err(crate::error::Error::Contention(reason)));
            }
            metrics::counter!("db_transaction_retries_total").increment(1);
            // 2, 4, 8 ... ms ceilings with full jitter: conflicting transactions spread out instead
            // of colliding again in lock-step.
            let ceiling_ms = 2u64 << attempt.min(8);
            let pause = rand::Rng::gen_range(&mut rand::thread_rng(), 1..=ceiling_ms);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            ControlFlow::Continue(())
        }
        other => ControlFlow::Break(other),
    }
}

/// Runs a write that is one statement, atomic on its own (no transaction around it), retrying a
/// deadlock or serialization failure as `transaction!` does.
pub(crate) async fn with_retries<T, F, Fut>(mut statement: F) -> crate::error::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<T>>,
{
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        match retry_decision(statement().await, attempt).await {
            std::ops::ControlFlow::Break(result) => break result,
            std::ops::ControlFlow::Continue(()) => continue,
        }
    }
}

pub(crate) use {read, transaction, write};

impl Store {
    /// Runs one batch of a purge: `sql` deletes at most `$2` rows older than `$1` (its own
    /// statement, so a purge never holds more than one batch's locks) and this returns how many
    /// went. Two nodes purging at once may lock rows in different orders; the deadlock that can
    /// cause is retried like any other.
    pub(crate) async fn delete_batch(
        &self,
        sql: &'static str,
        before: i64,
        limit: i64,
    ) -> crate::error::Result<u64> {
        with_retries(|| async {
            Ok(write!(self, |pool| sqlx::query(sql)
                .bind(before)
                .bind(limit)
                .execute(pool)
                .await?
                .rows_affected()))
        })
        .await
    }
}

impl Store {
    pub async fn connect(config: &Config) -> anyhow::Result<Store> {
        let backend = match &config.database {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating database folder {}", dir.display()))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(if config.sqlite_synchronous_full {
                        SqliteSynchronous::Full
                    } else {
                        SqliteSynchronous::Normal
                    })
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
                    .pragma("cache_size", "-16000")
                    .pragma("temp_store", "memory");
                let write = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options.clone())
                    .await
                    .with_context(|| format!("opening SQLite database {}", path.display()))?;
                let read = SqlitePoolOptions::new()
                    .max_connections(config.database_max_connections.clamp(2, 64))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options.read_only(true))
                    .await
                    .with_context(|| format!("opening SQLite database {}", path.display()))?;
                let folder = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(dir) => dir.to_path_buf(),
                    None => std::path::PathBuf::from("."),
                };
                Backend::Sqlite(SqliteBackend {
                    read,
                    write,
                    folder,
                })
            }
            DatabaseUrl::Postgres(url) => {
                let options = PgConnectOptions::from_str(url).context("parsing DATABASE_URL")?;
                reach_postgres(&options, config).await?;
                // A request waits this long for a connection, then is a 503: with the database
                // unreachable, clients hear so in seconds, not after the request timeout.
                let pool = PgPoolOptions::new()
                    .max_connections(config.database_max_connections)
                    .acquire_timeout(Duration::from_secs(config.database_acquire_timeout_secs))
                    .connect_lazy_with(options);
                Backend::Postgres(pool)
            }
        };
        Ok(Store {
            backend,
            stock_gate: Default::default(),
            gst: config
                .gst
                .as_ref()
                .map(|gst| std::sync::Arc::new(gst.seller.clone())),
            mail: std::sync::Arc::new(emails::MailSettings {
                public_url: config
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://127.0.0.1:{}", config.port)),
                shop: config.mail_sender_name(),
            }),
        })
    }

    /// Sets where emails link to (the default public address is known once the port is bound).
    pub fn set_public_url(&mut self, public_url: String) {
        self.mail = std::sync::Arc::new(emails::MailSettings {
            public_url,
            shop: self.mail.shop.clone(),
        });
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite(sqlite) => sqlx::migrate!("./migrations/sqlite")
                .run(&sqlite.write)
                .await
                .context("running SQLite migrations")?,
            Backend::Postgres(pg) => sqlx::migrate!("./migrations/postgres")
                .run(pg)
                .await
                .context("running PostgreSQL migrations")?,
        }
        Ok(())
    }

    pub fn is_embedded(&self) -> bool {
        matches!(self.backend, Backend::Sqlite(_))
    }

    /// For `/ready`: the database answers a trivial query, and on SQLite the writer can take the
    /// write lock (`BEGIN IMMEDIATE`, rolled back), so a writer that is stuck or gone is seen,
    /// and the database's folder has room to grow: with a full disk every write that needs a new
    /// page fails, while reads and the lock still work.
    /// The caller bounds how long this may take.
    pub async fn ping(&self) -> crate::error::Result<()> {
        read!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        if let Backend::Sqlite(sqlite) = &self.backend {
            match free_bytes(&sqlite.folder) {
                Ok(free) if free < MIN_FREE_BYTES_FOR_WRITES => {
                    tracing::warn!(free, folder = %sqlite.folder.display(), "the disk holding the database is full");
                    return Err(crate::error::Error::ServiceUnavailable(
                        "The disk holding the database is full".into(),
                    ));
                }
                Ok(_) => {}
                // A folder that cannot be examined is not proof of a full disk; the write lock
                // probe below still runs.
                Err(err) => {
                    tracing::warn!(error = %err, "reading the database folder's free space")
                }
            }
            let mut writer = sqlite.write.acquire().await?;
            let probe = sqlx::Connection::begin_with(&mut *writer, "BEGIN IMMEDIATE").await?;
            if let Err(err) = probe.rollback().await {
                discard_writer(writer).await;
                return Err(err.into());
            }
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(sqlite) => {
                sqlite.write.close().await;
                sqlite.read.close().await;
            }
            Backend::Postgres(pg) => pg.close().await,
        }
    }
}

/// Start-up: connects to PostgreSQL once, each attempt bounded by
/// `DATABASE_CONNECT_TIMEOUT_SECONDS`, trying again (and logging each failure) for up to
/// `DATABASE_WAIT_SECONDS`. A failure is one line naming the cause rather than "pool timed out".
async fn reach_postgres(options: &PgConnectOptions, config: &Config) -> anyhow::Result<()> {
    use sqlx::{ConnectOptions, Connection};
    let attempt_limit = Duration::from_secs(config.database_connect_timeout_secs);
    let give_up_at = std::time::Instant::now() + Duration::from_secs(config.database_wait_secs);
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    );
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let cause = match tokio::time::timeout(attempt_limit, options.connect()).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                return Ok(());
            }
            Ok(Err(err)) => connect_failure(&err),
            Err(_) => format!(
                "no answer within {} s (DATABASE_CONNECT_TIMEOUT_SECONDS)",
                attempt_limit.as_secs()
            ),
        };
        let left = give_up_at.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            anyhow::bail!("cannot connect to PostgreSQL at {target}: {cause}");
        }
        tracing::warn!(attempt, target = %target, cause = %cause, waiting_secs = left.as_secs(),
            "PostgreSQL is not reachable yet; trying again (DATABASE_WAIT_SECONDS)");
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
}

/// Why a connection to PostgreSQL failed, in words an operator acts on.
fn connect_failure(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is PostgreSQL running and listening on that host and port?)".into()
        }
        sqlx::Error::Io(io)
            if io.to_string().contains("lookup") || io.to_string().contains("resolve") =>
        {
            format!("unknown host ({io})")
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => format!("authentication failed ({})", db.message()),
            Some("3D000") => format!("database missing ({})", db.message()),
            _ => db.message().to_string(),
        },
        other => other.to_string(),
    }
}

/// `LIKE` pattern for a substring search, with the user's wildcards escaped (use `ESCAPE '\'`).
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A page of a list, as the pagination object of CONTRACT §2 wants it.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: i64,
    pub limit: i64,
}

impl PageRequest {
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.limit)
    }
}

/// `cartwright backup`: writes a consistent copy of the SQLite database at `database` to `dest`,
/// a new file, while the shop may be writing. `VACUUM INTO` runs in one read transaction on a
/// connection of its own, so the copy is the database as of one commit (WAL keeps the writers
/// going meanwhile) and is compacted, checked by SQLite as it is written.
pub async fn backup_sqlite(
    database: &std::path::Path,
    dest: &std::path::Path,
) -> anyhow::Result<()> {
    use sqlx::Connection;
    if std::fs::symlink_metadata(dest).is_ok() {
        anyhow::bail!(
            "{} already exists; a backup never overwrites a file",
            dest.display()
        );
    }
    if !database.exists() {
        anyhow::bail!("no SQLite database at {}", database.display());
    }
    let options = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening SQLite database {}", database.display()))?;
    let target = dest
        .to_str()
        .with_context(|| format!("backup path {} is not UTF-8", dest.display()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await
        .with_context(|| format!("writing the backup {}", dest.display()))?;
    conn.close().await?;
    Ok(())
}
