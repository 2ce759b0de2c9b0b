//! Discount codes as data (CONTRACT §5): what a code is, whether it applies to a cart right now, and
//! how much it takes off. Pure: the store supplies the rule, the clock and the caller's past uses.
//!
//! `value` is kept as an integer count of hundredths of the number the admin typed: for `percent`
//! it is basis points (10 % is 1000, 12.5 % is 1250), for `fixed` it is paise (50.00 is 5000).

use super::error::{DomainError, ErrorCode, Result};
use super::money::{BasisPoints, Money, MAX_AMOUNT};
use super::pricing::{fixed_off, percent_off};
use super::time::to_rfc3339;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// The longest code (api-reference.md: `discountCode` max 20 chars).
pub const MAX_CODE_LEN: usize = 20;

/// 100 %, in basis points.
pub const FULL_PERCENT: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiscountType {
    /// `value` percent off the subtotal, at most `maxDiscountAmount`.
    Percent,
    /// `value` off the subtotal, never more than the subtotal.
    Fixed,
}

impl std::fmt::Display for DiscountType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DiscountType {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountType::Percent => "percent",
            DiscountType::Fixed => "fixed",
        }
    }

    pub fn parse(text: &str) -> Option<DiscountType> {
        match text {
            "percent" => Some(DiscountType::Percent),
            "fixed" => Some(DiscountType::Fixed),
            _ => None,
        }
    }
}

/// What a code takes off, typed by its kind: a percentage in basis points (capped by
/// `max_discount_amount`) or an amount. Stored and shown as one number of hundredths with the
/// kind beside it; this is the only way the number is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountValue {
    Percent(BasisPoints),
    Fixed(Money),
}

impl DiscountValue {
    /// From the stored pair: `hundredths` is basis points for `percent`, paise for `fixed`.
    pub fn from_hundredths(kind: DiscountType, hundredths: i64) -> DiscountValue {
        match kind {
            DiscountType::Percent => DiscountValue::Percent(BasisPoints(hundredths)),
            DiscountType::Fixed => DiscountValue::Fixed(Money::from_minor(hundredths)),
        }
    }

    pub fn kind(self) -> DiscountType {
        match self {
            DiscountValue::Percent(_) => DiscountType::Percent,
            DiscountValue::Fixed(_) => DiscountType::Fixed,
        }
    }

    /// The number as stored and shown (`10.5` percent and `10.50` off are both 1050).
    pub fn hundredths(self) -> i64 {
        match self {
            DiscountValue::Percent(BasisPoints(bp)) => bp,
            DiscountValue::Fixed(amount) => amount.minor(),
        }
    }
}

text_enum! {
    /// A use of a code by an order: `reserved` at checkout (given back if the order is cancelled
    /// unpaid), `final` once the order is confirmed.
    pub enum DiscountUseState {
        Reserved = "reserved",
        Final = "final",
    }
}

/// A discount code's rule and its usage so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountRule {
    pub code: String,
    pub value: DiscountValue,
    pub min_order_amount: Money,
    pub max_discount_amount: Option<Money>,
    /// Epoch milliseconds; valid from `starts_at` (inclusive) until `ends_at` (exclusive).
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    /// Reserved plus final uses: what counts against `usage_limit`.
    pub used_count: i64,
    pub is_active: bool,
}

/// Why a code does not apply; its `Display` is the message the client sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Unknown {
        code: String,
    },
    Inactive {
        code: String,
    },
    NotYetValid {
        code: String,
        starts_at: i64,
    },
    Expired {
        code: String,
        ends_at: i64,
    },
    Exhausted {
        code: String,
    },
    PerUserLimitReached {
        code: String,
        limit: i64,
    },
    UnderMinimum {
        code: String,
        minimum: Money,
        subtotal: Money,
    },
}

impl Rejection {
    /// The error code of the rule that failed (the envelope's `code`).
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::Unknown { .. } => ErrorCode::CodeUnknown,
            Rejection::Inactive { .. } => ErrorCode::CodeInactive,
            Rejection::NotYetValid { .. } => ErrorCode::CodeNotYetValid,
            Rejection::Expired { .. } => ErrorCode::CodeExpired,
            Rejection::Exhausted { .. } => ErrorCode::CodeUsedUp,
            Rejection::PerUserLimitReached { .. } => ErrorCode::CodePerCustomerLimit,
            Rejection::UnderMinimum { .. } => ErrorCode::CodeUnderMinimum,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Unknown { code } => write!(f, "Discount code {code} is unknown"),
            Rejection::Inactive { code } => write!(f, "Discount code {code} is not active"),
            Rejection::NotYetValid { code, starts_at } => write!(
                f,
                "Discount code {code} is not valid yet: it starts at {}",
                to_rfc3339(*starts_at)
            ),
            Rejection::Expired { code, ends_at } => write!(
                f,
                "Discount code {code} has expired: it ended at {}",
                to_rfc3339(*ends_at)
            ),
            Rejection::Exhausted { code } => write!(
                f,
                "Discount code {code} is used up: its usage limit has been reached"
            ),
            Rejection::PerUserLimitReached { code, limit } => {
                let times = if *limit == 1 {
                    "once".to_string()
                } else {
                    format!("{limit} times")
                };
                write!(
                    f,
                    "Discount code {code} has reached its per-customer limit: it can be used {times} per customer"
                )
            }
            Rejection::UnderMinimum {
                code,
                minimum,
                subtotal,
            } => write!(
                f,
                "Discount code {code} needs a minimum order of {minimum}; the cart subtotal is {subtotal}"
            ),
        }
    }
}

impl DiscountRule {
    /// What the code takes off `subtotal`, ignoring whether it is currently usable: percent of the
    /// subtotal (half-up, at most the cap) or the fixed amount, never more than the subtotal.
    pub fn amount_for(&self, subtotal: Money) -> Money {
        let off = match self.value {
            DiscountValue::Percent(rate) => percent_off(subtotal, rate, self.max_discount_amount),
            DiscountValue::Fixed(amount) => Some(fixed_off(subtotal, amount)),
        };
        // Overflow needs a subtotal beyond any cart the API accepts; no discount is the safe answer.
        off.unwrap_or(Money::ZERO)
    }
}

/// Whether `rule` (`None`: no such code) applies to a cart of `subtotal` for a user who already
/// holds `user_uses` uses (reserved or final) of it, at `now`; returns the amount off.
///
/// The checks run from the ones the customer cannot fix to the one they can (adding items), so the
/// message names the real obstacle.
pub fn evaluate(
    code: &str,
    rule: Option<&DiscountRule>,
    subtotal: Money,
    now: i64,
    user_uses: i64,
) -> std::result::Result<Money, Rejection> {
    let code = code.to_string();
    let Some(rule) = rule else {
        return Err(Rejection::Unknown { code });
    };
    if !rule.is_active {
        return Err(Rejection::Inactive { code });
    }
    if let Some(starts_at) = rule.starts_at.filter(|&at| now < at) {
        return Err(Rejection::NotYetValid { code, starts_at });
    }
    if let Some(ends_at) = rule.ends_at.filter(|&at| now >= at) {
        return Err(Rejection::Expired { code, ends_at });
    }
    if rule
        .usage_limit
        .is_some_and(|limit| rule.used_count >= limit)
    {
        return Err(Rejection::Exhausted { code });
    }
    if let Some(limit) = rule.per_user_limit.filter(|&limit| user_uses >= limit) {
        return Err(Rejection::PerUserLimitReached { code, limit });
    }
    if subtotal < rule.min_order_amount {
        return Err(Rejection::UnderMinimum {
            code,
            minimum: rule.min_order_amount,
            subtotal,
        });
    }
    Ok(rule.amount_for(subtotal))
}

/// Checks a code as typed by a client or admin and returns it upper-cased: 1 to 20 of `A-Z`,
/// `0-9`, `_`, `-` (after trimming; lower case is accepted and stored upper-case).
pub fn normalize_code(field: &str, raw: &str) -> Result<String> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = !code.is_empty()
        && code.len() <= MAX_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(code)
    } else {
        Err(DomainError::invalid(
            field,
            format!("must be 1 to {MAX_CODE_LEN} characters of A-Z, 0-9, _ and -"),
            raw,
        ))
    }
}

/// The settings of a code as an admin defines them, before they are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDefinition {
    pub kind: DiscountType,
    pub value: i64,
    pub min_order_amount: Money,
    pub max_discount_amount: Option<Money>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub per_user_limit: Option<i64>,
    pub is_active: bool,
}

/// The largest usage limit accepted; far above any real campaign, far below any overflow.
pub const MAX_USAGE_LIMIT: i64 = 1_000_000_000;

impl RuleDefinition {
    /// Refuses definitions that make no sense, each as a 400 naming its field: a percentage outside
    /// `0 < v <= 100`, a fixed amount of zero or beyond `MAX_AMOUNT`, negative minimums, a cap of
    /// zero, a window that ends before it starts, limits below one. (A cap on a fixed amount is
    /// allowed and simply never binds below the amount.)
    pub fn check(&self) -> Result<()> {
        match self.kind {
            DiscountType::Percent if !(1..=FULL_PERCENT).contains(&self.value) => {
                return Err(DomainError::invalid(
                    "value",
                    "a percent discount must be more than 0 and at most 100",
                    Money::from_minor(self.value).to_json_number(),
                ));
            }
            DiscountType::Fixed if !(1..=MAX_AMOUNT).contains(&self.value) => {
                return Err(DomainError::invalid(
                    "value",
                    format!(
                        "a fixed discount must be more than 0 and at most {}",
                        Money::from_minor(MAX_AMOUNT)
                    ),
                    Money::from_minor(self.value).to_json_number(),
                ));
            }
            _ => {}
        }
        if !(0..=MAX_AMOUNT).contains(&self.min_order_amount.minor()) {
            return Err(DomainError::invalid(
                "minOrderAmount",
                format!("must be from 0 to {}", Money::from_minor(MAX_AMOUNT)),
                self.min_order_amount.to_json_number(),
            ));
        }
        if let Some(cap) = self.max_discount_amount {
            if !(1..=MAX_AMOUNT).contains(&cap.minor()) {
                return Err(DomainError::invalid(
                    "maxDiscountAmount",
                    format!(
                        "must be more than 0 and at most {}",
                        Money::from_minor(MAX_AMOUNT)
                    ),
                    cap.to_json_number(),
                ));
            }
        }
        if let (Some(starts), Some(ends)) = (self.starts_at, self.ends_at) {
            if ends <= starts {
                return Err(DomainError::invalid(
                    "endsAt",
                    "must be after startsAt",
                    to_rfc3339(ends),
                ));
            }
        }
        for (field, limit) in [
            ("usageLimit", self.usage_limit),
            ("perUserLimit", self.per_user_limit),
        ] {
            if let Some(limit) = limit.filter(|l| !(1..=MAX_USAGE_LIMIT).contains(l)) {
                return Err(DomainError::invalid(
                    field,
                    format!("must be a whole number from 1 to {MAX_USAGE_LIMIT}"),
                    limit,
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_705_312_800_000;

    fn m(minor: i64) -> Money {
        Money::from_minor(minor)
    }

    fn welcome10() -> DiscountRule {
        DiscountRule {
            code: "WELCOME10".into(),
            value: DiscountValue::Percent(BasisPoints(1000)),
            min_order_amount: Money::ZERO,
            max_discount_amount: Some(m(10_000)),
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_user_limit: Some(1),
            used_count: 0,
            is_active: true,
        }
    }

    fn save50() -> DiscountRule {
        DiscountRule {
            code: "SAVE50".into(),
            value: DiscountValue::Fixed(m(5_000)),
            min_order_amount: m(50_000),
            max_discount_amount: None,
            per_user_limit: None,
            ..welcome10()
        }
    }

    #[test]
    fn welcome10_takes_ten_percent_up_to_one_hundred() {
        let rule = welcome10();
        assert_eq!(
            evaluate("WELCOME10", Some(&rule), m(5198), NOW, 0),
            Ok(m(520))
        );
        assert_eq!(
            evaluate("WELCOME10", Some(&rule), m(500_000), NOW, 0),
            Ok(m(10_000))
        );
        assert_eq!(
            evaluate("WELCOME10", Some(&rule), m(5198), NOW, 1),
            Err(Rejection::PerUserLimitReached {
                code: "WELCOME10".into(),
                limit: 1
            })
        );
    }

    #[test]
    fn save50_needs_five_hundred() {
        let rule = save50();
        assert_eq!(
            evaluate("SAVE50", Some(&rule), m(50_000), NOW, 0),
            Ok(m(5_000))
        );
        let err = evaluate("SAVE50", Some(&rule), m(49_999), NOW, 0).unwrap_err();
        assert_eq!(err.code(), ErrorCode::CodeUnderMinimum);
        assert!(err.to_string().contains("500.00"), "{err}");
        assert!(err.to_string().contains("499.99"), "{err}");
    }

    #[test]
    fn each_rule_has_its_reason() {
        let cases = [
            (None, ErrorCode::CodeUnknown, "unknown"),
            (
                Some(DiscountRule {
                    is_active: false,
                    ..welcome10()
                }),
                ErrorCode::CodeInactive,
                "not active",
            ),
            (
                Some(DiscountRule {
                    starts_at: Some(NOW + 1),
                    ..welcome10()
                }),
                ErrorCode::CodeNotYetValid,
                "not valid yet",
            ),
            (
                Some(DiscountRule {
                    ends_at: Some(NOW),
                    ..welcome10()
                }),
                ErrorCode::CodeExpired,
                "expired",
            ),
            (
                Some(DiscountRule {
                    usage_limit: Some(3),
                    used_count: 3,
                    ..welcome10()
                }),
                ErrorCode::CodeUsedUp,
                "used up",
            ),
        ];
        for (rule, reason, words) in cases {
            let err = evaluate("WELCOME10", rule.as_ref(), m(5198), NOW, 0).unwrap_err();
            assert_eq!(err.code(), reason);
            assert!(err.to_string().contains(words), "{err}");
        }
        // The window's edges: valid from starts_at, no longer at ends_at.
        let windowed = DiscountRule {
            starts_at: Some(NOW),
            ends_at: Some(NOW + 1),
            ..welcome10()
        };
        assert!(evaluate("WELCOME10", Some(&windowed), m(100), NOW, 0).is_ok());
        assert!(evaluate("WELCOME10", Some(&windowed), m(100), NOW + 1, 0).is_err());
    }

    #[test]
    fn codes_are_normalized() {
        assert_eq!(normalize_code("code", " welcome10 ").unwrap(), "WELCOME10");
        assert_eq!(normalize_code("code", "A-B_9").unwrap(), "A-B_9");
        assert!(normalize_code("code", "").is_err());
        assert!(normalize_code("code", "TWENTY-ONE-CHARACTERS").is_err());
        assert!(normalize_code("code", "NO SPACES").is_err());
        assert!(normalize_code("code", "'; DROP TABLE").is_err());
        assert!(normalize_code("code", "ÜBER").is_err());
    }

    #[test]
    fn definitions_are_checked() {
        let good = RuleDefinition {
            kind: DiscountType::Percent,
            value: 10_000,
            min_order_amount: Money::ZERO,
            max_discount_amount: None,
            starts_at: Some(NOW),
            ends_at: Some(NOW + 1),
            usage_limit: Some(1),
            per_user_limit: None,
            is_active: true,
        };
        assert!(good.check().is_ok());
        for bad in [
            RuleDefinition {
                value: 0,
                ..good.clone()
            },
            RuleDefinition {
                value: 10_001,
                ..good.clone()
            },
            RuleDefinition {
                kind: DiscountType::Fixed,
                value: 0,
                ..good.clone()
            },
            RuleDefinition {
                min_order_amount: m(-1),
                ..good.clone()
            },
            RuleDefinition {
                max_discount_amount: Some(Money::ZERO),
                ..good.clone()
            },
            RuleDefinition {
                ends_at: Some(NOW),
                ..good.clone()
            },
            RuleDefinition {
                usage_limit: Some(0),
                ..good.clone()
            },
            RuleDefinition {
                per_user_limit: Some(-1),
                ..good.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn an_applied_discount_never_exceeds_the_subtotal_or_cap(
            subtotal in 0i64..=MAX_AMOUNT * 10_000,
            percent in proptest::bool::ANY,
            value in 1i64..=FULL_PERCENT,
            fixed in 1i64..=MAX_AMOUNT,
            cap in proptest::option::of(1i64..=MAX_AMOUNT),
            min in 0i64..=MAX_AMOUNT,
        ) {
            let rule = DiscountRule {
                value: if percent {
                    DiscountValue::Percent(BasisPoints(value))
                } else {
                    DiscountValue::Fixed(m(fixed))
                },
                max_discount_amount: cap.map(m),
                min_order_amount: m(min),
                ..welcome10()
            };
            match evaluate("X", Some(&rule), m(subtotal), NOW, 0) {
                Ok(off) => {
                    prop_assert!(subtotal >= min);
                    prop_assert!(off >= Money::ZERO && off <= m(subtotal));
                    if percent {
                        if let Some(cap) = cap {
                            prop_assert!(off <= m(cap));
                        }
                    } else {
                        prop_assert!(off <= m(fixed));
                    }
                }
                Err(rejection) => {
                    prop_assert_eq!(rejection.code(), ErrorCode::CodeUnderMinimum);
                    prop_assert!(subtotal < min);
                }
            }
        }
    }
}
