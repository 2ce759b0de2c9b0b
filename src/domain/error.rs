//! The domain's own error: a rule a value or a move breaks, in words a client can read. The HTTP
//! layer maps it to its status and envelope in one place (`impl From<DomainError> for
//! crate::error::Error`), so `?` carries it out of any handler unchanged.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// One input field breaks a rule: a 400 naming the field, the rule and the value sent.
    #[error("Validation failed: {message}")]
    Invalid {
        field: String,
        message: String,
        value: Value,
    },
    /// The thing is in a state that refuses the request (a lifecycle move, say): a 409.
    #[error("{0}")]
    Conflict(String),
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
