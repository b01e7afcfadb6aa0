//! Parsing the quote service's CSV and wording the bot's replies.
//!
//! The service answers `Symbol,Date,Time,Open,High,Low,Close,Volume` then one row (CRLF line
//! ends); an unknown symbol has `N/D` in every field after the symbol. It can also answer with
//! an empty body, an HTML error page or a plain-text notice (such as a daily hit limit), which
//! must all become a "the quote service failed" reply, never a made-up price.
//!
//! Nothing the service wrote reaches a room as text: whatever it answers ends up in a message
//! posted under the bot's name, in every room that asks. The symbol in the reply and in the
//! quote object is the one the user asked for (upper-cased `StockCode`), never the CSV's; a
//! Symbol column naming anything else (compared case-insensitively) makes the whole answer
//! garbage, so a hostile or confused service gets the usual failure reply rather than a quote
//! for a symbol nobody asked about. Every other field is parsed and written out again from the
//! parsed value: dates as `YYYY-MM-DD`, times as `HH:MM:SS`, numbers as plain non-negative
//! decimals (at most 15 integer and 8 fraction digits; the fraction keeps the service's number
//! of digits, so `94.10` stays `94.10`). A field that is `N/D` or empty is left empty; any other
//! field that does not parse makes the answer garbage too.

use chrono::{NaiveDate, NaiveTime};
use tickertalk_wire::{QuoteFields, StockCode};

/// What the CSV said about a symbol.
// A quote lives for one answer (and in a small cache); boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quote {
    /// The quote row: the symbol asked for, every other field validated and re-written from its
    /// parsed value (a column the service left out or marked `N/D` is empty; the close is
    /// always there).
    Price(QuoteFields),
    /// The service knows nothing about this symbol (`N/D`); the symbol asked for, upper-cased.
    NoData { symbol: String },
}

/// Why a body is not a usable quote. Nothing here carries the service's text: it is logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("empty response")]
    Empty,
    #[error("response is not quote CSV")]
    NotCsv,
    #[error("response has no {0} column")]
    MissingColumn(&'static str),
    #[error("response has a header but no quote row")]
    NoRow,
    #[error("response is about another symbol than the one asked for")]
    WrongSymbol,
    #[error("close price is not a number")]
    BadPrice,
    #[error("{0} field is not a valid value")]
    BadField(&'static str),
}

const NO_DATA: &str = "N/D";

/// The longest number accepted, in characters (15 integer digits, a point, 8 fraction digits).
const MAX_NUMBER_LEN: usize = 24;

/// Parses the quote CSV for `requested` (header row required; extra columns and either line
/// ending accepted).
pub fn parse(body: &str, requested: &StockCode) -> Result<Quote, QuoteError> {
    let body = body.trim_start_matches('\u{feff}');
    if body.trim().is_empty() {
        return Err(QuoteError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|_| QuoteError::NotCsv)?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    // An HTML page or a sentence has no Symbol header: that is what tells garbage apart.
    let symbol_at = column("Symbol").ok_or(QuoteError::NotCsv)?;
    let close_at = column("Close");
    let row = reader
        .records()
        .next()
        .ok_or(QuoteError::NoRow)?
        .map_err(|_| QuoteError::NotCsv)?;
    let named = row
        .get(symbol_at)
        .filter(|s| !s.is_empty())
        .ok_or(QuoteError::NoRow)?;
    // Only ever compared, never shown: the reply names the symbol from the command.
    if !named.eq_ignore_ascii_case(requested.as_str()) {
        return Err(QuoteError::WrongSymbol);
    }
    let symbol = requested.as_str().to_ascii_uppercase();
    // Stooq marks an unknown symbol with N/D in every field after the symbol.
    let fields_after_symbol: Vec<&str> = row.iter().skip(symbol_at + 1).collect();
    if !fields_after_symbol.is_empty() && fields_after_symbol.iter().all(|f| *f == NO_DATA) {
        return Ok(Quote::NoData { symbol });
    }
    let close_at = close_at.ok_or(QuoteError::MissingColumn("Close"))?;
    let close = row
        .get(close_at)
        .filter(|c| !c.is_empty())
        .ok_or(QuoteError::MissingColumn("Close"))?;
    if close == NO_DATA {
        return Ok(Quote::NoData { symbol });
    }
    let close = number(close).ok_or(QuoteError::BadPrice)?;
    // A field the service left out or marked N/D is empty; anything else must parse.
    let field =
        |name: &'static str, check: fn(&str) -> Option<String>| match column(name).and_then(|i| row.get(i)) {
            None | Some("") | Some(NO_DATA) => Ok(String::new()),
            Some(raw) => check(raw).ok_or(QuoteError::BadField(name)),
        };
    Ok(Quote::Price(QuoteFields {
        symbol,
        date: field("Date", date)?,
        time: field("Time", time)?,
        open: field("Open", number)?,
        high: field("High", number)?,
        low: field("Low", number)?,
        close,
        volume: field("Volume", number)?,
        ..Default::default()
    }))
}

/// A non-negative decimal (`123`, `93.42`; no sign, exponent, `inf` or `NaN`), written again
/// from its parsed value with the same number of fraction digits.
pub(crate) fn number(raw: &str) -> Option<String> {
    if raw.len() > MAX_NUMBER_LEN {
        return None;
    }
    let (int, frac) = match raw.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (raw, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || int.len() > 15 || frac.is_some_and(|f| !digits(f) || f.len() > 8) {
        return None;
    }
    let value: f64 = raw.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    Some(format!("{:.*}", frac.map_or(0, str::len), value))
}

/// A calendar date, `YYYY-MM-DD`.
pub(crate) fn date(raw: &str) -> Option<String> {
    let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(d.format("%Y-%m-%d").to_string())
}

/// A time of day, `HH:MM:SS`.
fn time(raw: &str) -> Option<String> {
    let t = NaiveTime::parse_from_str(raw, "%H:%M:%S").ok()?;
    Some(t.format("%H:%M:%S").to_string())
}

/// The room reply for a quote.
pub fn reply(quote: &Quote) -> String {
    match quote {
        Quote::Price(q) => format!("{} quote is ${} per share", q.symbol, q.close),
        Quote::NoData { symbol } => format!("{symbol} quote is not available"),
    }
}

/// The room reply when the service failed; `why` is short, the bot's own words, safe to show.
pub fn failure_reply(symbol: &str, why: &str) -> String {
    format!(
        "Sorry, the quote service failed for {} ({why}). Please try again later.",
        symbol.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NORMAL: &str = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\n\
                          AAPL.US,2023-09-08,22:00:10,178.35,180.239,177.79,178.18,65602066\r\n";

    fn code(symbol: &str) -> StockCode {
        StockCode::parse(symbol).unwrap()
    }

    fn aapl(body: &str) -> Result<Quote, QuoteError> {
        parse(body, &code("aapl.us"))
    }

    #[test]
    fn a_normal_quote_gives_the_close_price() {
        let q = aapl(NORMAL).unwrap();
        assert_eq!(reply(&q), "AAPL.US quote is $178.18 per share");
    }

    #[test]
    fn lf_line_ends_work_too() {
        let q = aapl(&NORMAL.replace("\r\n", "\n")).unwrap();
        assert_eq!(
            q,
            Quote::Price(QuoteFields {
                symbol: "AAPL.US".into(),
                date: "2023-09-08".into(),
                time: "22:00:10".into(),
                open: "178.35".into(),
                high: "180.239".into(),
                low: "177.79".into(),
                close: "178.18".into(),
                volume: "65602066".into(),
                ..Default::default()
            })
        );
    }

    #[test]
    fn lower_case_symbols_are_upper_cased() {
        let body =
            "Symbol,Date,Time,Open,High,Low,Close,Volume\naapl.us,2023-09-08,22:00:10,1,2,0.5,93.42,10\n";
        assert_eq!(reply(&aapl(body).unwrap()), "AAPL.US quote is $93.42 per share");
    }

    #[test]
    fn n_d_means_not_available() {
        let body = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\nZZZZ.US,N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n";
        assert_eq!(
            reply(&parse(body, &code("zzzz.us")).unwrap()),
            "ZZZZ.US quote is not available"
        );
    }

    #[test]
    fn extra_columns_and_another_column_order_are_fine() {
        let body = "Close,Symbol,Extra\r\n12.5,msft.us,x\r\n";
        assert_eq!(
            reply(&parse(body, &code("MSFT.US")).unwrap()),
            "MSFT.US quote is $12.5 per share"
        );
    }

    #[test]
    fn the_reply_names_the_symbol_asked_for_never_another() {
        let body = "Symbol,Close\r\nAAPL.US QUOTE IS $1. VISIT HTTP://EVIL.EXAMPLE,93.42\r\n";
        assert_eq!(aapl(body).unwrap_err(), QuoteError::WrongSymbol);
        let body = "Symbol,Close\r\nMSFT.US,93.42\r\n";
        assert_eq!(aapl(body).unwrap_err(), QuoteError::WrongSymbol);
        let body = "Symbol,Date,Close\r\nEVIL,N/D,N/D\r\n";
        assert_eq!(aapl(body).unwrap_err(), QuoteError::WrongSymbol);
        assert_eq!(
            reply(&parse(NORMAL, &code("AaPl.Us")).unwrap()),
            "AAPL.US quote is $178.18 per share"
        );
    }

    #[test]
    fn every_field_is_validated_and_rewritten() {
        let row =
            |fields: &str| format!("Symbol,Date,Time,Open,High,Low,Close,Volume\r\nAAPL.US,{fields}\r\n");
        let Quote::Price(q) = aapl(&row("2023-9-8,7:05:01,0178.35,180.2390,N/D,178.18,")).unwrap() else {
            panic!("a quote");
        };
        assert_eq!(
            [q.date, q.time, q.open, q.high, q.low, q.close, q.volume],
            ["2023-09-08", "07:05:01", "178.35", "180.2390", "", "178.18", ""]
        );
        for (fields, field) in [
            ("08/09/2023,22:00:10,1,2,3,4,5", "Date"),
            ("2023-09-08,10pm,1,2,3,4,5", "Time"),
            ("2023-09-08,22:00:10,-1,2,3,4,5", "Open"),
            ("2023-09-08,22:00:10,1,1e2,3,4,5", "High"),
            ("2023-09-08,22:00:10,1,2,NaN,4,5", "Low"),
            ("2023-09-08,22:00:10,1,2,3,4,5 shares", "Volume"),
            ("2023-09-08,22:00:10,1,2,3,4,1234567890123456", "Volume"),
            ("2023-09-08,22:00:10,1.123456789,2,3,4,5", "Open"),
        ] {
            assert_eq!(
                aapl(&row(fields)).unwrap_err(),
                QuoteError::BadField(field),
                "{fields}"
            );
        }
    }

    #[test]
    fn numbers_are_plain_decimals_written_from_their_value() {
        assert_eq!(number("94.10").as_deref(), Some("94.10"));
        assert_eq!(number("007").as_deref(), Some("7"));
        assert_eq!(number("0.5").as_deref(), Some("0.5"));
        assert_eq!(number("163224109").as_deref(), Some("163224109"));
        for bad in [
            "", ".5", "5.", "-1", "+1", "1e3", "inf", "NaN", "1,5", "1.2.3", " 1", "１",
        ] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_missing_close_column_is_an_error_not_a_price() {
        let body = "Symbol,Date,Time,Open,High,Low,Volume\r\nAAPL.US,2023-09-08,22:00:10,1,2,3,4\r\n";
        assert_eq!(aapl(body).unwrap_err(), QuoteError::MissingColumn("Close"));
        let short_row = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\nAAPL.US,2023-09-08\r\n";
        assert_eq!(aapl(short_row).unwrap_err(), QuoteError::MissingColumn("Close"));
    }

    #[test]
    fn an_empty_body_is_an_error() {
        assert_eq!(aapl("").unwrap_err(), QuoteError::Empty);
        assert_eq!(aapl(" \r\n").unwrap_err(), QuoteError::Empty);
    }

    #[test]
    fn a_header_without_a_row_is_an_error() {
        assert_eq!(
            aapl("Symbol,Date,Time,Open,High,Low,Close,Volume\r\n").unwrap_err(),
            QuoteError::NoRow
        );
    }

    #[test]
    fn an_html_error_page_is_not_a_quote() {
        let body =
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\n<body>oops</body></html>";
        assert_eq!(aapl(body).unwrap_err(), QuoteError::NotCsv);
    }

    #[test]
    fn a_plain_text_limit_notice_is_not_a_quote() {
        assert_eq!(
            aapl("Exceeded the daily hits limit").unwrap_err(),
            QuoteError::NotCsv
        );
    }

    #[test]
    fn a_non_numeric_close_is_refused() {
        let body = "Symbol,Close\r\nAAPL.US,<b>1</b>\r\n";
        assert_eq!(aapl(body).unwrap_err(), QuoteError::BadPrice);
    }

    #[test]
    fn failure_replies_name_the_symbol() {
        assert_eq!(
            failure_reply("aapl.us", "timed out"),
            "Sorry, the quote service failed for AAPL.US (timed out). Please try again later."
        );
    }
}
