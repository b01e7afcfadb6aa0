//! "Did you mean …?" for a symbol the quote service has no data for. The candidates are the
//! bot's own list (`symbols.csv`: widely held stocks, indexes, currencies, commodities), never
//! text from the service, so a suggestion cannot carry anything but a symbol and a name we
//! wrote. Matched, in this order: the company's name (`/stock=apple` → AAPL.US), the same
//! ticker on another market (`aapl.de` → AAPL.US), then a ticker one typo away (a letter
//! changed, added, dropped or two swapped: `appl` → AAPL.US).

use std::sync::OnceLock;

/// One entry of the list: the symbol as the service knows it (lower-case) and a display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub symbol: &'static str,
    pub name: &'static str,
}

fn known() -> &'static [Known] {
    static LIST: OnceLock<Vec<Known>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("symbols.csv")
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (symbol, name) = line.split_once(',')?;
                Some(Known { symbol, name })
            })
            .collect()
    })
}

/// The ticker without its market suffix (`aapl.us` → `aapl`).
fn base(symbol: &str) -> &str {
    symbol.split_once('.').map_or(symbol, |(b, _)| b)
}

/// A likely symbol for `asked` (lower-case, as commands carry it), if one is close enough.
pub fn suggest(asked: &str) -> Option<&'static Known> {
    let asked = asked.to_ascii_lowercase();
    let asked_base = base(&asked);
    let list = known();
    let squash = |s: &str| -> String { s.chars().filter(char::is_ascii_alphanumeric).collect() };
    if let Some(k) = list
        .iter()
        .find(|k| squash(&k.name.to_ascii_lowercase()) == squash(asked_base))
    {
        return (k.symbol != asked).then_some(k);
    }
    if let Some(k) = list
        .iter()
        .find(|k| base(k.symbol) == asked_base && k.symbol != asked)
    {
        return Some(k);
    }
    if asked_base.len() < 2 {
        return None;
    }
    list.iter()
        .find(|k| k.symbol != asked && one_typo(base(k.symbol), asked_base))
}

/// Whether `a` and `b` differ by exactly one edit: a substitution, an insertion, a deletion or
/// two neighbouring letters swapped.
fn one_typo(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match ra.len().abs_diff(rb.len()) {
        0 => ra[1..] == rb[1..] || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..]),
        1 if ra.len() > rb.len() => ra[1..] == *rb,
        1 => rb[1..] == *ra,
        _ => false,
    }
}

/// The sentence after "… quote is not available.".
pub fn sentence(k: &Known) -> String {
    format!(
        "Did you mean {} ({})? Try /stock={}",
        k.symbol.to_ascii_uppercase(),
        k.name,
        k.symbol
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(asked: &str) -> Option<&'static str> {
        suggest(asked).map(|k| k.symbol)
    }

    #[test]
    fn names_other_markets_and_typos_find_the_symbol() {
        assert_eq!(s("apple.us"), Some("aapl.us"));
        assert_eq!(s("tesla.us"), Some("tsla.us"));
        assert_eq!(s("aapl.de"), Some("aapl.us"));
        assert_eq!(s("appl.us"), Some("aapl.us"));
        assert_eq!(s("msfy.us"), Some("msft.us"));
        assert_eq!(s("nvdia.us"), Some("nvda.us"));
        assert_eq!(s("bitcoin"), Some("btcusd"));
    }

    #[test]
    fn nothing_close_means_no_suggestion() {
        assert_eq!(s("zzzz.us"), None);
        assert_eq!(s("qwertyu.us"), None);
        // A known symbol is never suggested for itself.
        assert_eq!(s("aapl.us"), None);
    }

    #[test]
    fn the_sentence_names_the_symbol_and_the_command() {
        let k = suggest("appl.us").unwrap();
        assert_eq!(sentence(k), "Did you mean AAPL.US (Apple)? Try /stock=aapl.us");
    }

    #[test]
    fn one_typo_is_exactly_one_edit() {
        assert!(one_typo("aapl", "appl"));
        assert!(one_typo("aapl", "apl"));
        assert!(one_typo("aapl", "aapll"));
        assert!(one_typo("msft", "msfy"));
        assert!(one_typo("abcd", "abdc"));
        assert!(!one_typo("aapl", "aapl"));
        assert!(!one_typo("aapl", "plaa"));
        assert!(!one_typo("ab", "abcd"));
    }
}
