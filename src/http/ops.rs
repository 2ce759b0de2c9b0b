//! Operations (CONTRACT §7): `/health`, `/ready`, Prometheus `/metrics`, `/openapi.json` and the
//! Swagger UI at `/docs`, served from the binary with no internet.

use super::connection::ClientAddr;
use super::extract::{Envelope, Reply};
use super::AppState;
use crate::error::{Error, ErrorBody, Result};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics_text))
        .routes(routes!(openapi_json))
}

static OPENAPI_JSON: OnceLock<String> = OnceLock::new();

/// What the Swagger UI page may load: its own scripts and styles and this API, nothing from
/// elsewhere, and it may not be framed. No inline script runs: the vendored page loads its
/// configuration from the file `swagger-initializer.js`. Inline styles are allowed because the UI
/// injects some (under `style-src 'self'` Chromium blocks them and the layout breaks).
pub const DOCS_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The Swagger UI; its assets are vendored into the binary by `utoipa-swagger-ui`. Third-party
/// code on this origin, so it gets the pages' other hardening too: no MIME sniffing, and no
/// `Referer` that would carry a URL elsewhere. (It cannot read the session: the cookie is
/// `HttpOnly` and the apps keep no token in storage.)
pub fn docs_router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
    use axum::http::HeaderValue;
    let _ = OPENAPI_JSON.set(openapi.to_json().unwrap_or_else(|_| "{}".into()));
    Router::from(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
        .layer(axum::middleware::map_response(
            |mut response: Response| async move {
                let headers = response.headers_mut();
                headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
                headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
                headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
                response
            },
        ))
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder, so several
/// apps in one test process share it).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            )
            .expect("bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// Counts each request and its latency by method, route template and status class. Every label
/// comes from a fixed set (a method outside the standard ones is `other`, a path no route matches
/// is `unmatched`), so no request can add a series: the exporter's memory is bounded by the
/// routes, not by what clients send.
/// The labels of a request known before it runs: its method and route template.
pub fn request_labels(request: &Request) -> (&'static str, String) {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    (method_label(request.method()), route)
}

/// Records one answered request (called by `super::edge` for every request).
pub fn record_request(method: &'static str, route: String, status: StatusCode, started: Instant) {
    let labels = vec![
        metrics::Label::from_static_parts("method", method),
        metrics::Label::new("route", route),
        metrics::Label::from_static_parts("status", status_class(status)),
    ];
    metrics::counter!("http_requests_total", labels.clone()).increment(1);
    metrics::histogram!("http_request_duration_seconds", labels)
        .record(started.elapsed().as_secs_f64());
}

/// A request method as a label: one of the standard methods, or `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A status as a label: its class (`2xx` .. `5xx`).
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, description = "Up", body = Envelope<Health>)))]
async fn health() -> Reply<Health> {
    Reply::ok("OK", Health { status: "up" })
}

/// How long `/ready` waits for the database before answering 503 (a load balancer's probe
/// usually gives up after 2 s).
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(1500);

/// The database answers, for reads and for writes, within 1.5 s.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Envelope<Health>),
        (status = 503, description = "Database unreachable", body = ErrorBody),
    ))]
async fn ready(State(state): State<AppState>) -> Result<Reply<Health>> {
    match tokio::time::timeout(READY_WITHIN, state.store.ping()).await {
        Ok(Ok(())) => Ok(Reply::ok("Ready", Health { status: "ready" })),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "not ready: the database failed a probe");
            Err(match err {
                // Says which (a full disk, a busy database); written for clients already.
                Error::ServiceUnavailable(message) => Error::ServiceUnavailable(message),
                _ => Error::ServiceUnavailable("Database is not reachable".into()),
            })
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within 1.5 s");
            Err(Error::ServiceUnavailable(
                "Database is not reachable".into(),
            ))
        }
    }
}

/// Prometheus metrics in the text exposition format. Not public (CONTRACT §11): with
/// `METRICS_ADDR` set they are served there only; otherwise this listener answers them to a
/// client on the loopback interface that did not come through a proxy, and 404 to anyone else.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses(
        (status = 200, description = "Prometheus text format (loopback clients only, or on METRICS_ADDR)", body = String, content_type = "text/plain"),
        (status = 404, description = "Asked from outside this machine, through a proxy, or METRICS_ADDR is set", body = ErrorBody),
    ))]
async fn metrics_text(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
) -> Result<Response> {
    let proxied = headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
    if state.config.metrics_addr.is_some() || proxied || !client.ip().is_loopback() {
        return Err(Error::NotFound("Route not found".into()));
    }
    Ok(metrics_response())
}

fn metrics_response() -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
        .into_response()
}

/// The router of the `METRICS_ADDR` listener: `/metrics` and nothing else.
pub fn metrics_router() -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async { metrics_response() }),
        )
        .fallback(|| async { Error::NotFound("Route not found".into()) })
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "OpenAPI document", body = Object, content_type = "application/json")))]
async fn openapi_json() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.get().cloned().unwrap_or_else(|| "{}".into()),
    )
}
