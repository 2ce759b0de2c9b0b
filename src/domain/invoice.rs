//! GST tax invoices and credit notes (CONTRACT §10, Rule 46 of the CGST Rules): the document as
//! issued, and how an order's lines are split into one document per seller. A document is frozen
//! when issued (kept as JSON), so what a customer downloads never changes with the catalog.

use super::gst::{DocumentKind, GstRate, SHIPPING_SAC};
use super::money::Money;
use super::pricing::{tax_breakdown, TaxRow, TaxSplit};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The shop's own key among the sellers (a vendor's is its user id).
pub const SHOP_SELLER: &str = "shop";

/// A party to a document: the seller or the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub name: String,
    pub address: String,
    /// The state as `27-Maharashtra`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gstin: Option<String>,
}

/// One line of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentLine {
    pub description: String,
    pub hsn_code: Option<String>,
    pub quantity: i64,
    pub unit_price: Money,
    pub taxable_value: Money,
    /// Percent: 0, 5, 18 or 40.
    pub gst_rate: i64,
    pub cgst: Money,
    pub sgst: Money,
    pub igst: Money,
}

impl DocumentLine {
    fn rate(&self) -> Option<GstRate> {
        GstRate::from_percent(self.gst_rate)
    }

    fn split(&self) -> TaxSplit {
        TaxSplit {
            taxable_value: self.taxable_value,
            cgst: self.cgst,
            sgst: self.sgst,
            igst: self.igst,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentTotals {
    pub taxable_value: Money,
    pub cgst: Money,
    pub sgst: Money,
    pub igst: Money,
    /// Taxable value plus the taxes: what the document charges (or, for a credit note, takes
    /// back).
    pub total: Money,
}

/// What a document says, beside its number and date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentBody {
    pub seller: Party,
    pub buyer: Party,
    /// `27-Maharashtra`.
    pub place_of_supply: String,
    pub lines: Vec<DocumentLine>,
    pub totals: DocumentTotals,
}

impl DocumentBody {
    /// The document's taxes per rate (the summary printed under the lines and the GSTR-1 rows).
    pub fn per_rate(&self) -> Option<Vec<TaxRow>> {
        tax_breakdown(
            self.lines
                .iter()
                .map(|line| Some((line.rate()?, line.split())))
                .collect::<Option<Vec<_>>>()?,
        )
    }
}

/// Sums the lines into the totals.
pub fn totals(lines: &[DocumentLine]) -> Option<DocumentTotals> {
    let mut sum = TaxSplit::default();
    for line in lines {
        sum = TaxSplit {
            taxable_value: sum.taxable_value.checked_add(line.taxable_value)?,
            cgst: sum.cgst.checked_add(line.cgst)?,
            sgst: sum.sgst.checked_add(line.sgst)?,
            igst: sum.igst.checked_add(line.igst)?,
        };
    }
    Some(DocumentTotals {
        taxable_value: sum.taxable_value,
        cgst: sum.cgst,
        sgst: sum.sgst,
        igst: sum.igst,
        total: sum.taxable_value.checked_add(sum.tax()?)?,
    })
}

/// One taxed line of an order, with who sells it (`SHOP_SELLER` or a vendor's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldLine {
    pub seller: String,
    pub line: DocumentLine,
}

/// The lines of each invoice of an order: one group per seller, the shop first, then vendors by
/// id; the shipping charge (`Some((rate, split))`) goes on the shop's invoice, which exists for it
/// even when the shop sold nothing else.
pub fn lines_per_seller(
    lines: Vec<SoldLine>,
    shipping: Option<(GstRate, TaxSplit)>,
) -> Vec<(String, Vec<DocumentLine>)> {
    let mut groups: Vec<(String, Vec<DocumentLine>)> = Vec::new();
    for sold in lines {
        match groups.iter_mut().find(|(seller, _)| *seller == sold.seller) {
            Some((_, group)) => group.push(sold.line),
            None => groups.push((sold.seller, vec![sold.line])),
        }
    }
    if let Some((rate, split)) = shipping {
        let line = DocumentLine {
            description: format!("Shipping charges (SAC {SHIPPING_SAC})"),
            hsn_code: Some(SHIPPING_SAC.to_string()),
            quantity: 1,
            unit_price: split.taxable_value,
            taxable_value: split.taxable_value,
            gst_rate: rate.percent(),
            cgst: split.cgst,
            sgst: split.sgst,
            igst: split.igst,
        };
        match groups.iter_mut().find(|(seller, _)| seller == SHOP_SELLER) {
            Some((_, group)) => group.push(line),
            None => groups.push((SHOP_SELLER.to_string(), vec![line])),
        }
    }
    groups.sort_by(|a, b| {
        (a.0 != SHOP_SELLER, a.0.as_str()).cmp(&(b.0 != SHOP_SELLER, b.0.as_str()))
    });
    groups
}

/// An issued document as the GSTR-1 export reads it.
#[derive(Debug, Clone)]
pub struct IssuedDocument {
    pub kind: DocumentKind,
    pub number: String,
    /// `2026-12-03`, the date printed on it (Indian time).
    pub date: String,
    /// For a credit note, the number of the invoice it takes back.
    pub refers_to: Option<String>,
    pub body: DocumentBody,
}

/// The GSTR-1 CSV header.
pub const GSTR1_HEADER: &str = "section,document_type,number,date,refers_to,seller_gstin,buyer_gstin,place_of_supply,gst_rate,taxable_value,cgst,sgst,igst";

/// The GSTR-1 shaped CSV of a period's documents: sales to a registered buyer (B2B) one row per
/// document and rate, with credit notes (CDNR) as negative amounts; sales to consumers (B2CS)
/// summed per seller, place of supply and rate, net of their credit notes. Every amount of the
/// file therefore adds up, per rate, to the invoices minus the credit notes of the period.
pub fn gstr1_csv(documents: &[IssuedDocument]) -> Option<String> {
    let mut out = String::from(GSTR1_HEADER);
    out.push('\n');
    let signed = |kind: DocumentKind, amount: Money| -> Option<Money> {
        match kind {
            DocumentKind::Invoice => Some(amount),
            DocumentKind::CreditNote => Money::ZERO.checked_sub(amount),
        }
    };
    // (seller GSTIN, place of supply, rate) -> summed split, in first-seen order.
    let mut b2cs: Vec<((String, String, GstRate), TaxSplit)> = Vec::new();
    for doc in documents {
        let seller_gstin = doc.body.seller.gstin.clone().unwrap_or_default();
        for row in doc.body.per_rate()? {
            let split = TaxSplit {
                taxable_value: signed(doc.kind, row.split.taxable_value)?,
                cgst: signed(doc.kind, row.split.cgst)?,
                sgst: signed(doc.kind, row.split.sgst)?,
                igst: signed(doc.kind, row.split.igst)?,
            };
            match &doc.body.buyer.gstin {
                Some(buyer_gstin) => {
                    let section = match doc.kind {
                        DocumentKind::Invoice => "B2B",
                        DocumentKind::CreditNote => "CDNR",
                    };
                    let fields = [
                        section.to_string(),
                        doc.kind.as_str().to_string(),
                        doc.number.clone(),
                        doc.date.clone(),
                        doc.refers_to.clone().unwrap_or_default(),
                        seller_gstin.clone(),
                        buyer_gstin.clone(),
                        doc.body.place_of_supply.clone(),
                        row.gst_rate.percent().to_string(),
                        split.taxable_value.to_string(),
                        split.cgst.to_string(),
                        split.sgst.to_string(),
                        split.igst.to_string(),
                    ];
                    push_row(&mut out, &fields);
                }
                None => {
                    let key = (
                        seller_gstin.clone(),
                        doc.body.place_of_supply.clone(),
                        row.gst_rate,
                    );
                    match b2cs.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, sum)) => {
                            *sum = TaxSplit {
                                taxable_value: sum
                                    .taxable_value
                                    .checked_add(split.taxable_value)?,
                                cgst: sum.cgst.checked_add(split.cgst)?,
                                sgst: sum.sgst.checked_add(split.sgst)?,
                                igst: sum.igst.checked_add(split.igst)?,
                            }
                        }
                        None => b2cs.push((key, split)),
                    }
                }
            }
        }
    }
    for ((seller_gstin, place, rate), split) in b2cs {
        let fields = [
            "B2CS".to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            seller_gstin,
            String::new(),
            place,
            rate.percent().to_string(),
            split.taxable_value.to_string(),
            split.cgst.to_string(),
            split.sgst.to_string(),
            split.igst.to_string(),
        ];
        push_row(&mut out, &fields);
    }
    Some(out)
}

fn push_row(out: &mut String, fields: &[String]) {
    let row: Vec<String> = fields
        .iter()
        .map(|field| crate::domain::csv::field(field))
        .collect();
    out.push_str(&row.join(","));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(description: &str, rate: i64, taxable: i64, cgst: i64, igst: i64) -> DocumentLine {
        DocumentLine {
            description: description.into(),
            hsn_code: Some("3305".into()),
            quantity: 1,
            unit_price: Money::from_minor(taxable),
            taxable_value: Money::from_minor(taxable),
            gst_rate: rate,
            cgst: Money::from_minor(cgst),
            sgst: Money::from_minor(cgst),
            igst: Money::from_minor(igst),
        }
    }

    #[test]
    fn one_group_per_seller_shop_first_with_the_shipping() {
        let sold = |seller: &str, name: &str| SoldLine {
            seller: seller.into(),
            line: line(name, 18, 10_000, 900, 0),
        };
        let groups = lines_per_seller(
            vec![
                sold("vendor-b", "B"),
                sold("vendor-a", "A"),
                sold("vendor-b", "B2"),
            ],
            Some((
                GstRate::Eighteen,
                TaxSplit {
                    taxable_value: Money::from_minor(5_000),
                    cgst: Money::from_minor(450),
                    sgst: Money::from_minor(450),
                    igst: Money::ZERO,
                },
            )),
        );
        let shape: Vec<(&str, usize)> = groups
            .iter()
            .map(|(seller, lines)| (seller.as_str(), lines.len()))
            .collect();
        assert_eq!(shape, vec![("shop", 1), ("vendor-a", 1), ("vendor-b", 2)]);
        assert_eq!(groups[0].1[0].hsn_code.as_deref(), Some(SHIPPING_SAC));
    }

    fn document(
        kind: DocumentKind,
        number: &str,
        buyer_gstin: Option<&str>,
        lines: Vec<DocumentLine>,
    ) -> IssuedDocument {
        let party = |gstin: Option<&str>| Party {
            name: "A, B".into(),
            address: "x".into(),
            state: "27-Maharashtra".into(),
            gstin: gstin.map(str::to_string),
        };
        IssuedDocument {
            kind,
            number: number.into(),
            date: "2026-12-03".into(),
            refers_to: None,
            body: DocumentBody {
                seller: party(Some("27AAPFU0939F1ZV")),
                buyer: party(buyer_gstin),
                place_of_supply: "27-Maharashtra".into(),
                totals: totals(&lines).unwrap(),
                lines,
            },
        }
    }

    #[test]
    fn gstr1_lists_b2b_by_document_and_sums_b2c_by_state_and_rate_net_of_credit_notes() {
        let docs = [
            document(
                DocumentKind::Invoice,
                "INV/26-27/000001",
                None,
                vec![line("A", 18, 10_000, 900, 0), line("B", 5, 2_000, 50, 0)],
            ),
            document(
                DocumentKind::Invoice,
                "INV/26-27/000002",
                None,
                vec![line("A", 18, 5_000, 450, 0)],
            ),
            document(
                DocumentKind::CreditNote,
                "CN/26-27/000001",
                None,
                vec![line("A", 18, 5_000, 450, 0)],
            ),
            document(
                DocumentKind::Invoice,
                "INV/26-27/000003",
                Some("29AAGCB7383J1Z4"),
                vec![line("C", 40, 1_000, 200, 0)],
            ),
        ];
        let csv = gstr1_csv(&docs).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], GSTR1_HEADER);
        assert_eq!(
            rows[1..],
            [
                "B2B,invoice,INV/26-27/000003,2026-12-03,,27AAPFU0939F1ZV,29AAGCB7383J1Z4,27-Maharashtra,40,10.00,2.00,2.00,0.00",
                "B2CS,,,,,27AAPFU0939F1ZV,,27-Maharashtra,5,20.00,0.50,0.50,0.00",
                "B2CS,,,,,27AAPFU0939F1ZV,,27-Maharashtra,18,100.00,9.00,9.00,0.00",
            ]
        );
        assert_eq!(crate::domain::csv::field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(crate::domain::csv::field("-12.50"), "-12.50");
        assert_eq!(crate::domain::csv::field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }

    #[test]
    fn totals_add_the_lines_and_their_taxes() {
        let lines = [line("A", 18, 10_000, 900, 0), line("B", 5, 2_000, 50, 0)];
        let t = totals(&lines).unwrap();
        assert_eq!(t.taxable_value, Money::from_minor(12_000));
        assert_eq!(t.cgst, Money::from_minor(950));
        assert_eq!(t.total, Money::from_minor(13_900));
    }
}
