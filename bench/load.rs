//! `cartwright-bench run`: virtual users against the real server, the two baselines measured in the
//! same run (the `/health` HTTP ceiling and the checkout's own storage transaction without HTTP),
//! and the ratios to the targets of docs/BENCHMARKS.md.

use crate::server::{Api, Db, Reply, Server, Settings, TempDir, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::smtp_sink::SmtpSink;
use crate::stats::{print_table, summarize, Recorder, Summary};
use anyhow::{bail, Context};
use cartwright::domain::ids::new_id;
use cartwright::domain::order::{new_order_number, PaymentMethod};
use cartwright::domain::pricing::PricingSettings;
use cartwright::domain::time::now_millis;
use cartwright::error::Error;
use cartwright::store::orders::{PlaceOrder, Placed, Settlement};
use cartwright::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DISCOUNT_CODE: &str = "BENCH5";
const NOUNS: [&str; 8] = [
    "kettle",
    "lamp",
    "notebook",
    "backpack",
    "headphones",
    "mug",
    "jacket",
    "sneakers",
];
const ADJECTIVES: [&str; 6] = ["classic", "compact", "deluxe", "eco", "smart", "vintage"];

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// Concurrent virtual users (each its own connection pool).
    #[arg(long, default_value_t = 32)]
    pub users: usize,
    /// Measured seconds of each phase.
    #[arg(long, default_value_t = 15)]
    pub duration: u64,
    /// Seconds run before each phase's measuring window, not recorded.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// all | full | read | checkout | hot | cart | products | reads (cart and products). The
    /// bare-axum, /health and storage baselines always run.
    #[arg(long, default_value = "all")]
    pub mix: String,
    /// Products seeded before the run.
    #[arg(long, default_value_t = 200)]
    pub catalog_size: usize,
    /// sqlite://path (default: a new file in a temporary folder) or a PostgreSQL server URL, in
    /// which a new schema is made for the run and dropped after it.
    #[arg(long)]
    pub database_url: Option<String>,
    /// A server already running (e.g. http://127.0.0.1:8000) instead of a child process; its
    /// admin must be admin@bench.local. Without a child there is no storage ceiling or RSS.
    #[arg(long)]
    pub target: Option<String>,
    /// The server binary run as a child process.
    #[arg(long, default_value = "target/release/cartwright")]
    pub server_bin: PathBuf,
    /// API server processes on the one database (PostgreSQL only); the virtual users are spread
    /// over them round-robin.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// DATABASE_MAX_CONNECTIONS of each server node (default: the server's own default, four
    /// per CPU core, split over the nodes, which share one database's connection budget as a
    /// deployment of several nodes should). The storage ceiling, one process, gets the budget.
    #[arg(long)]
    pub max_connections: Option<u32>,
    /// SQLITE_SYNCHRONOUS for the server and the storage ceiling: full (the default of
    /// Cartwright) or normal.
    #[arg(long, default_value = "full")]
    pub sqlite_synchronous: String,
    /// Email on: the server sends its outbox (order emails) to a counting SMTP sink in this
    /// process while the load runs; the report says how many messages arrived.
    #[arg(long)]
    pub smtp_sink: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    Bare,
    Health,
    Cart,
    Products,
    Read,
    Checkout,
    /// Every user buys from the same few products: the contention real shops see on a hot item.
    Hot,
    Full,
}

impl Mix {
    fn label(self) -> &'static str {
        match self {
            Mix::Bare => "baseline: GET /health of a bare axum handler (no middleware)",
            Mix::Health => "baseline: GET /health (HTTP ceiling)",
            Mix::Cart => "cart: GET /cart only",
            Mix::Products => "products: GET /products?limit=10 only",
            Mix::Read => "read: list, search, get product, GET /cart",
            Mix::Checkout => "checkout: add line, POST /orders, POST /payments",
            Mix::Hot => {
                "hot: add 2 of the same 4 products, POST /orders, POST /payments, GET /orders/{id}"
            }
            Mix::Full => "full: browse, search, add 1-4 lines, cart, code, order, pay, my orders",
        }
    }
}

/// A registered customer the virtual users act as.
#[derive(Clone)]
struct Customer {
    id: String,
    token: String,
}

struct Phase {
    mix: String,
    rows: Vec<Summary>,
    /// Largest server VmRSS seen while the phase ran, KiB.
    rss_kib: u64,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mixes: Vec<Mix> = match args.mix.as_str() {
        "all" => vec![
            Mix::Cart,
            Mix::Products,
            Mix::Read,
            Mix::Checkout,
            Mix::Hot,
            Mix::Full,
        ],
        "full" => vec![Mix::Full],
        "read" => vec![Mix::Read],
        "checkout" => vec![Mix::Checkout],
        "hot" => vec![Mix::Hot],
        "cart" => vec![Mix::Cart],
        "products" => vec![Mix::Products],
        "reads" => vec![Mix::Cart, Mix::Products],
        other => {
            bail!("--mix {other}: expected all, full, read, checkout, hot, cart, products or reads")
        }
    };
    let dir = TempDir::new("run")?;
    let sink = if args.smtp_sink {
        Some(SmtpSink::start().await?)
    } else {
        None
    };
    let mut db = None;
    let mut settings = None;
    let mut server = None;
    let mut other_nodes = Vec::new();
    let mut bases = Vec::new();
    let base = match &args.target {
        Some(target) => target.trim_end_matches('/').to_string(),
        None => {
            if args.nodes > 1
                && !args
                    .database_url
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("postgres")
            {
                bail!(
                    "--nodes {} needs a PostgreSQL --database-url: SQLite serves one process",
                    args.nodes
                );
            }
            let fresh = Db::fresh(args.database_url.as_deref(), &dir.0, "run").await?;
            let s = Settings {
                database_url: fresh.url(),
                data_dir: dir.0.clone(),
                max_connections: args.node_connections(),
                sqlite_synchronous: args.sqlite_synchronous.clone(),
                smtp_url: sink.as_ref().map(SmtpSink::url),
            };
            let child = Server::spawn(&args.server_bin, &s).await?;
            let base = child.base.clone();
            for _ in 1..args.nodes.max(1) {
                let node = Server::spawn(&args.server_bin, &s).await?;
                bases.push(node.base.clone());
                other_nodes.push(node);
            }
            db = Some(fresh);
            settings = Some(s);
            server = Some(child);
            base
        }
    };
    bases.insert(0, base);
    let outcome = run_phases(&args, &mixes, &bases, settings.as_ref(), server.as_ref()).await;
    if let Some(sink) = &sink {
        println!(
            "\nEmail on: {} messages reached the SMTP sink during the run.",
            sink.received()
        );
    }
    if let Some(server) = server {
        server.stop().await;
    }
    for node in other_nodes {
        node.stop().await;
    }
    if let Some(db) = db {
        db.drop_schema().await;
    }
    outcome
}

async fn run_phases(
    args: &RunArgs,
    mixes: &[Mix],
    bases: &[String],
    settings: Option<&Settings>,
    server: Option<&Server>,
) -> anyhow::Result<()> {
    // Setup goes to the first node; the load is spread over all of them.
    let base = bases[0].as_str();
    let database = settings
        .map(|s| {
            if s.database_url.starts_with("postgres") {
                "postgres"
            } else {
                "sqlite"
            }
        })
        .unwrap_or("external");
    println!(
        "## cartwright-bench run: {database}, {} node(s), {} users, {} s per phase after {} s warm-up, catalog {}, SQLITE_SYNCHRONOUS={}, DATABASE_MAX_CONNECTIONS={}",
        bases.len(), args.users, args.duration, args.warmup, args.catalog_size, args.sqlite_synchronous, args.node_connections()
    );
    let admin = Api::new(base);
    let admin_token = admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let products = Arc::new(seed_catalog(&admin, &admin_token, args.catalog_size).await?);
    let hot_products = Arc::new(seed_hot_products(&admin, &admin_token).await?);
    let code = admin
        .post(
            "/admin/discounts",
            Some(&admin_token),
            &json!({"code": DISCOUNT_CODE, "type": "percent", "value": 5, "minOrderAmount": 0}),
        )
        .await?;
    if code.status != 201 && code.status != 409 {
        bail!(
            "creating the discount code answered {}: {}",
            code.status,
            String::from_utf8_lossy(&code.body)
        );
    }

    // Registration is argon2-bound on purpose; it is measured apart from the steady state.
    let started = Instant::now();
    let (customers, register) = register_customers(base, args.users).await?;
    let register_window = started.elapsed();
    print_table(
        &format!(
            "setup: {} registrations at once (argon2), not part of the steady state",
            args.users
        ),
        &summarize(&register, register_window),
    );

    let pid = server.map(|s| s.pid);
    let mut phases = Vec::new();
    let bare = crate::bare::BareServer::spawn().await?;
    let bare_bases = [bare.base.clone()];
    phases.push(http_phase(Mix::Bare, args, &bare_bases, &customers, &products, None).await);
    bare.stop().await;
    phases.push(http_phase(Mix::Health, args, bases, &customers, &products, pid).await);
    for mix in mixes {
        reset_carts(base, &customers).await?;
        if *mix == Mix::Cart || *mix == Mix::Read || *mix == Mix::Products {
            fill_carts(base, &customers, &products).await?;
        }
        let products = if *mix == Mix::Hot {
            &hot_products
        } else {
            &products
        };
        phases.push(http_phase(*mix, args, bases, &customers, products, pid).await);
    }
    if let Some(settings) = settings {
        reset_carts(base, &customers).await?;
        phases.push(storage_phase(args, settings, &customers, &products, pid).await?);
    }
    for phase in &phases {
        print_table(&phase.mix, &phase.rows);
        if pid.is_some() {
            println!(
                "\nserver VmRSS, largest sample during the phase: {:.1} MiB",
                phase.rss_kib as f64 / 1024.0
            );
        }
    }
    if let Some(server) = server {
        let (rss, hwm) = server.rss_kib();
        println!(
            "\nserver process after the run: VmRSS {:.1} MiB, VmHWM (peak) {:.1} MiB",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    print_ratios(args, &phases);
    Ok(())
}

fn find<'a>(phases: &'a [Phase], mix: Mix, step: &str) -> Option<(&'a Phase, &'a Summary)> {
    phases
        .iter()
        .filter(|p| p.mix == mix.label())
        .find_map(|p| p.rows.iter().find(|r| r.step == step).map(|r| (p, r)))
}

fn print_ratios(args: &RunArgs, phases: &[Phase]) {
    println!(
        "\n#### ratios to the baselines of this run ({} users)\n",
        args.users
    );
    println!("| measure | value | target | verdict |");
    println!("| --- | ---: | ---: | --- |");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let bare = find(phases, Mix::Bare, "GET /health").map(|(_, r)| r.per_second);
    let health = find(phases, Mix::Health, "GET /health").map(|(_, r)| r.per_second);
    if let (Some(bare), Some(health)) = (bare, health) {
        let ratio = health / bare;
        println!(
            "| GET /health req/s ÷ bare axum handler req/s | {health:.0} / {bare:.0} = {:.1} % | ≥ 60 % | {} |",
            ratio * 100.0,
            verdict(ratio >= 0.60)
        );
    }
    let cart = find(phases, Mix::Cart, "GET /cart").map(|(_, r)| r.per_second);
    if let (Some(health), Some(cart)) = (health, cart) {
        let ratio = cart / health;
        println!(
            "| GET /cart req/s ÷ GET /health req/s | {cart:.0} / {health:.0} = {:.1} % | ≥ 40 % | {} |",
            ratio * 100.0,
            verdict(ratio >= 0.40)
        );
    }
    let list = find(phases, Mix::Products, "GET /products?limit=10").map(|(_, r)| r.per_second);
    if let (Some(health), Some(list)) = (health, list) {
        let ratio = list / health;
        println!(
            "| GET /products?limit=10 req/s ÷ GET /health req/s | {list:.0} / {health:.0} = {:.1} % | ≥ 25 % | {} |",
            ratio * 100.0,
            verdict(ratio >= 0.25)
        );
    }
    let storage = phases
        .iter()
        .find(|p| p.mix == "storage")
        .and_then(|p| p.rows.iter().find(|r| r.step == STORAGE_CHECKOUT))
        .map(|r| r.per_second);
    let checkout = find(phases, Mix::Checkout, "POST /orders");
    if let (Some(storage), Some((_, checkout))) = (storage, checkout) {
        let ratio = checkout.per_second / storage;
        println!(
            "| checkouts/s over HTTP ÷ storage ceiling | {:.0} / {storage:.0} = {:.1} % | ≥ 50 % | {} |",
            checkout.per_second,
            ratio * 100.0,
            verdict(ratio >= 0.50)
        );
    }
    if let Some((phase, checkout)) = checkout {
        println!(
            "| POST /orders p99 (checkout mix) | {:.1} ms | < 50 ms | {} |",
            checkout.p99_ms,
            verdict(checkout.p99_ms < 50.0)
        );
        if let Some(pay) = phase.rows.iter().find(|r| r.step == "POST /payments") {
            println!(
                "| POST /payments p99 (checkout mix) | {:.1} ms | < 50 ms | {} |",
                pay.p99_ms,
                verdict(pay.p99_ms < 50.0)
            );
        }
        if phase.rss_kib > 0 {
            let mib = phase.rss_kib as f64 / 1024.0;
            println!(
                "| server RSS under checkout load | {mib:.1} MiB | < 100 MB | {} |",
                verdict(mib * 1.048_576 < 100.0)
            );
        }
    }
    let largest = phases.iter().map(|p| p.rss_kib).max().unwrap_or(0);
    if largest > 0 {
        println!(
            "| server RSS, largest over all phases | {:.1} MiB | < 100 MB | {} |",
            largest as f64 / 1024.0,
            verdict(largest as f64 * 1024.0 < 100e6)
        );
    }
}

/// The hot mix's four products, created so that their name order is the reverse of their id order
/// (ids sort by creation time): any code that locks product rows in name order in one place and
/// in id order in another deadlocks under this mix.
async fn seed_hot_products(admin: &Api, token: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for name in [
        "Hot Zinnia Soap",
        "Hot Yarrow Balm",
        "Hot Xylo Brush",
        "Hot Willow Comb",
    ] {
        let body = json!({"name": name, "price": 149, "stock": 1_000_000, "category": "hot", "brand": "BenchBrand"});
        ids.push(created_product_id(
            admin.post("/products", Some(token), &body).await?,
        )?);
    }
    Ok(ids)
}

/// The `_id` of a product `POST /products` created, or what went wrong.
fn created_product_id(reply: Reply) -> anyhow::Result<String> {
    if reply.status != 201 {
        bail!(
            "creating a product answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok(reply.json()["data"]["_id"]
        .as_str()
        .context("product without _id")?
        .to_string())
}

/// Creates `size` active products with ample stock as the admin, eight requests at a time.
async fn seed_catalog(admin: &Api, token: &str, size: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(size);
    for chunk in (0..size).collect::<Vec<_>>().chunks(8) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let body = json!({
                    "name": format!("Bench {} {} {i}", ADJECTIVES[i % ADJECTIVES.len()], NOUNS[i % NOUNS.len()]),
                    "description": "A product made by cartwright-bench",
                    "price": 99 + (i % 50) * 20,
                    "stock": 1_000_000,
                    "category": NOUNS[i % NOUNS.len()],
                    "brand": "BenchBrand",
                });
                let admin = admin.clone();
                let token = token.to_string();
                tokio::spawn(async move { admin.post("/products", Some(&token), &body).await })
            })
            .collect();
        for call in calls {
            ids.push(created_product_id(call.await??)?);
        }
    }
    Ok(ids)
}

async fn register_customers(base: &str, users: usize) -> anyhow::Result<(Vec<Customer>, Recorder)> {
    let run = hex::encode(rand::random::<[u8; 4]>());
    let far = Instant::now() + Duration::from_secs(86_400);
    let tasks: Vec<_> = (0..users)
        .map(|i| {
            let api = Api::new(base);
            let email = format!("vu{i}-{run}@bench.local");
            tokio::spawn(async move {
                let mut rec = Recorder::new(Instant::now(), far);
                let started = Instant::now();
                let reply = api
                    .post(
                        "/auth/register",
                        None,
                        &json!({"name": format!("Bench User {i}"), "email": email, "password": "password123"}),
                    )
                    .await;
                rec.record("POST /auth/register", started, reply.as_ref().ok().map(|r| r.status));
                let reply = reply?;
                if reply.status != 201 {
                    bail!("register answered {}", reply.status);
                }
                let body = reply.json();
                let customer = Customer {
                    id: body["data"]["user"]["_id"].as_str().context("no user id")?.to_string(),
                    token: body["data"]["token"].as_str().context("no token")?.to_string(),
                };
                api.set_address(&customer.token).await?;
                Ok((customer, rec))
            })
        })
        .collect();
    let mut customers = Vec::with_capacity(users);
    let mut all = Recorder::new(Instant::now() - Duration::from_secs(3600), far);
    for task in tasks {
        let (customer, rec) = task.await??;
        customers.push(customer);
        all.merge(rec);
    }
    Ok((customers, all))
}

/// Empties every cart and removes its code, so each phase starts from the same state.
async fn reset_carts(base: &str, customers: &[Customer]) -> anyhow::Result<()> {
    let api = Api::new(base);
    for c in customers {
        api.send(reqwest::Method::DELETE, "/cart", Some(&c.token), None)
            .await?;
        api.send(
            reqwest::Method::DELETE,
            "/cart/discount",
            Some(&c.token),
            None,
        )
        .await?;
    }
    Ok(())
}

/// Puts two lines and the code in every cart, for the read-only mixes.
async fn fill_carts(base: &str, customers: &[Customer], products: &[String]) -> anyhow::Result<()> {
    let api = Api::new(base);
    for (i, c) in customers.iter().enumerate() {
        for k in 0..2 {
            let product = &products[(i * 2 + k) % products.len()];
            api.post(
                "/cart/items",
                Some(&c.token),
                &json!({"productId": product, "quantity": 1}),
            )
            .await?;
        }
        api.post(
            "/cart/discount",
            Some(&c.token),
            &json!({"discountCode": DISCOUNT_CODE}),
        )
        .await?;
    }
    Ok(())
}

/// Samples the server's VmRSS every 200 ms until `to`, returning the largest value seen.
fn rss_sampler(pid: Option<u32>, to: Instant) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let Some(pid) = pid else { return 0 };
        let mut largest = 0;
        while Instant::now() < to {
            largest = largest.max(crate::server::rss_kib(pid).0);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        largest
    })
}

async fn http_phase(
    mix: Mix,
    args: &RunArgs,
    bases: &[String],
    customers: &[Customer],
    products: &Arc<Vec<String>>,
    pid: Option<u32>,
) -> Phase {
    eprintln!("running {}", mix.label());
    let from = Instant::now() + Duration::from_secs(args.warmup);
    let to = from + Duration::from_secs(args.duration);
    let sampler = rss_sampler(pid, to);
    let tasks: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let mut vu = Vu {
                api: Api::new(&bases[i % bases.len()]),
                customer: customer.clone(),
                products: products.clone(),
                rng: StdRng::seed_from_u64(i as u64 + 1),
            };
            tokio::spawn(async move {
                let mut rec = Recorder::new(from, to);
                while Instant::now() < to {
                    vu.iteration(mix, &mut rec).await;
                }
                rec
            })
        })
        .collect();
    let mut all = Recorder::new(from, to);
    for task in tasks {
        if let Ok(rec) = task.await {
            all.merge(rec);
        }
    }
    Phase {
        mix: mix.label().to_string(),
        rows: summarize(&all, to - from),
        rss_kib: sampler.await.unwrap_or(0),
    }
}

struct Vu {
    api: Api,
    customer: Customer,
    products: Arc<Vec<String>>,
    rng: StdRng,
}

impl Vu {
    async fn call(
        &self,
        rec: &mut Recorder,
        step: &'static str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Option<Reply> {
        let token = (method != reqwest::Method::GET
            || !path.starts_with("/products") && path != "/health")
            .then_some(self.customer.token.as_str());
        let started = Instant::now();
        let reply = self.api.send(method, path, token, body.as_ref()).await;
        rec.record(step, started, reply.as_ref().ok().map(|r| r.status));
        reply.ok()
    }

    fn product(&mut self) -> String {
        let i = self.rng.gen_range(0..self.products.len());
        self.products[i].clone()
    }

    async fn iteration(&mut self, mix: Mix, rec: &mut Recorder) {
        use reqwest::Method;
        match mix {
            Mix::Health | Mix::Bare => {
                self.call(rec, "GET /health", Method::GET, "/health", None)
                    .await;
            }
            Mix::Products => {
                self.call(
                    rec,
                    "GET /products?limit=10",
                    Method::GET,
                    "/products?limit=10",
                    None,
                )
                .await;
            }
            Mix::Cart => {
                self.call(rec, "GET /cart", Method::GET, "/cart", None)
                    .await;
            }
            Mix::Read => {
                self.browse(rec).await;
                self.call(rec, "GET /cart", Method::GET, "/cart", None)
                    .await;
            }
            Mix::Checkout => {
                let product = self.product();
                self.call(
                    rec,
                    "POST /cart/items",
                    Method::POST,
                    "/cart/items",
                    Some(json!({"productId": product, "quantity": 1})),
                )
                .await;
                self.checkout_and_pay(rec).await;
            }
            Mix::Hot => {
                // Two different hot products, added in either order.
                let first = self.product();
                let mut second = self.product();
                while second == first {
                    second = self.product();
                }
                for product in [first, second] {
                    self.call(
                        rec,
                        "POST /cart/items",
                        Method::POST,
                        "/cart/items",
                        Some(json!({"productId": product, "quantity": 1})),
                    )
                    .await;
                }
                if let Some(order_id) = self.checkout_and_pay(rec).await {
                    self.call(
                        rec,
                        "GET /orders/{id}",
                        Method::GET,
                        &format!("/orders/{order_id}"),
                        None,
                    )
                    .await;
                }
            }
            Mix::Full => {
                self.browse(rec).await;
                let lines = self.rng.gen_range(1..=4);
                let mut chosen: Vec<String> = Vec::new();
                while chosen.len() < lines {
                    let p = self.product();
                    if !chosen.contains(&p) {
                        chosen.push(p);
                    }
                }
                for product in chosen {
                    let quantity = self.rng.gen_range(1..=3);
                    self.call(
                        rec,
                        "POST /cart/items",
                        Method::POST,
                        "/cart/items",
                        Some(json!({"productId": product, "quantity": quantity})),
                    )
                    .await;
                }
                self.call(rec, "GET /cart", Method::GET, "/cart", None)
                    .await;
                self.call(
                    rec,
                    "POST /cart/discount",
                    Method::POST,
                    "/cart/discount",
                    Some(json!({"discountCode": DISCOUNT_CODE})),
                )
                .await;
                self.checkout_and_pay(rec).await;
                self.call(
                    rec,
                    "GET /orders/my-orders",
                    Method::GET,
                    "/orders/my-orders?limit=10",
                    None,
                )
                .await;
            }
        }
    }

    async fn browse(&mut self, rec: &mut Recorder) {
        use reqwest::Method;
        let page = self.rng.gen_range(1..=3);
        self.call(
            rec,
            "GET /products (list)",
            Method::GET,
            &format!("/products?page={page}&limit=20"),
            None,
        )
        .await;
        let word = NOUNS[self.rng.gen_range(0..NOUNS.len())];
        self.call(
            rec,
            "GET /products?search=",
            Method::GET,
            &format!("/products?search={word}&limit=20"),
            None,
        )
        .await;
        let product = self.product();
        self.call(
            rec,
            "GET /products/{id}",
            Method::GET,
            &format!("/products/{product}"),
            None,
        )
        .await;
    }

    /// Places an online order with what is in the cart and pays it; the order id when placed.
    async fn checkout_and_pay(&mut self, rec: &mut Recorder) -> Option<String> {
        use reqwest::Method;
        let placed = self
            .call(
                rec,
                "POST /orders",
                Method::POST,
                "/orders",
                Some(json!({"paymentMethod": "credit_card"})),
            )
            .await?;
        if placed.status != 201 {
            return None;
        }
        let order_id = placed.json()["data"]["orderId"].as_str()?.to_string();
        self.call(
            rec,
            "POST /payments",
            Method::POST,
            "/payments",
            Some(json!({"orderId": order_id, "paymentMethod": "credit_card"})),
        )
        .await;
        Some(order_id)
    }
}

pub const STORAGE_CHECKOUT: &str = "storage: draft_checkout + place_order";

impl RunArgs {
    /// Connections per node: as given, or the server's default budget shared by the nodes.
    fn node_connections(&self) -> u32 {
        self.max_connections.unwrap_or_else(|| {
            let nodes = u32::try_from(self.nodes.max(1)).unwrap_or(u32::MAX);
            (cartwright::config::default_pool_size() / nodes).max(2)
        })
    }
}

/// The storage ceiling: what the checkout mix does, as store calls in this process against the
/// same database, without HTTP, JSON or authentication. The server child stays up but idle.
async fn storage_phase(
    args: &RunArgs,
    settings: &Settings,
    customers: &[Customer],
    products: &Arc<Vec<String>>,
    pid: Option<u32>,
) -> anyhow::Result<Phase> {
    eprintln!("running the storage ceiling");
    let mut config = settings.config()?;
    config.database_max_connections = args.node_connections() * args.nodes.max(1) as u32;
    let store = Store::connect(&config).await?;
    let pricing = Arc::new(PricingSettings::from_config(&config));
    let currency = Arc::new(config.currency.clone());
    let cart_max_lines = config.cart_max_lines;
    let from = Instant::now() + Duration::from_secs(args.warmup);
    let to = from + Duration::from_secs(args.duration);
    let sampler = rss_sampler(pid, to);
    let tasks: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let store = store.clone();
            let pricing = pricing.clone();
            let currency = currency.clone();
            let products = products.clone();
            let user_id = customer.id.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(1000 + i as u64);
                let mut rec = Recorder::new(from, to);
                while Instant::now() < to {
                    let product = &products[rng.gen_range(0..products.len())];
                    let started = Instant::now();
                    let added = store
                        .add_to_cart(&user_id, product, 1, cart_max_lines)
                        .await;
                    rec.record("storage: refill (add_to_cart)", started, outcome(&added));
                    let started = Instant::now();
                    let placed = async {
                        let draft = store.draft_checkout(&user_id, None, &pricing).await?;
                        let now = now_millis();
                        let order_id = new_id();
                        let gateway_order_id =
                            format!("order_bench{}", hex::encode(rand::random::<[u8; 8]>()));
                        store
                            .place_order(
                                &draft,
                                PlaceOrder {
                                    order_id: &order_id,
                                    order_number: &new_order_number(now),
                                    user_id: &user_id,
                                    payment_method: PaymentMethod::Razorpay,
                                    notes: None,
                                    currency: &currency,
                                    settlement: Settlement::Gateway {
                                        gateway_order_id: &gateway_order_id,
                                        expires_at: now + 30 * 60 * 1000,
                                    },
                                    buyer_gstin: None,
                                },
                                None,
                                &pricing,
                            )
                            .await
                    }
                    .await;
                    rec.record(STORAGE_CHECKOUT, started, outcome(&placed));
                    if let Ok(Placed::Order(placed)) = placed {
                        let order = &placed.order;
                        let started = Instant::now();
                        let payment_id =
                            format!("pay_bench{}", hex::encode(rand::random::<[u8; 8]>()));
                        let captured = cartwright::store::orders::CapturedPayment {
                            payment_id: &payment_id,
                            amount: order.total_amount,
                            currency: &order.currency,
                        };
                        let confirmed = store.confirm_payment(&order.id, &captured, "bench").await;
                        rec.record("storage: confirm_payment", started, outcome(&confirmed));
                    }
                }
                rec
            })
        })
        .collect();
    let mut all = Recorder::new(from, to);
    for task in tasks {
        if let Ok(rec) = task.await {
            all.merge(rec);
        }
    }
    store.close().await;
    Ok(Phase {
        mix: "storage".to_string(),
        rows: summarize(&all, to - from),
        rss_kib: sampler.await.unwrap_or(0),
    })
}

fn outcome<T>(result: &Result<T, Error>) -> Option<u16> {
    match result {
        Ok(_) => Some(200),
        Err(Error::Conflict(..)) => Some(409),
        Err(other) => {
            eprintln!("storage ceiling: {other}");
            None
        }
    }
}
