//! Sending the outbox (CONTRACT §9): the background sender claims due rows a few at a time (one
//! conditional update, `Store::claim_due_emails`), hands them to the SMTP server through `lettre`
//! (a pooled tokio transport, each delivery bounded by `SMTP_TIMEOUT_SECONDS`) and records how
//! each ended. Nothing
//! here runs on a request: a down, slow or refusing SMTP server delays mail, never an order.
//!
//! - A temporary failure (no connection, a timeout, a 4xx answer) is retried with exponential
//!   back-off (`RETRY_BASE_MS` doubling, at most `RETRY_CAP_MS` apart), up to `MAX_ATTEMPTS`;
//!   a permanent refusal (5xx) fails the row at once. A failed row waits for an admin's retry.
//! - A claim lasts twice the send bound plus a margin: a node that dies mid-send leaves its row
//!   to be claimed again once the claim runs out. The server may have accepted the message just
//!   before the crash, so that row may arrive twice, both times with the same `Message-ID`
//!   (`<row id@sender's domain>`), which lets mail clients fold the two.
//! - When the server cannot be reached at all, the pass stops after the round that found out
//!   instead of trying every row against a server that is down.

use super::AppState;
use crate::config::{Config, SmtpSettings, SmtpTls};
use crate::domain::time::now_millis;
use crate::error::Result;
use crate::store::emails::{Attempt, EmailRow};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Delivery attempts before a row is `failed` (about three hours of retries with the back-off).
pub const MAX_ATTEMPTS: i64 = 20;
/// The first retry's delay; each later one doubles it.
pub const RETRY_BASE_MS: i64 = 2_000;
/// The longest wait between two attempts.
pub const RETRY_CAP_MS: i64 = 15 * 60 * 1000;
/// Rows one pass may send; the next pass (a second later) takes the rest.
const BATCH: usize = 400;
/// Messages in flight at once: the SMTP connection pool's size, and the rows one claim takes.
const CONCURRENT_SENDS: u32 = 4;

/// The SMTP connection pool and the sender's address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The part of `MAIL_FROM` after `@`: the right-hand side of every `Message-ID`.
    domain: String,
    send_timeout: Duration,
}

impl Mailer {
    /// The mailer of `config`, or `None` without `SMTP_URL` (emails are then kept, not sent).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Mailer>> {
        let Some(smtp) = &config.smtp else {
            return Ok(None);
        };
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("MAIL_FROM: {e}"))?;
        let domain = from.email.domain().to_string();
        Ok(Some(Mailer {
            transport: transport(smtp)?,
            from,
            domain,
            send_timeout: Duration::from_secs(smtp.timeout_secs),
        }))
    }

    /// How long a claim on a row lasts: longer than any delivery may take.
    pub fn claim_ms(&self) -> i64 {
        i64::try_from(self.send_timeout.as_millis()).unwrap_or(i64::MAX / 4) * 2 + 5_000
    }

    /// The message of a row: `From` the shop, `To` the recipient, the row's subject, a stable
    /// `Message-ID`, and the text and HTML bodies as one multipart/alternative.
    pub fn message(&self, row: &EmailRow) -> std::result::Result<Message, String> {
        let address = row
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient address: {e}"))?;
        // A display name is one line of printable text; lettre encodes what is not ASCII.
        let name = row
            .recipient_name
            .as_deref()
            .map(|name| {
                name.chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            .filter(|name| !name.is_empty());
        let subject: String = row
            .subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let (text, html) = row.bodies()?;
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name, address))
            .subject(subject)
            .message_id(Some(message_id(&row.id, &self.domain)))
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| format!("composing the message: {e}"))
    }

    /// One delivery, bounded by the send timeout.
    async fn deliver(&self, message: &Message) -> Delivery {
        match tokio::time::timeout(self.send_timeout, self.transport.send(message.clone())).await {
            Err(_) => Delivery::Unreachable(format!(
                "no answer from the SMTP server within {} s",
                self.send_timeout.as_secs()
            )),
            Ok(Ok(_)) => Delivery::Accepted,
            Ok(Err(err)) if err.is_permanent() => Delivery::Refused(err.to_string()),
            Ok(Err(err)) if err.status().is_some() => Delivery::Deferred(err.to_string()),
            Ok(Err(err)) => Delivery::Unreachable(err.to_string()),
        }
    }
}

/// `<row id@domain>`: the same for every attempt of a row, so a resend after a crash carries the
/// Message-ID of the first send.
pub fn message_id(row_id: &str, domain: &str) -> String {
    format!("<{row_id}@{domain}>")
}

fn transport(smtp: &SmtpSettings) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let builder = match smtp.tls {
        SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(smtp.timeout_secs)))
        .pool_config(
            PoolConfig::new()
                .max_size(CONCURRENT_SENDS)
                .idle_timeout(Duration::from_secs(30)),
        );
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

/// How one delivery went.
enum Delivery {
    Accepted,
    /// A 5xx answer: retrying cannot help.
    Refused(String),
    /// A 4xx answer: the server asks to try later.
    Deferred(String),
    /// No usable connection (refused, timed out, TLS failed).
    Unreachable(String),
}

/// When the attempt after `attempts` failed ones is due.
pub fn next_attempt_at(now: i64, attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    let delay = RETRY_BASE_MS
        .saturating_mul(1i64 << exponent.min(30))
        .min(RETRY_CAP_MS);
    now.saturating_add(delay)
}

/// Sends every due row once (or until the SMTP server turns out unreachable). Returns how many
/// were sent. An error is a failure to claim or record (the database); delivery failures are
/// recorded on their rows.
///
/// Rows go in rounds of `CONCURRENT_SENDS`: one statement claims the round, its messages go out
/// at once over the pooled connections (so the claim, twice the send bound, covers the round),
/// each other outcome is recorded on its row and then one statement marks the rest sent.
pub async fn send_due(state: &AppState, mailer: &Mailer) -> Result<usize> {
    let mut sent = 0;
    while sent < BATCH {
        let now = now_millis();
        let token = crate::domain::ids::new_id();
        let round = state
            .store
            .claim_due_emails(
                &token,
                now,
                now + mailer.claim_ms(),
                i64::from(CONCURRENT_SENDS),
            )
            .await?;
        if round.is_empty() {
            break;
        }
        let claimed = round.len();
        let outcomes =
            futures_util::future::join_all(round.iter().map(|row| attempt(mailer, row))).await;
        let mut unreachable = false;
        for (row, (outcome, cannot_connect)) in round.iter().zip(outcomes) {
            unreachable |= cannot_connect;
            record(row, &outcome);
            if !matches!(outcome, Attempt::Sent) {
                state
                    .store
                    .finish_email_attempt(&row.id, &token, &outcome, now_millis())
                    .await?;
            }
        }
        let marked = state.store.finish_sent_emails(&token, now_millis()).await?;
        sent += usize::try_from(marked).unwrap_or(usize::MAX);
        if unreachable || claimed < CONCURRENT_SENDS as usize {
            break;
        }
    }
    Ok(sent)
}

/// One row's delivery attempt, and whether the server could not be reached at all.
async fn attempt(mailer: &Mailer, row: &EmailRow) -> (Attempt, bool) {
    match mailer.message(row) {
        Err(problem) => (Attempt::Failed { error: problem }, false),
        Ok(message) => match mailer.deliver(&message).await {
            Delivery::Accepted => (Attempt::Sent, false),
            Delivery::Refused(error) => (Attempt::Failed { error }, false),
            Delivery::Deferred(error) => (retry_or_fail(error, row.attempts), false),
            Delivery::Unreachable(error) => (retry_or_fail(error, row.attempts), true),
        },
    }
}

/// Counts and logs how an attempt ended.
fn record(row: &EmailRow, outcome: &Attempt) {
    match outcome {
        Attempt::Sent => {
            metrics::counter!("emails_total", "outcome" => "sent").increment(1);
        }
        Attempt::Retry { error, .. } => {
            metrics::counter!("emails_total", "outcome" => "retry").increment(1);
            tracing::warn!(email = %row.id, attempts = row.attempts, error = %error, "email not sent; retrying later");
        }
        Attempt::Failed { error } => {
            metrics::counter!("emails_total", "outcome" => "failed").increment(1);
            tracing::warn!(email = %row.id, attempts = row.attempts, error = %error, "email failed");
        }
    }
}

fn retry_or_fail(error: String, attempts: i64) -> Attempt {
    if attempts >= MAX_ATTEMPTS {
        Attempt::Failed {
            error: format!("{error} (gave up after {attempts} attempts)"),
        }
    } else {
        Attempt::Retry {
            error,
            next_attempt_at: next_attempt_at(now_millis(), attempts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        assert_eq!(next_attempt_at(0, 1), 2_000);
        assert_eq!(next_attempt_at(0, 2), 4_000);
        assert_eq!(next_attempt_at(0, 5), 32_000);
        assert_eq!(next_attempt_at(0, 19), RETRY_CAP_MS);
    }
}
