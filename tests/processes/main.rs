//! Tests that run the real `cartwright` binary as separate processes: two API nodes racing on one
//! PostgreSQL, and a node killed with SIGKILL mid-checkout and restarted on its database.

#[path = "../api/fake_razorpay.rs"]
mod fake_razorpay;
mod node;

mod crash;
mod faults;
mod guard;
mod memory;
mod multi_node;
