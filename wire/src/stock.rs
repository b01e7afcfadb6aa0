//! The stock-code type: what the server accepts after `/stock=` and what the bot puts in the
//! quote URL. It lives here, beside the command that carries it, so a code the server queued is
//! always one the bot can decode (a command with any other symbol fails to deserialise).

use serde::{Deserialize, Serialize};

/// A stock symbol as the quote service knows it: letters, digits, `.`, `-`, `^`, 1–20
/// characters. Kept lower-case, the way the quote URL expects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StockCode(String);

impl StockCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=20).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '^'));
        if ok {
            Ok(StockCode(raw.to_ascii_lowercase()))
        } else {
            Err(format!("{raw:?} is not a stock code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StockCode {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        StockCode::parse(&value)
    }
}

impl From<StockCode> for String {
    fn from(code: StockCode) -> Self {
        code.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_kept_lower_case_and_checked() {
        assert_eq!(StockCode::parse("AAPL.US").unwrap().as_str(), "aapl.us");
        assert_eq!(StockCode::parse("^SPX").unwrap().as_str(), "^spx");
        for bad in ["", "aa pl", "<script>", &"a".repeat(21)] {
            assert!(StockCode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
