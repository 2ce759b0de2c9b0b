//! The time a request has left, for the gateway calls made on its behalf. The request timeout
//! (`http::limits`) runs each request inside `within`; a gateway call then fits its attempts and
//! retries into what is left, so the request answers for itself (and gives back what it claimed)
//! instead of being dropped mid-call. Work outside a request (the jobs, spawned tasks) has no
//! deadline and gets the gateway client's full budget.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the time its gateway calls must end by.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left before the current request's deadline, less `reserve` (kept for the request's
/// own work after the call); `None` outside a request.
pub fn left(reserve: Duration) -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| {
            deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(reserve)
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn time_left_is_known_only_inside_a_request() {
        assert_eq!(left(Duration::ZERO), None);
        let deadline = Instant::now() + Duration::from_secs(10);
        let inside = within(deadline, async { left(Duration::from_secs(1)) }).await;
        assert!(inside.is_some_and(|d| d <= Duration::from_secs(9) && d > Duration::from_secs(8)));
    }
}
