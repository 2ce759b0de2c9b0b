//! Record ids: UUIDs (v7, so they sort by creation time) written as lowercase hyphenated text.

use super::error::{DomainError, Result};
use uuid::Uuid;

/// A fresh id for a new record.
pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// Checks a client-supplied id and returns it in canonical form; anything that is not a UUID is a
/// 400 naming the field, so malformed ids never reach SQL.
pub fn parse_id(field: &str, raw: &str) -> Result<String> {
    Uuid::parse_str(raw.trim())
        .map(|id| id.to_string())
        .map_err(|_| DomainError::invalid(field, "must be a valid id (UUID)", raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        let id = new_id();
        assert_eq!(parse_id("id", &id).unwrap(), id);
        assert!(parse_id("id", "../etc/passwd").is_err());
        assert!(parse_id("id", "1 OR 1=1").is_err());
        assert_eq!(
            parse_id("id", "0190F8E0-0000-7000-8000-000000000000").unwrap(),
            "0190f8e0-0000-7000-8000-000000000000"
        );
    }
}
