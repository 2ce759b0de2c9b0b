//! Free text as the API takes it (notes, reasons, review titles): trimmed, blank meaning absent,
//! and a limit counted in characters, not bytes.

/// The most characters of a reason (cancellation, return, a decision on a return).
pub const MAX_REASON_CHARS: usize = 200;

/// Text over its limit: the trimmed value and the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong<'a> {
    pub value: &'a str,
    pub max: usize,
}

impl TooLong<'_> {
    /// The problem as a field error states it.
    pub fn problem(&self) -> String {
        format!("must be at most {} characters", self.max)
    }
}

/// `value` trimmed; `None` when absent or blank; an error when over `max` characters.
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<&str>, TooLong<'_>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() <= max => Ok(Some(v)),
        Some(v) => Err(TooLong { value: v, max }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_absent_and_the_limit_counts_characters() {
        assert_eq!(optional_text(None, 5), Ok(None));
        assert_eq!(optional_text(Some("   "), 5), Ok(None));
        assert_eq!(optional_text(Some("  héllo "), 5), Ok(Some("héllo")));
        assert_eq!(
            optional_text(Some(" hello! "), 5),
            Err(TooLong {
                value: "hello!",
                max: 5
            })
        );
    }
}
