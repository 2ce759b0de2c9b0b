//! Timestamps are stored as milliseconds since the Unix epoch and shown as RFC 3339 UTC with
//! milliseconds (`2024-01-15T10:00:00.000Z`).

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn to_rfc3339(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Accepts RFC 3339 (`2024-01-15T10:00:00Z`) or a plain date (`2024-01-15`, read as midnight UTC).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis() {
        assert_eq!(to_rfc3339(1_705_312_800_000), "2024-01-15T10:00:00.000Z");
        assert_eq!(
            parse_timestamp("2024-01-15T10:00:00.000Z"),
            Some(1_705_312_800_000)
        );
        assert_eq!(parse_timestamp("2024-01-15"), Some(1_705_276_800_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
