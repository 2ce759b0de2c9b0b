//! `cartwright-bench growth`: two databases, generated with `small` and `large` orders, each served
//! by its own server child; the same requests go to both in alternating rounds, so a busy moment
//! of the machine falls on both sizes alike. Prints each operation's latency at both sizes and the
//! ratio large ÷ small (target: at most 1.5).

use crate::generate::{self, Spec, GENERATED_PASSWORD};
use crate::server::{Api, Server, Settings, TempDir, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::stats::percentile;
use anyhow::{bail, Context};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct GrowthArgs {
    #[arg(long, default_value_t = 10_000)]
    pub small: usize,
    #[arg(long, default_value_t = 1_000_000)]
    pub large: usize,
    /// Products in both databases.
    #[arg(long, default_value_t = 500)]
    pub products: usize,
    /// sqlite (default: files in a temporary folder) or a PostgreSQL server URL, where a schema is
    /// made per size and dropped after the run.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Measured rounds; each round sends `per-round` requests of every operation to each size.
    /// One more round is run first as warm-up.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    #[arg(long, default_value_t = 20)]
    pub per_round: usize,
    #[arg(long, default_value = "target/release/cartwright")]
    pub server_bin: PathBuf,
}

struct Target {
    api: Api,
    admin: String,
    customer: String,
    product: String,
}

const OPS: [&str; 7] = [
    "POST /orders (checkout, 1 line)",
    "POST /payments (simulated)",
    "GET /orders/my-orders page 1",
    "GET /orders/admin/all status + 30 days",
    "GET /orders/admin/all (no filter) page 1",
    "GET /orders/admin/stats 30 days",
    "GET /orders/admin/stats (all time)",
];

pub async fn run(args: GrowthArgs) -> anyhow::Result<()> {
    let dir = TempDir::new("growth")?;
    let mut dbs = Vec::new();
    let mut servers = Vec::new();
    let outcome = async {
        for size in [args.small, args.large] {
            eprintln!("generating {size} orders");
            let spec = Spec {
                orders: size,
                users: (size / 10).max(100),
                products: args.products,
                seed: 7,
            };
            let db = generate::fresh(
                args.database_url.as_deref(),
                &dir.0,
                &format!("g{size}"),
                &spec,
            )
            .await?;
            let settings = Settings {
                database_url: db.url(),
                data_dir: dir.0.clone(),
                max_connections: 16,
                sqlite_synchronous: "full".into(),
                smtp_url: None,
            };
            dbs.push(db);
            servers.push(Server::spawn(&args.server_bin, &settings).await?);
        }
        measure(&args, &servers, dbs[0].kind()).await
    }
    .await;
    for server in servers {
        server.stop().await;
    }
    for db in dbs {
        db.drop_schema().await;
    }
    outcome
}

async fn prepare(server: &Server) -> anyhow::Result<Target> {
    let api = Api::new(&server.base);
    let admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    // gen0 holds about ten orders at either size (one customer per ten orders).
    let customer = api.login("gen0@bench.local", GENERATED_PASSWORD).await?;
    api.set_address(&customer).await?;
    let products = api.get("/products?limit=1", None).await?;
    let product = products.json()["data"]["products"]
        .as_array()
        .and_then(|list| list.first())
        .and_then(|p| p["_id"].as_str())
        .context("no product to check out")?
        .to_string();
    Ok(Target {
        api,
        admin,
        customer,
        product,
    })
}

/// Sends one request of operation `op` and returns its latency, or fails on a non-2xx answer.
async fn once(
    target: &Target,
    op: usize,
    pending_order: &mut Option<String>,
) -> anyhow::Result<Duration> {
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(30);
    let range = format!("startDate={from}&endDate={today}");
    let (reply, elapsed) = match op {
        0 => {
            let add = target
                .api
                .post(
                    "/cart/items",
                    Some(&target.customer),
                    &json!({"productId": target.product, "quantity": 1}),
                )
                .await?;
            if add.status != 200 && add.status != 201 {
                bail!("adding to the cart answered {}", add.status);
            }
            let started = Instant::now();
            let reply = target
                .api
                .post(
                    "/orders",
                    Some(&target.customer),
                    &json!({"paymentMethod": "razorpay"}),
                )
                .await?;
            let elapsed = started.elapsed();
            *pending_order = reply.json()["data"]["orderId"].as_str().map(str::to_string);
            (reply, elapsed)
        }
        1 => {
            let order_id = pending_order.take().context("no order to pay")?;
            let started = Instant::now();
            let reply = target
                .api
                .post(
                    "/payments",
                    Some(&target.customer),
                    &json!({"orderId": order_id, "paymentMethod": "razorpay"}),
                )
                .await?;
            (reply, started.elapsed())
        }
        _ => {
            let (path, token) = match op {
                2 => (
                    "/orders/my-orders?page=1&limit=10".to_string(),
                    &target.customer,
                ),
                3 => (
                    format!("/orders/admin/all?status=delivered&{range}&page=1&limit=20"),
                    &target.admin,
                ),
                4 => (
                    "/orders/admin/all?page=1&limit=20".to_string(),
                    &target.admin,
                ),
                5 => (format!("/orders/admin/stats?{range}"), &target.admin),
                _ => ("/orders/admin/stats".to_string(), &target.admin),
            };
            let started = Instant::now();
            let reply = target.api.get(&path, Some(token)).await?;
            (reply, started.elapsed())
        }
    };
    if !(200..300).contains(&reply.status) {
        bail!(
            "{} answered {}: {}",
            OPS[op],
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok(elapsed)
}

async fn measure(args: &GrowthArgs, servers: &[Server], kind: &str) -> anyhow::Result<()> {
    let mut targets = Vec::new();
    for server in servers {
        targets.push(prepare(server).await?);
    }
    // samples[op][size] in microseconds
    let mut samples = vec![vec![Vec::<u32>::new(); targets.len()]; OPS.len()];
    for round in 0..=args.rounds {
        for (size, target) in targets.iter().enumerate() {
            for op in 0..OPS.len() {
                // Checkout and payment go in pairs: each payment pays the order just placed.
                if op == 1 {
                    continue;
                }
                let round_started = Instant::now();
                for _ in 0..args.per_round {
                    let mut pending = None;
                    let took = once(target, op, &mut pending).await?;
                    if round > 0 {
                        samples[op][size].push(took.as_micros() as u32);
                    }
                    if op == 0 {
                        let took = once(target, 1, &mut pending).await?;
                        if round > 0 {
                            samples[1][size].push(took.as_micros() as u32);
                        }
                    }
                    // A slow aggregate gets fewer samples rather than an unbounded run.
                    if round_started.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
            }
        }
    }
    println!(
        "\n#### cost growth on {kind}: {} vs {} orders ({} rounds alternating between sizes)\n",
        args.small, args.large, args.rounds
    );
    println!("| operation | n | p50 ms @ {} | p50 ms @ {} | ratio p50 | mean ms @ {} | mean ms @ {} | ratio mean | ≤ 1.5x |", args.small, args.large, args.small, args.large);
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for (op, name) in OPS.iter().enumerate() {
        let mut small = samples[op][0].clone();
        let mut large = samples[op][1].clone();
        small.sort_unstable();
        large.sort_unstable();
        let mean =
            |v: &[u32]| v.iter().map(|x| *x as f64).sum::<f64>() / v.len().max(1) as f64 / 1000.0;
        let (p_small, p_large) = (percentile(&small, 50.0), percentile(&large, 50.0));
        let ratio = p_large / p_small;
        println!(
            "| {name} | {}/{} | {p_small:.2} | {p_large:.2} | {ratio:.2} | {:.2} | {:.2} | {:.2} | {} |",
            small.len(),
            large.len(),
            mean(&small),
            mean(&large),
            mean(&large) / mean(&small),
            if ratio <= 1.5 { "met" } else { "MISSED" }
        );
    }
    Ok(())
}
