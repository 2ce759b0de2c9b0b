//! Per-client-address limits for login and registration (CONTRACT §3). On PostgreSQL the count
//! lives in the database, so every API node shares it and N nodes do not give N times the
//! attempts; on SQLite (one process) `governor` keeps it in memory.

use crate::error::Error;
use crate::store::Store;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// What is limited; the name keys the shared counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Login, registration and password recovery, counted together.
    Auth,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Auth => "auth",
        }
    }
}

pub enum RateLimiter {
    /// Several processes may serve: a fixed window counted in the shared database.
    Shared { limit: u32, window: Duration },
    /// One process: `governor`'s GCRA, `limit` attempts at once, then one per `window / limit`.
    InProcess(DefaultKeyedRateLimiter<IpAddr>),
}

impl RateLimiter {
    /// The limiter for `store`: shared on PostgreSQL, in process on the embedded database.
    pub fn for_store(store: &Store, limit: u32, window: Duration) -> Self {
        if store.is_embedded() {
            RateLimiter::in_process(limit, window)
        } else {
            RateLimiter::Shared { limit, window }
        }
    }

    pub fn in_process(limit: u32, window: Duration) -> Self {
        let limit = NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN);
        let period = window / limit.get();
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_minute(limit))
            .allow_burst(limit);
        RateLimiter::InProcess(DefaultKeyedRateLimiter::keyed(quota))
    }

    /// The window of the counters kept in the database (`None`: counted in process, no rows).
    pub fn shared_window(&self) -> Option<Duration> {
        match self {
            RateLimiter::Shared { window, .. } => Some(*window),
            RateLimiter::InProcess(_) => None,
        }
    }

    /// Counts one attempt from `client`; past the limit, a 429 with the seconds to wait.
    pub async fn check(&self, store: &Store, bucket: Bucket, client: IpAddr) -> Result<(), Error> {
        let wait = match self {
            RateLimiter::InProcess(limiter) => {
                if limiter.len() > 100_000 {
                    // Forget clients whose allowance is full again, so a flood of addresses
                    // cannot grow the map without bound.
                    limiter.retain_recent();
                }
                match limiter.check_key(&client) {
                    Ok(()) => return Ok(()),
                    Err(not_until) => not_until.wait_time_from(DefaultClock::default().now()),
                }
            }
            RateLimiter::Shared { limit, window } => {
                match store
                    .count_attempt(bucket.name(), &client.to_string(), *window)
                    .await?
                {
                    (count, _) if count <= i64::from(*limit) => return Ok(()),
                    (_, window_left) => window_left,
                }
            }
        };
        Err(Error::TooManyRequests {
            message: "Too many attempts from this address; try again later".into(),
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eleventh_attempt_is_refused_in_process() {
        let limiter = RateLimiter::in_process(10, Duration::from_secs(60));
        let RateLimiter::InProcess(inner) = &limiter else {
            unreachable!()
        };
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..10 {
            inner.check_key(&ip).unwrap();
        }
        let refused = inner.check_key(&ip).unwrap_err();
        let wait = refused.wait_time_from(DefaultClock::default().now());
        // One attempt comes back every 6 s.
        assert!(
            wait <= Duration::from_secs(6) && wait > Duration::ZERO,
            "{wait:?}"
        );
        inner.check_key(&"10.0.0.2".parse().unwrap()).unwrap();
    }
}
