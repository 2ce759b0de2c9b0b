//! The email outbox (CONTRACT §9): rows written inside the transaction of the change they report
//! (`EmailSteps`, called from `OrderSteps::notify` and the password reset), then claimed, sent
//! and marked by the background sender (`crate::app::mailer`) through the statements below.
//!
//! A row is claimed by one conditional update that names the state it must be in (pending and
//! due, or sending with its claim run out) and stamps a fresh `claim_token`; only the holder of
//! that token can mark the row afterwards. Two nodes racing for a row: one update changes it,
//! the other changes nothing and moves on.

use super::gate::Tx;
use super::orders::{Order, OrderItem};
use super::{read, transaction, write, PageRequest, Store};
use crate::domain::ids::new_id;
use crate::domain::mail::{
    customer_order_email, vendor_order_email, Composed, EmailKind, EmailStatus, MailBody,
    MailContext, MailLine, OrderFacts, OrderMail,
};
use crate::domain::notification::OrderEvent;
use crate::error::{Error, ErrorCode, Result};

/// What the store needs to compose emails: where links point and the shop's name. Set once at
/// start (`Store::set_mail_settings`), when the public address is known.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub public_url: String,
    pub shop: String,
}

impl MailSettings {
    pub fn context(&self) -> MailContext<'_> {
        MailContext {
            public_url: &self.public_url,
            shop: &self.shop,
        }
    }
}

/// An outbox row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EmailRow {
    pub id: String,
    pub kind: EmailKind,
    pub recipient: String,
    pub recipient_name: Option<String>,
    pub user_id: Option<String>,
    pub order_id: Option<String>,
    pub subject: String,
    /// The rendered bodies of rows written before migration 0031; empty for later rows, whose
    /// `body` is rendered when sent or shown (`EmailRow::bodies`).
    pub body_text: String,
    pub body_html: String,
    /// The email's `MailBody` as JSON.
    pub body: Option<String>,
    pub status: EmailStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claim_token: Option<String>,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl EmailRow {
    /// The plain-text and HTML bodies: rendered from `body`, or as stored by an older release.
    pub fn bodies(&self) -> std::result::Result<(String, String), String> {
        match &self.body {
            Some(json) => {
                let body = MailBody::from_json(json)?;
                Ok((body.text(), body.html()))
            }
            None => Ok((self.body_text.clone(), self.body_html.clone())),
        }
    }
}

/// How a delivery attempt ended, as the sender records it.
#[derive(Debug, Clone)]
pub enum Attempt {
    Sent,
    /// Try again at `next_attempt_at` (ms).
    Retry {
        error: String,
        next_attempt_at: i64,
    },
    /// Refused for good, or out of attempts.
    Failed {
        error: String,
    },
}

/// The outbox steps of a transaction, implemented for both back-ends by `impl_email_steps!`.
#[async_trait::async_trait]
pub trait EmailSteps {
    /// Keeps `email` for the user `user_id` (its address and name read in the same statement);
    /// nothing when there is no such user.
    async fn queue_email(
        &mut self,
        user_id: &str,
        order_id: Option<&str>,
        email: &Composed,
        now: i64,
    ) -> Result<()>;

    /// The emails of an order change: the customer's, and on confirmation each vendor's (its
    /// lines only).
    async fn queue_order_emails(
        &mut self,
        mail: &MailSettings,
        order: &Order,
        items: Option<&[OrderItem]>,
        what: OrderMail<'_>,
        now: i64,
    ) -> Result<()>;
}

fn facts<'a>(order: &'a Order, items: &'a [OrderItem], address: Vec<String>) -> OrderFacts<'a> {
    OrderFacts {
        order_id: &order.id,
        order_number: &order.order_number,
        currency: &order.currency,
        lines: items
            .iter()
            .map(|item| MailLine {
                name: &item.product_name,
                quantity: item.quantity,
                price: item.price,
                total: item.total_price,
            })
            .collect(),
        subtotal: order.subtotal,
        discount: order.discount,
        shipping: order.shipping_charges,
        tax: order.tax,
        total: order.total_amount,
        address,
    }
}

/// The stored shipping address (the JSON the cart kept) as lines: name, street, city and state
/// with the postcode, country, phone.
fn address_lines(stored: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(stored) else {
        return vec![stored.to_string()];
    };
    let field = |name: &str| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let city_line = [field("city"), field("state"), field("zipCode")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    [
        field("name"),
        field("street"),
        Some(city_line).filter(|line| !line.is_empty()),
        field("country"),
        field("phone").map(|phone| format!("Phone: {phone}")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Whether the email of `what` shows the order's lines (so they must be read).
fn needs_lines(what: OrderMail<'_>) -> bool {
    matches!(
        what,
        OrderMail::AwaitingPayment | OrderMail::Event(OrderEvent::Confirmed(_))
    )
}

macro_rules! impl_email_steps {
    ($tx:ty) => {
        #[async_trait::async_trait]
        impl EmailSteps for $tx {
            async fn queue_email(
                &mut self,
                user_id: &str,
                order_id: Option<&str>,
                email: &Composed,
                now: i64,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO email_outbox (id, kind, recipient, recipient_name, user_id, order_id,
                        subject, body_text, body_html, body, status, attempts, next_attempt_at, created_at, updated_at)
                     SELECT $1, $2, email, name, id, $3, $4, '', '', $5, 'pending', 0, $6, $6, $6
                     FROM users WHERE id = $7",
                )
                .bind(new_id())
                .bind(email.kind)
                .bind(order_id)
                .bind(&email.subject)
                .bind(email.body.to_json())
                .bind(now)
                .bind(user_id)
                .execute(&mut **self)
                .await?;
                Ok(())
            }

            async fn queue_order_emails(
                &mut self,
                mail: &MailSettings,
                order: &Order,
                items: Option<&[OrderItem]>,
                what: OrderMail<'_>,
                now: i64,
            ) -> Result<()> {
                let items: Vec<OrderItem> = if let Some(items) = items {
                    items.to_vec()
                } else if needs_lines(what) {
                    let mut items: Vec<OrderItem> =
                        sqlx::query_as("SELECT * FROM order_items WHERE order_id = $1")
                            .bind(&order.id)
                            .fetch_all(&mut **self)
                            .await?;
                    super::orders::sort_items(&mut items);
                    items
                } else {
                    Vec::new()
                };
                let address = address_lines(&order.shipping_address);
                let all = facts(order, &items, address);
                if let Some(email) = customer_order_email(mail.context(), &all, what) {
                    self.queue_email(&order.user_id, Some(&order.id), &email, now)
                        .await?;
                }
                if let OrderMail::Event(OrderEvent::Confirmed(_)) = what {
                    let mut vendors: Vec<&str> =
                        items.iter().filter_map(|i| i.vendor_id.as_deref()).collect();
                    vendors.sort_unstable();
                    vendors.dedup();
                    for vendor in vendors {
                        let theirs: Vec<OrderItem> = items
                            .iter()
                            .filter(|i| i.vendor_id.as_deref() == Some(vendor))
                            .cloned()
                            .collect();
                        let share = facts(order, &theirs, Vec::new());
                        let email = vendor_order_email(mail.context(), &share);
                        self.queue_email(vendor, Some(&order.id), &email, now).await?;
                    }
                }
                Ok(())
            }
        }
    };
}

impl_email_steps!(Tx<'_, sqlx::Sqlite>);
impl_email_steps!(Tx<'_, sqlx::Postgres>);

impl Store {
    /// Claims up to `limit` due rows for one delivery attempt each, until `claimed_until` (ms), in
    /// one statement: rows pending and due, or claimed by a sender whose claim ran out (it crashed
    /// or stalled mid-send), oldest due first. Counts each row's attempt. The outer condition
    /// repeats the inner one, so a row another sender claimed meanwhile is not taken twice (and on
    /// PostgreSQL `SKIP LOCKED` passes over rows a concurrent claim holds).
    pub async fn claim_due_emails(
        &self,
        token: &str,
        now: i64,
        claimed_until: i64,
        limit: i64,
    ) -> Result<Vec<EmailRow>> {
        const DUE: &str = "((status = 'pending' AND next_attempt_at <= $2)
                            OR (status = 'sending' AND claimed_until < $2))";
        let sql = match self.backend {
            // The pick is a materialized common table expression, evaluated once: as a plain `IN`
            // subquery PostgreSQL may run it again for each row, and with `SKIP LOCKED` each run
            // picks other rows, so one claim could take more than `limit`.
            super::Backend::Postgres(_) => format!(
                "WITH picked AS MATERIALIZED (
                    SELECT id FROM email_outbox WHERE {DUE}
                    ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
                 UPDATE email_outbox
                 SET status = 'sending', claim_token = $1, claimed_until = $3,
                     attempts = attempts + 1, updated_at = $2
                 WHERE {DUE} AND id IN (SELECT id FROM picked)
                 RETURNING *"
            ),
            // SQLite runs the claim inside its one writer, so it must not grow with the backlog
            // of due rows (thousands while a sale outpaces the SMTP server): with the `OR` in one
            // query SQLite read and sorted every due row to keep four, and the outer update
            // walked them again. Here the pending rows come in `email_outbox_due` order with the
            // limit applied (no sort), the few expired claims beside them, and the update finds
            // its rows by id (`+` keeps SQLite from choosing the status index for it).
            super::Backend::Sqlite(_) => "WITH picked AS MATERIALIZED (
                    SELECT id FROM (
                        SELECT id, next_attempt_at FROM email_outbox
                        WHERE status = 'sending' AND claimed_until < $2
                        UNION ALL
                        SELECT id, next_attempt_at FROM (
                            SELECT id, next_attempt_at FROM email_outbox
                            WHERE status = 'pending' AND next_attempt_at <= $2
                            ORDER BY next_attempt_at LIMIT $4))
                    ORDER BY next_attempt_at, id LIMIT $4)
                 UPDATE email_outbox
                 SET status = 'sending', claim_token = $1, claimed_until = $3,
                     attempts = attempts + 1, updated_at = $2
                 WHERE id IN (SELECT id FROM picked)
                   AND ((+status = 'pending' AND +next_attempt_at <= $2)
                        OR (+status = 'sending' AND +claimed_until < $2))
                 RETURNING *"
                .to_string(),
        };
        let mut rows: Vec<EmailRow> = write!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(token)
                .bind(now)
                .bind(claimed_until)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        // RETURNING gives no order: send the oldest first.
        rows.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        Ok(rows)
    }

    /// Records how a claimed attempt ended, if the claim is still this sender's (`token`).
    pub async fn finish_email_attempt(
        &self,
        id: &str,
        token: &str,
        attempt: &Attempt,
        now: i64,
    ) -> Result<bool> {
        let (status, next, error, sent_at) = match attempt {
            Attempt::Sent => (EmailStatus::Sent, None, None, Some(now)),
            Attempt::Retry {
                error,
                next_attempt_at,
            } => (
                EmailStatus::Pending,
                Some(*next_attempt_at),
                Some(error.as_str()),
                None,
            ),
            Attempt::Failed { error } => (EmailStatus::Failed, None, Some(error.as_str()), None),
        };
        let changed = write!(self, |pool| {
            sqlx::query(
                "UPDATE email_outbox
                 SET status = $3, next_attempt_at = COALESCE($4, next_attempt_at),
                     last_error = COALESCE($5, last_error), sent_at = $6,
                     claim_token = NULL, claimed_until = NULL, updated_at = $7
                 WHERE id = $1 AND claim_token = $2 AND status = 'sending'",
            )
            .bind(id)
            .bind(token)
            .bind(status)
            .bind(next)
            .bind(error)
            .bind(sent_at)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Marks sent every row still claimed with `token` (the rows of a round whose other outcomes
    /// were recorded first, each by `finish_email_attempt`). Returns how many.
    pub async fn finish_sent_emails(&self, token: &str, now: i64) -> Result<u64> {
        Ok(write!(self, |pool| {
            sqlx::query(
                "UPDATE email_outbox
                 SET status = 'sent', sent_at = $2, claim_token = NULL, claimed_until = NULL,
                     updated_at = $2
                 WHERE claim_token = $1 AND status = 'sending'",
            )
            .bind(token)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// A page of emails, newest first (ids are UUIDv7, ordered by time: the primary key serves
    /// the order); all of them without a status.
    pub async fn emails(
        &self,
        status: Option<EmailStatus>,
        page: PageRequest,
    ) -> Result<(Vec<EmailRow>, i64)> {
        let status = status.map(EmailStatus::as_str);
        Ok(read!(self, |pool| {
            let rows: Vec<EmailRow> = sqlx::query_as(
                "SELECT * FROM email_outbox WHERE ($1 IS NULL OR status = $1)
                 ORDER BY id DESC LIMIT $2 OFFSET $3",
            )
            .bind(status)
            .bind(page.limit)
            .bind(page.offset())
            .fetch_all(pool)
            .await?;
            let (total,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM email_outbox WHERE ($1 IS NULL OR status = $1)",
            )
            .bind(status)
            .fetch_one(pool)
            .await?;
            (rows, total)
        }))
    }

    pub async fn email_by_id(&self, id: &str) -> Result<Option<EmailRow>> {
        Ok(read!(self, |pool| {
            sqlx::query_as("SELECT * FROM email_outbox WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Puts a failed email back in the queue, due now, with its attempts counted afresh. A 404
    /// when there is no such email, a 409 when it is not failed.
    pub async fn retry_failed_email(&self, id: &str, now: i64) -> Result<EmailRow> {
        let retried: Option<EmailRow> = write!(self, |pool| {
            sqlx::query_as(
                "UPDATE email_outbox SET status = 'pending', attempts = 0, next_attempt_at = $2,
                        updated_at = $2
                 WHERE id = $1 AND status = 'failed' RETURNING *",
            )
            .bind(id)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        match retried {
            Some(row) => Ok(row),
            None => match self.email_by_id(id).await? {
                None => Err(Error::not_found("Email")),
                Some(row) => Err(Error::Conflict(
                    ErrorCode::Conflict,
                    format!(
                        "Only a failed email can be sent again; this one is {}",
                        row.status
                    ),
                )),
            },
        }
    }

    /// Deletes up to `limit` password reset tokens issued before `before` (ms): by then each is
    /// used or expired, and older than the hour the per-account allowance counts.
    pub async fn purge_password_resets(&self, before: i64, limit: i64) -> Result<u64> {
        self.delete_batch(
            "DELETE FROM password_resets WHERE token_hash IN (
                 SELECT token_hash FROM password_resets
                 WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
            before,
            limit,
        )
        .await
    }

    /// Records a password reset token (its hash) for the active account with `email` and keeps
    /// the email made by `compose` from the account's id, in one transaction. Nothing is written
    /// (and `false` returned) for an unknown or inactive address, or when the account already
    /// had `per_hour` reset emails in the past hour.
    pub async fn issue_password_reset(
        &self,
        email: &str,
        token_hash: &str,
        expires_at: i64,
        per_hour: i64,
        reset_email: &Composed,
        now: i64,
    ) -> Result<bool> {
        Ok(transaction!(self, |tx| {
            let user: Option<(String,)> =
                sqlx::query_as("SELECT id FROM users WHERE email = $1 AND is_active")
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((user_id,)) = user else {
                return Ok(false);
            };
            // Serializes the account's requests on PostgreSQL, so the hourly count holds under
            // concurrent requests (SQLite's single writer serializes anyway).
            if matches!(self.backend, super::Backend::Postgres(_)) {
                sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let (recent,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM password_resets WHERE user_id = $1 AND created_at > $2",
            )
            .bind(&user_id)
            .bind(now - 60 * 60 * 1000)
            .fetch_one(&mut *tx)
            .await?;
            if recent >= per_hour {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO password_resets (token_hash, user_id, expires_at, used_at, created_at)
                 VALUES ($1, $2, $3, NULL, $4)",
            )
            .bind(token_hash)
            .bind(&user_id)
            .bind(expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.queue_email(&user_id, None, reset_email, now).await?;
            true
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_lines() {
        let stored = r#"{"name":"Asha","street":"1 Road","city":"Pune","state":"MH","zipCode":"411001","country":"India","phone":"+919999999999"}"#;
        assert_eq!(
            address_lines(stored),
            vec![
                "Asha",
                "1 Road",
                "Pune, MH, 411001",
                "India",
                "Phone: +919999999999"
            ]
        );
    }
}
