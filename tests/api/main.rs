//! Black-box API tests, each run once on SQLite and once on PostgreSQL.

mod helpers;
pub mod fake_razorpay;

mod auth;
mod addresses;
mod products;
mod razorpay_client;
mod cart;
mod discounts;
mod orders;
mod notifications;
mod reviews;
mod razorpay_flow;
