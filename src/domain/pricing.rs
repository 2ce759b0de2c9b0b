//! Cart and order pricing (CONTRACT §2 and §5): pure functions over integer paise with checked
//! arithmetic, so the cart, checkout and the tests compute the same totals the same way.
//!
//! total = subtotal - discount + shipping + tax, where
//! - subtotal is the sum of the lines' `unit price x quantity`;
//! - discount is never below zero nor above the subtotal;
//! - shipping is the flat `SHIPPING_FEE`, waived when the goods after discount reach
//!   `FREE_SHIPPING_THRESHOLD` (and when there is nothing to ship);
//! - tax is `TAX_RATE` on `subtotal - discount`, rounded half-up to the paisa once per cart/order
//!   (`TAX_MODE=flat`), or GST per line (`TAX_MODE=gst`, CONTRACT §10): each line's value after
//!   its share of the discount, CGST + SGST when the place of supply is the seller's state and
//!   IGST otherwise, half-up per line and per component, and shipping taxed at the highest rate
//!   among the lines. With `PRICES_INCLUDE_TAX` the prices hold the tax: it is taken out of them
//!   and not added to the total.
//!
//! Every function returns `None` only on arithmetic overflow, which cannot happen for the inputs
//! the API accepts (prices up to `MAX_AMOUNT`, 1..=100 units, up to 100 lines); the property tests
//! below hold them to that.

use super::gst::{GstRate, StateCode};
use super::money::{BasisPoints, Money};

/// The most units of one product a cart line (and so an order line) may hold.
pub const MAX_LINE_QUANTITY: i64 = 100;

/// The money settings of CONTRACT §1 that pricing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingSettings {
    pub tax_rate: BasisPoints,
    pub shipping_fee: Money,
    pub free_shipping_threshold: Option<Money>,
    /// `Some` in `TAX_MODE=gst`: then `tax_rate` is not used.
    pub gst: Option<GstPricing>,
}

/// What GST pricing needs besides the lines: where the shop is registered, and whether prices
/// already include the tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GstPricing {
    pub seller_state: StateCode,
    pub prices_include_tax: bool,
}

impl Default for PricingSettings {
    /// The defaults of CONTRACT §1: 18 % tax, no shipping fee, no threshold.
    fn default() -> Self {
        PricingSettings {
            tax_rate: BasisPoints(1800),
            shipping_fee: Money::ZERO,
            free_shipping_threshold: None,
            gst: None,
        }
    }
}

/// One priced line: the product's current unit price and the quantity; for GST, its rate and the
/// state of the vendor that sells it (`None`: the shop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub unit_price: Money,
    pub quantity: i64,
    pub gst_rate: GstRate,
    pub seller_state: Option<StateCode>,
}

impl Line {
    /// A line at the default rate, sold by the shop.
    pub fn new(unit_price: Money, quantity: i64) -> Line {
        Line {
            unit_price,
            quantity,
            gst_rate: GstRate::default(),
            seller_state: None,
        }
    }
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
/// can never make a total negative. `place_of_supply` is the shipping address's state (GST only;
/// `None` before an address is chosen prices as if delivered in the seller's own state).
pub fn price(
    lines: &[Line],
    discount: Money,
    settings: &PricingSettings,
    place_of_supply: Option<StateCode>,
) -> Option<Totals> {
    price_detailed(lines, discount, settings, place_of_supply).map(|priced| priced.totals)
}

/// The tax of one amount at one rate: its taxable value and the components. Only CGST and SGST
/// (equal) or only IGST are non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaxSplit {
    pub taxable_value: Money,
    pub cgst: Money,
    pub sgst: Money,
    pub igst: Money,
}

impl TaxSplit {
    pub fn tax(&self) -> Option<Money> {
        self.cgst.checked_add(self.sgst)?.checked_add(self.igst)
    }

    fn add(&self, other: &TaxSplit) -> Option<TaxSplit> {
        Some(TaxSplit {
            taxable_value: self.taxable_value.checked_add(other.taxable_value)?,
            cgst: self.cgst.checked_add(other.cgst)?,
            sgst: self.sgst.checked_add(other.sgst)?,
            igst: self.igst.checked_add(other.igst)?,
        })
    }
}

/// The GST of one order line (or of the shipping charge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTax {
    pub gst_rate: GstRate,
    /// The line's share of the order's discount.
    pub discount: Money,
    pub split: TaxSplit,
}

/// One row of an order's `taxBreakdown`: everything taxed at one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxRow {
    pub gst_rate: GstRate,
    pub split: TaxSplit,
}

/// A priced cart with, in GST mode, the tax of each line (in the order given), of the shipping
/// charge, and per rate. In flat mode only `totals` is filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub totals: Totals,
    pub lines: Vec<LineTax>,
    pub shipping: Option<LineTax>,
    pub breakdown: Vec<TaxRow>,
}

/// The taxes of an order's lines (and shipping) summed per rate, lowest rate first: the order's
/// `taxBreakdown`, and the rows of an invoice's and the GSTR-1 export's summaries.
pub fn tax_breakdown(items: impl IntoIterator<Item = (GstRate, TaxSplit)>) -> Option<Vec<TaxRow>> {
    let mut breakdown: Vec<TaxRow> = Vec::new();
    for (gst_rate, split) in items {
        match breakdown.iter_mut().find(|row| row.gst_rate == gst_rate) {
            Some(row) => row.split = row.split.add(&split)?,
            None => breakdown.push(TaxRow { gst_rate, split }),
        }
    }
    breakdown.sort_by_key(|row| row.gst_rate);
    Some(breakdown)
}

/// `n / d` rounded half-up, for `n >= 0` and `d > 0`.
fn div_half_up(n: i128, d: i128) -> Option<Money> {
    let rounded = n.checked_mul(2)?.checked_add(d)? / d.checked_mul(2)?;
    i64::try_from(rounded).ok().map(Money::from_minor)
}

/// GST on `value` at `rate`. Exclusive prices: the tax is added to `value`, each component rounded
/// half-up. Inclusive prices: `value` holds the tax; the components are those of the exact taxable
/// value `value / (1 + rate)`, rounded half-up, and the taxable value is what is left, so the
/// line's total is exactly what the customer was shown.
pub fn split_tax(
    value: Money,
    rate: GstRate,
    intra_state: bool,
    inclusive: bool,
) -> Option<TaxSplit> {
    let value_minor = value.minor() as i128;
    let bp = rate.basis_points() as i128;
    let denominator = if inclusive { 10_000 + bp } else { 10_000 };
    let mut split = TaxSplit::default();
    if intra_state {
        // Each half separately, so CGST and SGST are always equal.
        let half = div_half_up(value_minor.checked_mul(bp / 2)?, denominator)?;
        split.cgst = half;
        split.sgst = half;
    } else {
        split.igst = div_half_up(value_minor.checked_mul(bp)?, denominator)?;
    }
    split.taxable_value = if inclusive {
        value.checked_sub(split.tax()?)?
    } else {
        value
    };
    Some(split)
}

/// `discount` shared among the lines in proportion to their totals, the paise left over by the
/// division going to the largest remainders (the first line on a tie), so the shares add up to
/// the discount exactly.
pub fn share_discount(line_totals: &[Money], discount: Money) -> Option<Vec<Money>> {
    let subtotal: i128 = line_totals.iter().map(|m| m.minor() as i128).sum();
    if subtotal == 0 || discount == Money::ZERO {
        return Some(vec![Money::ZERO; line_totals.len()]);
    }
    let discount = discount.minor() as i128;
    let mut shares = Vec::with_capacity(line_totals.len());
    let mut remainders = Vec::with_capacity(line_totals.len());
    for (i, total) in line_totals.iter().enumerate() {
        let exact = discount.checked_mul(total.minor() as i128)?;
        shares.push(exact / subtotal);
        remainders.push((exact % subtotal, i));
    }
    let left = discount - shares.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take(usize::try_from(left).ok()?) {
        shares[i] += 1;
    }
    shares
        .into_iter()
        .map(|share| i64::try_from(share).ok().map(Money::from_minor))
        .collect()
}

/// The one pricing function behind the cart, checkout, the order views and the amount sent to
/// the gateway.
pub fn price_detailed(
    lines: &[Line],
    discount: Money,
    settings: &PricingSettings,
    place_of_supply: Option<StateCode>,
) -> Option<Priced> {
    let total_items = lines
        .iter()
        .try_fold(0i64, |sum, line| sum.checked_add(line.quantity))?;
    let subtotal = subtotal(lines)?;
    let discount = clamp_discount(discount, subtotal);
    let discounted_subtotal = subtotal.checked_sub(discount)?;
    let shipping = shipping(discounted_subtotal, total_items, settings);
    let Some(gst) = settings.gst else {
        let tax = tax(discounted_subtotal, settings)?;
        let total = discounted_subtotal
            .checked_add(shipping)?
            .checked_add(tax)?;
        return Some(Priced {
            totals: Totals {
                total_items,
                subtotal,
                discount,
                discounted_subtotal,
                shipping,
                tax,
                total,
            },
            lines: Vec::new(),
            shipping: None,
            breakdown: Vec::new(),
        });
    };

    let intra = |seller: Option<StateCode>| {
        let seller = seller.unwrap_or(gst.seller_state);
        place_of_supply.is_none_or(|place| place == seller)
    };
    let totals: Vec<Money> = lines
        .iter()
        .map(|l| line_total(*l))
        .collect::<Option<_>>()?;
    let shares = share_discount(&totals, discount)?;
    let mut taxed = Vec::with_capacity(lines.len());
    for ((line, total), share) in lines.iter().zip(&totals).zip(&shares) {
        let value = total.checked_sub(*share)?;
        taxed.push(LineTax {
            gst_rate: line.gst_rate,
            discount: *share,
            split: split_tax(
                value,
                line.gst_rate,
                intra(line.seller_state),
                gst.prices_include_tax,
            )?,
        });
    }
    // Shipping is a composite supply with the goods: taxed at the order's highest rate, invoiced
    // by the shop.
    let shipping_tax = match lines.iter().map(|l| l.gst_rate).max() {
        Some(rate) if shipping > Money::ZERO => Some(LineTax {
            gst_rate: rate,
            discount: Money::ZERO,
            split: split_tax(shipping, rate, intra(None), gst.prices_include_tax)?,
        }),
        _ => None,
    };
    let breakdown = tax_breakdown(
        taxed
            .iter()
            .chain(shipping_tax.iter())
            .map(|item| (item.gst_rate, item.split)),
    )?;
    let tax = breakdown
        .iter()
        .try_fold(Money::ZERO, |sum, row| sum.checked_add(row.split.tax()?))?;
    let total = if gst.prices_include_tax {
        discounted_subtotal.checked_add(shipping)?
    } else {
        discounted_subtotal
            .checked_add(shipping)?
            .checked_add(tax)?
    };
    Some(Priced {
        totals: Totals {
            total_items,
            subtotal,
            discount,
            discounted_subtotal,
            shipping,
            tax,
            total,
        },
        lines: taxed,
        shipping: shipping_tax,
        breakdown,
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
        let lines = [Line::new(m(2599), 2)];
        let totals = price(&lines, Money::ZERO, &PricingSettings::default(), None).unwrap();
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
        let lines = [Line::new(m(10_000), 1)];
        let totals = price(&lines, m(1_000), &PricingSettings::default(), None).unwrap();
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
        let lines = [Line::new(m(3_000), 1)];
        let totals = price(&lines, m(5_000), &PricingSettings::default(), None).unwrap();
        assert_eq!(totals.discount, m(3_000));
        assert_eq!(totals.total, Money::ZERO);
    }

    #[test]
    fn shipping_fee_and_free_threshold() {
        let settings = PricingSettings {
            tax_rate: BasisPoints(0),
            shipping_fee: m(4_900),
            free_shipping_threshold: Some(m(50_000)),
            gst: None,
        };
        let line = |price| [Line::new(m(price), 1)];
        assert_eq!(
            price(&line(49_999), Money::ZERO, &settings, None)
                .unwrap()
                .shipping,
            m(4_900)
        );
        // At the threshold ships free.
        assert_eq!(
            price(&line(50_000), Money::ZERO, &settings, None)
                .unwrap()
                .shipping,
            Money::ZERO
        );
        // A discount that takes the goods under the threshold brings the fee back.
        assert_eq!(
            price(&line(50_000), m(1), &settings, None)
                .unwrap()
                .shipping,
            m(4_900)
        );
        // Nothing to ship, nothing to pay.
        assert_eq!(
            price(&[], Money::ZERO, &settings, None).unwrap().total,
            Money::ZERO
        );
    }

    #[test]
    fn overflow_is_reported_not_panicked() {
        let lines = [Line::new(m(i64::MAX), 1), Line::new(m(1), 1)];
        assert_eq!(
            price(&lines, Money::ZERO, &PricingSettings::default(), None),
            None
        );
        assert_eq!(line_total(Line::new(m(i64::MAX), 2)), None);
    }

    fn gst_settings(inclusive: bool) -> PricingSettings {
        PricingSettings {
            tax_rate: BasisPoints(1800),
            shipping_fee: m(5_000),
            free_shipping_threshold: None,
            gst: Some(GstPricing {
                seller_state: state(27),
                prices_include_tax: inclusive,
            }),
        }
    }

    fn state(code: u8) -> StateCode {
        StateCode::from_code(code).unwrap()
    }

    /// 1000.00 x1 at 18 %, 250.00 x2 at 5 %, 99.99 x1 at 0 %, 333.33 x3 at 40 %: 2599.98, less
    /// 100.00 shared as 38.46, 19.23, 3.85 (the largest remainder takes the odd paisa), 38.46.
    fn mixed_lines() -> Vec<Line> {
        let line = |price, quantity, rate| Line {
            gst_rate: rate,
            ..Line::new(m(price), quantity)
        };
        vec![
            line(100_000, 1, GstRate::Eighteen),
            line(25_000, 2, GstRate::Five),
            line(9_999, 1, GstRate::Zero),
            line(33_333, 3, GstRate::Forty),
        ]
    }

    fn split(taxable: i64, cgst: i64, sgst: i64, igst: i64) -> TaxSplit {
        TaxSplit {
            taxable_value: m(taxable),
            cgst: m(cgst),
            sgst: m(sgst),
            igst: m(igst),
        }
    }

    fn rows(priced: &Priced) -> Vec<(i64, TaxSplit)> {
        priced
            .breakdown
            .iter()
            .map(|row| (row.gst_rate.percent(), row.split))
            .collect()
    }

    #[test]
    fn discount_is_shared_by_largest_remainder() {
        let totals: Vec<Money> = mixed_lines()
            .iter()
            .map(|l| line_total(*l).unwrap())
            .collect();
        assert_eq!(
            share_discount(&totals, m(10_000)).unwrap(),
            vec![m(3_846), m(1_923), m(385), m(3_846)]
        );
    }

    #[test]
    fn gst_intra_state_exclusive_worked_by_hand() {
        let p = price_detailed(
            &mixed_lines(),
            m(10_000),
            &gst_settings(false),
            Some(state(27)),
        )
        .unwrap();
        // 961.54 x 9 % = 86.5386 -> 86.54; 480.77 x 2.5 % = 12.019 -> 12.02; 961.53 x 20 % =
        // 192.306 -> 192.31; shipping 50.00 at the highest rate (40 %): 10.00 + 10.00.
        assert_eq!(
            p.lines.iter().map(|l| l.split).collect::<Vec<_>>(),
            vec![
                split(96_154, 8_654, 8_654, 0),
                split(48_077, 1_202, 1_202, 0),
                split(9_614, 0, 0, 0),
                split(96_153, 19_231, 19_231, 0),
            ]
        );
        assert_eq!(p.shipping.unwrap().split, split(5_000, 1_000, 1_000, 0));
        assert_eq!(
            rows(&p),
            vec![
                (0, split(9_614, 0, 0, 0)),
                (5, split(48_077, 1_202, 1_202, 0)),
                (18, split(96_154, 8_654, 8_654, 0)),
                (40, split(101_153, 20_231, 20_231, 0)),
            ]
        );
        assert_eq!(p.totals.subtotal, m(259_998));
        assert_eq!(p.totals.discounted_subtotal, m(249_998));
        assert_eq!(p.totals.tax, m(60_174));
        assert_eq!(p.totals.total, m(315_172));
    }

    #[test]
    fn gst_inter_state_exclusive_worked_by_hand() {
        let p = price_detailed(
            &mixed_lines(),
            m(10_000),
            &gst_settings(false),
            Some(state(29)),
        )
        .unwrap();
        // 961.54 x 18 % = 173.0772 -> 173.08; 480.77 x 5 % = 24.0385 -> 24.04; 961.53 x 40 % =
        // 384.612 -> 384.61; shipping 50.00 x 40 % = 20.00.
        assert_eq!(
            rows(&p),
            vec![
                (0, split(9_614, 0, 0, 0)),
                (5, split(48_077, 0, 0, 2_404)),
                (18, split(96_154, 0, 0, 17_308)),
                (40, split(101_153, 0, 0, 40_461)),
            ]
        );
        assert_eq!(p.totals.tax, m(60_173));
        assert_eq!(p.totals.total, m(315_171));
    }

    #[test]
    fn gst_inclusive_prices_worked_by_hand() {
        let intra = price_detailed(
            &mixed_lines(),
            m(10_000),
            &gst_settings(true),
            Some(state(27)),
        )
        .unwrap();
        // 961.54 x 9/118 = 73.3378 -> 73.34 each, taxable 961.54 - 146.68 = 814.86; 480.77 x
        // 2.5/105 = 11.4469 -> 11.45; 961.53 x 20/140 = 137.3614 -> 137.36; shipping 50.00 x
        // 20/140 = 7.1428 -> 7.14.
        assert_eq!(
            rows(&intra),
            vec![
                (0, split(9_614, 0, 0, 0)),
                (5, split(45_787, 1_145, 1_145, 0)),
                (18, split(81_486, 7_334, 7_334, 0)),
                (40, split(68_681 + 3_572, 13_736 + 714, 13_736 + 714, 0)),
            ]
        );
        assert_eq!(intra.totals.tax, m(45_858));
        // The prices hold the tax: the customer pays what was shown.
        assert_eq!(intra.totals.total, m(254_998));

        let inter = price_detailed(
            &mixed_lines(),
            m(10_000),
            &gst_settings(true),
            Some(state(29)),
        )
        .unwrap();
        // 961.54 x 18/118 = 146.6756 -> 146.68; 480.77 x 5/105 = 22.8938 -> 22.89; 961.53 x
        // 40/140 = 274.7229 -> 274.72; shipping 50.00 x 40/140 = 14.2857 -> 14.29.
        assert_eq!(
            rows(&inter),
            vec![
                (0, split(9_614, 0, 0, 0)),
                (5, split(45_788, 0, 0, 2_289)),
                (18, split(81_486, 0, 0, 14_668)),
                (40, split(68_681 + 3_571, 0, 0, 27_472 + 1_429)),
            ]
        );
        assert_eq!(inter.totals.tax, m(45_858));
        assert_eq!(inter.totals.total, m(254_998));
    }

    #[test]
    fn a_vendor_in_the_buyers_state_charges_cgst_and_sgst_while_the_shop_charges_igst() {
        let lines = [
            Line::new(m(10_000), 1),
            Line {
                seller_state: Some(state(29)),
                ..Line::new(m(10_000), 1)
            },
        ];
        let p = price_detailed(&lines, Money::ZERO, &gst_settings(false), Some(state(29))).unwrap();
        assert_eq!(p.lines[0].split, split(10_000, 0, 0, 1_800));
        assert_eq!(p.lines[1].split, split(10_000, 900, 900, 0));
        // Shipping is the shop's: inter-state.
        assert_eq!(p.shipping.unwrap().split, split(5_000, 0, 0, 900));
    }

    #[test]
    fn flat_mode_ignores_gst_fields() {
        let mut lines = mixed_lines();
        lines[0].seller_state = Some(state(29));
        let flat = PricingSettings {
            gst: None,
            ..gst_settings(false)
        };
        let p = price_detailed(&lines, m(10_000), &flat, Some(state(29))).unwrap();
        // 18 % of 2499.98 = 449.9964 -> 450.00, as before GST existed.
        assert_eq!(p.totals.tax, m(45_000));
        assert!(p.breakdown.is_empty() && p.lines.is_empty());
    }

    fn gst_lines_strategy() -> impl Strategy<Value = Vec<Line>> {
        proptest::collection::vec(
            (
                0i64..=MAX_AMOUNT,
                1i64..=MAX_LINE_QUANTITY,
                prop::sample::select(GstRate::ALL.to_vec()),
                proptest::option::of(prop::sample::select(vec![27u8, 29, 7])),
            )
                .prop_map(|(price, quantity, rate, seller)| Line {
                    unit_price: m(price),
                    quantity,
                    gst_rate: rate,
                    seller_state: seller.map(state),
                }),
            0..=30,
        )
    }

    fn gst_settings_strategy() -> impl Strategy<Value = PricingSettings> {
        (
            0i64..=MAX_AMOUNT,
            proptest::option::of(0i64..=MAX_AMOUNT),
            any::<bool>(),
        )
            .prop_map(|(fee, threshold, inclusive)| PricingSettings {
                tax_rate: BasisPoints(1800),
                shipping_fee: m(fee),
                free_shipping_threshold: threshold.map(m),
                gst: Some(GstPricing {
                    seller_state: state(27),
                    prices_include_tax: inclusive,
                }),
            })
    }

    fn place_strategy() -> impl Strategy<Value = Option<StateCode>> {
        proptest::option::of(prop::sample::select(vec![27u8, 29, 33]).prop_map(state))
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
                gst: None,
            })
    }

    fn lines_strategy() -> impl Strategy<Value = Vec<Line>> {
        proptest::collection::vec(
            (0i64..=MAX_AMOUNT, 1i64..=MAX_LINE_QUANTITY)
                .prop_map(|(price, quantity)| Line::new(m(price), quantity)),
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
            let t = price(&lines, discount, &settings, None).expect("no overflow for accepted inputs");
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
            let t = price(&lines, discount, &settings, None).unwrap();
            let exact = t.discounted_subtotal.minor() as i128 * settings.tax_rate.0 as i128;
            // Half-up: tax*10000 is within (-5000, 5000] of the exact product (an exact half
            // rounds up, so +5000 is allowed and -5000 is not).
            let diff = t.tax.minor() as i128 * 10_000 - exact;
            prop_assert!(diff > -5_000 && diff <= 5_000, "tax {:?} for {}", t.tax, exact);
        }

        #[test]
        fn gst_totals_add_up_and_components_sum_to_the_tax(
            lines in gst_lines_strategy(),
            discount in discount_strategy(),
            settings in gst_settings_strategy(),
            place in place_strategy(),
        ) {
            let p = price_detailed(&lines, discount, &settings, place).unwrap();
            let t = p.totals;
            let inclusive = settings.gst.unwrap().prices_include_tax;
            let added_tax = if inclusive { 0 } else { t.tax.minor() };
            prop_assert_eq!(t.total.minor(), t.discounted_subtotal.minor() + t.shipping.minor() + added_tax);
            prop_assert_eq!(p.lines.len(), lines.len());
            let items: Vec<LineTax> = p.lines.iter().chain(p.shipping.iter()).copied().collect();
            let tax: i64 = items.iter().map(|l| l.split.tax().unwrap().minor()).sum();
            let taxable: i64 = items.iter().map(|l| l.split.taxable_value.minor()).sum();
            prop_assert_eq!(tax, t.tax.minor());
            let row_tax: i64 = p.breakdown.iter().map(|r| r.split.tax().unwrap().minor()).sum();
            let row_taxable: i64 = p.breakdown.iter().map(|r| r.split.taxable_value.minor()).sum();
            prop_assert_eq!((row_tax, row_taxable), (tax, taxable));
            // What is taxed is everything charged but the tax.
            prop_assert_eq!(taxable + tax, t.discounted_subtotal.minor() + t.shipping.minor() + added_tax);
            let shares: i64 = p.lines.iter().map(|l| l.discount.minor()).sum();
            prop_assert_eq!(shares, t.discount.minor());
            for (line, taxed) in lines.iter().zip(&p.lines) {
                let s = taxed.split;
                prop_assert!(s.cgst == s.sgst);
                prop_assert!(s.igst == Money::ZERO || s.cgst == Money::ZERO);
                prop_assert!(s.taxable_value >= Money::ZERO && taxed.discount >= Money::ZERO);
                prop_assert!(taxed.discount <= line_total(*line).unwrap());
                let seller = line.seller_state.unwrap_or(state(27));
                if place.is_some_and(|place| place != seller) {
                    prop_assert_eq!(s.cgst, Money::ZERO);
                } else {
                    prop_assert_eq!(s.igst, Money::ZERO);
                }
            }
        }

        #[test]
        fn gst_inclusive_and_exclusive_agree_within_a_paisa_per_line(
            value in 0i64..=MAX_AMOUNT * 100,
            rate in prop::sample::select(GstRate::ALL.to_vec()),
            intra in any::<bool>(),
        ) {
            // A price shown with the tax, taken apart, then taxed again as a price without it.
            let inclusive = split_tax(m(value), rate, intra, true).unwrap();
            let exclusive = split_tax(inclusive.taxable_value, rate, intra, false).unwrap();
            for (a, b) in [
                (inclusive.cgst, exclusive.cgst),
                (inclusive.sgst, exclusive.sgst),
                (inclusive.igst, exclusive.igst),
            ] {
                prop_assert!((a.minor() - b.minor()).abs() <= 1, "{:?} vs {:?}", inclusive, exclusive);
            }
            // And a price without tax, with its tax added, taken apart again.
            let exclusive = split_tax(m(value), rate, intra, false).unwrap();
            let gross = m(value).checked_add(exclusive.tax().unwrap()).unwrap();
            let inclusive = split_tax(gross, rate, intra, true).unwrap();
            prop_assert!((inclusive.taxable_value.minor() - value).abs() <= 1);
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
