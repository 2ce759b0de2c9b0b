//! Cart and order pricing (CONTRACT §2 and §5): pure functions over integer paise with checked
//! arithmetic, so the cart, checkout and the tests compute the same totals the same way.
//!
//! total = subtotal - discount + shipping + tax, where
//! - subtotal is the sum of the lines' `unit price x quantity`;
//! - discount is never below zero nor above the subtotal;
//! - shipping is the flat `SHIPPING_FEE`, waived when the goods after discount reach
//!   `FREE_SHIPPING_THRESHOLD` (and when there is nothing to ship);
//! - tax is `TAX_RATE` on `subtotal - discount`, rounded half-up to the paisa once per cart/order.
//!
//! Every function returns `None` only on arithmetic overflow, which cannot happen for the inputs
//! the API accepts (prices up to `MAX_AMOUNT`, 1..=100 units, up to 100 lines); the property tests
//! below hold them to that.

use super::money::{BasisPoints, Money};

/// The most units of one product a cart line (and so an order line) may hold.
pub const MAX_LINE_QUANTITY: i64 = 100;

/// The money settings of CONTRACT §1 that pricing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingSettings {
    pub tax_rate: BasisPoints,
    pub shipping_fee: Money,
    pub free_shipping_threshold: Option<Money>,
}

impl Default for PricingSettings {
    /// The defaults of CONTRACT §1: 18 % tax, no shipping fee, no threshold.
    fn default() -> Self {
        PricingSettings {
            tax_rate: BasisPoints(1800),
            shipping_fee: Money::ZERO,
            free_shipping_threshold: None,
        }
    }
}

/// One priced line: the product's current unit price and the quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub unit_price: Money,
    pub quantity: i64,
}

/// Every amount a cart or an order shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Units over all lines.
    pub total_items: i64,
    pub subtotal: Money,
    pub discount: Money,
    /// `subtotal - discount`: what the goods cost after the discount (`finalAmount`).
    pub discounted_subtotal: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
}

/// `unit price x quantity`.
pub fn line_total(line: Line) -> Option<Money> {
    line.unit_price.checked_mul(line.quantity)
}

/// The sum of the line totals.
pub fn subtotal(lines: &[Line]) -> Option<Money> {
    lines
        .iter()
        .try_fold(Money::ZERO, |sum, line| sum.checked_add(line_total(*line)?))
}

/// A discount held inside `0..=subtotal`, whatever the rule computed.
pub fn clamp_discount(discount: Money, subtotal: Money) -> Money {
    discount.max(Money::ZERO).min(subtotal.max(Money::ZERO))
}

/// `rate` of the subtotal, half-up to the paisa, at most `cap` (when there is one) and never more
/// than the subtotal. `rate` is in basis points: 10 % is 1000.
pub fn percent_off(subtotal: Money, rate: BasisPoints, cap: Option<Money>) -> Option<Money> {
    let raw = rate.apply_half_up(subtotal)?;
    let capped = match cap {
        Some(cap) => raw.min(cap),
        None => raw,
    };
    Some(clamp_discount(capped, subtotal))
}

/// A fixed amount off, never more than the subtotal.
pub fn fixed_off(subtotal: Money, amount: Money) -> Money {
    clamp_discount(amount, subtotal)
}

/// The flat fee, unless there is nothing to ship or the goods (after discount) reach the
/// free-shipping threshold. The threshold looks at what the customer pays for the goods, so a
/// discount cannot both lower the price and keep free shipping it no longer qualifies for.
pub fn shipping(discounted_subtotal: Money, total_items: i64, settings: &PricingSettings) -> Money {
    if total_items == 0 {
        return Money::ZERO;
    }
    match settings.free_shipping_threshold {
        Some(threshold) if discounted_subtotal >= threshold => Money::ZERO,
        _ => settings.shipping_fee,
    }
}

/// Tax on `subtotal - discount`, half-up to the paisa (CONTRACT §2).
pub fn tax(discounted_subtotal: Money, settings: &PricingSettings) -> Option<Money> {
    settings.tax_rate.apply_half_up(discounted_subtotal)
}

/// Prices a cart: `discount` is what the discount rule gave for this subtotal (see
/// `domain::discount`); it is clamped into `0..=subtotal` here, so a stale or over-generous amount
/// can never make a total negative.
pub fn price(lines: &[Line], discount: Money, settings: &PricingSettings) -> Option<Totals> {
    let total_items = lines
        .iter()
        .try_fold(0i64, |sum, line| sum.checked_add(line.quantity))?;
    let subtotal = subtotal(lines)?;
    let discount = clamp_discount(discount, subtotal);
    let discounted_subtotal = subtotal.checked_sub(discount)?;
    let shipping = shipping(discounted_subtotal, total_items, settings);
    let tax = tax(discounted_subtotal, settings)?;
    let total = discounted_subtotal
        .checked_add(shipping)?
        .checked_add(tax)?;
    Some(Totals {
        total_items,
        subtotal,
        discount,
        discounted_subtotal,
        shipping,
        tax,
        total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::MAX_AMOUNT;
    use proptest::prelude::*;

    fn m(minor: i64) -> Money {
        Money::from_minor(minor)
    }

    #[test]
    fn seed_example_two_shampoos() {
        // CONTRACT §2 and issue 3 acceptance 1: 2 x 25.99 -> 51.98, tax 9.36, total 61.34.
        let lines = [Line {
            unit_price: m(2599),
            quantity: 2,
        }];
        let totals = price(&lines, Money::ZERO, &PricingSettings::default()).unwrap();
        assert_eq!(totals.total_items, 2);
        assert_eq!(totals.subtotal, m(5198));
        assert_eq!(totals.discount, Money::ZERO);
        assert_eq!(totals.discounted_subtotal, m(5198));
        assert_eq!(totals.shipping, Money::ZERO);
        assert_eq!(totals.tax, m(936));
        assert_eq!(totals.total, m(6134));
    }

    #[test]
    fn tax_is_on_subtotal_minus_discount() {
        let lines = [Line {
            unit_price: m(10_000),
            quantity: 1,
        }];
        let totals = price(&lines, m(1_000), &PricingSettings::default()).unwrap();
        assert_eq!(totals.discounted_subtotal, m(9_000));
        assert_eq!(totals.tax, m(1_620));
        assert_eq!(totals.total, m(10_620));
    }

    #[test]
    fn percent_discount_rounds_half_up_and_respects_cap() {
        // 10 % of 0.05 = 0.005 -> 0.01.
        assert_eq!(percent_off(m(5), BasisPoints(1000), None), Some(m(1)));
        // 10 % of 2000.00 = 200.00, capped at 100.00.
        assert_eq!(
            percent_off(m(200_000), BasisPoints(1000), Some(m(10_000))),
            Some(m(10_000))
        );
        // 100 % never exceeds the subtotal.
        assert_eq!(
            percent_off(m(1234), BasisPoints(10_000), None),
            Some(m(1234))
        );
    }

    #[test]
    fn fixed_discount_never_exceeds_subtotal() {
        assert_eq!(fixed_off(m(3_000), m(5_000)), m(3_000));
        assert_eq!(fixed_off(m(60_000), m(5_000)), m(5_000));
        let lines = [Line {
            unit_price: m(3_000),
            quantity: 1,
        }];
        let totals = price(&lines, m(5_000), &PricingSettings::default()).unwrap();
        assert_eq!(totals.discount, m(3_000));
        assert_eq!(totals.total, Money::ZERO);
    }

    #[test]
    fn shipping_fee_and_free_threshold() {
        let settings = PricingSettings {
            tax_rate: BasisPoints(0),
            shipping_fee: m(4_900),
            free_shipping_threshold: Some(m(50_000)),
        };
        let line = |price| {
            [Line {
                unit_price: m(price),
                quantity: 1,
            }]
        };
        assert_eq!(
            price(&line(49_999), Money::ZERO, &settings)
                .unwrap()
                .shipping,
            m(4_900)
        );
        // At the threshold ships free.
        assert_eq!(
            price(&line(50_000), Money::ZERO, &settings)
                .unwrap()
                .shipping,
            Money::ZERO
        );
        // A discount that takes the goods under the threshold brings the fee back.
        assert_eq!(
            price(&line(50_000), m(1), &settings).unwrap().shipping,
            m(4_900)
        );
        // Nothing to ship, nothing to pay.
        assert_eq!(
            price(&[], Money::ZERO, &settings).unwrap().total,
            Money::ZERO
        );
    }

    #[test]
    fn overflow_is_reported_not_panicked() {
        let lines = [
            Line {
                unit_price: m(i64::MAX),
                quantity: 1,
            },
            Line {
                unit_price: m(1),
                quantity: 1,
            },
        ];
        assert_eq!(
            price(&lines, Money::ZERO, &PricingSettings::default()),
            None
        );
        assert_eq!(
            line_total(Line {
                unit_price: m(i64::MAX),
                quantity: 2
            }),
            None
        );
    }

    fn settings_strategy() -> impl Strategy<Value = PricingSettings> {
        (
            0i64..=10_000,
            0i64..=MAX_AMOUNT,
            proptest::option::of(0i64..=MAX_AMOUNT),
        )
            .prop_map(|(rate, fee, threshold)| PricingSettings {
                tax_rate: BasisPoints(rate),
                shipping_fee: m(fee),
                free_shipping_threshold: threshold.map(m),
            })
    }

    fn lines_strategy() -> impl Strategy<Value = Vec<Line>> {
        proptest::collection::vec(
            (0i64..=MAX_AMOUNT, 1i64..=MAX_LINE_QUANTITY).prop_map(|(price, quantity)| Line {
                unit_price: m(price),
                quantity,
            }),
            0..=100,
        )
    }

    /// A discount as any rule might produce it, including nonsense (negative, huge).
    fn discount_strategy() -> impl Strategy<Value = Money> {
        prop_oneof![
            Just(Money::ZERO),
            (0i64..=MAX_AMOUNT).prop_map(m),
            (i64::MIN / 2..=i64::MAX / 2).prop_map(m),
        ]
    }

    proptest! {
        #[test]
        fn totals_identity_holds_and_nothing_is_negative(
            lines in lines_strategy(),
            discount in discount_strategy(),
            settings in settings_strategy(),
        ) {
            let t = price(&lines, discount, &settings).expect("no overflow for accepted inputs");
            prop_assert_eq!(
                t.total.minor(),
                t.subtotal.minor() - t.discount.minor() + t.shipping.minor() + t.tax.minor()
            );
            prop_assert_eq!(t.discounted_subtotal.minor(), t.subtotal.minor() - t.discount.minor());
            for amount in [t.subtotal, t.discount, t.discounted_subtotal, t.shipping, t.tax, t.total] {
                prop_assert!(amount >= Money::ZERO, "negative amount in {:?}", t);
            }
            prop_assert!(t.discount <= t.subtotal);
            prop_assert_eq!(t.total_items, lines.iter().map(|l| l.quantity).sum::<i64>());
            let expected_subtotal: i128 = lines
                .iter()
                .map(|l| l.unit_price.minor() as i128 * l.quantity as i128)
                .sum();
            prop_assert_eq!(t.subtotal.minor() as i128, expected_subtotal);
        }

        #[test]
        fn tax_is_the_rate_rounded_half_up(
            lines in lines_strategy(),
            discount in discount_strategy(),
            settings in settings_strategy(),
        ) {
            let t = price(&lines, discount, &settings).unwrap();
            let exact = t.discounted_subtotal.minor() as i128 * settings.tax_rate.0 as i128;
            // Half-up: tax*10000 is within (-5000, 5000] of the exact product (an exact half
            // rounds up, so +5000 is allowed and -5000 is not).
            let diff = t.tax.minor() as i128 * 10_000 - exact;
            prop_assert!(diff > -5_000 && diff <= 5_000, "tax {:?} for {}", t.tax, exact);
        }

        #[test]
        fn percent_discount_stays_within_subtotal_and_cap(
            subtotal in 0i64..=MAX_AMOUNT * 10_000,
            rate in 0i64..=10_000,
            cap in proptest::option::of(0i64..=MAX_AMOUNT),
        ) {
            let off = percent_off(m(subtotal), BasisPoints(rate), cap.map(m)).unwrap();
            prop_assert!(off >= Money::ZERO && off <= m(subtotal));
            if let Some(cap) = cap {
                prop_assert!(off <= m(cap));
            }
        }

        #[test]
        fn fixed_discount_stays_within_subtotal(
            subtotal in 0i64..=MAX_AMOUNT * 10_000,
            amount in 0i64..=MAX_AMOUNT,
        ) {
            let off = fixed_off(m(subtotal), m(amount));
            prop_assert!(off >= Money::ZERO && off <= m(subtotal) && off <= m(amount));
        }
    }
}
