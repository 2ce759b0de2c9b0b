//! The rules of the shop, free of HTTP and SQL: money, ids, timestamps, roles.

pub mod discount;
pub mod ids;
pub mod money;
pub mod order;
pub mod pricing;
pub mod text;
pub mod time;
pub mod user;
