//! The listener loop: accepts HTTP/1.1 connections, at most `MAX_CONNECTIONS` open at once per node,
//! and gives each client `HEADER_READ_TIMEOUT_SECONDS` to send a request's headers (a client that
//! trickles them is cut off, so a few slow sockets cannot hold the node). Rejections hyper writes
//! itself before a request exists (a request line it cannot read, headers too large) stay bare, as
//! CONTRACT §2 allows; every answer the application writes carries the envelope.

use super::AppState;
use crate::domain::net::TrustedProxies;
use crate::error::Error;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The TCP peer of the connection: the client, or the reverse proxy in front of it. Limits and
/// logs use `ClientIp`, which looks behind trusted proxies.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The client's address (CONTRACT §11): the peer, or behind a trusted proxy the address its
/// `X-Forwarded-For` names (`TrustedProxies::client_address`, the one place this is decided).
/// Every limit keyed on the client extracts this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The client of a request from `peer` with `headers`, as `trusted` sees it.
    pub fn of(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientIp {
        ClientIp(
            trusted.client_address(
                peer,
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|value| value.to_str().ok()),
            ),
        )
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let ConnectInfo(ClientAddr(peer)) = parts
            .extensions
            .get::<ConnectInfo<ClientAddr>>()
            .copied()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no peer address on the request")))?;
        Ok(ClientIp::of(
            peer.ip(),
            &parts.headers,
            &state.config.trusted_proxies,
        ))
    }
}

/// How many connections a node holds open and how long a client may take over its headers.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` completes, then stops accepting, lets each
/// connection finish the request it is serving, and returns once every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max));
    metrics::gauge!("http_connections_max").set(max as f64);
    metrics::gauge!("http_header_read_timeout_seconds")
        .set(limits.header_read_timeout.as_secs_f64());
    metrics::gauge!("http_connections_open").set(0.0);
    metrics::counter!("http_header_read_timeouts_total").increment(0);
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        // A slot first: at the cap, new clients wait in the kernel's backlog, not in memory here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %err, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo(ClientAddr(peer)));
                    request
                });
        let mut closing = closing_rx.clone();
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            metrics::gauge!("http_connections_open").increment(1.0);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = async { closing.wait_for(|closing| *closing).await.is_ok() } => {
                    // Stopping: finish the request in flight, take no other.
                    connection.as_mut().graceful_shutdown();
                    connection.as_mut().await
                }
            };
            if let Err(err) = result {
                if err.is_timeout() {
                    metrics::counter!("http_header_read_timeouts_total").increment(1);
                }
                tracing::debug!(error = %err, "connection ended with an error");
            }
            metrics::gauge!("http_connections_open").decrement(1.0);
        });
    }
    drop(listener);
    closing_tx.send_replace(true);
    // Every connection task holds a slot until it ends.
    let _ = slots.acquire_many(max as u32).await;
}
