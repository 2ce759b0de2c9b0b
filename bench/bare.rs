//! The bare-handler baseline: axum with one route and no middleware, answering `/health` with the
//! body Cartwright's `/health` sends, in a process of its own like the real server. What
//! Cartwright's `/health` costs beyond this is its middleware stack (request id, tracing span,
//! metrics, body limit, panic guard, the write-flush layer).

use anyhow::Context;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct BareArgs {
    #[arg(long)]
    pub port: u16,
}

pub async fn serve(args: BareArgs) -> anyhow::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/health",
        get(|| async {
            axum::Json(
                serde_json::json!({"success": true, "message": "OK", "data": {"status": "up"}}),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The bare server as a child process of this binary; killed when dropped.
pub struct BareServer {
    pub base: String,
    pub pid: u32,
    child: tokio::process::Child,
}

impl BareServer {
    pub async fn spawn() -> anyhow::Result<BareServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["bare", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the bare axum server")?;
        let pid = child.id().context("the bare server exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client
            .get(format!("{base}/health"))
            .send()
            .await
            .map_or(true, |r| !r.status().is_success())
        {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "the bare server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(BareServer { base, pid, child })
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
