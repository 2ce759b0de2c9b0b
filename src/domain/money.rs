//! Money as an integer count of minor units (paise). An amount arrives as a JSON number of major
//! units with at most two decimals, read from its text exactly (never through a float).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The largest amount accepted from a client: 10 million major units. Keeps every sum of a cart of
/// 100 lines x 100 units far inside `i64`.
pub const MAX_AMOUNT: i64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_minor(minor: i64) -> Self {
        Money(minor)
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Money> {
        self.0.checked_mul(factor).map(Money)
    }

    /// The sum of `amounts`, or `None` when it leaves `i64`.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |sum, amount| sum.checked_add(amount))
    }

    /// The amount shared out over `count` parts, rounded half-up to the minor unit; zero parts
    /// share zero. `None` when the arithmetic leaves `i64`.
    pub fn checked_average(self, count: i64) -> Option<Money> {
        if count == 0 {
            return Some(Money::ZERO);
        }
        let twice = self.0.checked_mul(2)?.checked_add(count)?;
        Some(Money(twice / count.checked_mul(2)?))
    }

    /// Parses a decimal string of major units ("25.99", "100", "0.5") exactly; more than two
    /// decimals, signs other than a leading minus, exponents and garbage are refused.
    pub fn parse_major(text: &str) -> Option<Money> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // "25.990" is still two significant decimals; "25.999" is not.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 2 {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
        let minor = whole.checked_mul(100)?.checked_add(cents)?;
        Some(Money(if negative { -minor } else { minor }))
    }

    /// Parses a JSON number of major units exactly. Exponent notation is accepted only when the
    /// value it writes has at most two decimals (`1.2e1` is 12.00, `1999e-2` is 19.99; `1e-3`
    /// is refused), so an amount is refused or taken exactly, however it is written.
    pub fn parse_json_number(text: &str) -> Option<Money> {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => {
                let exp = text[at + 1..].strip_prefix('+').unwrap_or(&text[at + 1..]);
                // Anything beyond a few digits of exponent is no amount this shop holds.
                if exp.trim_start_matches('-').len() > 4 {
                    return None;
                }
                (&text[..at], exp.parse::<i32>().ok()?)
            }
            None => (text, 0),
        };
        if exponent == 0 {
            return Money::parse_major(mantissa);
        }
        let (negative, digits) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        // value = all_digits * 10^(exponent - fraction.len()); in minor units, * 100.
        let all_digits = format!("{whole}{fraction}");
        let all_digits = all_digits.trim_start_matches('0');
        let shift = i64::from(exponent) - fraction.len() as i64 + 2;
        let minor: i64 = if all_digits.is_empty() {
            0
        } else if shift >= 0 {
            let significant: i64 = all_digits.parse().ok()?;
            (0..shift).try_fold(significant, |n, _| n.checked_mul(10))?
        } else {
            let cut = usize::try_from(-shift).ok()?;
            let (kept, dropped) = all_digits.split_at(all_digits.len().checked_sub(cut)?);
            if dropped.bytes().any(|b| b != b'0') {
                return None;
            }
            if kept.is_empty() {
                0
            } else {
                kept.parse().ok()?
            }
        };
        Some(Money(if negative { -minor } else { minor }))
    }

    /// The amount as a JSON number of major units.
    pub fn to_json_number(self) -> serde_json::Number {
        // i64 -> f64 is exact up to 2^53 paise, far above MAX_AMOUNT sums; the shortest decimal
        // that round-trips the division is the two-decimal amount.
        serde_json::Number::from_f64(self.0 as f64 / 100.0).unwrap_or_else(|| 0.into())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json_number().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Reads the number's own text: a float would turn `1.999999999999999999999` into 2.00.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        let text = raw.get().trim();
        let shown: String = text.chars().take(40).collect();
        if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "{shown} is not a number; an amount is a JSON number such as 25.99"
            )));
        }
        Money::parse_json_number(text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{shown} is not an amount with at most two decimals"
            ))
        })
    }
}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .description(Some("Amount in major units, at most two decimals"))
            .examples([serde_json::json!(25.99)])
            .into()
    }
}

impl ToSchema for Money {}

/// Decimal places of a currency's minor unit (ISO 4217), for the currencies a shop may be
/// configured with. Amounts are integers of the minor unit, shown with two decimals and sent to
/// the gateway as they are, so only exponent-2 currencies are accepted at start; the others are
/// listed so the refusal can say why (JPY would be charged 100x, KWD a tenth).
pub fn minor_unit_exponent(code: &str) -> Option<u32> {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const FOUR: &[&str] = &["CLF", "UYW"];
    const TWO: &[&str] = &[
        "AED", "ARS", "AUD", "BDT", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EGP", "EUR", "GBP",
        "HKD", "HUF", "IDR", "ILS", "INR", "KES", "LKR", "MAD", "MXN", "MYR", "NGN", "NOK", "NPR",
        "NZD", "PHP", "PKR", "PLN", "QAR", "RON", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD",
        "UAH", "USD", "ZAR",
    ];
    if TWO.contains(&code) {
        Some(2)
    } else if ZERO.contains(&code) {
        Some(0)
    } else if THREE.contains(&code) {
        Some(3)
    } else if FOUR.contains(&code) {
        Some(4)
    } else {
        None
    }
}

/// A rate in basis points of a percent (1/10000): 0.18 is 1800. Kept integral so tax is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasisPoints(pub i64);

impl BasisPoints {
    /// Parses "0.18" (a fraction of one) into 1800 basis points.
    pub fn parse_fraction(text: &str) -> Option<BasisPoints> {
        let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if fraction.len() > 4 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let frac: i64 = format!("{fraction:0<4}").parse().ok()?;
        let bp = whole.checked_mul(10_000)?.checked_add(frac)?;
        (bp <= 10_000).then_some(BasisPoints(bp))
    }

    /// `amount * rate`, rounded half-up to the minor unit. `None` only on overflow.
    pub fn apply_half_up(self, amount: Money) -> Option<Money> {
        let product = (amount.minor() as i128).checked_mul(self.0 as i128)?;
        let rounded = (product + 5_000).div_euclid(10_000);
        i64::try_from(rounded).ok().map(Money::from_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_averages_are_checked() {
        let m = Money::from_minor;
        assert_eq!(Money::checked_sum([m(1), m(2), m(3)]), Some(m(6)));
        assert_eq!(Money::checked_sum([m(i64::MAX), m(1)]), None);
        assert_eq!(m(1000).checked_average(3), Some(m(333)));
        assert_eq!(m(1001).checked_average(2), Some(m(501)));
        assert_eq!(m(1000).checked_average(0), Some(Money::ZERO));
        assert_eq!(m(i64::MAX).checked_average(2), None);
    }

    #[test]
    fn parses_major_units_exactly() {
        assert_eq!(Money::parse_major("25.99"), Some(Money(2599)));
        assert_eq!(Money::parse_major("100"), Some(Money(10000)));
        assert_eq!(Money::parse_major("0.5"), Some(Money(50)));
        assert_eq!(Money::parse_major("25.990"), Some(Money(2599)));
        assert_eq!(Money::parse_major("-1.25"), Some(Money(-125)));
        assert_eq!(Money::parse_major("25.999"), None);
        assert_eq!(Money::parse_major("1e3"), None);
        assert_eq!(Money::parse_major(""), None);
        assert_eq!(Money::parse_major(".5"), None);
        assert_eq!(Money::parse_major("99999999999999999999"), None);
    }

    #[test]
    fn json_numbers_are_read_exactly() {
        let parse = |t: &str| serde_json::from_str::<Money>(t).ok();
        assert_eq!(parse("25.99"), Some(Money(2599)));
        assert_eq!(parse("1.2300000000000000000000"), Some(Money(123)));
        assert_eq!(parse("1.999999999999999999999"), None);
        assert_eq!(parse("2.0000000000000000001"), None);
        assert_eq!(parse("1.239"), None);
        assert_eq!(parse("1e-3"), None);
        assert_eq!(parse("1.2e1"), Some(Money(1200)));
        assert_eq!(parse("1999e-2"), Some(Money(1999)));
        assert_eq!(parse("1999E-3"), None);
        assert_eq!(parse("12000e-3"), Some(Money(1200)));
        assert_eq!(parse("5e+2"), Some(Money(50000)));
        assert_eq!(parse("-1.5e0"), Some(Money(-150)));
        assert_eq!(parse("1e400"), None);
        assert_eq!(parse("1e-400"), None);
        assert_eq!(parse("0e-400"), Some(Money(0)));
        assert_eq!(parse("0.00e5"), Some(Money(0)));
        assert_eq!(parse("\"25.99\""), None);
        assert_eq!(parse("null"), None);
        #[derive(serde::Deserialize)]
        struct Body {
            price: Money,
        }
        let body: Body = serde_json::from_str(r#"{"price": 10.5}"#).unwrap();
        assert_eq!(body.price, Money(1050));
        assert!(serde_json::from_str::<Body>(r#"{"price": 1.999999999999999999999}"#).is_err());
    }

    #[test]
    fn serializes_as_two_decimal_number() {
        assert_eq!(serde_json::to_string(&Money(2599)).unwrap(), "25.99");
        assert_eq!(serde_json::to_string(&Money(6134)).unwrap(), "61.34");
        assert_eq!(serde_json::to_string(&Money(5198)).unwrap(), "51.98");
        let back: Money = serde_json::from_str("25.99").unwrap();
        assert_eq!(back, Money(2599));
    }

    #[test]
    fn tax_rounds_half_up() {
        let rate = BasisPoints::parse_fraction("0.18").unwrap();
        assert_eq!(rate, BasisPoints(1800));
        // 51.98 * 0.18 = 9.3564 -> 9.36
        assert_eq!(rate.apply_half_up(Money(5198)), Some(Money(936)));
        // 0.25 * 0.18 = 0.045 -> 0.05 (half-up)
        assert_eq!(rate.apply_half_up(Money(25)), Some(Money(5)));
        assert_eq!(BasisPoints::parse_fraction("1.5"), None);
    }
}
