//! Leases on background roles (`job_leases`): which node runs the periodic jobs, which the email
//! sender. Each statement is one conditional write, so two nodes can never both take a lease.

use super::{with_retries, write, Store};
use crate::error::Result;

impl Store {
    /// Takes the lease `name` for `holder` until `expires_at`, or renews it, if it is free,
    /// expired at `now`, or already `holder`'s; returns whether `holder` holds it now.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool> {
        let taken: Option<String> = with_retries(|| async {
            Ok(write!(self, |pool| sqlx::query_scalar(
                "INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                                                  expires_at = excluded.expires_at
                 WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= $4
                 RETURNING holder"
            )
            .bind(name)
            .bind(holder)
            .bind(expires_at)
            .bind(now)
            .fetch_optional(pool)
            .await?))
        })
        .await?;
        Ok(taken.is_some())
    }

    /// Gives the lease `name` up if `holder` holds it, so another node takes it at its next try.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        write!(self, |pool| {
            sqlx::query("UPDATE job_leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}
