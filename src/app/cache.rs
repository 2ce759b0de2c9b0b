//! Read caches kept honest by the change feed (`super::events`): the account check every
//! authenticated request makes, the catalog's product pages and products, and each user's cart
//! as stored (priced on every read, so the clock and the code's dates are always current).
//!
//! Three rules keep them exact enough for the one-second promise of CONTRACT §3 and §4:
//! - every committed change is heard through the feed and drops what it makes stale, on every
//!   node; while the feed is not connected the caches neither answer nor fill;
//! - an entry filled by a read that raced an invalidation is not kept: a fill carries the cache's
//!   generation from before its read, and any invalidation since then makes it a no-op;
//! - as a safety net for a change the feed did not deliver, an entry is served for at most `TTL`
//!   after its read *started*, so whatever committed before that read began is seen within `TTL`.
//!
//! They only ever answer reads. Decisions about money and stock are made by conditional SQL in the
//! database, never from here.

use crate::domain::pricing::PricingSettings;
use crate::error::Result;
use crate::store::cart::{CartSnapshot, PricedCart};
use crate::store::products::{Product, ProductFilter};
use crate::store::users::ActiveAccount;
use crate::store::{PageRequest, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The longest an entry is served after its read began, whatever the feed says.
pub const TTL: Duration = Duration::from_millis(900);
/// Above this many entries a cache drops its expired ones (and everything, if still full), so a
/// stream of distinct keys cannot grow it without bound.
const MAX_ENTRIES: usize = 50_000;

/// A ticket for one fill: taken before the read, redeemed after it.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    generation: u64,
    started: Instant,
    allowed: bool,
}

/// A map whose fills are void when an invalidation came between their read and their insert.
struct Cache<K, V> {
    entries: RwLock<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Cache<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, started)| started.elapsed() < TTL)
            .map(|(value, _)| value.clone())
    }

    fn begin(&self, allowed: bool) -> Fill {
        Fill {
            generation: self.generation.load(Ordering::SeqCst),
            started: Instant::now(),
            allowed,
        }
    }

    fn put(&self, key: K, value: V, fill: Fill) {
        if !fill.allowed {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock, which every invalidation also takes.
        if self.generation.load(Ordering::SeqCst) != fill.generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, started)| started.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (value, fill.started));
    }

    fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(key);
    }

    fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }
}

/// Who may still act: the role and session version of each active account, `None` for one
/// deactivated or gone.
#[derive(Default)]
pub struct AccountCache {
    roles: Cache<String, Option<ActiveAccount>>,
}

impl AccountCache {
    /// The cached answer for this account, if there is a fresh one.
    pub fn get(&self, user_id: &str, connected: bool) -> Option<Option<ActiveAccount>> {
        connected.then(|| self.roles.get(user_id)).flatten()
    }

    pub fn begin(&self, connected: bool) -> Fill {
        self.roles.begin(connected)
    }

    pub fn put(&self, user_id: &str, account: Option<ActiveAccount>, fill: Fill) {
        self.roles.put(user_id.to_string(), account, fill);
    }

    pub fn invalidate(&self, user_id: &str) {
        self.roles.remove(user_id);
    }

    pub fn flush(&self) {
        self.roles.clear();
    }
}

/// A catalog page: its products and how many match in all.
pub type CatalogPage = Arc<(Vec<Product>, i64)>;

/// Products by id and catalog pages by their filter and page. Any product change drops the
/// product and every page (a page may gain, lose or reorder products through any edit).
#[derive(Default)]
pub struct CatalogCache {
    products: Cache<String, Arc<Product>>,
    pages: Cache<String, CatalogPage>,
}

/// The key of a page: everything that selects and orders it.
pub fn page_key(filter: &ProductFilter, page: PageRequest) -> String {
    format!("{filter:?}|{}|{}", page.page, page.limit)
}

impl CatalogCache {
    pub fn product(&self, id: &str, connected: bool) -> Option<Arc<Product>> {
        connected.then(|| self.products.get(id)).flatten()
    }

    pub fn begin_product(&self, connected: bool) -> Fill {
        self.products.begin(connected)
    }

    pub fn put_product(&self, product: Arc<Product>, fill: Fill) {
        self.products.put(product.id.clone(), product, fill);
    }

    pub fn page(&self, key: &str, connected: bool) -> Option<CatalogPage> {
        connected.then(|| self.pages.get(key)).flatten()
    }

    pub fn begin_page(&self, connected: bool) -> Fill {
        self.pages.begin(connected)
    }

    pub fn put_page(&self, key: String, page: CatalogPage, fill: Fill) {
        self.pages.put(key, page, fill);
    }

    pub fn invalidate(&self, product_id: &str) {
        self.products.remove(product_id);
        self.pages.clear();
    }

    pub fn flush(&self) {
        self.products.clear();
        self.pages.clear();
    }
}

/// Each user's cart as stored, with its products, its code's rule and the user's uses of it.
/// Dropped for a user on any change to their cart or code uses, and for everyone on any product or
/// discount code change.
#[derive(Default)]
pub struct CartCache {
    carts: Cache<String, Arc<CartSnapshot>>,
}

impl CartCache {
    pub fn invalidate(&self, user_id: &str) {
        self.carts.remove(user_id);
    }

    pub fn flush(&self) {
        self.carts.clear();
    }
}

/// The user's priced cart (`Store::priced_cart`), from the cart cache when it holds a fresh
/// snapshot. A read that had to clean the cart up (a line of a product no longer for sale, a code
/// that stopped applying) wrote to it, so the snapshot is dropped.
pub async fn cached_priced_cart(
    live: &super::Live,
    store: &Store,
    user_id: &str,
    settings: &PricingSettings,
) -> Result<PricedCart> {
    let connected = live.is_connected();
    let cached = connected.then(|| live.carts.carts.get(user_id)).flatten();
    let snapshot = match cached {
        Some(snapshot) => snapshot,
        None => {
            let fill = live.carts.carts.begin(connected);
            let snapshot = Arc::new(store.cart_snapshot(user_id).await?);
            live.carts
                .carts
                .put(user_id.to_string(), snapshot.clone(), fill);
            snapshot
        }
    };
    let priced = store.price_snapshot((*snapshot).clone(), settings).await?;
    if !priced.notices.is_empty() {
        live.carts.invalidate(user_id);
    }
    Ok(priced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::Role;

    fn account(role: Role) -> Option<ActiveAccount> {
        Some(ActiveAccount {
            role,
            session_version: 0,
        })
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_not_kept() {
        let cache = AccountCache::default();
        let fill = cache.begin(true);
        cache.invalidate("u1");
        cache.put("u1", account(Role::Admin), fill);
        assert_eq!(cache.get("u1", true), None);
        let fill = cache.begin(true);
        cache.put("u1", account(Role::Customer), fill);
        assert_eq!(cache.get("u1", true), Some(account(Role::Customer)));
    }

    #[test]
    fn nothing_is_served_or_filled_while_the_feed_is_down() {
        let cache = AccountCache::default();
        let fill = cache.begin(false);
        cache.put("u1", account(Role::Admin), fill);
        assert_eq!(cache.get("u1", true), None);
        let fill = cache.begin(true);
        cache.put("u1", account(Role::Admin), fill);
        assert_eq!(cache.get("u1", false), None);
        assert_eq!(cache.get("u1", true), Some(account(Role::Admin)));
    }

    #[test]
    fn entries_expire_after_the_ttl_from_their_read() {
        let cache = AccountCache::default();
        let mut fill = cache.begin(true);
        fill.started -= TTL;
        cache.put("u1", None, fill);
        assert_eq!(cache.get("u1", true), None);
    }
}
