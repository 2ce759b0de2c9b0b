//! The workflows: what the HTTP handlers, webhooks and background jobs have in common. Each takes
//! the store and the gateway and carries out one rule of CONTRACT.md in one place; it never sees
//! HTTP. Also the state that spans requests: the change feed that tells every node what the
//! database committed (`events`) and the read caches it keeps honest (`cache`).

pub mod cache;
pub mod cancellation;
pub mod checkout;
pub mod events;
pub mod expiry;
pub mod fulfilment;
pub mod gateway_events;
pub mod payments;
pub mod rate_limit;
pub mod refunds;
pub mod returns;
pub mod state;

pub use events::{Change, Live};
pub use state::AppState;
