//! One node at a time runs the periodic jobs, and one the email sender (CONTRACT §11): each role is
//! a lease row (`job_leases`) that a node takes while it is free or expired and renews every
//! quarter of `JOB_INTERVAL_SECONDS`; it lasts one and a half intervals, so when its holder dies
//! another node takes it within two intervals (the lease runs out, plus at most a quarter interval
//! until the next try). On a graceful shutdown the holder gives it up, and another node takes it
//! at its next try. The per-row claims (orders, refunds, webhook events, emails) stay as a second
//! safety for the moments two nodes might overlap: a leader cut off from the database believes in
//! its lease only two thirds of its length after the last renewal, and node clocks may differ.

use crate::store::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A role one node at a time holds: `jobs` (the periodic pass) or `mail` (the email sender).
pub struct Lease {
    name: &'static str,
    /// The gauge showing 1 while this node holds it, 0 otherwise (`jobs_leader`).
    gauge: &'static str,
    holder: String,
    ttl: Duration,
    /// Until when this node may act on the lease (its last renewal plus two thirds of `ttl`);
    /// `None` while it does not hold it.
    held_until: Mutex<Option<Instant>>,
}

impl Lease {
    pub fn new(name: &'static str, gauge: &'static str, holder: &str, ttl: Duration) -> Arc<Lease> {
        metrics::gauge!(gauge).set(0.0);
        Arc::new(Lease {
            name,
            gauge,
            holder: holder.to_string(),
            ttl,
            held_until: Mutex::new(None),
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether this node holds the lease now.
    pub fn is_held(&self) -> bool {
        self.held_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    /// One try to take or renew the lease; returns whether this node holds it. A database error
    /// keeps what this node had, until it runs out.
    pub async fn try_take(&self, store: &Store) -> bool {
        let was_held = self.is_held();
        let started = Instant::now();
        let now = crate::domain::time::now_millis();
        let ttl_ms = self.ttl.as_millis() as i64;
        match store
            .take_lease(self.name, &self.holder, now, now + ttl_ms)
            .await
        {
            Ok(taken) => {
                *self
                    .held_until
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                    taken.then(|| started + self.ttl * 2 / 3);
            }
            Err(err) => {
                tracing::warn!(lease = self.name, error = %err, "could not renew or take the lease; trying again");
            }
        }
        let held = self.is_held();
        if held != was_held {
            if held {
                tracing::info!(lease = self.name, node = %self.holder, "this node took the lease");
            } else {
                tracing::info!(lease = self.name, node = %self.holder, "this node no longer holds the lease");
            }
        }
        metrics::gauge!(self.gauge).set(if held { 1.0 } else { 0.0 });
        held
    }

    /// Gives the lease up (a graceful shutdown), so another node takes it at its next try.
    pub async fn release(&self, store: &Store) {
        let was_held = self.is_held();
        *self
            .held_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        metrics::gauge!(self.gauge).set(0.0);
        if !was_held {
            return;
        }
        match store.release_lease(self.name, &self.holder).await {
            Ok(()) => tracing::info!(lease = self.name, "gave up the lease"),
            Err(err) => {
                tracing::warn!(lease = self.name, error = %err, "could not give up the lease; it runs out by itself")
            }
        }
    }
}

/// How long a lease lasts after each renewal: one and a half job intervals.
pub fn lease_ttl(interval: Duration) -> Duration {
    interval * 3 / 2
}

/// Tries to take or renew each of `leases` every quarter `interval` until the handle is aborted.
pub fn spawn_keeper(
    store: Store,
    leases: Vec<Arc<Lease>>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    let every = (interval / 4).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            for lease in &leases {
                lease.try_take(&store).await;
            }
        }
    })
}
