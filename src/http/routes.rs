//! Who may call each route, kept beside the router: every operation of `/openapi.json` has one
//! row here, and `tests/api/roles.rs` calls each with no token and with each role's token and
//! checks the answers (401 / 403 / allowed) against this table. A route added without a row, or
//! a row left behind by a removed route, fails that test. The handler's signature says the same
//! thing through its extractor (`super::roles`); this table is what the test checks it against.

use axum::http::Method;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (a token, when sent, may widen what is shown).
    Public,
    /// Any signed-in account (`roles::AnyUser`).
    AnyUser,
    /// Customers only (`roles::Customer`).
    Customer,
    /// Vendors only (`roles::Vendor`).
    Vendor,
    /// Admins only (`roles::Admin`).
    Admin,
    /// Admins and vendors (`roles::Editor`).
    Editor,
}

use Access::*;

/// Every API route, as `/openapi.json` names it (method, path template), and who may call it.
pub const ROUTE_ROLES: &[(Method, &str, Access)] = &[
    // ops
    (Method::GET, "/health", Public),
    (Method::GET, "/ready", Public),
    (Method::GET, "/metrics", Public),
    (Method::GET, "/openapi.json", Public),
    // auth
    (Method::POST, "/auth/register", Public),
    (Method::POST, "/auth/login", Public),
    (Method::POST, "/auth/logout", Public),
    (Method::POST, "/auth/password/forgot", Public),
    (Method::POST, "/auth/password/reset", Public),
    (Method::POST, "/auth/password/change", AnyUser),
    (Method::GET, "/auth/me", AnyUser),
    (Method::PATCH, "/auth/me", AnyUser),
    (Method::GET, "/auth/session", AnyUser),
    // catalog
    (Method::GET, "/products", Public),
    (Method::POST, "/products", Editor),
    (Method::GET, "/products/manage", Editor),
    (Method::GET, "/products/{id}", Public),
    (Method::PUT, "/products/{id}", Editor),
    (Method::PATCH, "/products/{id}", Editor),
    (Method::DELETE, "/products/{id}", Editor),
    (Method::POST, "/uploads/images", Editor),
    // reviews
    (Method::GET, "/products/{id}/reviews", Public),
    (Method::POST, "/products/{id}/reviews", Customer),
    (Method::PUT, "/products/{id}/reviews/mine", Customer),
    (Method::DELETE, "/products/{id}/reviews/mine", AnyUser),
    // addresses and cart
    (Method::GET, "/addresses", AnyUser),
    (Method::POST, "/addresses", AnyUser),
    (Method::PUT, "/addresses/{id}", AnyUser),
    (Method::DELETE, "/addresses/{id}", AnyUser),
    (Method::GET, "/cart", AnyUser),
    (Method::DELETE, "/cart", AnyUser),
    (Method::GET, "/cart/summary", AnyUser),
    (Method::POST, "/cart/items", AnyUser),
    (Method::PUT, "/cart/items/{productId}", AnyUser),
    (Method::PATCH, "/cart/items/{productId}", AnyUser),
    (Method::DELETE, "/cart/items/{productId}", AnyUser),
    (Method::POST, "/cart/discount", AnyUser),
    (Method::DELETE, "/cart/discount", AnyUser),
    (Method::PUT, "/cart/shipping-address", AnyUser),
    // orders and payments
    (Method::POST, "/orders", AnyUser),
    (Method::GET, "/orders/my-orders", AnyUser),
    (Method::POST, "/orders/verify-payment", AnyUser),
    (Method::POST, "/payments", AnyUser),
    (Method::GET, "/orders/{orderId}", AnyUser),
    (Method::GET, "/orders/{orderId}/tracking", AnyUser),
    (Method::PATCH, "/orders/{orderId}/cancel", AnyUser),
    (Method::PATCH, "/orders/{orderId}/received", AnyUser),
    (Method::POST, "/orders/{orderId}/return", AnyUser),
    (Method::GET, "/orders/{orderId}/invoices", AnyUser),
    (Method::GET, "/invoices/{file}", AnyUser),
    (Method::GET, "/notifications", AnyUser),
    (Method::PATCH, "/notifications/read-all", AnyUser),
    (Method::PATCH, "/notifications/{id}/read", AnyUser),
    (Method::GET, "/events", AnyUser),
    (Method::POST, "/webhooks/razorpay", Public),
    // vendors
    (Method::GET, "/vendor/orders", Vendor),
    (Method::GET, "/vendor/orders/{orderId}", Vendor),
    (Method::PATCH, "/vendor/orders/{orderId}/status", Vendor),
    // admins
    (Method::GET, "/orders/admin/all", Admin),
    (Method::GET, "/orders/admin/export.csv", Admin),
    (Method::GET, "/orders/admin/stats", Admin),
    (Method::GET, "/orders/admin/stats/daily", Admin),
    (Method::PATCH, "/orders/admin/{orderId}/status", Admin),
    (Method::PATCH, "/orders/admin/{orderId}/return", Admin),
    (Method::GET, "/admin/users", Admin),
    (Method::POST, "/admin/users", Admin),
    (Method::PATCH, "/admin/users/{id}", Admin),
    (Method::GET, "/admin/discounts", Admin),
    (Method::POST, "/admin/discounts", Admin),
    (Method::GET, "/admin/discounts/{code}", Admin),
    (Method::PUT, "/admin/discounts/{code}", Admin),
    (Method::DELETE, "/admin/discounts/{code}", Admin),
    (Method::GET, "/admin/refunds", Admin),
    (Method::POST, "/admin/refunds/{refundId}/retry", Admin),
    (Method::GET, "/admin/emails", Admin),
    (Method::POST, "/admin/emails/{emailId}/retry", Admin),
    (Method::GET, "/admin/gst/export", Admin),
];

/// The access of a documented route, by its method (any case) and path template.
pub fn access(method: &str, path: &str) -> Option<Access> {
    ROUTE_ROLES
        .iter()
        .find(|(m, p, _)| m.as_str().eq_ignore_ascii_case(method) && *p == path)
        .map(|(_, _, access)| *access)
}
