//! Cartwright: a shopping-cart and order-management back-end.
//!
//! `Application::build` turns a `Config` into a bound, ready server; `main.rs` and the black-box
//! tests both start the shop through it.

pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod payments;
pub mod store;
pub mod telemetry;

use crate::app::rate_limit::RateLimiter;
use crate::app::AppState;
use crate::auth::{hash_password, JwtKeys};
use crate::config::Config;
use crate::domain::user::{normalize_email, Role};
use crate::store::users::NewUser;
use crate::store::Store;
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long in-flight requests may run after a shutdown signal (CONTRACT §7).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects and migrates the database, makes sure an admin exists, loads the demo catalog into
    /// a new embedded database, and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let store = Store::connect(&config).await?;
        store.migrate().await?;
        ensure_admin(&store, &config).await?;
        if config.demo_data && store.is_embedded() && demo::load_if_empty(&store).await? {
            tracing::info!("loaded the demo catalog into the new database");
        }
        let secret = auth::load_or_create_secret(
            config.jwt_secret.as_ref().map(|s| s.expose()),
            &config.data_dir,
        )
        .context("preparing the JWT secret")?;
        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let mut store = store;
        if config.public_url.is_none() {
            // The default public address names the port actually bound (port 0 picks one).
            let port = listener
                .local_addr()
                .map(|a| a.port())
                .unwrap_or(config.port);
            store.set_public_url(format!("http://127.0.0.1:{port}"));
        }
        let mailer = app::mailer::Mailer::from_config(&config)?.map(Arc::new);
        if mailer.is_none() {
            tracing::info!("SMTP_URL is not set: emails are composed and kept (see the admin console's Emails page), not sent");
        }
        let auth_limiter = Arc::new(RateLimiter::for_store(
            &store,
            config.auth_rate_limit_per_minute,
            Duration::from_secs(60),
        ));
        let account_limiter = app::rate_limit::AccountLimiter {
            failures: config.login_failures_per_account,
            window: Duration::from_secs(config.login_failure_window_secs),
        };
        let pictures = Arc::new(app::pictures::Pictures::open(&config.pictures)?);
        let state = AppState::new(app::state::Shared {
            store,
            jwt: Arc::new(JwtKeys::new(&secret, config.jwt_ttl_minutes)),
            auth_limiter,
            account_limiter,
            gateway: payments::gateway_for(&config)?,
            config: Arc::new(config),
            live: app::Live::new(),
            mailer,
            pictures,
        });
        http::ops::metrics_handle();
        // Shown in /metrics from the start, not only after the first conflict.
        for name in [
            "db_transaction_retries_total",
            "db_transaction_giveups_total",
            "auth_account_limited_total",
        ] {
            metrics::counter!(name).increment(0);
        }
        Ok(Application { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes, then lets requests in flight finish for up to 10 s.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, state } = self;
        let store = state.store.clone();
        let feed = app::events::spawn_feed(state.live.clone(), store.clone());
        // One node at a time runs the periodic jobs, and one the email sender (`jobs::leader`).
        let node_id = hex::encode(rand::random::<[u8; 8]>());
        let interval = Duration::from_secs(state.config.job_interval_secs);
        let ttl = jobs::leader::lease_ttl(interval);
        let jobs_lease = jobs::leader::Lease::new("jobs", "jobs_leader", &node_id, ttl);
        let mail_lease = jobs::leader::Lease::new("mail", "mail_sender_leader", &node_id, ttl);
        let mut leases = Vec::new();
        if state.config.jobs_enabled {
            leases.push(jobs_lease.clone());
        }
        if state.mailer.is_some() {
            leases.push(mail_lease.clone());
        }
        // A first try before the loops start, so a lone node leads from its first tick.
        for lease in &leases {
            lease.try_take(&store).await;
        }
        let lease_keeper = (!leases.is_empty())
            .then(|| jobs::leader::spawn_keeper(store.clone(), leases.clone(), interval));
        let jobs = state
            .config
            .jobs_enabled
            .then(|| jobs::spawn(state.clone(), interval, jobs_lease));
        let mail_sender = jobs::spawn_mail_sender(state.clone(), mail_lease);
        let live = state.live.clone();
        let limits = http::connection::ConnectionLimits {
            max_connections: state.config.max_connections,
            header_read_timeout: Duration::from_secs(state.config.header_read_timeout_secs),
        };
        let metrics_listener = match state.config.metrics_addr {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding METRICS_ADDR {address}"))?,
            ),
            None => None,
        };
        let router = http::build_router(state);
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let mut metrics_stopping = stopping_rx.clone();
        let metrics_server = metrics_listener.map(|listener| {
            tokio::spawn(http::connection::serve(
                listener,
                http::ops::metrics_router(),
                limits,
                async move {
                    let _ = metrics_stopping.wait_for(|stopping| *stopping).await;
                },
            ))
        });
        let server = http::connection::serve(listener, router, limits, async move {
            stop.await;
            tracing::info!("shutting down: finishing requests in flight");
            live.close_streams();
            stopping_tx.send_replace(true);
        });
        let mut grace_stopping = stopping_rx;
        let grace = async {
            let _ = grace_stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            _ = server => {},
            _ = grace => tracing::warn!("requests still running after the grace period were dropped"),
        }
        if let Some(metrics_server) = metrics_server {
            metrics_server.abort();
        }
        if let Some(jobs) = jobs {
            jobs.abort();
        }
        if let Some(mail_sender) = mail_sender {
            mail_sender.abort();
        }
        if let Some(lease_keeper) = lease_keeper {
            lease_keeper.abort();
        }
        // Another node takes over at its next try, not when the lease would have run out.
        for lease in &leases {
            lease.release(&store).await;
        }
        store.close().await;
        feed.abort();
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// First-admin bootstrap (CONTRACT §1): `ADMIN_EMAIL`/`ADMIN_PASSWORD` create that admin if absent;
/// with neither set and no admin at all, one is made with a random password printed once.
async fn ensure_admin(store: &Store, config: &Config) -> anyhow::Result<()> {
    let (email, password, generated) = match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            let email = normalize_email(email).map_err(|e| anyhow::anyhow!("ADMIN_EMAIL: {e}"))?;
            if store.user_by_email(&email).await?.is_some() {
                return Ok(());
            }
            (email, password.expose().to_string(), false)
        }
        _ => {
            if store.any_admin_exists().await? {
                return Ok(());
            }
            let password = hex::encode(rand::random::<[u8; 12]>());
            ("admin@cartwright.local".to_string(), password, true)
        }
    };
    let hash = hash_password(password.clone()).await?;
    let created = store
        .create_user(NewUser {
            name: "Administrator",
            email: &email,
            phone: None,
            password_hash: &hash,
            role: Role::Admin,
        })
        .await;
    match created {
        Ok(_) if generated => tracing::warn!(
            "created the first admin: email {email} password {password} (shown once; change it or set ADMIN_EMAIL/ADMIN_PASSWORD)"
        ),
        Ok(_) => tracing::info!("created admin {email}"),
        // Another node created it first.
        Err(crate::error::Error::Conflict(..)) => {}
        Err(other) => return Err(anyhow::anyhow!("creating the first admin: {other}")),
    }
    Ok(())
}
