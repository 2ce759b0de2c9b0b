//! Indian GST values (CONTRACT §10): the GST state codes, GSTINs (format and check digit), HSN
//! codes, the four rates in force since 22 September 2025, the financial year and the invoice and
//! credit-note numbers. Each is made only by its `parse`, so an invalid one cannot exist.

use std::fmt;

/// The 36 states and union territories with their GST state code, name and the two-letter
/// abbreviation used on vehicle plates and addresses. Code 25 (Daman and Diu) was merged into 26
/// in 2020 and 28 (undivided Andhra Pradesh) is no longer issued, so neither is listed.
const STATES: [(u8, &str, &str); 36] = [
    (1, "Jammu and Kashmir", "JK"),
    (2, "Himachal Pradesh", "HP"),
    (3, "Punjab", "PB"),
    (4, "Chandigarh", "CH"),
    (5, "Uttarakhand", "UK"),
    (6, "Haryana", "HR"),
    (7, "Delhi", "DL"),
    (8, "Rajasthan", "RJ"),
    (9, "Uttar Pradesh", "UP"),
    (10, "Bihar", "BR"),
    (11, "Sikkim", "SK"),
    (12, "Arunachal Pradesh", "AR"),
    (13, "Nagaland", "NL"),
    (14, "Manipur", "MN"),
    (15, "Mizoram", "MZ"),
    (16, "Tripura", "TR"),
    (17, "Meghalaya", "ML"),
    (18, "Assam", "AS"),
    (19, "West Bengal", "WB"),
    (20, "Jharkhand", "JH"),
    (21, "Odisha", "OD"),
    (22, "Chhattisgarh", "CG"),
    (23, "Madhya Pradesh", "MP"),
    (24, "Gujarat", "GJ"),
    (26, "Dadra and Nagar Haveli and Daman and Diu", "DH"),
    (27, "Maharashtra", "MH"),
    (29, "Karnataka", "KA"),
    (30, "Goa", "GA"),
    (31, "Lakshadweep", "LD"),
    (32, "Kerala", "KL"),
    (33, "Tamil Nadu", "TN"),
    (34, "Puducherry", "PY"),
    (35, "Andaman and Nicobar Islands", "AN"),
    (36, "Telangana", "TS"),
    (37, "Andhra Pradesh", "AP"),
    (38, "Ladakh", "LA"),
];

/// Other spellings people write for a state, normalized as `normalize_name` does.
const ALIASES: [(&str, u8); 9] = [
    ("orissa", 21),
    ("pondicherry", 34),
    ("nct of delhi", 7),
    ("new delhi", 7),
    ("dadra and nagar haveli", 26),
    ("daman and diu", 26),
    ("andaman and nicobar", 35),
    ("uttaranchal", 5),
    ("jammu kashmir", 1),
];

/// A state or union territory by its GST state code (`27` is Maharashtra).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateCode(u8);

impl StateCode {
    /// Every state and union territory, in code order.
    pub fn all() -> impl Iterator<Item = StateCode> {
        STATES.iter().map(|(code, _, _)| StateCode(*code))
    }

    /// A state from its two-digit code (`"27"`, `"7"`), its name in any case (`"maharashtra"`,
    /// with `&` for `and`) or its two-letter abbreviation (`"MH"`).
    pub fn parse(text: &str) -> Option<StateCode> {
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.len() <= 2 && trimmed.bytes().all(|b| b.is_ascii_digit())
        {
            let code: u8 = trimmed.parse().ok()?;
            return Self::from_code(code);
        }
        if trimmed.len() == 2 {
            let upper = trimmed.to_ascii_uppercase();
            if let Some((code, _, _)) = STATES.iter().find(|(_, _, abbr)| *abbr == upper) {
                return Some(StateCode(*code));
            }
        }
        let name = normalize_name(trimmed);
        STATES
            .iter()
            .find(|(_, full, _)| normalize_name(full) == name)
            .map(|(code, _, _)| StateCode(*code))
            .or_else(|| {
                ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == name)
                    .map(|(_, code)| StateCode(*code))
            })
    }

    pub fn from_code(code: u8) -> Option<StateCode> {
        STATES
            .iter()
            .any(|(known, _, _)| *known == code)
            .then_some(StateCode(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// The code as written on invoices and in GSTINs: two digits.
    pub fn as_code_text(self) -> String {
        format!("{:02}", self.0)
    }

    pub fn name(self) -> &'static str {
        STATES
            .iter()
            .find(|(code, _, _)| *code == self.0)
            .map_or("", |(_, name, _)| name)
    }
}

impl fmt::Display for StateCode {
    /// `27-Maharashtra`, as place of supply is printed on invoices.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{}", self.0, self.name())
    }
}

fn normalize_name(text: &str) -> String {
    text.to_lowercase()
        .replace('&', " and ")
        .split(|c: char| c.is_whitespace() || c == '-' || c == '.' || c == ',')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

const GSTIN_CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The check character of the first 14 characters of a GSTIN: the Luhn mod-36 scheme the GST
/// network uses (alternate characters weighted 1 and 2, each product folded as `q + r` in base 36).
fn gstin_check_char(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, byte) in body.iter().enumerate() {
        let value = GSTIN_CHARS.iter().position(|c| c == byte)? as u32;
        let product = value * if i % 2 == 0 { 1 } else { 2 };
        sum += product / 36 + product % 36;
    }
    Some(GSTIN_CHARS[((36 - sum % 36) % 36) as usize])
}

/// A GST identification number: two-digit state code, PAN (five letters, four digits, a
/// letter), entity number, `Z`, check character, verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gstin(String);

impl Gstin {
    /// Upper-cases and trims; `Err` says what is wrong in words for the client.
    pub fn parse(text: &str) -> Result<Gstin, &'static str> {
        let upper = text.trim().to_ascii_uppercase();
        let bytes = upper.as_bytes();
        if bytes.len() != 15 {
            return Err("A GSTIN has 15 characters");
        }
        let shape_ok = bytes[..2].iter().all(u8::is_ascii_digit)
            && bytes[2..7].iter().all(u8::is_ascii_uppercase)
            && bytes[7..11].iter().all(u8::is_ascii_digit)
            && bytes[11].is_ascii_uppercase()
            && (bytes[12].is_ascii_uppercase() || (b'1'..=b'9').contains(&bytes[12]))
            && bytes[13] == b'Z'
            && bytes[14].is_ascii_alphanumeric();
        if !shape_ok {
            return Err("A GSTIN is a state code, a PAN, an entity number, Z and a check character (e.g. 27AAPFU0939F1ZV)");
        }
        let state: u8 = upper[..2].parse().map_err(|_| "Unknown state code")?;
        if StateCode::from_code(state).is_none() {
            return Err("The GSTIN's first two digits are not a GST state code");
        }
        if gstin_check_char(&bytes[..14]) != Some(bytes[14]) {
            return Err("The GSTIN's check character is wrong");
        }
        Ok(Gstin(upper))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The state the GSTIN is registered in (its first two digits).
    pub fn state(&self) -> StateCode {
        // `parse` checked the code is a known state.
        StateCode(self.0[..2].parse().unwrap_or(0))
    }
}

impl fmt::Display for Gstin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who issues an invoice: the shop (`SELLER_*`) or a vendor with its own registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub name: String,
    pub address: String,
    pub gstin: Gstin,
    pub state: StateCode,
}

/// A GST rate, one of the four slabs in force since 22 September 2025.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum GstRate {
    Zero,
    Five,
    #[default]
    Eighteen,
    Forty,
}

impl GstRate {
    pub const ALL: [GstRate; 4] = [
        GstRate::Zero,
        GstRate::Five,
        GstRate::Eighteen,
        GstRate::Forty,
    ];

    pub fn percent(self) -> i64 {
        match self {
            GstRate::Zero => 0,
            GstRate::Five => 5,
            GstRate::Eighteen => 18,
            GstRate::Forty => 40,
        }
    }

    /// The rate in basis points (18 % is 1800).
    pub fn basis_points(self) -> i64 {
        self.percent() * 100
    }

    pub fn from_percent(percent: i64) -> Option<GstRate> {
        GstRate::ALL
            .into_iter()
            .find(|rate| rate.percent() == percent)
    }
}

/// An HSN (goods) or SAC code: 4, 6 or 8 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HsnCode(String);

impl HsnCode {
    pub fn parse(text: &str) -> Option<HsnCode> {
        let trimmed = text.trim();
        (matches!(trimmed.len(), 4 | 6 | 8) && trimmed.bytes().all(|b| b.is_ascii_digit()))
            .then(|| HsnCode(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The SAC code of goods transport services, which shipping charges are invoiced under.
pub const SHIPPING_SAC: &str = "996812";

/// An Indian financial year, April to March, named by the calendar year it starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FinancialYear(pub i32);

/// India Standard Time is UTC+05:30 all year; the financial year turns at midnight IST.
const IST_OFFSET_MS: i64 = (5 * 60 + 30) * 60 * 1000;

impl FinancialYear {
    /// The financial year a moment (Unix milliseconds) falls in, in Indian time.
    pub fn of_millis(millis: i64) -> FinancialYear {
        let days = (millis + IST_OFFSET_MS).div_euclid(86_400_000);
        let (year, month, _) = civil_from_days(days);
        FinancialYear(if month >= 4 { year } else { year - 1 })
    }

    /// `25-26` for the year from April 2025 to March 2026.
    pub fn label(self) -> String {
        format!(
            "{:02}-{:02}",
            self.0.rem_euclid(100),
            (self.0 + 1).rem_euclid(100)
        )
    }
}

/// Year, month (1..=12) and day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

text_enum! {
    /// A tax invoice, or a credit note that takes back (part of) one.
    pub enum DocumentKind {
        Invoice = "invoice",
        CreditNote = "credit_note",
    }
}

impl DocumentKind {
    fn prefix(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "INV",
            DocumentKind::CreditNote => "CN",
        }
    }
}

/// The highest serial a document number can hold (six digits).
pub const MAX_SERIAL: i64 = 999_999;

/// `INV/25-26/000001`: at most 16 characters, as Rule 46 allows; serials start at 1 in each
/// financial year and are counted per seller and kind.
pub fn document_number(kind: DocumentKind, year: FinancialYear, serial: i64) -> Option<String> {
    (1..=MAX_SERIAL)
        .contains(&serial)
        .then(|| format!("{}/{}/{:06}", kind.prefix(), year.label(), serial))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn thirty_six_states_with_distinct_codes_names_and_abbreviations() {
        let codes: std::collections::HashSet<_> = STATES.iter().map(|s| s.0).collect();
        let names: std::collections::HashSet<_> =
            STATES.iter().map(|s| normalize_name(s.1)).collect();
        let abbrs: std::collections::HashSet<_> = STATES.iter().map(|s| s.2).collect();
        assert_eq!((codes.len(), names.len(), abbrs.len()), (36, 36, 36));
        for state in StateCode::all() {
            assert_eq!(StateCode::parse(state.name()), Some(state));
            assert_eq!(StateCode::parse(&state.as_code_text()), Some(state));
        }
    }

    #[test]
    fn states_by_name_code_or_abbreviation() {
        let mh = StateCode::from_code(27).unwrap();
        for text in ["27", "Maharashtra", " maharashtra ", "MH", "mh"] {
            assert_eq!(StateCode::parse(text), Some(mh), "{text}");
        }
        assert_eq!(
            StateCode::parse("Andaman & Nicobar Islands").map(StateCode::code),
            Some(35)
        );
        assert_eq!(StateCode::parse("7").map(StateCode::code), Some(7));
        assert_eq!(StateCode::parse("Orissa").map(StateCode::code), Some(21));
        for unknown in ["", "25", "28", "99", "Atlantis", "ZZ", "123"] {
            assert_eq!(StateCode::parse(unknown), None, "{unknown}");
        }
        assert_eq!(mh.to_string(), "27-Maharashtra");
    }

    #[test]
    fn gstin_check_digit_is_verified() {
        // A GSTIN published as an example by the GST portal.
        let gstin = Gstin::parse("27aapfu0939f1zv").unwrap();
        assert_eq!(gstin.as_str(), "27AAPFU0939F1ZV");
        assert_eq!(gstin.state().code(), 27);
        assert!(Gstin::parse("27AAPFU0939F1ZA").is_err(), "wrong check char");
        assert!(Gstin::parse("27AAPFU0939F1Z").is_err(), "too short");
        assert!(Gstin::parse("27AAPFU0939F1YV").is_err(), "no Z");
        assert!(Gstin::parse("99AAPFU0939F1ZV").is_err(), "unknown state");
    }

    fn body_strategy() -> impl Strategy<Value = String> {
        (
            prop::sample::select(STATES.iter().map(|s| s.0).collect::<Vec<_>>()),
            "[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]",
        )
            .prop_map(|(state, pan)| format!("{state:02}{pan}Z"))
    }

    proptest! {
        #[test]
        fn exactly_one_check_char_is_accepted(body in body_strategy()) {
            let right = gstin_check_char(body.as_bytes()).unwrap() as char;
            for c in GSTIN_CHARS.iter().map(|b| *b as char) {
                let accepted = Gstin::parse(&format!("{body}{c}")).is_ok();
                prop_assert_eq!(accepted, c == right, "{}{}", body, c);
            }
        }

        #[test]
        fn one_changed_character_is_caught(body in body_strategy(), at in 2usize..14, by in 1u8..36) {
            let right = gstin_check_char(body.as_bytes()).unwrap();
            let mut bytes = body.into_bytes();
            let old = GSTIN_CHARS.iter().position(|c| *c == bytes[at]).unwrap();
            bytes[at] = GSTIN_CHARS[(old + by as usize) % 36];
            bytes.push(right);
            // Luhn mod N catches every single-character substitution.
            prop_assert!(Gstin::parse(std::str::from_utf8(&bytes).unwrap()).is_err());
        }
    }

    #[test]
    fn hsn_codes_are_4_6_or_8_digits() {
        for ok in ["3305", "330510", "33051000"] {
            assert!(HsnCode::parse(ok).is_some(), "{ok}");
        }
        for bad in ["330", "33051", "3305100", "330510001", "33a5", ""] {
            assert!(HsnCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rates_are_the_four_slabs() {
        assert_eq!(GstRate::from_percent(40), Some(GstRate::Forty));
        assert_eq!(GstRate::from_percent(12), None);
        assert_eq!(GstRate::from_percent(28), None);
        assert_eq!(GstRate::default(), GstRate::Eighteen);
    }

    #[test]
    fn financial_year_turns_on_1_april_ist() {
        // 2026-03-31T18:29:59Z is 23:59:59 IST on 31 March: still 25-26.
        assert_eq!(FinancialYear::of_millis(1_774_981_799_000).label(), "25-26");
        // One second later is 1 April IST.
        assert_eq!(FinancialYear::of_millis(1_774_981_800_000).label(), "26-27");
        assert_eq!(FinancialYear::of_millis(0).label(), "69-70");
        assert_eq!(FinancialYear(1999).label(), "99-00");
    }

    #[test]
    fn document_numbers_fit_sixteen_characters() {
        let year = FinancialYear(2025);
        let first = document_number(DocumentKind::Invoice, year, 1).unwrap();
        assert_eq!(first, "INV/25-26/000001");
        assert_eq!(first.len(), 16);
        assert_eq!(
            document_number(DocumentKind::CreditNote, year, MAX_SERIAL).unwrap(),
            "CN/25-26/999999"
        );
        assert_eq!(document_number(DocumentKind::Invoice, year, 0), None);
        assert_eq!(
            document_number(DocumentKind::Invoice, year, MAX_SERIAL + 1),
            None
        );
    }
}
