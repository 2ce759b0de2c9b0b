//! The change feed: what the database committed (an order's status, a new notification, an
//! account's role or activation, a product edit or stock move, a cart or discount code change),
//! told to every part of every node
//! that cares: the read caches (`super::cache`) and the live streams of `GET /events`.
//!
//! The changes are written by database triggers (migration 0020), not by calls in the Rust code,
//! so every write path is covered, including ones added later and SQL run by hand:
//! - PostgreSQL: `pg_notify` on a per-schema channel, delivered at commit (never for a rollback),
//!   received by one `LISTEN` connection per node. When that connection drops, notifications sent
//!   meanwhile are lost, so the caches stop answering (`is_connected`) and are emptied, both when
//!   it drops and when it is back.
//! - SQLite: one process is the only node; the triggers append to `change_log` inside the writing
//!   transaction, and the feed reads new rows every `SQLITE_POLL` (an indexed range read that finds
//!   nothing most of the time). sqlx 0.8 does offer the writer connection's commit and update
//!   hooks, but the update hook names a rowid (our keys are text ids), and the commit hook runs
//!   before the commit is visible to readers, so a reader woken by it could still see the old row;
//!   the log gives exact ids of committed changes only.
//!
//! Writes served by this node also flush the catalog cache synchronously before their response
//! (`crate::http::flush_after_writes`), so a client always reads its own writes; the feed covers
//! other nodes and the background jobs.

use super::cache::{AccountCache, CartCache, CatalogCache};
use crate::store::{Backend, SqliteBackend, Store};
use serde::Deserialize;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// How often the SQLite feed looks for new rows in `change_log`.
const SQLITE_POLL: Duration = Duration::from_millis(50);
/// How often the SQLite feed deletes the rows it has read.
const SQLITE_TRIM: Duration = Duration::from_secs(10);
/// Pause before the PostgreSQL feed reconnects after losing its connection.
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
        status: String,
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
    let channel = loop {
        match sqlx::query_scalar::<_, String>("SELECT cw_channel(current_schema())")
            .fetch_one(&pool)
            .await
        {
            Ok(channel) => break channel,
            Err(_) if pool.is_closed() => return,
            Err(err) => {
                tracing::warn!(error = %err, "change feed: naming the channel");
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    };
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(&channel).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        match listener {
            Ok(mut listener) => {
                live.set_connected(true);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            live.apply_payload(store, notification.payload()).await
                        }
                        // The connection was lost: notifications sent meanwhile are gone.
                        Ok(None) => break,
                        Err(err) => {
                            if !pool.is_closed() {
                                tracing::warn!(error = %err, "change feed: connection lost");
                            }
                            break;
                        }
                    }
                }
                live.set_connected(false);
            }
            Err(err) => {
                if !pool.is_closed() {
                    tracing::warn!(error = %err, "change feed: cannot listen; caches are off");
                }
            }
        }
        if pool.is_closed() {
            return;
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
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
    let mut ticker = tokio::time::interval(SQLITE_POLL);
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
        if last > trimmed && last_trim.elapsed() >= SQLITE_TRIM {
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
