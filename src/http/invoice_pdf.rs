//! The PDF of a tax invoice or credit note (CONTRACT §10), with every field Rule 46 of the CGST
//! Rules asks for: the seller's name, address and GSTIN; a serial number; the date; the buyer's
//! name, address, state and GSTIN when registered; each line's description, HSN code, quantity,
//! value, taxable value, rate and the amount of each tax; the place of supply; and the signature
//! line. Written with `printpdf` in DejaVu Sans (embedded, licence in assets/fonts/), which has the
//! rupee sign.

use crate::domain::gst::DocumentKind;
use crate::domain::invoice::DocumentBody;
use crate::domain::money::Money;
use printpdf::{IndirectFontRef, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

const PAGE_WIDTH: f32 = 210.0;
const PAGE_HEIGHT: f32 = 297.0;
const MARGIN: f32 = 14.0;
const LINE: f32 = 4.6;
const SIZE: f32 = 8.5;

/// What the PDF prints besides the document's body.
pub struct PdfHeader<'a> {
    pub kind: DocumentKind,
    pub number: &'a str,
    /// `03-12-2026`.
    pub date: &'a str,
    /// For a credit note: the invoice it takes back.
    pub refers_to: Option<&'a str>,
}

/// Writes top to bottom, starting a new page when the current one is full.
struct Writer {
    doc: PdfDocumentReference,
    layer: PdfLayerReference,
    font: IndirectFontRef,
    y: f32,
}

impl Writer {
    fn text(&self, x: f32, text: &str) {
        self.layer
            .use_text(text, SIZE, Mm(x), Mm(self.y), &self.font);
    }

    fn next(&mut self) {
        self.y -= LINE;
        if self.y < MARGIN {
            let (page, layer) = self.doc.add_page(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "page");
            self.layer = self.doc.get_page(page).get_layer(layer);
            self.y = PAGE_HEIGHT - MARGIN;
        }
    }

    fn line(&mut self, text: &str) {
        self.text(MARGIN, text);
        self.next();
    }
}

/// Splits `text` into lines of at most `width` characters, at spaces where it can (a longer word
/// is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        let used = current.chars().count();
        if used > 0 && used + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        while word.len() > width {
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.extend(word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

fn rupees(amount: Money) -> String {
    format!("₹{amount}")
}

/// The document as PDF bytes.
pub fn render(header: &PdfHeader<'_>, body: &DocumentBody) -> anyhow::Result<Vec<u8>> {
    let title = match header.kind {
        DocumentKind::Invoice => "TAX INVOICE",
        DocumentKind::CreditNote => "CREDIT NOTE",
    };
    let (doc, page, layer) = PdfDocument::new(
        format!("{title} {}", header.number),
        Mm(PAGE_WIDTH),
        Mm(PAGE_HEIGHT),
        "page",
    );
    let font = doc
        .add_external_font(std::io::Cursor::new(FONT))
        .map_err(|e| anyhow::anyhow!("embedding the font: {e}"))?;
    let layer = doc.get_page(page).get_layer(layer);
    let mut w = Writer {
        doc,
        layer,
        font,
        y: PAGE_HEIGHT - MARGIN,
    };

    w.line(title);
    w.line(&format!("{title} No.: {}", header.number));
    w.line(&format!("Date: {}", header.date));
    if let Some(invoice) = header.refers_to {
        w.line(&format!("Against tax invoice No.: {invoice}"));
    }
    w.next();
    w.line("Seller");
    w.line(&format!("Name: {}", body.seller.name));
    for (i, part) in wrap(&body.seller.address, 100).iter().enumerate() {
        w.line(&format!(
            "{}{part}",
            if i == 0 { "Address: " } else { "    " }
        ));
    }
    w.line(&format!(
        "GSTIN: {}",
        body.seller.gstin.as_deref().unwrap_or("-")
    ));
    w.line(&format!("State: {}", body.seller.state));
    w.next();
    w.line("Buyer (billed and shipped to)");
    w.line(&format!("Name: {}", body.buyer.name));
    for (i, part) in wrap(&body.buyer.address, 100).iter().enumerate() {
        w.line(&format!(
            "{}{part}",
            if i == 0 { "Address: " } else { "    " }
        ));
    }
    w.line(&format!("State: {}", body.buyer.state));
    w.line(&format!(
        "GSTIN: {}",
        body.buyer.gstin.as_deref().unwrap_or("Unregistered")
    ));
    w.line(&format!("Place of supply: {}", body.place_of_supply));
    w.line("Tax payable on reverse charge: No");
    w.next();

    // The table: x positions in mm of each column.
    const COLUMNS: [(f32, &str); 9] = [
        (MARGIN, "Description"),
        (62.0, "HSN/SAC"),
        (80.0, "Qty"),
        (90.0, "Unit price"),
        (108.0, "Taxable value"),
        (130.0, "Rate"),
        (142.0, "CGST"),
        (158.0, "SGST"),
        (174.0, "IGST"),
    ];
    w.line("Amounts in ₹ (INR)");
    for (x, heading) in COLUMNS.iter() {
        w.text(*x, heading);
    }
    w.next();
    for line in &body.lines {
        let description = wrap(&line.description, 28);
        let cells = [
            line.hsn_code.clone().unwrap_or_default(),
            line.quantity.to_string(),
            line.unit_price.to_string(),
            line.taxable_value.to_string(),
            format!("{}%", line.gst_rate),
            line.cgst.to_string(),
            line.sgst.to_string(),
            line.igst.to_string(),
        ];
        w.text(MARGIN, description.first().map_or("", String::as_str));
        for ((x, _), cell) in COLUMNS.iter().skip(1).zip(&cells) {
            w.text(*x, cell);
        }
        w.next();
        for more in description.iter().skip(1) {
            w.line(more);
        }
    }
    w.next();
    let t = &body.totals;
    w.line(&format!("Total taxable value: {}", rupees(t.taxable_value)));
    w.line(&format!("Total CGST: {}", rupees(t.cgst)));
    w.line(&format!("Total SGST: {}", rupees(t.sgst)));
    w.line(&format!("Total IGST: {}", rupees(t.igst)));
    let total_label = match header.kind {
        DocumentKind::Invoice => "Invoice total",
        DocumentKind::CreditNote => "Credit note total",
    };
    w.line(&format!("{total_label}: {}", rupees(t.total)));
    w.next();
    w.next();
    w.line(&format!("For {}", body.seller.name));
    w.line("Authorised signatory");

    w.doc
        .save_to_bytes()
        .map_err(|e| anyhow::anyhow!("writing the PDF: {e}"))
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_every_character_within_the_width() {
        assert_eq!(
            wrap("12 Marine Drive, Mumbai", 10),
            ["12 Marine", "Drive,", "Mumbai"]
        );
        assert_eq!(wrap("abcdefghijkl", 5), ["abcde", "fghij", "kl"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
