//! The domain's own error: a rule a value or a move breaks, in words a client can read. The HTTP
//! layer maps it to its status and envelope in one place (`impl From<DomainError> for
//! crate::error::Error`), so `?` carries it out of any handler unchanged.
//!
//! `ErrorCode` is the closed set of machine-readable codes every error answer carries (the
//! envelope's `code`, CONTRACT §2): clients branch on the code, people read the message.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Declares `ErrorCode` and `ErrorCode::ALL` from one list, so the list cannot miss a code.
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, )+) => {
        /// The stable, machine-readable code of an error answer (the envelope's `code`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as it is written in the envelope.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)+
                }
            }
        }
    };
}

error_codes! {
    /// A field, the path, the query or the body breaks a rule (400; `errors[]` names the fields).
    ValidationFailed = "validation_failed",
    /// No, bad or expired token, or an ended session (401).
    Unauthorized = "unauthorized",
    /// Logged in, but this role (or a cookie without its CSRF token) may not do this (403).
    Forbidden = "forbidden",
    /// No such thing, or not the caller's (404), and unknown routes.
    NotFound = "not_found",
    /// The route exists, not with this method (405).
    MethodNotAllowed = "method_not_allowed",
    /// The thing is in a state that refuses the request, with no more specific code (409).
    Conflict = "conflict",
    /// Something with this unique name already exists (an email, a SKU, a discount code, a review).
    AlreadyExists = "already_exists",
    /// The customer has reviewed this product already; change the review instead (409).
    AlreadyReviewed = "already_reviewed",
    /// More units than the product has available (409; the message says how many are left).
    InsufficientStock = "insufficient_stock",
    /// A cart line above the per-line limit of units (409).
    LineLimitReached = "line_limit_reached",
    /// The cart already holds its most distinct products (409).
    CartFull = "cart_full",
    /// The cart has no lines (to apply a code to, or to check out).
    CartEmpty = "cart_empty",
    /// The cart changed (prices, dropped lines or code) since it was read; review and retry (409).
    CartChanged = "cart_changed",
    /// A product in the cart is no longer for sale (409).
    ProductUnavailable = "product_unavailable",
    /// The order's status does not allow this move; the message names the allowed ones (409).
    InvalidTransition = "invalid_transition",
    /// A return step not allowed in the order's return status, or outside the return window.
    ReturnNotAllowed = "return_not_allowed",
    /// No discount code with this name.
    CodeUnknown = "code_unknown",
    /// The discount code is switched off.
    CodeInactive = "code_inactive",
    /// The discount code's validity has not started yet.
    CodeNotYetValid = "code_not_yet_valid",
    /// The discount code's validity has ended.
    CodeExpired = "code_expired",
    /// The discount code reached its usage limit.
    CodeUsedUp = "code_used_up",
    /// The customer used the discount code as often as it allows.
    CodePerCustomerLimit = "code_per_customer_limit",
    /// The cart's subtotal is under the discount code's minimum order.
    CodeUnderMinimum = "code_under_minimum",
    /// The payment is not captured money for this order (402), or cannot pay it (409).
    PaymentFailed = "payment_failed",
    /// A request with this Idempotency-Key is still running (409, with `Retry-After`).
    IdempotencyInProgress = "idempotency_in_progress",
    /// The Idempotency-Key was used before with another request (422).
    IdempotencyKeyReused = "idempotency_key_reused",
    /// The request body is over its limit (413).
    PayloadTooLarge = "payload_too_large",
    /// The request target is over its limit (414).
    UriTooLong = "uri_too_long",
    /// Too many attempts; `Retry-After` says when to try again (429).
    RateLimited = "rate_limited",
    /// The payment gateway failed or answered something unusable (502).
    GatewayError = "gateway_error",
    /// The database (or another dependency) is away for a moment; retry after `Retry-After` (503).
    ServiceUnavailable = "service_unavailable",
    /// Concurrent updates kept conflicting; retry after `Retry-After` (503).
    Contention = "contention",
    /// The request ran past the server's time limit and was stopped; retry it (503).
    RequestTimeout = "request_timeout",
    /// A bug; the message asks to quote the `x-request-id` header (500).
    InternalError = "internal_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// One input field breaks a rule: a 400 naming the field, the rule and the value sent.
    #[error("Validation failed: {message}")]
    Invalid {
        field: String,
        message: String,
        value: Value,
    },
    /// The thing is in a state that refuses the request (a lifecycle move, say): a 409 with the
    /// code of the rule.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
}

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>, value: impl Into<Value>) -> Self {
        DomainError::Invalid {
            field: field.to_string(),
            message: message.into(),
            value: value.into(),
        }
    }
}

pub type Result<T, E = DomainError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_as_its_snake_case_name() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                Value::from(code.as_str())
            );
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }
}
