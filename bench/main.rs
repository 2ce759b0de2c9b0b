//! `cartwright-bench`: the load harness, the data generator and the cost-growth measurement of
//! docs/BENCHMARKS.md. Every figure it prints is meant to be read against a baseline measured in
//! the same run, because the machine it runs on is shared.

mod bare;
mod ceiling;
mod generate;
mod growth;
mod load;
mod server;
mod smtp_sink;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cartwright-bench",
    about = "Load harness and data generator for Cartwright"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the HTTP ceiling (/health), the chosen mixes and the storage ceiling against one fresh
    /// database, and prints per-step figures and the ratios to both baselines.
    Run(load::RunArgs),
    /// Fills a database with users, products and orders through bulk multi-row INSERTs.
    Generate(generate::GenerateArgs),
    /// Measures checkout and the order reads at two database sizes, side by side.
    Growth(growth::GrowthArgs),
    /// The HTTP ceiling from outside: Debian's `wrk` against a bare axum handler, Cartwright's
    /// `/health` and a warm `GET /cart`, on SQLite and PostgreSQL in one run, with the
    /// generator's own CPU and a warning when it, not the server, is the bottleneck.
    Ceiling(ceiling::CeilingArgs),
    /// Serves a bare axum handler answering `/health` with the same JSON as Cartwright's, and
    /// nothing else: the ceiling Cartwright's own `/health` is measured against. `run` starts it.
    Bare(bare::BareArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Run(args) => load::run(args).await,
            Command::Generate(args) => generate::run(args).await,
            Command::Growth(args) => growth::run(args).await,
            Command::Ceiling(args) => ceiling::run(args).await,
            Command::Bare(args) => bare::serve(args).await,
        }
    })
}
