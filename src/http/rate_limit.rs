//! A per-client-address fixed-window limiter for login and registration. Kept in memory: each API
//! node limits on its own, which bounds guessing per node without a shared store.

use crate::error::Error;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `client`; past the limit, a 429 with the seconds until the window resets.
    pub fn check(&self, client: IpAddr) -> Result<(), Error> {
        let now = Instant::now();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() > 100_000 {
            // Forget finished windows so a flood of addresses cannot grow the map without bound.
            clients.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = clients.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let retry_after = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(Error::TooManyRequests {
                message: "Too many attempts from this address; try again later".into(),
                retry_after_secs: retry_after.as_secs().max(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleventh_attempt_is_refused() {
        let limiter = RateLimiter::new(10, Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..10 {
            limiter.check(ip).unwrap();
        }
        assert!(matches!(
            limiter.check(ip),
            Err(Error::TooManyRequests { .. })
        ));
        limiter.check("10.0.0.2".parse().unwrap()).unwrap();
    }
}
