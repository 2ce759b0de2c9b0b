//! `cartwright-bench generate`: fills a database with users, products and orders (with their lines)
//! through multi-row INSERTs of generated literals, fast enough for a million orders.
//!
//! Every generated customer has the password `password123` (one argon2 hash computed once and
//! reused) and the e-mail `gen{i}@bench.local`. Orders spread over the last 365 days and over the
//! statuses roughly as a live shop has them; stock, reservations and payments agree with each other.

use crate::server::{Db, Settings, TempDir};
use anyhow::Context;
use cartwright::domain::ids::new_id;
use cartwright::domain::time::now_millis;
use cartwright::store::{Backend, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::fmt::Write;
use std::time::Instant;

pub const GENERATED_PASSWORD: &str = "password123";
const DAY_MS: i64 = 86_400_000;
const ADDRESS: &str = r#"{"street":"1 Generated Road","city":"Pune","state":"Maharashtra","zipCode":"411001","country":"India","phone":"+919876543210"}"#;

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Orders to create.
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Customers to create (default: one per ten orders, at least 100).
    #[arg(long)]
    pub users: Option<usize>,
    /// Products to create.
    #[arg(long, default_value_t = 500)]
    pub products: usize,
    /// sqlite://path or a PostgreSQL URL (a schema may be chosen with
    /// `?options=-c%20search_path%3Dname`). Migrated first; the data is added to what is there.
    #[arg(long)]
    pub database_url: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub struct Spec {
    pub orders: usize,
    pub users: usize,
    pub products: usize,
    pub seed: u64,
}

pub async fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let dir = TempDir::new("generate")?;
    let settings = Settings {
        database_url: args.database_url.clone(),
        data_dir: dir.0.clone(),
        max_connections: 4,
        sqlite_synchronous: "normal".into(),
        smtp_url: None,
    };
    let store = Store::connect(&settings.config()?).await?;
    store.migrate().await?;
    let spec = Spec {
        orders: args.orders,
        users: args.users.unwrap_or((args.orders / 10).max(100)),
        products: args.products,
        seed: args.seed,
    };
    generate(&store, &spec).await?;
    store.close().await;
    Ok(())
}

/// Creates a fresh database of `spec` and leaves it migrated and filled.
pub async fn fresh(
    database_url: Option<&str>,
    dir: &std::path::Path,
    name: &str,
    spec: &Spec,
) -> anyhow::Result<Db> {
    let db = Db::fresh(database_url, dir, name).await?;
    let settings = Settings {
        database_url: db.url(),
        data_dir: dir.to_path_buf(),
        max_connections: 4,
        sqlite_synchronous: "normal".into(),
        smtp_url: None,
    };
    let store = Store::connect(&settings.config()?).await?;
    store.migrate().await?;
    generate(&store, spec).await?;
    store.close().await;
    Ok(db)
}

async fn exec(store: &Store, sql: &str) -> anyhow::Result<()> {
    match &store.backend {
        Backend::Sqlite(sqlite) => {
            sqlx::raw_sql(sql).execute(&sqlite.write).await?;
        }
        Backend::Postgres(pg) => {
            sqlx::raw_sql(sql).execute(pg).await?;
        }
    }
    Ok(())
}

fn opt(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_string(), |v| v.to_string())
}

fn opt_text(value: Option<String>) -> String {
    value.map_or_else(|| "NULL".to_string(), |v| format!("'{v}'"))
}

pub async fn generate(store: &Store, spec: &Spec) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let now = now_millis();
    let hash = cartwright::auth::hash_password(GENERATED_PASSWORD.to_string())
        .await
        .context("hashing the generated password")?;

    let mut user_ids = Vec::with_capacity(spec.users);
    for chunk in (0..spec.users).collect::<Vec<_>>().chunks(1000) {
        let mut sql = String::from(
            "INSERT INTO users (id, name, email, phone, password_hash, role, is_active, created_at, updated_at) VALUES ",
        );
        for (n, i) in chunk.iter().enumerate() {
            let id = new_id();
            let created = now - 400 * DAY_MS + rng.gen_range(0..30 * DAY_MS);
            if n > 0 {
                sql.push(',');
            }
            write!(
                sql,
                "('{id}', 'Generated User {i}', 'gen{i}@bench.local', NULL, '{hash}', 'customer', TRUE, {created}, {created})"
            )?;
            user_ids.push(id);
        }
        exec(store, &sql).await?;
    }

    let mut products = Vec::with_capacity(spec.products);
    for chunk in (0..spec.products).collect::<Vec<_>>().chunks(1000) {
        let mut sql = String::from(
            "INSERT INTO products (id, name, description, price, stock, reserved, brand, category, image_urls, is_active, created_at, updated_at) VALUES ",
        );
        for (n, i) in chunk.iter().enumerate() {
            let id = new_id();
            let price = 9_900 + (*i as i64 % 50) * 2_000;
            if n > 0 {
                sql.push(',');
            }
            write!(
                sql,
                "('{id}', 'Generated product {i}', 'Made by cartwright-bench generate', {price}, 1000000, 0, 'GenBrand', 'category{}', '[]', TRUE, {t}, {t})",
                i % 20,
                t = now - 400 * DAY_MS
            )?;
            products.push((id, price));
        }
        exec(store, &sql).await?;
    }

    let mut reserved: HashMap<usize, i64> = HashMap::new();
    let batch = 1000;
    let mut done = 0;
    while done < spec.orders {
        let count = batch.min(spec.orders - done);
        let mut orders = String::from(
            "INSERT INTO orders (id, order_number, user_id, status, total_items, subtotal, discount, shipping_charges, tax, total_amount,
             currency, shipping_address, payment_method, payment_status, gateway_order_id, gateway_payment_id, paid_at,
             refunded_amount, stock_state, payment_expires_at, confirmed_at, delivered_at, cancelled_at, created_at, updated_at) VALUES ",
        );
        let mut items = String::from(
            "INSERT INTO order_items (order_id, product_id, vendor_id, product_name, product_image, price, quantity, total_price) VALUES ",
        );
        let mut first_item = true;
        for k in 0..count {
            let i = done + k;
            let id = new_id();
            let user = &user_ids[rng.gen_range(0..user_ids.len())];
            let roll = rng.gen_range(0..100);
            let status = match roll {
                0..=3 => "pending",
                4..=11 => "confirmed",
                12..=16 => "processing",
                17..=24 => "shipped",
                25..=84 => "delivered",
                85..=96 => "cancelled",
                _ => "returned",
            };
            let created = if status == "pending" {
                now - rng.gen_range(0..25 * 60_000)
            } else {
                now - rng.gen_range(30 * 60_000..365 * DAY_MS)
            };
            let cod = status != "pending" && status != "cancelled" && rng.gen_range(0..100) < 15;
            let lines = rng.gen_range(1..=3);
            let mut chosen: Vec<usize> = Vec::with_capacity(lines);
            while chosen.len() < lines {
                let p = rng.gen_range(0..products.len());
                if !chosen.contains(&p) {
                    chosen.push(p);
                }
            }
            let mut subtotal = 0;
            let mut total_items = 0;
            for p in &chosen {
                let quantity = rng.gen_range(1..=3);
                let (product_id, price) = &products[*p];
                subtotal += price * quantity;
                total_items += quantity;
                if status == "pending" {
                    *reserved.entry(*p).or_default() += quantity;
                }
                if !first_item {
                    items.push(',');
                }
                first_item = false;
                write!(
                    items,
                    "('{id}', '{product_id}', NULL, 'Generated product {p}', NULL, {price}, {quantity}, {})",
                    price * quantity
                )?;
            }
            let tax = subtotal * 18 / 100;
            let total = subtotal + tax;
            let paid = matches!(
                status,
                "confirmed" | "processing" | "shipped" | "delivered" | "returned"
            );
            let (payment_status, stock_state) = match status {
                "pending" => ("pending", "reserved"),
                "cancelled" => ("failed", "released"),
                "returned" => ("refunded", "restocked"),
                "delivered" => ("completed", "committed"),
                _ if cod => ("pending", "committed"),
                _ => ("completed", "committed"),
            };
            let online_paid = paid && !cod;
            let gateway_order = (!cod).then(|| format!("order_gen{i:012}"));
            let gateway_payment = online_paid.then(|| format!("pay_gen{i:012}"));
            let paid_at = (payment_status == "completed" || payment_status == "refunded")
                .then_some(created + 60_000);
            let confirmed_at = paid.then_some(created + 60_000);
            let delivered_at =
                (status == "delivered" || status == "returned").then_some(created + 4 * DAY_MS);
            let cancelled_at = (status == "cancelled").then_some(created + 30 * 60_000);
            let expires = (!cod).then_some(created + 30 * 60_000);
            let refunded = if status == "returned" { total } else { 0 };
            let updated = created + 60_000;
            if k > 0 {
                orders.push(',');
            }
            write!(
                orders,
                "('{id}', 'ORD9{i:012}', '{user}', '{status}', {total_items}, {subtotal}, 0, 0, {tax}, {total}, 'INR', '{ADDRESS}', '{method}', '{payment_status}', {gateway_order}, {gateway_payment}, {paid_at}, {refunded}, '{stock_state}', {expires}, {confirmed_at}, {delivered_at}, {cancelled_at}, {created}, {updated})",
                method = if cod { "cod" } else { "razorpay" },
                gateway_order = opt_text(gateway_order),
                gateway_payment = opt_text(gateway_payment),
                paid_at = opt(paid_at),
                expires = opt(expires),
                confirmed_at = opt(confirmed_at),
                delivered_at = opt(delivered_at),
                cancelled_at = opt(cancelled_at),
            )?;
        }
        exec(store, &orders).await?;
        exec(store, &items).await?;
        done += count;
        if done % 100_000 == 0 {
            eprintln!(
                "generated {done} orders in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    for (p, units) in reserved {
        exec(
            store,
            &format!(
                "UPDATE products SET reserved = {units} WHERE id = '{}'",
                products[p].0
            ),
        )
        .await?;
    }
    if !store.is_embedded() {
        // What autovacuum does on its own soon after a bulk load: statistics for the planner. The
        // order-totals tables are compacted too: the bulk load updates their few rows 1000 times
        // per transaction, which leaves them megabytes of dead versions; in service each checkout
        // commits on its own and pruning keeps them at a few pages.
        exec(store, "VACUUM FULL order_state_totals, order_daily_totals").await?;
        exec(store, "VACUUM ANALYZE").await?;
    }
    eprintln!(
        "generated {} users, {} products and {} orders in {:.1} s",
        spec.users,
        spec.products,
        spec.orders,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
