//! Black-box API tests, each run once on SQLite and once on PostgreSQL.

mod helpers;

mod auth;
