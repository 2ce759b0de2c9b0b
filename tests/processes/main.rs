//! Tests that run the real `cartwright` binary as separate processes: two API nodes racing on one
//! PostgreSQL, and a node killed with SIGKILL mid-checkout and restarted on its database; the
//! email sender of two nodes on one database, and of a node killed mid-send; one leader for the
//! periodic jobs among three nodes.

#[path = "../api/fake_razorpay.rs"]
mod fake_razorpay;
mod node;
#[path = "../api/smtp_catcher.rs"]
mod smtp_catcher;

mod backup;
mod crash;
mod email;
mod export;
mod faults;
mod guard;
mod invoices;
mod leader;
mod memory;
mod migrations;
mod multi_node;
