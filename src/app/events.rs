//! The change feed: what the database committed (an order's status, a new notification, an
//! account's role or activation, a product edit or stock move, a cart or discount code change),
//! told to every part of every node
//! that cares: the read caches (`super::cache`) and the live streams of `GET /events`.
//!
//! The changes are written by database triggers (migration 0020), not by calls in the Rust code,
//! so every write path is covered, including ones added later and SQL run by hand. Each trigger
//! appends a row to `change_log` inside the writing transaction (a rollback takes it back), and
//! every node reads the log every `POLL` (an indexed range read that finds nothing most of the
//! time):
//! - PostgreSQL, several nodes: a node reads the rows of the transactions that ended since its
//!   last read (ids below the oldest transaction still running), so it never reads a row before
//!   its commit nor skips one however commits interleave. `LISTEN/NOTIFY` was the first design,
//!   but PostgreSQL makes every notifying commit wait for a database-wide lock held through the
//!   WAL flush: the checkout storage ceiling fell by 41 % (docs/BENCHMARKS.md).
//! - SQLite, one process: the single writer commits in `seq` order, so the feed resumes from the
//!   last `seq` it read. sqlx 0.8 does offer the writer connection's commit and update hooks, but
//!   the update hook names a rowid (our keys are text ids), and the commit hook runs before the
//!   commit is visible to readers, so a reader woken by it could still see the old row.
//!
//! While the log cannot be read the caches neither answer nor fill (`is_connected`), and they are
//! emptied when it can be read again: changes may have been missed meanwhile.
//!
//! Writes served by this node also flush the catalog cache synchronously before their response
//! (`crate::http::flush_after_writes`), so a client always reads its own writes; the feed covers
//! other nodes and the background jobs.

use super::cache::{AccountCache, CartCache, CatalogCache};
use crate::domain::order::OrderStatus;
use crate::store::{Backend, SqliteBackend, Store};
use serde::Deserialize;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// How often the feed looks for new rows in `change_log`.
const POLL: Duration = Duration::from_millis(50);
/// How often the feed deletes old rows.
const TRIM_EVERY: Duration = Duration::from_secs(10);
/// How long PostgreSQL keeps a row of the log for the nodes to read.
const LOG_RETENTION: Duration = Duration::from_secs(60);
/// Pause before the feed retries its first read.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);
/// Changes buffered per live stream; a stream that falls further behind is told to resync.
const STREAM_BUFFER: usize = 1024;

/// One committed change, as the triggers describe it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "k", rename_all = "lowercase")]
pub enum Change {
    /// An order was placed or its status moved.
    Order {
        id: String,
        number: String,
        user: String,
        status: OrderStatus,
        /// Vendors with lines in the order; filled in by the feed (only while streams listen).
        #[serde(default)]
        vendors: Vec<String>,
    },
    Notification {
        id: String,
        user: String,
        order: Option<String>,
    },
    /// An account's role or activation changed.
    User { id: String },
    /// A product was created, edited or deleted, or its stock moved.
    Product { id: String },
    /// A user's cart, its lines or the user's uses of discount codes changed.
    Cart { user: Option<String> },
    /// A discount code changed (an admin edit, a use taken or given back).
    Discount,
    /// Changes may have been missed (the feed lost its connection): nothing cached can be trusted.
    #[serde(skip)]
    Resync,
}

/// The feed's receiving end on this node: the caches it keeps and the streams it feeds.
pub struct Live {
    sender: broadcast::Sender<Arc<Change>>,
    connected: AtomicBool,
    /// Turns true when the server stops, so that live streams end and do not hold it up.
    closing: tokio::sync::watch::Sender<bool>,
    pub accounts: AccountCache,
    pub catalog: CatalogCache,
    pub carts: CartCache,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            sender: broadcast::channel(STREAM_BUFFER).0,
            connected: AtomicBool::new(false),
            closing: tokio::sync::watch::channel(false).0,
            accounts: AccountCache::default(),
            catalog: CatalogCache::default(),
            carts: CartCache::default(),
        }
    }
}

impl Live {
    pub fn new() -> Arc<Live> {
        Arc::new(Live::default())
    }

    /// Every change from now on. A receiver that lags gets `RecvError::Lagged` and must treat it
    /// as a resync.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }

    /// Ends every live stream (the server is stopping).
    pub fn close_streams(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once the server is stopping.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Whether the feed is receiving: while it is not, caches must not answer.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Marks the feed up or down. Either way the caches are emptied: going down, because what
    /// follows will not be heard; coming up, because what happened while down was not.
    fn set_connected(&self, up: bool) {
        if self.connected.swap(up, Ordering::SeqCst) != up {
            self.apply(Change::Resync);
        }
    }

    /// Invalidates what the change makes stale, then tells the streams.
    pub fn apply(&self, change: Change) {
        match &change {
            Change::User { id } => self.accounts.invalidate(id),
            Change::Product { id } => {
                self.catalog.invalidate(id);
                // Carts show their products' prices and stock.
                self.carts.flush();
            }
            Change::Cart { user: Some(user) } => self.carts.invalidate(user),
            Change::Cart { user: None } | Change::Discount => self.carts.flush(),
            Change::Resync => {
                self.accounts.flush();
                self.catalog.flush();
                self.carts.flush();
            }
            Change::Order { .. } | Change::Notification { .. } => {}
        }
        if self.sender.receiver_count() > 0 {
            let _ = self.sender.send(Arc::new(change));
        }
    }

    async fn apply_payload(&self, store: &Store, payload: &str) {
        match serde_json::from_str::<Change>(payload) {
            Ok(mut change) => {
                if let Change::Order { id, vendors, .. } = &mut change {
                    // Only streams need the vendors; with none open, skip the read.
                    if self.sender.receiver_count() > 0 {
                        match store.order_vendor_ids(id).await {
                            Ok(ids) => *vendors = ids,
                            Err(err) => {
                                tracing::warn!(error = %err, "reading an order's vendors for live streams")
                            }
                        }
                    }
                }
                self.apply(change);
            }
            Err(err) => tracing::warn!(error = %err, payload, "unreadable change notification"),
        }
    }
}

/// Starts the feed for this node; it runs until the store is closed.
pub fn spawn_feed(live: Arc<Live>, store: Store) -> JoinHandle<()> {
    tokio::spawn(async move {
        match store.backend.clone() {
            Backend::Postgres(pool) => postgres_feed(&live, &store, pool).await,
            Backend::Sqlite(sqlite) => sqlite_feed(&live, &store, sqlite).await,
        }
        live.set_connected(false);
    })
}

async fn postgres_feed(live: &Live, store: &Store, pool: PgPool) {
    // Transactions with ids below `from` have been read; the first poll starts at the oldest
    // transaction running now, so this node reads only what commits from its start on.
    let mut from: Option<String> = None;
    let mut last_read = tokio::time::Instant::now();
    let mut last_trim = tokio::time::Instant::now();
    // What this node had read, sampled at each trim: rows older than a sample a minute old are
    // deleted.
    let mut read_marks: std::collections::VecDeque<(tokio::time::Instant, String)> =
        std::collections::VecDeque::new();
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if pool.is_closed() {
            return;
        }
        let read = async {
            // Every transaction older than the oldest one still running has ended: its rows (if
            // it committed) are all visible, and no row of it can appear later.
            let upto: String =
                sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
                    .fetch_one(&pool)
                    .await?;
            let rows: Vec<(i64, String)> = match &from {
                None => Vec::new(),
                Some(from) => {
                    sqlx::query_as(
                        "SELECT seq, payload FROM change_log
                         WHERE xid >= $1::xid8 AND xid < $2::xid8 ORDER BY seq",
                    )
                    .bind(from)
                    .bind(&upto)
                    .fetch_all(&pool)
                    .await?
                }
            };
            Ok::<_, sqlx::Error>((upto, rows))
        }
        .await;
        match read {
            Ok((upto, rows)) => {
                if last_read.elapsed() > LOG_RETENTION / 2 {
                    // Away long enough for the log to have been trimmed past what was read.
                    live.apply(Change::Resync);
                }
                live.set_connected(true);
                for (_, payload) in rows {
                    live.apply_payload(store, &payload).await;
                }
                from = Some(upto);
                last_read = tokio::time::Instant::now();
            }
            Err(err) => {
                if !pool.is_closed() {
                    tracing::warn!(error = %err, "change feed: reading the change log; caches are off");
                }
                live.set_connected(false);
            }
        }
        if last_trim.elapsed() >= TRIM_EVERY {
            last_trim = tokio::time::Instant::now();
            if let Some(from) = &from {
                read_marks.push_back((last_trim, from.clone()));
            }
            let mut cutoff = None;
            while read_marks
                .front()
                .is_some_and(|(at, _)| at.elapsed() >= LOG_RETENTION)
            {
                cutoff = read_marks.pop_front().map(|(_, mark)| mark);
            }
            if let Some(cutoff) = cutoff {
                let trim = sqlx::query("DELETE FROM change_log WHERE xid < $1::xid8")
                    .bind(&cutoff)
                    .execute(&pool)
                    .await;
                if let Err(err) = trim {
                    tracing::warn!(error = %err, "change feed: trimming the change log");
                }
            }
        }
    }
}

async fn sqlite_feed(live: &Live, store: &Store, sqlite: SqliteBackend) {
    let mut last: i64 = loop {
        match sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM change_log")
            .fetch_one(&sqlite.read)
            .await
        {
            Ok(seq) => break seq,
            Err(_) if sqlite.read.is_closed() => return,
            Err(err) => {
                tracing::warn!(error = %err, "change feed: reading the change log");
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    };
    let mut trimmed = last;
    let mut last_trim = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if sqlite.read.is_closed() {
            return;
        }
        let rows: Result<Vec<(i64, String)>, _> = sqlx::query_as(
            "SELECT seq, payload FROM change_log WHERE seq > $1 ORDER BY seq LIMIT 1000",
        )
        .bind(last)
        .fetch_all(&sqlite.read)
        .await;
        match rows {
            Ok(rows) => {
                live.set_connected(true);
                for (seq, payload) in rows {
                    live.apply_payload(store, &payload).await;
                    last = seq;
                }
            }
            Err(err) => {
                if !sqlite.read.is_closed() {
                    tracing::warn!(error = %err, "change feed: reading the change log");
                }
                live.set_connected(false);
            }
        }
        if last > trimmed && last_trim.elapsed() >= TRIM_EVERY {
            last_trim = tokio::time::Instant::now();
            let trim = sqlx::query("DELETE FROM change_log WHERE seq <= $1")
                .bind(last)
                .execute(&sqlite.write)
                .await;
            match trim {
                Ok(_) => trimmed = last,
                Err(err) => tracing::warn!(error = %err, "change feed: trimming the change log"),
            }
        }
    }
}
