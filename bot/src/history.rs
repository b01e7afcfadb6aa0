//! The daily history CSV (`QUOTE_HISTORY_URL`, stooq's `Date,Open,High,Low,Close,Volume`,
//! oldest first) and what a quote takes from it: about one month of closes for the card's
//! sparkline and the previous trading day's close for the change.
//!
//! Held to the same rules as the quote: only dates and numbers that parse are kept, each
//! written out again from its parsed value; a body that is not history CSV is an error, and
//! the quote goes out without history.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use tickertalk_wire::{HistoryPoint, QuoteFields};

use crate::quote::{date, number};

/// How far back the card's chart reaches from the quote's date.
pub const WINDOW_DAYS: i64 = 31;

/// The most points kept, whatever the dates say (a month has about 22 trading days).
pub const MAX_POINTS: usize = 40;

/// Why a body is not usable history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error("response is not history CSV")]
    NotCsv,
    #[error("history has no rows")]
    NoRows,
}

/// Parses history CSV into points sorted by date (a date given twice keeps its last row).
/// Rows whose date or close does not parse are skipped; a header without `Date` and `Close`
/// (an HTML page, "No data", a limit notice) is an error.
pub fn parse(body: &str) -> Result<Vec<HistoryPoint>, HistoryError> {
    let body = body.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|_| HistoryError::NotCsv)?.clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(date_at), Some(close_at)) = (column("Date"), column("Close")) else {
        return Err(HistoryError::NotCsv);
    };
    let mut points: Vec<HistoryPoint> = reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|row| {
            Some(HistoryPoint {
                date: date(row.get(date_at)?)?,
                close: number(row.get(close_at)?)?,
            })
        })
        .collect();
    if points.is_empty() {
        return Err(HistoryError::NoRows);
    }
    // Stable: of two rows with one date, the later one wins after the dedup below.
    points.sort_by(|a, b| a.date.cmp(&b.date));
    points.reverse();
    points.dedup_by(|later, earlier| later.date == earlier.date);
    points.reverse();
    Ok(points)
}

/// Adds what the history says to a quote: the closes of the month up to the quote's date
/// (the quote's own close as that day's point) and the close of the trading day before it.
/// Without a quote date, the history's last day counts as the quote's.
pub fn attach(quote: &mut QuoteFields, history: &[HistoryPoint]) {
    let day = if quote.date.is_empty() {
        match history.last() {
            Some(p) => p.date.clone(),
            None => return,
        }
    } else {
        quote.date.clone()
    };
    let Ok(until) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
        return;
    };
    let from = (until - Duration::days(WINDOW_DAYS))
        .format("%Y-%m-%d")
        .to_string();
    let mut points: Vec<HistoryPoint> = history
        .iter()
        .filter(|p| p.date.as_str() >= from.as_str() && p.date < day)
        .cloned()
        .collect();
    quote.previous_close = points.last().map(|p| p.close.clone()).unwrap_or_default();
    points.push(HistoryPoint {
        date: day,
        close: quote.close.clone(),
    });
    if points.len() > MAX_POINTS {
        points.drain(..points.len() - MAX_POINTS);
    }
    // One point is no chart.
    quote.history = if points.len() > 1 { points } else { Vec::new() };
}

/// Sets the quote's `time_zone` and `at` (its date and time as an instant in that zone).
pub fn locate(quote: &mut QuoteFields, zone: chrono_tz::Tz) {
    quote.time_zone = zone.name().to_string();
    let (Ok(d), Ok(t)) = (
        NaiveDate::parse_from_str(&quote.date, "%Y-%m-%d"),
        NaiveTime::parse_from_str(&quote.time, "%H:%M:%S"),
    ) else {
        return;
    };
    // A time skipped by a DST change does not exist: no instant rather than a wrong one.
    if let Some(at) = zone.from_local_datetime(&NaiveDateTime::new(d, t)).earliest() {
        quote.at = at.to_rfc3339();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: u32) -> String {
        let mut s = String::from("Date,Open,High,Low,Close,Volume\r\n");
        for i in 0..n {
            let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap() + Duration::days(i.into());
            s.push_str(&format!("{day},1,2,0.5,{}.25,100\r\n", 80 + i));
        }
        s
    }

    fn quote(date: &str, close: &str) -> QuoteFields {
        QuoteFields {
            symbol: "AAPL.US".into(),
            date: date.into(),
            time: "22:00:09".into(),
            close: close.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_month_up_to_the_quote_day_and_the_day_before_as_previous_close() {
        let h = parse(&rows(64)).unwrap();
        assert_eq!(h.len(), 64);
        // Rows from 2024-03-01 (80.25) to 2024-05-03 (143.25).
        let mut q = quote("2024-05-03", "150.00");
        attach(&mut q, &h);
        assert_eq!(q.previous_close, "142.25");
        assert_eq!(q.history.first().unwrap().date, "2024-04-02");
        let last = q.history.last().unwrap();
        assert_eq!(
            (last.date.as_str(), last.close.as_str()),
            ("2024-05-03", "150.00")
        );
        assert_eq!(q.history.len(), 32);
    }

    #[test]
    fn a_quote_day_after_the_history_takes_its_last_close_as_previous() {
        let h = parse(&rows(10)).unwrap();
        let mut q = quote("2024-03-12", "1.5");
        attach(&mut q, &h);
        assert_eq!(q.previous_close, "89.25");
        assert_eq!(q.history.len(), 11);
    }

    #[test]
    fn garbage_is_not_history_and_bad_rows_are_skipped() {
        assert_eq!(parse("No data").unwrap_err(), HistoryError::NotCsv);
        assert_eq!(
            parse("<html><body>502</body></html>").unwrap_err(),
            HistoryError::NotCsv
        );
        assert_eq!(parse("Date,Close\r\n").unwrap_err(), HistoryError::NoRows);
        let h = parse("Date,Close\r\n2024-01-02,1.5\r\nyesterday,2\r\n2024-01-03,<b>\r\n2024-01-04,-3\r\n2024-01-05,2.25\r\n")
            .unwrap();
        assert_eq!(
            h.iter().map(|p| p.close.as_str()).collect::<Vec<_>>(),
            ["1.5", "2.25"]
        );
    }

    #[test]
    fn rows_out_of_order_or_twice_are_sorted_and_deduplicated() {
        let h = parse("Date,Close\n2024-01-03,3\n2024-01-02,2\n2024-01-03,4\n").unwrap();
        assert_eq!(
            h.iter()
                .map(|p| (p.date.as_str(), p.close.as_str()))
                .collect::<Vec<_>>(),
            [("2024-01-02", "2"), ("2024-01-03", "4")]
        );
    }

    #[test]
    fn the_time_is_placed_in_the_services_zone() {
        let mut q = quote("2024-05-03", "1");
        locate(&mut q, chrono_tz::Europe::Warsaw);
        assert_eq!(q.time_zone, "Europe/Warsaw");
        assert_eq!(q.at, "2024-05-03T22:00:09+02:00");
        let mut winter = quote("2024-01-10", "1");
        locate(&mut winter, chrono_tz::Europe::Warsaw);
        assert_eq!(winter.at, "2024-01-10T22:00:09+01:00");
        let mut no_time = quote("2024-01-10", "1");
        no_time.time.clear();
        locate(&mut no_time, chrono_tz::Europe::Warsaw);
        assert_eq!(no_time.at, "");
    }
}
