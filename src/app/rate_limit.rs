//! Per-client-address limits for login and registration (CONTRACT §3). On PostgreSQL the count
//! lives in the database, so every API node shares it and N nodes do not give N times the
//! attempts; on SQLite (one process) `governor` keeps it in memory. The client address is the one
//! `TrustedProxies::client_address` computes (CONTRACT §11), never a raw `X-Forwarded-For`.
//!
//! Wrong passwords are also limited per account (`AccountLimiter`), whatever addresses they come
//! from, counted in the database on both back-ends.

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
    pub fn name(self) -> &'static str {
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

/// How long an address an account logged in from stays known (`login_addresses`).
pub const KNOWN_ADDRESS_LIFETIME_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// The counter of one account's wrong passwords, from anywhere.
pub const ACCOUNT_BUCKET: &str = "login_account";
/// The counter of one account's wrong passwords from one address.
pub const ACCOUNT_CLIENT_BUCKET: &str = "login_account_client";

/// At most `failures` wrong passwords per account per fixed `window`, from any number of
/// addresses (so a botnet guessing one account's password gets `failures` guesses a window, not
/// `failures` per address); past it, its logins are 429 until the window ends, before the
/// password is even checked, so guesses in the meantime learn nothing.
///
/// A limit per account lets anyone lock that account out by sending wrong passwords, so the lock
/// is softened where the owner is: an address the account logged in from within 30 days is held
/// only by the wrong passwords sent from that address (its own counter of the same size), not by
/// the account's. The trade-off: failures from elsewhere lock the owner out only at addresses
/// they never logged in from (a new network), and only until the window ends; the forgotten
/// password email works throughout. An attacker sharing a known address (the owner's NAT) gets
/// that address's `failures` guesses a window on top of the account's. A successful login ends
/// no lock and resets no counter (not even its own address's), so logging into one's own account
/// cannot buy more guesses at anyone's. Unknown emails are counted like accounts that never
/// logged in, so the answers do not tell which emails have accounts.
#[derive(Debug, Clone, Copy)]
pub struct AccountLimiter {
    pub failures: u32,
    pub window: Duration,
}

impl AccountLimiter {
    /// Refuses (429) a login to `account` (the normalized email as typed) from `client` while its
    /// failures in this window are at the limit; `user_id` is the account's, if one exists.
    pub async fn check(
        &self,
        store: &Store,
        account: &str,
        user_id: Option<&str>,
        client: IpAddr,
    ) -> Result<(), Error> {
        let since = crate::domain::time::now_millis() - KNOWN_ADDRESS_LIFETIME_MS;
        let known = match user_id {
            Some(user_id) => {
                store
                    .logged_in_from(user_id, &client.to_string(), since)
                    .await?
            }
            None => false,
        };
        let (count, left) = if known {
            store
                .attempts_in_window(
                    ACCOUNT_CLIENT_BUCKET,
                    &account_client(account, client),
                    self.window,
                )
                .await?
        } else {
            store
                .attempts_in_window(ACCOUNT_BUCKET, account, self.window)
                .await?
        };
        if count < i64::from(self.failures) {
            return Ok(());
        }
        metrics::counter!("auth_account_limited_total").increment(1);
        Err(Error::TooManyRequests {
            message: "Too many failed logins for this account; try again later".into(),
            retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
        })
    }

    /// Counts one wrong password for `account` from `client`, on both of its counters.
    pub async fn record_failure(
        &self,
        store: &Store,
        account: &str,
        client: IpAddr,
    ) -> Result<(), Error> {
        store
            .count_attempt(ACCOUNT_BUCKET, account, self.window)
            .await?;
        store
            .count_attempt(
                ACCOUNT_CLIENT_BUCKET,
                &account_client(account, client),
                self.window,
            )
            .await?;
        Ok(())
    }

    /// Remembers that `user_id` logged in from `client`.
    pub async fn record_success(
        &self,
        store: &Store,
        user_id: &str,
        client: IpAddr,
    ) -> Result<(), Error> {
        store
            .record_login_address(
                user_id,
                &client.to_string(),
                crate::domain::time::now_millis(),
            )
            .await
    }
}

/// The key of an account's counter at one address.
fn account_client(account: &str, client: IpAddr) -> String {
    format!("{account} {client}")
}

/// The account key of a login's email: the normalized address, or the text as typed (trimmed,
/// lower-cased, cut at 254 bytes) when it is not one, so junk is counted too without growing keys.
pub fn account_key(email: &str) -> String {
    match crate::domain::email::Email::parse(email) {
        Ok(email) => email.as_str().to_string(),
        Err(_) => {
            let mut key = email.trim().to_lowercase();
            let mut cut = key.len().min(254);
            while !key.is_char_boundary(cut) {
                cut -= 1;
            }
            key.truncate(cut);
            key
        }
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
