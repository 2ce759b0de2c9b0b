//! The `cartwright` command: `serve` (default), `migrate`, `admin create`, `demo`, `backup`.

use cartwright::auth::hash_password;
use cartwright::config::{Config, DatabaseUrl};
use cartwright::domain::user::{check_password, normalize_email, Role};
use cartwright::store::users::NewUser;
use cartwright::store::{self, Store};
use cartwright::{demo, telemetry, Application};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cartwright",
    version,
    about = "Shopping-cart and order-management back-end"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage administrators.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Load the demo catalog and discount codes into the database (skipped when products exist).
    Demo,
    /// Write a consistent copy of the embedded SQLite database to PATH (a new file) while the
    /// shop runs. PostgreSQL is backed up with `pg_dump`.
    Backup {
        /// The copy to write; an existing file is never overwritten.
        path: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create an admin account.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
}

fn main() -> ExitCode {
    keep_large_blocks_out_of_the_heap();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(config).await?;
            tracing::info!(port = app.port(), "Cartwright is listening");
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let store = Store::connect(&config).await?;
            store.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin {
            action:
                AdminAction::Create {
                    email,
                    password,
                    name,
                },
        } => {
            let email = normalize_email(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            check_password(&password).map_err(|e| anyhow::anyhow!("--password: {e}"))?;
            let store = Store::connect(&config).await?;
            store.migrate().await?;
            let hash = hash_password(password).await?;
            store
                .create_user(NewUser {
                    name: &name,
                    email: &email,
                    phone: None,
                    password_hash: &hash,
                    role: Role::Admin,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("admin {email} created");
            Ok(())
        }
        Command::Backup { path } => {
            let DatabaseUrl::Sqlite(database) = &config.database else {
                anyhow::bail!(
                    "cartwright backup copies the embedded SQLite database; DATABASE_URL is PostgreSQL: back it up with pg_dump (see README, Operations)"
                );
            };
            store::backup_sqlite(database, &path).await?;
            println!("backed up {} to {}", database.display(), path.display());
            Ok(())
        }
        Command::Demo => {
            let store = Store::connect(&config).await?;
            store.migrate().await?;
            if demo::load_if_empty(&store).await? {
                println!("demo catalog loaded");
            } else {
                println!("the catalog already has products; nothing loaded");
            }
            Ok(())
        }
    }
}

/// Each argon2 hash allocates a 19 MiB block. glibc first maps such a block and unmaps it on free,
/// but then raises its mmap threshold to the freed size, so later blocks come from per-thread
/// arenas that keep the memory: after one burst of sign-ups the server stayed at 400-550 MB of
/// RSS. Fixing the threshold at 1 MiB keeps every large block mapped and returned to the system.
/// `MALLOC_MMAP_THRESHOLD_` set by the operator still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_out_of_the_heap() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only changes an allocator parameter; it runs before any other thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_blocks_out_of_the_heap() {}
