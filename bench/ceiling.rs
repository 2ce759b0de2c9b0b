//! `cartwright-bench ceiling`: the HTTP ceiling measured with an external load generator
//! (Debian's `wrk`), so the figures are the server's and not the harness's own client. In one run:
//! a bare axum handler (`cartwright-bench bare`), Cartwright's `/health` and a warm `GET /cart`
//! (a logged-in customer with three lines), on SQLite and, with `--postgres-url`, on PostgreSQL.
//! Each target is measured against the bare handler measured just before it, and every row says
//! how much CPU the generator and the server used, so a generator-bound figure is seen as such.

use crate::bare::BareServer;
use crate::server::{Api, Db, Server, Settings, TempDir, ADMIN_EMAIL, ADMIN_PASSWORD};
use anyhow::{bail, Context};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct CeilingArgs {
    /// Measured seconds of each wrk run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds of an unrecorded wrk run before each measured one (fills caches and pools).
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// wrk threads (`-t`).
    #[arg(long, default_value_t = 2)]
    pub threads: u32,
    /// wrk connections (`-c`).
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// The server binary run as a child process.
    #[arg(long, default_value = "target/release/cartwright")]
    pub server_bin: PathBuf,
    /// A PostgreSQL server URL: the same measurements on a fresh schema there, after SQLite's.
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Pin the servers to CPU 0 and wrk to CPU 1 (`taskset`), instead of letting them share
    /// both cores. The database server (PostgreSQL) is left unpinned.
    #[arg(long)]
    pub pin: bool,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    pub wrk: String,
}

/// One measured wrk run and the CPU the generator and the server took over it.
struct Measure {
    label: String,
    requests_per_second: f64,
    /// Answers other than 2xx/3xx and socket errors: a non-zero count makes the figure void.
    bad_answers: u64,
    /// CPU seconds over the run divided by its wall time: 1.0 is one core fully busy.
    wrk_cores: f64,
    server_cores: f64,
    wall: Duration,
}

/// What each side may use: with pinning one core each, else the whole machine, shared.
struct Cores {
    machine: f64,
    wrk: f64,
    server: f64,
}

pub async fn run(args: CeilingArgs) -> anyhow::Result<()> {
    if !args.server_bin.exists() {
        bail!(
            "{} not found: run `cargo build --release` first or pass --server-bin",
            args.server_bin.display()
        );
    }
    ensure_wrk(&args.wrk)?;
    let machine = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    if args.pin && machine < 2.0 {
        bail!("--pin needs at least two CPUs");
    }
    let cores = if args.pin {
        Cores {
            machine,
            wrk: 1.0,
            server: 1.0,
        }
    } else {
        Cores {
            machine,
            wrk: machine,
            server: machine,
        }
    };
    println!(
        "## cartwright-bench ceiling: wrk -t{} -c{} -d{}s (after a {} s warm-up run), {} CPUs, {}",
        args.threads,
        args.connections,
        args.duration,
        args.warmup,
        machine,
        if args.pin {
            "servers pinned to CPU 0 and wrk to CPU 1 (taskset)"
        } else {
            "not pinned: servers and wrk share every CPU"
        }
    );
    let mut databases = vec![None];
    if let Some(url) = &args.postgres_url {
        databases.push(Some(url.clone()));
    }
    let mut tables = Vec::new();
    for database in databases {
        tables.push(measure_database(&args, &cores, database.as_deref()).await?);
    }
    for (database, rows) in &tables {
        print_table(database, rows, &cores);
    }
    Ok(())
}

/// The three measurements on one database: bare axum, `/health`, warm `GET /cart`.
async fn measure_database(
    args: &CeilingArgs,
    cores: &Cores,
    postgres_url: Option<&str>,
) -> anyhow::Result<(String, Vec<Measure>)> {
    let dir = TempDir::new("ceiling")?;
    let db = Db::fresh(postgres_url, &dir.0, "ceiling").await?;
    let settings = Settings {
        database_url: db.url(),
        data_dir: dir.0.clone(),
        // The server's own default: four per CPU core.
        max_connections: 4 * cores.machine as u32,
        sqlite_synchronous: "full".into(),
        smtp_url: None,
    };
    let outcome = async {
        let server = Server::spawn(&args.server_bin, &settings).await?;
        let measured = async {
            let token = customer_with_cart(&server.base).await?;
            let bare = BareServer::spawn().await?;
            let mut rows = Vec::new();
            let result = async {
                pin(args, bare.pid, "0")?;
                pin(args, server.pid, "0")?;
                rows.push(
                    wrk(
                        args,
                        "bare axum GET /health",
                        &format!("{}/health", bare.base),
                        None,
                        bare.pid,
                    )
                    .await?,
                );
                rows.push(
                    wrk(
                        args,
                        "GET /health",
                        &format!("{}/health", server.base),
                        None,
                        server.pid,
                    )
                    .await?,
                );
                rows.push(
                    wrk(
                        args,
                        "GET /cart (warm, 3 lines)",
                        &format!("{}/cart", server.base),
                        Some(&token),
                        server.pid,
                    )
                    .await?,
                );
                anyhow::Ok(())
            }
            .await;
            bare.stop().await;
            result.map(|()| rows)
        }
        .await;
        server.stop().await;
        measured
    }
    .await;
    db.drop_schema().await;
    Ok((db.kind().to_string(), outcome?))
}

/// Fails early with the way to install wrk when it is missing.
fn ensure_wrk(wrk: &str) -> anyhow::Result<()> {
    // `wrk -v` prints its version and exits with 1; only a failure to start it matters.
    Command::new(wrk)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running `{wrk}`: install it with `apt-get install wrk`"))?;
    Ok(())
}

/// Pins every thread of `pid` (threads started later inherit it) to `cpus`, with `--pin`.
fn pin(args: &CeilingArgs, pid: u32, cpus: &str) -> anyhow::Result<()> {
    if !args.pin {
        return Ok(());
    }
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .context("running taskset")?;
    anyhow::ensure!(status.success(), "taskset -a -p -c {cpus} {pid} failed");
    Ok(())
}

/// Logs in as the bench admin, creates three products, registers a customer and puts one of
/// each in its cart; returns the customer's token.
async fn customer_with_cart(base: &str) -> anyhow::Result<String> {
    let api = Api::new(base);
    let admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await?;
    let run = hex::encode(rand::random::<[u8; 4]>());
    let reply = api
        .post(
            "/auth/register",
            None,
            &json!({"name": "Ceiling Customer", "email": format!("ceiling-{run}@bench.local"),
                    "password": "password123"}),
        )
        .await?;
    if reply.status != 201 {
        bail!("registering answered {}", reply.status);
    }
    let token = reply.json()["data"]["token"]
        .as_str()
        .context("register answer without a token")?
        .to_string();
    for i in 0..3 {
        let body = json!({"name": format!("Ceiling lamp {i}"), "price": 199 + i * 100,
                          "stock": 1_000, "category": "lamp", "brand": "BenchBrand"});
        let reply = api.post("/products", Some(&admin), &body).await?;
        if reply.status != 201 {
            bail!("creating a product answered {}", reply.status);
        }
        let product = reply.json()["data"]["_id"]
            .as_str()
            .context("product without _id")?
            .to_string();
        let reply = api
            .post(
                "/cart/items",
                Some(&token),
                &json!({"productId": product, "quantity": 1}),
            )
            .await?;
        if reply.status != 200 && reply.status != 201 {
            bail!("adding to the cart answered {}", reply.status);
        }
    }
    let cart = api.get("/cart", Some(&token)).await?;
    let lines = cart.json()["data"]["items"].as_array().map_or(0, Vec::len);
    anyhow::ensure!(
        cart.status == 200 && lines == 3,
        "GET /cart answered {} with {lines} lines",
        cart.status
    );
    Ok(token)
}

/// A warm-up run, then the measured run of wrk against `url`, reading the generator's CPU from
/// its `/proc/<pid>/stat` and the server's (`server_pid`) from its own over the measured run.
async fn wrk(
    args: &CeilingArgs,
    label: &str,
    url: &str,
    token: Option<&str>,
    server_pid: u32,
) -> anyhow::Result<Measure> {
    eprintln!("wrk: {label}");
    let args = args.clone();
    let (label, url, token) = (
        label.to_string(),
        url.to_string(),
        token.map(str::to_string),
    );
    tokio::task::spawn_blocking(move || {
        if args.warmup > 0 {
            run_wrk(&args, &url, token.as_deref(), args.warmup, server_pid)?;
        }
        let (output, wrk_ticks, server_ticks, wall) =
            run_wrk(&args, &url, token.as_deref(), args.duration, server_pid)?;
        let tick = clock_ticks_per_second();
        let requests_per_second = wrk_figure(&output, "Requests/sec:")
            .with_context(|| format!("no Requests/sec in wrk's output:\n{output}"))?;
        let bad_answers = wrk_figure(&output, "Non-2xx or 3xx responses:").unwrap_or(0.0) as u64
            + socket_errors(&output);
        Ok(Measure {
            label,
            requests_per_second,
            bad_answers,
            wrk_cores: wrk_ticks as f64 / tick / wall.as_secs_f64(),
            server_cores: server_ticks as f64 / tick / wall.as_secs_f64(),
            wall,
        })
    })
    .await?
}

/// Runs wrk once for `seconds`; returns its output, the CPU ticks it and the server used, and
/// the wall time. wrk is read from `/proc` after it exits and before it is reaped, so its
/// figures cover the whole run.
fn run_wrk(
    args: &CeilingArgs,
    url: &str,
    token: Option<&str>,
    seconds: u64,
    server_pid: u32,
) -> anyhow::Result<(String, u64, u64, Duration)> {
    let mut command = if args.pin {
        // taskset execs wrk, so the pid stays wrk's.
        let mut command = Command::new("taskset");
        command.args(["-c", "1", &args.wrk]);
        command
    } else {
        Command::new(&args.wrk)
    };
    command.args([
        format!("-t{}", args.threads),
        format!("-c{}", args.connections),
        format!("-d{seconds}s"),
    ]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let server_before = cpu_ticks(server_pid)?;
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", args.wrk))?;
    let mut output = String::new();
    child
        .stdout
        .take()
        .context("wrk's stdout")?
        .read_to_string(&mut output)?;
    // stdout closes when wrk exits; not waited for yet, it is a zombie whose times are final.
    let wall = started.elapsed();
    let server_after = cpu_ticks(server_pid)?;
    let wrk_ticks = cpu_ticks(child.id())?;
    let mut errors = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut errors);
    }
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "wrk failed ({status}): {errors}{output}");
    Ok((output, wrk_ticks, server_after - server_before, wall))
}

/// utime + stime of a process (all its threads), in clock ticks, from `/proc/<pid>/stat`.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are space-separated.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the whole line, utime 14 and stime 15.
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .context("short /proc stat line")?
            .parse()
            .context("a /proc stat field that is not a number")
    };
    Ok(field(14)? + field(15)?)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The number after `name` on wrk's summary line of that name.
fn wrk_figure(output: &str, name: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The sum of wrk's `Socket errors: connect N, read N, write N, timeout N` line.
fn socket_errors(output: &str) -> u64 {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Socket errors:"))
        .map(|rest| {
            rest.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

fn print_table(database: &str, rows: &[Measure], cores: &Cores) {
    println!("\n#### {database}\n");
    println!(
        "| target | req/s | ÷ bare axum | wrk CPU (% of one core / of the machine) | server CPU (% of one core) | bad answers |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let bare = rows
        .first()
        .map(|r| r.requests_per_second)
        .unwrap_or(f64::NAN);
    let mut warnings = Vec::new();
    for row in rows {
        println!(
            "| {} | {:.0} | {:.1} % | {:.0} % / {:.0} % | {:.0} % | {} |",
            row.label,
            row.requests_per_second,
            row.requests_per_second / bare * 100.0,
            row.wrk_cores * 100.0,
            row.wrk_cores / cores.machine * 100.0,
            row.server_cores * 100.0,
            row.bad_answers
        );
        warnings.extend(warnings_for(row, cores));
    }
    if let [_, health, cart] = rows {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let ratio = |r: &Measure| r.requests_per_second / bare;
        println!(
            "\n/health ÷ bare axum {:.1} % (≥ 75 %: {}); GET /cart ÷ bare axum {:.1} % (≥ 45 %: {})",
            ratio(health) * 100.0,
            verdict(ratio(health) >= 0.75),
            ratio(cart) * 100.0,
            verdict(ratio(cart) >= 0.45)
        );
    }
    for warning in warnings {
        println!("WARNING: {warning}");
    }
}

/// Why a row's figure may not be the server's ceiling.
fn warnings_for(row: &Measure, cores: &Cores) -> Vec<String> {
    let mut warnings = Vec::new();
    if row.bad_answers > 0 {
        warnings.push(format!(
            "{}: {} answers were not 2xx/3xx or failed; the figure is not valid",
            row.label, row.bad_answers
        ));
    }
    if row.wrk_cores >= 0.9 * cores.wrk {
        warnings.push(format!(
            "{}: wrk used {:.0} % of the {} core(s) it can use over {:.1} s: the generator, not \
             the server, is the bottleneck",
            row.label,
            row.wrk_cores * 100.0,
            cores.wrk,
            row.wall.as_secs_f64()
        ));
    }
    // Unpinned, the server can use what wrk leaves of the machine.
    let available = if cores.server < cores.machine {
        cores.server
    } else {
        (cores.machine - row.wrk_cores).max(0.0)
    };
    if row.server_cores < 0.6 * available {
        warnings.push(format!(
            "{}: the server used {:.0} % of one core while {:.0} % were free to it: it was not \
             CPU-bound (waiting on the generator, the database or the network)",
            row.label,
            row.server_cores * 100.0,
            available * 100.0
        ));
    }
    warnings
}
