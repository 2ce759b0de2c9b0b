//! The HTTP API: shared state, the router assembled from one `router()` per resource, and the
//! middleware every request passes through (request id, logging, metrics, body limit, panics).

pub mod addresses;
pub mod admin_orders;
pub mod admin_users;
pub mod auth;
pub mod cart;
pub mod discounts;
pub mod extract;
pub mod idempotency;
pub mod notifications;
pub mod ops;
pub mod order_views;
pub mod orders;
pub mod products;
pub mod rate_limit;
pub mod reviews;
pub mod session;
pub mod vendor;
pub mod webhooks;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::error::Error;
use crate::store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::Router;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub jwt: JwtKeys,
    pub auth_limiter: Arc<rate_limit::RateLimiter>,
    pub gateway: Arc<dyn crate::payments::PaymentGateway>,
}

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
    }
}

/// Every route with its OpenAPI description, from one source.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(auth::router())
        .merge(admin_users::router())
        .merge(products::router())
        .merge(addresses::router())
        .merge(cart::router())
        .merge(discounts::router())
        .merge(orders::router())
        .merge(admin_orders::router())
        .merge(vendor::router())
        .merge(webhooks::router())
        .merge(notifications::router())
        .merge(reviews::router())
        .merge(ops::router())
}

pub fn build_router(state: AppState) -> Router {
    let (router, openapi) = api_router().split_for_parts();
    let request_id = HeaderName::from_static("x-request-id");
    router
        .merge(ops::docs_router(openapi))
        .fallback(|| async { Error::NotFound("Route not found".into()) })
        .method_not_allowed_fallback(|| async {
            (
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(crate::error::ErrorBody {
                    success: false,
                    message: "Method not allowed on this route".into(),
                    errors: Vec::new(),
                }),
            )
                .into_response()
        })
        .with_state(state)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
