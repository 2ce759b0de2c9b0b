//! The workflows: what the HTTP handlers, webhooks and background jobs have in common. Each takes
//! the store and the gateway and carries out one rule of CONTRACT.md in one place; it never sees
//! HTTP.

pub mod payments;
pub mod refunds;
