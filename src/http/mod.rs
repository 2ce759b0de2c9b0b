//! The HTTP API: the router assembled from one `router()` per resource, and the middleware every
//! request passes through (request id, logging, metrics, body limit, panics). Handlers parse,
//! authorize, call the workflows of `crate::app` and render; the shared state is `crate::app`'s.

pub mod addresses;
mod admin_emails;
pub mod admin_orders;
mod admin_refunds;
pub mod admin_users;
pub mod auth;
pub mod cart;
pub mod cart_views;
pub mod connection;
pub mod discounts;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod invoice_pdf;
pub mod invoices;
pub mod limits;
pub mod notifications;
pub mod ops;
pub mod order_input;
pub mod order_views;
pub mod orders;
pub mod product_input;
pub mod products;
pub mod reviews;
pub mod roles;
pub mod routes;
pub mod session;
pub mod uploads;
pub mod user_views;
pub mod vendor;
pub mod web;
pub mod webhooks;

/// The application state lives in `crate::app`; handlers name it from here.
pub use crate::app::rate_limit;
pub use crate::app::AppState;

use crate::error::Error;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cartwright",
        description = "Shopping cart and order management API. Every response is an envelope: \
                       `{success, message, data}` or `{success: false, message, errors}`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login and the caller's account"),
        (name = "admin", description = "User management for admins"),
        (name = "products", description = "The catalog"),
        (name = "addresses", description = "The caller's address book"),
        (name = "cart", description = "The caller's cart"),
        (name = "discounts", description = "Discount codes, managed by admins"),
        (name = "orders", description = "Checkout, payment, the caller's orders, tracking, cancellation and returns"),
        (name = "admin-orders", description = "Order management and statistics for admins"),
        (name = "vendor", description = "Fulfilment of a vendor's own orders"),
        (name = "notifications", description = "The caller's notifications about their orders"),
        (name = "reviews", description = "Product reviews by customers who received the product"),
        (name = "events", description = "Live updates of the caller's orders and notifications (Server-Sent Events)"),
        (name = "webhooks", description = "Payment gateway callbacks"),
        (name = "ops", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        // The browser apps' session (CONTRACT §8). Every operation that takes the bearer token
        // takes this cookie instead; with the cookie, a request other than GET, HEAD or OPTIONS
        // must also send `X-CSRF-Token` (the session's `csrfToken`), else 403.
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                session::SESSION_COOKIE,
                "The HttpOnly session cookie set by login and registration; accepted wherever \
                 the bearer token is. Writes (not GET, HEAD or OPTIONS) made with it must send \
                 X-CSRF-Token: the csrfToken of the login answer or of GET /auth/session.",
            ))),
        );
    }
}

/// Adds the answers that come from the shared extractors and middleware rather than from a
/// handler, so no operation can forget them: 400 from a rejected path, query or body; 401 from the
/// session check; 403 from the CSRF check of a cookie-authenticated write; 413 from the body
/// limit; 414 from the URI limit; 409 and 422 from
/// `Idempotency-Key` handling. Operations that already describe one of these keep their own
/// description.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else {
                    continue;
                };
                let params = operation.parameters.as_deref().unwrap_or_default();
                let has_input = operation.request_body.is_some()
                    || params
                        .iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
                let idempotent = params.iter().any(|p| {
                    p.parameter_in == ParameterIn::Header
                        && p.name.eq_ignore_ascii_case(idempotency::HEADER)
                });
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description).into());
                };
                if has_input || idempotent {
                    add("400", "Invalid path, query, header or body");
                }
                if has_input {
                    add("414", "Request URI over 8 KiB");
                }
                if secured {
                    add(
                        "401",
                        "No, bad or expired token, a deactivated account or an ended session",
                    );
                    if method != "get" {
                        add(
                            "403",
                            "Session cookie without its X-CSRF-Token, or a role not allowed here",
                        );
                    }
                }
                // A role-restricted route refuses the other roles whatever the method.
                if routes::access(method, path)
                    .is_some_and(|a| !matches!(a, routes::Access::Public | routes::Access::AnyUser))
                {
                    add("403", "Signed in with a role not allowed here");
                }
                if operation.request_body.is_some() {
                    add("413", "Request body over 1 MiB");
                }
                if idempotent {
                    add(
                        "409",
                        "A request with the same Idempotency-Key is still running",
                    );
                    add("422", "Idempotency-Key reused with another body");
                }
            }
        }
    }
}

/// Every route with its OpenAPI description, from one source.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(admin_users::router())
        .merge(admin_refunds::router())
        .merge(admin_emails::router())
        .merge(products::router())
        .merge(uploads::router())
        .merge(addresses::router())
        .merge(cart::router())
        .merge(discounts::router())
        .merge(orders::router())
        .merge(invoices::router())
        .merge(admin_orders::router())
        .merge(vendor::router())
        .merge(webhooks::router())
        .merge(notifications::router())
        .merge(reviews::router())
        .merge(events::router())
        .merge(ops::router())
}

pub fn build_router(state: AppState) -> Router {
    let (router, mut openapi) = api_router().split_for_parts();
    CommonResponses.modify(&mut openapi);
    let request_id = HeaderName::from_static("x-request-id");
    let web = web::router(&state.config);
    router
        .merge(ops::docs_router(openapi))
        .merge(web)
        .merge(uploads::files_router())
        .fallback(|| async { Error::NotFound("Route not found".into()) })
        .method_not_allowed_fallback(|| async {
            crate::error::envelope(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                crate::error::ErrorCode::MethodNotAllowed,
                "Method not allowed on this route",
            )
        })
        .with_state(state.clone())
        // One layer holding the whole stack: `Router::layer` boxes what it is given around every
        // route, and a box is cloned at each call, so ten layers given one by one cost ten nested
        // boxes cloned per request (`docs/BENCHMARKS.md`, issue 19). The first is the outermost.
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), FastRequestId))
                .layer(PropagateRequestIdLayer::new(request_id))
                // JSON answers over 1 KB go gzipped to clients that ask; the event stream stays
                // plain (a compressor would hold back its events) and the web files come
                // pre-gzipped.
                .layer(
                    CompressionLayer::new().gzip(true).compress_when(
                        SizeAbove::new(1024)
                            .and(NotForContentType::GRPC)
                            .and(NotForContentType::IMAGES)
                            .and(NotForContentType::SSE),
                    ),
                )
                .layer(axum::middleware::from_fn_with_state(state, edge))
                .layer(CatchPanicLayer::custom(|_| {
                    Error::Internal(anyhow::anyhow!("handler panicked")).into_response()
                }))
                .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES)),
        )
}

/// What every request passes through between the protocol layers and its route, as one
/// middleware (one boxed future and one clone of the route per request rather than one per
/// concern): the request's log span, the URI limit (414), the request timeout
/// (`limits::within_timeout`), the flush of what a write made stale, and the request's metrics,
/// which see every answer, a panic's 500 included (`CatchPanicLayer` sits inside).
async fn edge(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let (method, route) = ops::request_labels(&request);
    let span = request_span(&state, &request);
    let response = match limits::uri_too_long(&request) {
        Some(refused) => refused,
        None => {
            let limit = state.config.request_timeout();
            limits::within_timeout(limit, flush_after_writes(&state, request, next))
                .instrument(span.clone())
                .await
        }
    };
    let status = response.status();
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "answered"
        )
    });
    ops::record_request(method, route, status, started);
    response
}

/// The span a request's logs are written in: its method, path, request id and client (as the
/// limits see it, CONTRACT §11). Nothing is computed when no `info` span would be kept.
fn request_span(state: &AppState, request: &Request<axum::body::Body>) -> tracing::Span {
    if !tracing::enabled!(tracing::Level::INFO) {
        return tracing::Span::none();
    }
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<connection::ClientAddr>>()
        .map(|info| {
            connection::ClientIp::of(
                info.0 .0.ip(),
                request.headers(),
                &state.config.trusted_proxies,
            )
            .0
        });
    match client {
        Some(client) => {
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id, client = %client)
        }
        None => {
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
        }
    }
}

/// Drops what a write served by this node may have made stale before its response leaves, so a
/// client always reads its own writes here at once; other nodes (and this one, for the background
/// jobs) hear of the change through the feed of `crate::app::events`. Coarse on purpose: a path
/// that is not known to leave products and accounts alone flushes the catalog and every cart, and
/// any write drops the caller's own cart.
async fn flush_after_writes(
    state: &AppState,
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let accounts = path.starts_with("/admin/users");
    let catalog = !(accounts
        || ["/cart", "/addresses", "/notifications", "/auth", "/uploads"]
            .iter()
            .any(|prefix| path.starts_with(prefix)));
    let caller = session::CallerSlot::default();
    let mut request = request;
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    if accounts {
        state.live.accounts.flush();
    }
    if catalog {
        // Carts show products' prices and stock and codes' rules.
        state.live.catalog.flush();
        state.live.carts.flush();
    }
    if let Some(user) = caller.0.get() {
        state.live.carts.invalidate(user);
    }
    response
}

/// Request ids: a random (version 4) UUID as tower-http's `MakeRequestUuid` makes, but drawn from
/// the thread's user-space generator instead of a `getrandom` system call per request.
#[derive(Clone, Copy, Default)]
struct FastRequestId;

impl MakeRequestId for FastRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = uuid::Uuid::encode_buffer();
        axum::http::HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
            .ok()
            .map(RequestId::new)
    }
}
