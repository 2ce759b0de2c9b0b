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
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The longest an entry is served after its read began, whatever the feed says.
pub const TTL: Duration = Duration::from_millis(900);

/// What each cache may hold, in (estimated) bytes: the one place the memory of every structure a
/// request can grow is bounded. Anonymous clients can only fill the catalog caches (any filter
/// string is a new page key), so those budgets bound what they can make a node hold; the account
/// and cart caches are filled only by holders of valid tokens. Past its budget a cache evicts its
/// oldest entries first; an entry is also dropped once its `TTL` has passed.
pub mod budget {
    const MIB: usize = 1024 * 1024;
    pub const CATALOG_PAGES: usize = 16 * MIB;
    pub const PRODUCTS: usize = 4 * MIB;
    pub const CARTS: usize = 8 * MIB;
    pub const ACCOUNTS: usize = 2 * MIB;
    /// Entries heavier than this share of their cache's budget are not kept at all.
    pub const LARGEST_ENTRY_SHARE: usize = 8;
    /// After a flush or eviction freed at least this much, the allocator is asked to hand free
    /// memory back to the system (glibc keeps it otherwise, and RSS never comes down).
    pub const TRIM_AFTER_FREEING: usize = 4 * MIB;
}

/// Roughly how many bytes a cached value holds, itself and on the heap.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for Product {
    fn weight(&self) -> usize {
        std::mem::size_of::<Product>()
            + self.id.capacity()
            + self.name.capacity()
            + self.description.capacity()
            + self.brand.capacity()
            + self.category.capacity()
            + self.sku.as_ref().map_or(0, String::capacity)
            + self.vendor_id.as_ref().map_or(0, String::capacity)
            + self
                .image_urls
                .iter()
                .map(|url| url.capacity() + std::mem::size_of::<String>())
                .sum::<usize>()
    }
}

impl<T: Weigh> Weigh for Arc<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

impl Weigh for (Vec<Product>, i64) {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.0.iter().map(Weigh::weight).sum::<usize>()
    }
}

impl Weigh for CartSnapshot {
    fn weight(&self) -> usize {
        // The cart row, its address and code are small next to its lines' products.
        std::mem::size_of::<CartSnapshot>()
            + 512
            + self
                .lines
                .iter()
                .map(|line| line.product.weight() + 16)
                .sum::<usize>()
    }
}

impl Weigh for Option<ActiveAccount> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

/// A ticket for one fill: taken before the read, redeemed after it.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    generation: u64,
    started: Instant,
    allowed: bool,
}

struct Entry<V> {
    value: V,
    started: Instant,
    weight: usize,
    /// Which insertion this is, so the eviction queue can tell a replaced entry from its key's
    /// current one.
    serial: u64,
}

struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Keys in insertion order, with the serial each was inserted under; oldest first.
    order: VecDeque<(K, u64)>,
    bytes: usize,
    next_serial: u64,
}

impl<K, V> Default for Entries<K, V> {
    fn default() -> Self {
        Entries {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            next_serial: 0,
        }
    }
}

/// A map bounded in bytes whose fills are void when an invalidation came between their read and
/// their insert.
struct Cache<K, V> {
    entries: RwLock<Entries<K, V>>,
    generation: AtomicU64,
    budget: usize,
}

impl<K, V> Cache<K, V> {
    fn with_budget(budget: usize) -> Self {
        Cache {
            entries: RwLock::new(Entries::default()),
            generation: AtomicU64::new(0),
            budget,
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone + Weigh> Cache<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .map
            .get(key)
            .filter(|entry| entry.started.elapsed() < TTL)
            .map(|entry| entry.value.clone())
    }

    fn begin(&self, allowed: bool) -> Fill {
        Fill {
            generation: self.generation.load(Ordering::SeqCst),
            started: Instant::now(),
            allowed,
        }
    }

    fn put(&self, key: K, value: V, fill: Fill, key_bytes: usize) {
        if !fill.allowed {
            return;
        }
        let weight = value.weight() + key_bytes + std::mem::size_of::<(K, Entry<V>)>() * 2;
        if weight > self.budget / budget::LARGEST_ENTRY_SHARE {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock, which every invalidation also takes.
        if self.generation.load(Ordering::SeqCst) != fill.generation {
            return;
        }
        let serial = entries.next_serial;
        entries.next_serial += 1;
        let replaced = entries.map.insert(
            key.clone(),
            Entry {
                value,
                started: fill.started,
                weight,
                serial,
            },
        );
        entries.bytes += weight;
        if let Some(old) = replaced {
            entries.bytes -= old.weight;
        }
        entries.order.push_back((key, serial));
        // Oldest first: whatever is over the budget, and whatever has outlived the TTL.
        let mut freed = 0;
        while let Some((oldest, serial)) = entries.order.front() {
            let current = entries.map.get(oldest).filter(|e| e.serial == *serial);
            let over = entries.bytes > self.budget;
            match current {
                Some(entry) if !over && entry.started.elapsed() < TTL => break,
                Some(_) => {
                    let (oldest, _) = entries.order.pop_front().expect("front exists");
                    let entry = entries.map.remove(&oldest).expect("entry exists");
                    entries.bytes -= entry.weight;
                    freed += entry.weight;
                }
                // Replaced or removed since: only the queue's note goes.
                None => {
                    entries.order.pop_front();
                }
            }
        }
        drop(entries);
        if freed >= budget::TRIM_AFTER_FREEING {
            release_freed_memory();
        }
    }

    fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(entry) = entries.map.remove(key) {
            entries.bytes -= entry.weight;
        }
        // The queue keeps the key's note until it reaches the front; a cache that is only ever
        // removed from (never put) must not let it grow.
        if entries.map.is_empty() {
            entries.order = VecDeque::new();
        }
    }

    fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        if entries.order.is_empty() && entries.map.is_empty() {
            return;
        }
        let freed = std::mem::take(&mut *entries).bytes;
        drop(entries);
        if freed >= budget::TRIM_AFTER_FREEING {
            release_freed_memory();
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.entries.read().unwrap().bytes
    }
}

/// Asks the allocator to return freed memory to the system, on a thread of its own (it walks the
/// heap) and at most one at a time. glibc's malloc otherwise keeps what a flushed cache held, and
/// the process's RSS stays at its peak.
fn release_freed_memory() {
    static RUNNING: AtomicBool = AtomicBool::new(false);
    if RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(|| {
            // Responses still holding the dropped values finish first.
            std::thread::sleep(Duration::from_millis(200));
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only releases free pages; it touches no live allocation.
            unsafe {
                libc::malloc_trim(0);
            }
            RUNNING.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        RUNNING.store(false, Ordering::SeqCst);
    }
}

/// Who may still act: the role and session version of each active account, `None` for one
/// deactivated or gone.
pub struct AccountCache {
    roles: Cache<String, Option<ActiveAccount>>,
}

impl Default for AccountCache {
    fn default() -> Self {
        AccountCache {
            roles: Cache::with_budget(budget::ACCOUNTS),
        }
    }
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
        self.roles
            .put(user_id.to_string(), account, fill, user_id.len());
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
pub struct CatalogCache {
    products: Cache<String, Arc<Product>>,
    pages: Cache<String, CatalogPage>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        CatalogCache {
            products: Cache::with_budget(budget::PRODUCTS),
            pages: Cache::with_budget(budget::CATALOG_PAGES),
        }
    }
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
        let key_bytes = product.id.len();
        self.products
            .put(product.id.clone(), product, fill, key_bytes);
    }

    pub fn page(&self, key: &str, connected: bool) -> Option<CatalogPage> {
        connected.then(|| self.pages.get(key)).flatten()
    }

    pub fn begin_page(&self, connected: bool) -> Fill {
        self.pages.begin(connected)
    }

    pub fn put_page(&self, key: String, page: CatalogPage, fill: Fill) {
        let key_bytes = key.len();
        self.pages.put(key, page, fill, key_bytes);
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
pub struct CartCache {
    carts: Cache<String, Arc<CartSnapshot>>,
}

impl Default for CartCache {
    fn default() -> Self {
        CartCache {
            carts: Cache::with_budget(budget::CARTS),
        }
    }
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
                .put(user_id.to_string(), snapshot.clone(), fill, user_id.len());
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

    fn product_with_description(bytes: usize) -> Product {
        Product {
            id: uuid::Uuid::new_v4().to_string(),
            name: "Shampoo".into(),
            description: "x".repeat(bytes),
            price: crate::domain::money::Money::ZERO,
            stock: 1,
            reserved: 0,
            brand: String::new(),
            category: String::new(),
            image_urls: Vec::new(),
            sku: None,
            is_active: true,
            vendor_id: None,
            rating_sum: 0,
            rating_count: 0,
            created_at: 0,
            updated_at: 0,
            hsn_code: None,
            gst_rate: Default::default(),
        }
    }

    #[test]
    fn distinct_page_keys_cannot_grow_the_catalog_past_its_budget() {
        let cache = CatalogCache::default();
        // 100 products of 20 KB each: a 2 MB page, as a hostile filter over a wordy catalog gets.
        let page: CatalogPage = Arc::new((
            (0..100).map(|_| product_with_description(20_000)).collect(),
            100,
        ));
        for i in 0..400 {
            let fill = cache.begin_page(true);
            cache.put_page(format!("maxPrice=1000{i}.00"), page.clone(), fill);
        }
        assert!(cache.pages.bytes() <= budget::CATALOG_PAGES);
        assert!(cache.pages.bytes() > 0, "pages under the budget are kept");
        cache.flush();
        assert_eq!(cache.pages.bytes(), 0);
    }

    #[test]
    fn an_entry_over_its_share_of_the_budget_is_not_kept() {
        let cache = CatalogCache::default();
        let huge: CatalogPage =
            Arc::new((vec![product_with_description(budget::CATALOG_PAGES)], 1));
        let fill = cache.begin_page(true);
        cache.put_page("huge".into(), huge, fill);
        assert!(cache.page("huge", true).is_none());
        assert_eq!(cache.pages.bytes(), 0);
    }

    #[test]
    fn expired_entries_are_dropped_when_new_ones_come() {
        let cache = AccountCache::default();
        for i in 0..1000 {
            let mut fill = cache.begin(true);
            fill.started -= TTL;
            cache.put(&format!("u{i}"), account(Role::Customer), fill);
        }
        let fill = cache.begin(true);
        cache.put("fresh", account(Role::Admin), fill);
        let entries = cache.roles.entries.read().unwrap();
        assert_eq!(entries.map.len(), 1);
        assert_eq!(entries.order.len(), 1);
    }
}
