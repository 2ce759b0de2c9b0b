//! `DiscountCode`: a code's identity as customers type it and admins define it.

use super::discount::normalize_code;
use super::error::Result;
use serde::Serialize;
use utoipa::ToSchema;

/// 1 to 20 of A-Z, 0-9, `_` and `-`, upper-cased and trimmed. Only `parse` makes one; serialized
/// as the plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^[A-Z0-9_-]{1,20}$", example = "WELCOME10")]
pub struct DiscountCode(String);

impl DiscountCode {
    /// The code, normalized; anything else is a 400 naming `field` (`code` for admins,
    /// `discountCode` on the cart).
    pub fn parse(field: &str, raw: &str) -> Result<DiscountCode> {
        normalize_code(field, raw).map(DiscountCode)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DiscountCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::DomainError;

    #[test]
    fn codes_are_trimmed_and_upper_cased() {
        let code = DiscountCode::parse("code", " welcome10 ").unwrap();
        assert_eq!(code.as_str(), "WELCOME10");
        assert_eq!(code.to_string(), "WELCOME10");
        assert_eq!(
            serde_json::to_value(&code).unwrap(),
            serde_json::json!("WELCOME10")
        );
        assert_eq!(
            DiscountCode::parse("code", "a-b_9").unwrap().as_str(),
            "A-B_9"
        );
        assert!(DiscountCode::parse("code", &"X".repeat(20)).is_ok());
    }

    #[test]
    fn bad_codes_are_errors_naming_the_given_field() {
        for bad in [
            "",
            "  ",
            "TWENTY-ONE-CHARACTERS",
            "NO SPACES",
            "'; DROP",
            "ÜBER",
        ] {
            assert!(DiscountCode::parse("code", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            DiscountCode::parse("discountCode", "a b").unwrap_err(),
            DomainError::invalid(
                "discountCode",
                "must be 1 to 20 characters of A-Z, 0-9, _ and -",
                "a b"
            )
        );
    }
}
