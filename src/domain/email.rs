//! `Email`: an account's e-mail address, trimmed and lower-cased, checked once where it enters.

use super::error::Result;
use super::user::normalize_email;
use serde::Serialize;
use utoipa::ToSchema;

/// A lower-cased, trimmed e-mail address of a plausible shape (one `@`, a dot in the domain, no
/// spaces, at most 254 characters). Only `parse` makes one; serialized as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Email)]
pub struct Email(String);

impl Email {
    /// A 400 on the field `email` when the text is not an address.
    pub fn parse(raw: &str) -> Result<Email> {
        normalize_email(raw).map(Email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::DomainError;

    #[test]
    fn a_valid_address_is_kept_lower_cased_and_trimmed() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(email.to_string(), "ada.lovelace@example.com");
        assert_eq!(
            serde_json::to_value(&email).unwrap(),
            serde_json::json!("ada.lovelace@example.com")
        );
    }

    #[test]
    fn an_invalid_address_is_an_error_naming_the_field_and_the_value() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@example",
            "@example.com",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
            "a@b.com.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Email::parse("nope").unwrap_err(),
            DomainError::invalid("email", "must be a valid e-mail address", "nope")
        );
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
