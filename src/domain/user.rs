//! Roles and the checks on account fields.

use super::error::{DomainError, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Vendor,
    Admin,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Vendor => "vendor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "customer" => Some(Role::Customer),
            "vendor" => Some(Role::Vendor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Lower-cased, trimmed e-mail with a plausible shape (one `@`, a dot in the domain, no spaces).
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.contains('@') && domain.contains('.')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(email)
    } else {
        Err(DomainError::invalid(
            "email",
            "must be a valid e-mail address",
            raw,
        ))
    }
}

pub fn check_password(password: &str) -> Result<()> {
    let len = password.chars().count();
    if !(8..=128).contains(&len) {
        return Err(DomainError::invalid(
            "password",
            "must be 8 to 128 characters",
            serde_json::Value::Null,
        ));
    }
    Ok(())
}

pub fn check_name(field: &str, name: &str, max: usize) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be 1 to {max} characters"),
            name,
        ));
    }
    Ok(trimmed.to_string())
}

/// A phone number as the shop takes it: trimmed, 5 to 20 digits among digits, spaces, `+`, `-`,
/// `(` and `)`. Only `parse` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone> {
        let trimmed = raw.trim();
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        let allowed = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
        if !allowed || !(5..=20).contains(&digits) || trimmed.len() > 25 {
            return Err(DomainError::invalid(
                "phone",
                "must be a phone number of 5 to 20 digits",
                trimmed,
            ));
        }
        Ok(Phone(trimmed.to_string()))
    }

    /// An optional number: absent or blank is `None`.
    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Phone>> {
        raw.filter(|p| !p.trim().is_empty())
            .map(Phone::parse)
            .transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email(" A@Example.COM ").unwrap(), "a@example.com");
        for bad in ["", "a", "a@b", "@b.com", "a@@b.com", "a b@c.com", "a@.com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_trimmed_and_checked() {
        assert_eq!(
            Phone::parse(" +91 (22) 555-0100 ").unwrap().as_str(),
            "+91 (22) 555-0100"
        );
        assert_eq!(Phone::parse_optional(Some("  ")).unwrap(), None);
        assert_eq!(Phone::parse_optional(None).unwrap(), None);
        for bad in [
            "1234",
            "12345678901234567890123",
            "555-CALL-NOW",
            "+1 234 567 890 123 456 789 0",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
