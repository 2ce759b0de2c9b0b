//! Roles and the checks on account fields.

use crate::error::{Error, Result};
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
        Err(Error::invalid(
            "email",
            "must be a valid e-mail address",
            raw,
        ))
    }
}

pub fn check_password(password: &str) -> Result<()> {
    let len = password.chars().count();
    if !(8..=128).contains(&len) {
        return Err(Error::invalid(
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
        return Err(Error::invalid(
            field,
            format!("must be 1 to {max} characters"),
            name,
        ));
    }
    Ok(trimmed.to_string())
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
}
