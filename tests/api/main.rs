//! Black-box API tests, each run once on SQLite and once on PostgreSQL.

pub mod fake_razorpay;
mod helpers;
pub mod smtp_catcher;

mod addresses;
mod auth;
mod cart;
mod console;
mod contention;
mod discounts;
mod email;
mod export;
mod faults;
mod gst;
mod guard;
mod hostile;
mod lifecycle;
mod listener;
mod live;
mod money_path;
mod notifications;
mod openapi;
mod orders;
mod products;
mod proxies;
mod razorpay_client;
mod razorpay_flow;
mod razorpay_shop;
mod reviews;
mod roles;
mod security;
mod sessions;
mod uploads;
mod web;
