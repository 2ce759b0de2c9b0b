//! The application layer: workflows and the state that spans requests. Here: the change feed that
//! tells every node what the database committed (`events`) and the read caches it keeps honest
//! (`cache`).

pub mod cache;
pub mod events;

pub use events::{Change, Live};
