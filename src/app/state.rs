//! The state every handler, webhook and background job shares: the store, the settings, the
//! payment gateway, the token keys, the login limiter and this node's change feed and caches.

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::store::Store;
use std::sync::Arc;

/// Cloned for every request (by the router and each layer that holds it), so a clone is one
/// reference count, not one per shared part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What `AppState` shares.
pub struct Shared {
    pub store: Store,
    pub config: Arc<Config>,
    /// Behind an `Arc`: the keys' validation settings hold heap collections.
    pub jwt: Arc<JwtKeys>,
    pub auth_limiter: Arc<super::rate_limit::RateLimiter>,
    /// Wrong passwords per account, from any address.
    pub account_limiter: super::rate_limit::AccountLimiter,
    pub gateway: Arc<dyn crate::payments::PaymentGateway>,
    /// The change feed of this node and the caches it keeps (`crate::app`).
    pub live: Arc<crate::app::Live>,
    /// The SMTP sender, `None` without `SMTP_URL` (emails are kept in the outbox, not sent).
    pub mailer: Option<Arc<crate::app::mailer::Mailer>>,
    /// Where uploaded product pictures are kept.
    pub pictures: Arc<crate::app::pictures::Pictures>,
}

impl AppState {
    /// The payment workflows over this state's store and gateway.
    pub fn payments(&self) -> crate::app::payments::Payments {
        crate::app::payments::Payments {
            store: self.store.clone(),
            gateway: self.gateway.clone(),
        }
    }
}
