//! Parsing the quote service's CSV and wording the bot's replies.
//!
//! The service answers `Symbol,Date,Time,Open,High,Low,Close,Volume` then one row (CRLF line
//! ends); an unknown symbol has `N/D` in every field after the symbol. It can also answer with
//! an empty body, an HTML error page or a plain-text notice (such as a daily hit limit), which
//! must all become a "the quote service failed" reply, never a made-up price.

use tickertalk_wire::QuoteFields;

/// What the CSV said about a symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quote {
    /// The quote row, each field exactly as the service wrote it (the close validated as a
    /// number; a column the service left out is empty).
    Price(QuoteFields),
    /// The service knows nothing about this symbol (`N/D`).
    NoData { symbol: String },
}

/// Why a body is not a usable quote.
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
    #[error("close price {0:?} is not a number")]
    BadPrice(String),
}

const NO_DATA: &str = "N/D";

/// Parses the quote CSV (header row required; extra columns and either line ending accepted).
pub fn parse(body: &str) -> Result<Quote, QuoteError> {
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
    let symbol = row
        .get(symbol_at)
        .filter(|s| !s.is_empty())
        .ok_or(QuoteError::NoRow)?
        .to_ascii_uppercase();
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
    match close.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => {}
        _ => return Err(QuoteError::BadPrice(close.to_string())),
    }
    let field = |name: &str| column(name).and_then(|i| row.get(i)).unwrap_or("").to_string();
    Ok(Quote::Price(QuoteFields {
        symbol,
        date: field("Date"),
        time: field("Time"),
        open: field("Open"),
        high: field("High"),
        low: field("Low"),
        close: close.to_string(),
        volume: field("Volume"),
    }))
}

/// The room reply for a quote.
pub fn reply(quote: &Quote) -> String {
    match quote {
        Quote::Price(q) => format!("{} quote is ${} per share", q.symbol, q.close),
        Quote::NoData { symbol } => format!("{symbol} quote is not available"),
    }
}

/// The room reply when the service failed; `why` is short and safe to show.
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

    #[test]
    fn a_normal_quote_gives_the_close_price() {
        let q = parse(NORMAL).unwrap();
        assert_eq!(reply(&q), "AAPL.US quote is $178.18 per share");
    }

    #[test]
    fn lf_line_ends_work_too() {
        let q = parse(&NORMAL.replace("\r\n", "\n")).unwrap();
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
            })
        );
    }

    #[test]
    fn lower_case_symbols_are_upper_cased() {
        let body =
            "Symbol,Date,Time,Open,High,Low,Close,Volume\naapl.us,2023-09-08,22:00:10,1,2,0.5,93.42,10\n";
        assert_eq!(reply(&parse(body).unwrap()), "AAPL.US quote is $93.42 per share");
    }

    #[test]
    fn n_d_means_not_available() {
        let body = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\nZZZZ.US,N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n";
        assert_eq!(reply(&parse(body).unwrap()), "ZZZZ.US quote is not available");
    }

    #[test]
    fn extra_columns_and_another_column_order_are_fine() {
        let body = "Close,Symbol,Extra\r\n12.5,msft.us,x\r\n";
        assert_eq!(reply(&parse(body).unwrap()), "MSFT.US quote is $12.5 per share");
    }

    #[test]
    fn a_missing_close_column_is_an_error_not_a_price() {
        let body = "Symbol,Date,Time,Open,High,Low,Volume\r\nAAPL.US,2023-09-08,22:00:10,1,2,3,4\r\n";
        assert_eq!(parse(body).unwrap_err(), QuoteError::MissingColumn("Close"));
        let short_row = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\nAAPL.US,2023-09-08\r\n";
        assert_eq!(parse(short_row).unwrap_err(), QuoteError::MissingColumn("Close"));
    }

    #[test]
    fn an_empty_body_is_an_error() {
        assert_eq!(parse("").unwrap_err(), QuoteError::Empty);
        assert_eq!(parse(" \r\n").unwrap_err(), QuoteError::Empty);
    }

    #[test]
    fn a_header_without_a_row_is_an_error() {
        assert_eq!(
            parse("Symbol,Date,Time,Open,High,Low,Close,Volume\r\n").unwrap_err(),
            QuoteError::NoRow
        );
    }

    #[test]
    fn an_html_error_page_is_not_a_quote() {
        let body =
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>\n<body>oops</body></html>";
        assert_eq!(parse(body).unwrap_err(), QuoteError::NotCsv);
    }

    #[test]
    fn a_plain_text_limit_notice_is_not_a_quote() {
        assert_eq!(
            parse("Exceeded the daily hits limit").unwrap_err(),
            QuoteError::NotCsv
        );
    }

    #[test]
    fn a_non_numeric_close_is_refused() {
        let body = "Symbol,Close\r\nAAPL.US,<b>1</b>\r\n";
        assert!(matches!(parse(body).unwrap_err(), QuoteError::BadPrice(_)));
    }

    #[test]
    fn failure_replies_name_the_symbol() {
        assert_eq!(
            failure_reply("aapl.us", "timed out"),
            "Sorry, the quote service failed for AAPL.US (timed out). Please try again later."
        );
    }
}
