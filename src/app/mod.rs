//! The workflows: what the HTTP handlers, webhooks and background jobs have in common. Each takes
//! the shared state (`AppState`: store, gateway, settings) with typed inputs and carries out one
//! rule of CONTRACT.md in one place; it never sees HTTP. Also the state that spans requests: the
//! change feed that tells every node what the database committed (`events`), the read caches it
//! keeps honest (`cache`) and the login limiter (`rate_limit`).
//!
//! - `accounts`: account creation, for registration and admins alike
//! - `cart`: applying a discount code to a cart
//! - `checkout`: cart to order, gateway order, order-number retries
//! - `payments`: payment confirmation, the same rule for every path
//! - `gateway_events`: what a verified gateway webhook event changes
//! - `cancellation`: cancel, stock back, refund sent
//! - `fulfilment`: admin and vendor status moves, tracking, the customer's "received"
//! - `returns`: request, approve, reject, complete with its refund
//! - `refunds`: sending recorded refunds, with retries
//! - `mailer`: sending the email outbox over SMTP, with retries
//! - `pictures`: product pictures checked, re-encoded and stored (folder or S3-compatible)
//! - `accounts` also holds password reset and change
//! - `expiry`: unpaid orders reconciled with the gateway or expired
//! - `retention`: records kept only for a while (idempotency keys, webhook events, rate-limit
//!   counters) deleted when their time is up

pub mod accounts;
pub mod cache;
pub mod cancellation;
pub mod cart;
pub mod checkout;
pub mod events;
pub mod expiry;
pub mod fulfilment;
pub mod gateway_events;
pub mod mailer;
pub mod payments;
pub mod pictures;
pub mod rate_limit;
pub mod refunds;
pub mod retention;
pub mod returns;
pub mod state;

pub use events::{Change, Live};
pub use state::AppState;
