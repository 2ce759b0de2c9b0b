//! The transaction handle of `transaction!`, and the in-process queue in front of product rows.
//!
//! Why the queue: on PostgreSQL a popular product's row is locked by every checkout and every
//! confirmation that sells it, from its `UPDATE` to the commit's WAL flush. With two API nodes of
//! 16 connections each, 32 transactions can wait on one row; each commit wakes them all, and the
//! pile-up cost two nodes half their throughput in the hot-products benchmark (docs/BENCHMARKS.md).
//! So each node lets only one of its transactions at a time into the stock moves of a product
//! (by stripe), and the others wait here, in a cheap FIFO queue, instead of in PostgreSQL's lock
//! manager: a row then sees at most one waiter per node.
//!
//! The queue is an optimisation, never a guarantee: correctness rests on PostgreSQL's row locks
//! and conditional updates alone. That is why a wait here is bounded (`GATE_PATIENCE`): a
//! transaction that waits too long, or that already passed the gate once, goes on without it,
//! so the queue can never complete a cycle with a database lock.

use sqlx::Database;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Stripes of the queue; two products that share one only queue behind each other in a node.
const STRIPES: usize = 64;

/// The longest a transaction waits for the gate before it goes on without it.
const GATE_PATIENCE: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub struct StockGate {
    stripes: Vec<Arc<Mutex<()>>>,
}

impl Default for StockGate {
    fn default() -> Self {
        StockGate {
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }
}

impl StockGate {
    fn stripe_of(product_id: &str) -> usize {
        let mut hasher = DefaultHasher::new();
        product_id.hash(&mut hasher);
        (hasher.finish() % STRIPES as u64) as usize
    }

    /// Takes the stripes of `product_ids` in ascending stripe order (so two transactions of one
    /// node cannot wait on each other here), giving up after `GATE_PATIENCE` in all.
    async fn enter<'a>(
        &self,
        product_ids: impl Iterator<Item = &'a str>,
    ) -> Vec<OwnedMutexGuard<()>> {
        let mut wanted: Vec<usize> = product_ids.map(Self::stripe_of).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut held = Vec::with_capacity(wanted.len());
        let deadline = tokio::time::Instant::now() + GATE_PATIENCE;
        for stripe in wanted {
            let lock = self.stripes[stripe].clone().lock_owned();
            match tokio::time::timeout_at(deadline, lock).await {
                Ok(guard) => held.push(guard),
                Err(_) => {
                    metrics::counter!("stock_gate_timeouts_total").increment(1);
                    break;
                }
            }
        }
        held
    }
}

/// One transaction of `transaction!`: the driver's transaction (`&mut *tx` is its connection)
/// plus the stripes of the stock gate it holds, released only after the commit or rollback.
pub struct Tx<'c, DB: Database> {
    inner: sqlx::Transaction<'c, DB>,
    gate: Arc<StockGate>,
    /// Whether the gate was tried already: a second stock move in one transaction does not wait
    /// again (it could otherwise wait for a stripe in the wrong order).
    gated: bool,
    held: Vec<OwnedMutexGuard<()>>,
}

impl<'c, DB: Database> Tx<'c, DB> {
    pub fn new(inner: sqlx::Transaction<'c, DB>, gate: &Arc<StockGate>) -> Self {
        Tx {
            inner,
            gate: gate.clone(),
            gated: false,
            held: Vec::new(),
        }
    }

    /// Queues for the stock gate of these products before their rows are written; call right
    /// before the stock moves, which are a transaction's last statements.
    pub async fn queue_for_products<'a>(&mut self, product_ids: impl Iterator<Item = &'a str>) {
        if !self.gated {
            self.gated = true;
            self.held = self.gate.enter(product_ids).await;
        }
    }

    /// Commits, then lets the next transaction of this node through the gate.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let Tx { inner, held, .. } = self;
        let committed = inner.commit().await;
        drop(held);
        committed
    }

    /// Rolls back, then lets the next transaction of this node through the gate.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let Tx { inner, held, .. } = self;
        let rolled_back = inner.rollback().await;
        drop(held);
        rolled_back
    }
}

impl<DB: Database> Deref for Tx<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<DB: Database> DerefMut for Tx<'_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_transaction_of_the_node_waits_until_the_first_lets_go() {
        let gate = StockGate::default();
        let first = gate.enter(["b", "a"].into_iter()).await;
        assert!(!first.is_empty());
        let started = tokio::time::Instant::now();
        let second = gate.enter(["a"].into_iter()).await;
        // The first never let go: the second gave up after its patience and went on ungated.
        assert!(second.is_empty());
        assert!(started.elapsed() >= GATE_PATIENCE);
        drop(first);
        assert_eq!(gate.enter(["a"].into_iter()).await.len(), 1);
    }
}
