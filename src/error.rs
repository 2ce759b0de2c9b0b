//! The one error type of the HTTP layer and the JSON error envelope it turns into.
//!
//! Store code returns `Error` too, so a rule broken deep inside a transaction reaches the client
//! with its own status and message. The domain has its own `DomainError` (no HTTP in it), turned
//! into an `Error` here, in one `From`, so `?` carries it through unchanged.
//!
//! Every answer carries a stable `code` (`ErrorCode`, the closed set): the variant gives it where
//! the kind says enough (`NotFound` is `not_found`), and a conflict or a validation failure names
//! its rule (`Error::Conflict(ErrorCode::InsufficientStock, ..)`).

use crate::domain::error::DomainError;
pub use crate::domain::error::ErrorCode;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One problem with one input field.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The rejected input as sent (any JSON value, `null` when there is none to show).
    pub value: Value,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            value: value.into(),
        }
    }
}

/// The failure envelope of CONTRACT §2.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// What went wrong, for programs: stable, one of a closed set. Branch on this, not on `message`.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A 400; `code` is `validation_failed` unless a rule names itself (`cart_empty`,
    /// `code_expired`, ...).
    #[error("{message}")]
    Validation {
        code: ErrorCode,
        message: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A 409: the state refuses the request; the code names the rule (`ErrorCode::Conflict`
    /// when none says more).
    #[error("{1}")]
    Conflict(ErrorCode, String),
    /// The payment the client points at is not captured money (failed, created, refunded).
    #[error("{0}")]
    PaymentRequired(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// The database broke a conflict between concurrent transactions (serialization failure or
    /// deadlock). `transaction!` retries these; one that persists is a 503 the client may retry.
    #[error("The shop is busy with conflicting updates; try again shortly")]
    Contention(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A 400 about a single field.
    pub fn invalid(field: &str, message: impl Into<String>, value: impl Into<Value>) -> Self {
        let message = message.into();
        Error::Validation {
            code: ErrorCode::ValidationFailed,
            message: format!("Validation failed: {message}"),
            errors: vec![FieldError::new(field, message, value)],
        }
    }

    /// A 400 with a message and no field detail.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::Validation {
            code: ErrorCode::ValidationFailed,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// A 400 about a single field under a rule's own code (`cart_empty`, `code_expired`, ...).
    pub fn rule(
        code: ErrorCode,
        field: &str,
        message: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        let message = message.into();
        Error::Validation {
            code,
            message: message.clone(),
            errors: vec![FieldError::new(field, message, value)],
        }
    }

    pub fn not_found(what: &str) -> Self {
        Error::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Validation { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(..) => StatusCode::CONFLICT,
            Error::PaymentRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Error::ServiceUnavailable(_) | Error::Contention(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The envelope's `code`: the rule's own, or the one the kind implies.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation { code, .. } | Error::Conflict(code, _) => *code,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::PaymentRequired(_) => ErrorCode::PaymentFailed,
            Error::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            // The one 422 of the API: the same key with another request.
            Error::Unprocessable(_) => ErrorCode::IdempotencyKeyReused,
            Error::TooManyRequests { .. } => ErrorCode::RateLimited,
            Error::BadGateway(_) => ErrorCode::GatewayError,
            Error::ServiceUnavailable(_) => ErrorCode::ServiceUnavailable,
            Error::Contention(_) => ErrorCode::Contention,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }
}

/// The envelope written outside a handler's `Error` (the 405, the 414, the request timeout), so
/// every answer has the same shape.
pub fn envelope(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        success: false,
        code,
        message: message.into(),
        errors: Vec::new(),
    };
    (status, axum::Json(body)).into_response()
}

/// The one place a domain rule becomes an HTTP answer.
impl From<DomainError> for Error {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Invalid {
                field,
                message,
                value,
            } => Error::invalid(&field, message, value),
            DomainError::Conflict { code, message } => Error::Conflict(code, message),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return Error::ServiceUnavailable("The database is busy; try again shortly".into());
        }
        if let sqlx::Error::Database(db) = &err {
            // PostgreSQL's serialization_failure and deadlock_detected.
            if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
                return Error::Contention(db.message().to_string());
            }
        }
        if is_unavailable(&err) {
            // Not a bug: the database went away or is busy for a moment. The cause stays in the
            // log; the client is told to retry.
            tracing::warn!(error = %err, "database unavailable; answering 503");
            return Error::ServiceUnavailable(
                "The database is unavailable for a moment; try again shortly".into(),
            );
        }
        Error::Internal(anyhow::Error::new(err))
    }
}

/// Whether a database error is the database being away or busy rather than a bug: a lost
/// connection (reset, closed, unexpected EOF), a server shutting down or refusing connections
/// (PostgreSQL class 08 and 57P01..57P03, too many connections), SQLite's "database is locked"
/// (SQLITE_BUSY, SQLITE_LOCKED), a full disk (SQLITE_FULL) or a failed read or write of its files
/// (SQLITE_IOERR, which a full disk also gives when the WAL cannot grow).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    use std::io::ErrorKind;
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::ConnectionRefused
                | ErrorKind::NotConnected
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
                | ErrorKind::TimedOut
        ),
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite reports extended result codes; the primary code is the low byte.
                let primary = code.parse::<i64>().map_or(-1, |c| c & 0xff);
                // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL.
                matches!(primary, 5 | 6 | 10 | 13)
            } else {
                code.starts_with("08")
                    || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
            }
        }
        _ => false,
    }
}

/// Turns a unique-constraint violation into a domain error, as realworld-axum-sqlx does.
pub trait ResultExt<T> {
    fn on_unique_violation(self, to: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_unique_violation(self, to: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => to(),
            _ => Error::from(err),
        })
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, errors) = match &self {
            Error::Validation {
                message, errors, ..
            } => (message.clone(), errors.clone()),
            Error::Internal(cause) => {
                // The request id is attached by the middleware; the cause stays in the log.
                tracing::error!(error = ?cause, "internal error");
                (
                    "Internal server error; quote the x-request-id header when reporting it"
                        .to_string(),
                    Vec::new(),
                )
            }
            other => (other.to_string(), Vec::new()),
        };
        let body = ErrorBody {
            success: false,
            code: self.code(),
            message,
            errors,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match self {
            Error::TooManyRequests {
                retry_after_secs, ..
            } => Some(retry_after_secs.max(1)),
            // Busy or unreachable for a moment: a retry in a second is welcome.
            Error::ServiceUnavailable(_) | Error::Contention(_) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
