//! `OrderNumber`: the customer-facing order reference, `ORD` followed by 13 digits.

use super::error::{DomainError, Result};
use serde::Serialize;
use utoipa::ToSchema;

const PREFIX: &str = "ORD";
const DIGITS: usize = 13;

/// `ORD` + 13 digits (made by `domain::order::new_order_number`). Only `parse` makes one;
/// serialized as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^ORD[0-9]{13}$", example = "ORD1705312800123")]
pub struct OrderNumber(String);

impl OrderNumber {
    /// The trimmed text if it has the shape; anything else is a 400 on `orderNumber`.
    pub fn parse(raw: &str) -> Result<OrderNumber> {
        let trimmed = raw.trim();
        if is_order_number(trimmed) {
            Ok(OrderNumber(trimmed.to_string()))
        } else {
            Err(DomainError::invalid(
                "orderNumber",
                format!("must be {PREFIX} followed by {DIGITS} digits"),
                raw,
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` (untrimmed) is exactly `ORD` + 13 ASCII digits.
pub fn is_order_number(text: &str) -> bool {
    text.strip_prefix(PREFIX)
        .is_some_and(|digits| digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// How a client names one of its orders in a path: by `_id` or by `orderNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    Id(super::ids::OrderId),
    Number(OrderNumber),
}

impl OrderRef {
    /// `None` when the text is neither, which the routes answer as not found (so a malformed
    /// reference and another user's order look the same).
    pub fn parse(raw: &str) -> Option<OrderRef> {
        match OrderNumber::parse(raw) {
            Ok(number) => Some(OrderRef::Number(number)),
            Err(_) => super::ids::OrderId::parse("orderId", raw)
                .ok()
                .map(OrderRef::Id),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            OrderRef::Id(id) => id.as_str(),
            OrderRef::Number(number) => number.as_str(),
        }
    }
}

impl std::fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_shape_is_accepted_and_trimmed() {
        let number = OrderNumber::parse(" ORD1705312800123 ").unwrap();
        assert_eq!(number.as_str(), "ORD1705312800123");
        assert_eq!(number.to_string(), "ORD1705312800123");
        assert_eq!(
            serde_json::to_value(&number).unwrap(),
            serde_json::json!("ORD1705312800123")
        );
    }

    #[test]
    fn numbers_the_shop_makes_parse() {
        let made = crate::domain::order::new_order_number(1_705_312_800_123);
        assert_eq!(OrderNumber::parse(&made).unwrap().as_str(), made);
    }

    #[test]
    fn anything_else_is_an_error() {
        for bad in [
            "",
            "ORD",
            "ORD170531280012",
            "ORD17053128001234",
            "ord1705312800123",
            "ORD17053128001X3",
            "XYZ1705312800123",
            "ORD１705312800123",
            "0190f8e0-0000-7000-8000-000000000000",
        ] {
            assert!(OrderNumber::parse(bad).is_err(), "{bad:?}");
        }
        assert!(!is_order_number(" ORD1705312800123"));
    }

    #[test]
    fn an_order_is_named_by_number_or_by_id() {
        assert_eq!(
            OrderRef::parse(" ORD1705312800123"),
            Some(OrderRef::Number(
                OrderNumber::parse("ORD1705312800123").unwrap()
            ))
        );
        let by_id = OrderRef::parse("0190F8E0-0000-7000-8000-000000000000").unwrap();
        assert!(matches!(by_id, OrderRef::Id(_)));
        assert_eq!(by_id.as_str(), "0190f8e0-0000-7000-8000-000000000000");
        assert_eq!(OrderRef::parse("ORD17053128001X3"), None);
        assert_eq!(OrderRef::parse("../etc/passwd"), None);
    }
}
