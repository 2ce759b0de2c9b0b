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

/// A record id of one kind: a canonical UUID, made only by `parse` (a 400 naming the field when
/// the text is not one), serialized as the plain string.
macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident,)+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            pub fn parse(field: &str, raw: &str) -> Result<$name> {
                parse_id(field, raw).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

typed_id! {
    /// A product's id.
    ProductId,
    /// A user's id.
    UserId,
    /// An order's id (`_id`, not its `orderNumber`).
    OrderId,
    /// A saved address's id.
    AddressId,
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

    #[test]
    fn typed_ids_are_canonical_uuids_and_name_their_field() {
        let id = ProductId::parse("productId", " 0190F8E0-0000-7000-8000-000000000000 ").unwrap();
        assert_eq!(id.as_str(), "0190f8e0-0000-7000-8000-000000000000");
        assert_eq!(id.to_string(), id.as_str());
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!("0190f8e0-0000-7000-8000-000000000000")
        );
        assert_eq!(
            UserId::parse("id", "nope").unwrap_err(),
            DomainError::invalid("id", "must be a valid id (UUID)", "nope")
        );
        assert!(OrderId::parse("orderId", "ORD1705312800123").is_err());
        assert!(AddressId::parse("addressId", "").is_err());
    }
}
