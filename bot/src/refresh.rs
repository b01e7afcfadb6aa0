//! Scheduled price refreshes: a server asks (one `PriceRefresh` on the command queue per
//! refresh period, whichever server's turn it is) for every symbol a room watches or has an
//! alert on; one bot takes it and answers one `PriceReport` with each symbol's quote and
//! previous close. Quotes and histories come through the same cache as commands, so twenty
//! rooms watching AAPL, or a room asking `/stock=aapl` as the refresh runs, cost one fetch.

use futures_util::StreamExt;
use tickertalk_wire::{PriceRefresh, PriceReport};

use crate::fetch::QuoteSource;
use crate::quote::Quote;

/// The most symbols one refresh fetches (the server asks for no more than this).
pub const MAX_SYMBOLS: usize = 500;

/// Symbols fetched at once for one refresh.
const CONCURRENCY: usize = 4;

/// Each symbol's quote (with `previous_close`, without history); symbols with no data or a
/// failed fetch are left out (the strip keeps their last price).
pub async fn prices(source: &QuoteSource, refresh: &PriceRefresh) -> PriceReport {
    let mut symbols = refresh.symbols.clone();
    symbols.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    symbols.dedup();
    symbols.truncate(MAX_SYMBOLS);
    let prices = futures_util::stream::iter(symbols)
        .map(|symbol| async move { source.full_quote(&symbol).await })
        .buffered(CONCURRENCY)
        .filter_map(|q| async move {
            match q {
                Ok(Quote::Price(mut fields)) => {
                    fields.history.clear();
                    Some(fields)
                }
                _ => None,
            }
        })
        .collect()
        .await;
    PriceReport {
        refresh_id: refresh.refresh_id,
        prices,
        answered_at: chrono::Utc::now(),
    }
}
