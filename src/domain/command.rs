//! Chat commands (any message starting with `/`; never stored) and cashtags (`$AAPL` in an
//! ordinary message). `docs/stocks.md` lists them as users see them; `/help` prints
//! [`HELP_TEXT`].

pub use tickertalk_wire::StockCode;

/// Symbols one `/stock` command may ask for.
pub const MAX_STOCK_SYMBOLS: usize = 5;
/// Cashtags of one message that get a quote (the rest are just text).
pub const MAX_CASHTAGS: usize = 3;
/// The largest alert threshold (a price, or a percentage for `%`).
const MAX_THRESHOLD_DIGITS: usize = 12;

/// What a chat message starting with `/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/stock=CODE[,CODE…]` or `/stock CODE [CODE…]`: one to five codes, each answered by the
    /// bot (a code of a US ticker's shape without a market gets `.us`).
    Stock(Vec<StockCode>),
    /// `/help`: every command, to the typist.
    Help,
    /// `/watch=CODE` pins a symbol to the room's ticker; `/watch` alone lists them.
    Watch(Option<StockCode>),
    /// `/unwatch=CODE`.
    Unwatch(StockCode),
    /// `/alert=CODE>PRICE`, `<PRICE`, `%PERCENT`.
    Alert(AlertSpec),
    /// `/alerts`: the room's active alerts.
    Alerts,
    /// `/unalert=ID`.
    Unalert(i64),
    /// Anything malformed or unknown: answered with why and how, to the typist only.
    Usage { reason: String },
}

/// A price alert as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSpec {
    pub symbol: StockCode,
    pub op: AlertOp,
    /// A plain positive decimal (`200`, `5.5`), as typed.
    pub threshold: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertOp {
    /// The price goes above the threshold.
    Above,
    /// The price goes below it.
    Below,
    /// The price is at least `threshold` percent above or below the previous close.
    Move,
}

impl AlertOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOp::Above => ">",
            AlertOp::Below => "<",
            AlertOp::Move => "%",
        }
    }
}

/// Usage text the bot's name answers with for a bad `/stock` command.
pub const STOCK_USAGE: &str =
    "Usage: /stock=CODE, for example /stock=aapl.us (letters, digits, '.', '-', '^'; up to 20 characters)";

/// What `/help` answers (to the typist only).
pub const HELP_TEXT: &str = "Commands:
/stock=aapl.us or /stock aapl: the latest quote (a US ticker without a market gets .us)
/stock=msft,tsla: up to 5 symbols at once, one answer each
$AAPL in any message: a quote for up to 3 cashtags (each symbol once per room every 5 minutes)
/watch=aapl: pin a symbol to this room's ticker strip (up to 10); /watch lists them
/unwatch=aapl: unpin it
/alert=aapl>200, /alert=aapl<150, /alert=tsla%5: post here once when a price refresh crosses it
/alerts: this room's active alerts; /unalert=ID cancels one
/help: this list";

impl Command {
    /// `None` when the text is an ordinary message (does not start with `/`).
    pub fn parse(text: &str) -> Option<Command> {
        let rest = text.trim().strip_prefix('/')?;
        let split = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (name, arg) = rest.split_at(split);
        let arg = arg.strip_prefix('=').unwrap_or(arg).trim();
        let usage = |reason: String| Some(Command::Usage { reason });
        match name.to_ascii_lowercase().as_str() {
            "stock" => Some(stock(arg)),
            "help" => Some(Command::Help),
            "watch" if arg.is_empty() => Some(Command::Watch(None)),
            "watch" => Some(match market_code(arg) {
                Ok(code) => Command::Watch(Some(code)),
                Err(reason) => Command::Usage { reason },
            }),
            "unwatch" => Some(match market_code(arg) {
                Ok(code) => Command::Unwatch(code),
                Err(reason) => Command::Usage { reason },
            }),
            "alert" => Some(match alert(arg) {
                Ok(spec) => Command::Alert(spec),
                Err(reason) => Command::Usage { reason },
            }),
            "alerts" => Some(Command::Alerts),
            "unalert" => match arg.trim_start_matches('#').parse::<i64>() {
                Ok(id) if id > 0 => Some(Command::Unalert(id)),
                _ => usage(format!(
                    "/unalert needs an alert number, for example /unalert=12 (/alerts lists them); not \"{}\".",
                    truncate(arg, 32)
                )),
            },
            other => usage(format!("Unknown command /{}.", truncate(other, 32))),
        }
    }

    /// The reply sent to the typist for a `Usage` command.
    pub fn help_text(reason: &str) -> String {
        format!("{reason} {STOCK_USAGE}. /help lists every command.")
    }
}

fn stock(arg: &str) -> Command {
    let raw: Vec<&str> = arg
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if raw.is_empty() {
        return Command::Usage {
            reason: "/stock needs a code.".into(),
        };
    }
    if raw.len() > MAX_STOCK_SYMBOLS {
        return Command::Usage {
            reason: format!("At most {MAX_STOCK_SYMBOLS} symbols at once."),
        };
    }
    let mut codes: Vec<StockCode> = Vec::with_capacity(raw.len());
    for r in raw {
        match market_code(r) {
            Ok(code) if !codes.contains(&code) => codes.push(code),
            Ok(_) => {}
            Err(reason) => return Command::Usage { reason },
        }
    }
    Command::Stock(codes)
}

/// `aapl.us>200`, `aapl<150.5`, `tsla%5`.
fn alert(arg: &str) -> Result<AlertSpec, String> {
    const USAGE: &str = "Usage: /alert=aapl.us>200, /alert=aapl.us<150 or /alert=tsla.us%5.";
    let Some(at) = arg.find(['>', '<', '%']) else {
        return Err(format!("{USAGE} (a symbol, then >, < or %, then a number)"));
    };
    let (symbol, rest) = arg.split_at(at);
    let op = match &rest[..1] {
        ">" => AlertOp::Above,
        "<" => AlertOp::Below,
        _ => AlertOp::Move,
    };
    let symbol = market_code(symbol.trim())?;
    let threshold = rest[1..].trim().trim_start_matches('$');
    let (int, frac) = threshold.split_once('.').unwrap_or((threshold, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let valid = !int.is_empty()
        && digits(int)
        && digits(frac)
        && int.len() <= MAX_THRESHOLD_DIGITS
        && frac.len() <= 8
        && frac.is_empty() != threshold.contains('.')
        && threshold.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if !valid {
        return Err(format!(
            "{USAGE} \"{}\" is not a positive number.",
            truncate(threshold, 32)
        ));
    }
    if op == AlertOp::Move && int.len() > 3 {
        return Err(format!("{USAGE} A move is a percentage up to 999."));
    }
    Ok(AlertSpec {
        symbol,
        op,
        threshold: threshold.to_string(),
    })
}

/// A stock code as the quote service knows it: a US ticker's shape (1–5 letters, maybe a
/// `-B` class) without a market gets `.us` (`aapl` → `aapl.us`, `brk-b` → `brk-b.us`);
/// anything with a market, an index (`^spx`) or another shape (`btcusd`) is kept as typed.
pub fn market_code(raw: &str) -> Result<StockCode, String> {
    let code =
        StockCode::parse(raw).map_err(|_| format!("\"{}\" is not a valid stock code.", truncate(raw, 32)))?;
    let s = code.as_str();
    let (ticker, class) = s.split_once('-').unwrap_or((s, ""));
    let us_shape = (1..=5).contains(&ticker.len())
        && ticker.bytes().all(|b| b.is_ascii_lowercase())
        && class.len() <= 2
        && class.bytes().all(|b| b.is_ascii_lowercase())
        && class.is_empty() != s.contains('-');
    if us_shape {
        return StockCode::parse(&format!("{s}.us"));
    }
    Ok(code)
}

/// The cashtags of an ordinary message that ask for a quote: `$AAPL`, `$brk-b`, `$sap.de`
/// (a `$` not after a letter, digit or `$`, then a letter, then letters and digits, maybe a
/// market), each symbol once, the first [`MAX_CASHTAGS`]. `$100`, `US$5` and `$` alone are
/// not cashtags. Each comes with the text as typed.
pub fn cashtags(text: &str) -> Vec<(String, StockCode)> {
    let bytes = text.as_bytes();
    let mut found: Vec<(String, StockCode)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() && found.len() < MAX_CASHTAGS {
        if bytes[i] != b'$' || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'$')) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'-') {
            end += 1;
        }
        // A market suffix: `.de`, `.us` (a sentence's full stop is not one).
        if end + 1 < bytes.len() && bytes[end] == b'.' {
            let mut m = end + 1;
            while m < bytes.len() && bytes[m].is_ascii_alphabetic() {
                m += 1;
            }
            if (2..=3).contains(&(m - end - 1)) && (m == bytes.len() || !bytes[m].is_ascii_alphanumeric()) {
                end = m;
            }
        }
        let tag = &text[start..end];
        i = end.max(i + 1);
        let first_letter = tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
        if !first_letter || tag.len() > 16 || tag.ends_with('-') {
            continue;
        }
        if let Ok(code) = market_code(tag)
            && !found.iter().any(|(_, c)| *c == code)
        {
            found.push((format!("${tag}"), code));
        }
    }
    found
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> StockCode {
        StockCode::parse(s).unwrap()
    }

    fn codes(list: &[&str]) -> Command {
        Command::Stock(list.iter().map(|s| code(s)).collect())
    }

    #[test]
    fn ordinary_text_is_not_a_command() {
        assert_eq!(Command::parse("hello /stock=aapl.us"), None);
    }

    #[test]
    fn stock_codes_are_case_insensitive_and_kept_lower_case() {
        assert_eq!(Command::parse("/stock=AAPL.US"), Some(codes(&["aapl.us"])));
        assert_eq!(Command::parse("/STOCK=^spx").unwrap(), codes(&["^spx"]));
    }

    #[test]
    fn every_forgiving_form_asks_for_the_same_quote() {
        for text in [
            "/stock=aapl.us",
            "/stock aapl.us",
            "/stock=AAPL",
            "/stock aapl",
            "  /Stock   aapl  ",
            "/stock= aapl",
        ] {
            assert_eq!(Command::parse(text), Some(codes(&["aapl.us"])), "{text}");
        }
        assert_eq!(Command::parse("/stock=brk-b"), Some(codes(&["brk-b.us"])));
        // Not a US ticker's shape, or a market given: kept as typed.
        assert_eq!(Command::parse("/stock=btcusd"), Some(codes(&["btcusd"])));
        assert_eq!(Command::parse("/stock=sap.de"), Some(codes(&["sap.de"])));
        assert_eq!(Command::parse("/stock=^dji"), Some(codes(&["^dji"])));
    }

    #[test]
    fn several_symbols_up_to_five_each_once() {
        assert_eq!(
            Command::parse("/stock=msft.us,tsla.us"),
            Some(codes(&["msft.us", "tsla.us"]))
        );
        assert_eq!(
            Command::parse("/stock msft, tsla aapl,MSFT"),
            Some(codes(&["msft.us", "tsla.us", "aapl.us"]))
        );
        assert!(matches!(
            Command::parse("/stock=a,b,c,d,e,f"),
            Some(Command::Usage { reason }) if reason.contains("At most 5")
        ));
        assert!(matches!(
            Command::parse("/stock=aapl,<b>"),
            Some(Command::Usage { .. })
        ));
    }

    #[test]
    fn bad_codes_and_unknown_commands_get_usage() {
        for text in [
            "/stock=",
            "/stock=<script>",
            "/stock",
            "/weather=rome",
            "/",
            "/watch=<b>",
            "/unwatch",
            "/alert=aapl",
            "/alert=aapl>",
            "/alert=aapl>-5",
            "/alert=aapl>1e9",
            "/alert=aapl>0",
            "/alert=aapl%5000",
            "/alert=>5",
            "/unalert=x",
            "/unalert=-1",
        ] {
            assert!(
                matches!(Command::parse(text), Some(Command::Usage { .. })),
                "{text}: {:?}",
                Command::parse(text)
            );
        }
        assert!(StockCode::parse(&"a".repeat(21)).is_err());
    }

    #[test]
    fn watch_alert_and_help_commands() {
        assert_eq!(Command::parse("/help"), Some(Command::Help));
        assert_eq!(Command::parse("/watch"), Some(Command::Watch(None)));
        assert_eq!(
            Command::parse("/watch=AAPL"),
            Some(Command::Watch(Some(code("aapl.us"))))
        );
        assert_eq!(
            Command::parse("/unwatch aapl.us"),
            Some(Command::Unwatch(code("aapl.us")))
        );
        for (text, symbol, op, threshold) in [
            ("/alert=aapl.us>200", "aapl.us", AlertOp::Above, "200"),
            ("/alert aapl < $150.50", "aapl.us", AlertOp::Below, "150.50"),
            ("/alert=tsla%5", "tsla.us", AlertOp::Move, "5"),
        ] {
            assert_eq!(
                Command::parse(text),
                Some(Command::Alert(AlertSpec {
                    symbol: code(symbol),
                    op,
                    threshold: threshold.into()
                })),
                "{text}"
            );
        }
        assert_eq!(Command::parse("/alerts"), Some(Command::Alerts));
        assert_eq!(Command::parse("/unalert=#12"), Some(Command::Unalert(12)));
    }

    #[test]
    fn help_text_explains_usage() {
        assert!(Command::help_text("Unknown command /x.").contains("/stock=aapl.us"));
        for command in [
            "/stock", "/watch", "/unwatch", "/alert", "/alerts", "/unalert", "$AAPL",
        ] {
            assert!(HELP_TEXT.contains(command), "{command}");
        }
    }

    #[test]
    fn cashtags_are_found_once_each_and_at_most_three() {
        let tags = |t: &str| -> Vec<(String, String)> {
            cashtags(t)
                .into_iter()
                .map(|(typed, c)| (typed, c.as_str().to_string()))
                .collect()
        };
        assert_eq!(
            tags("$TSLA to the moon, $aapl meh. $TSLA again"),
            [
                ("$TSLA".into(), "tsla.us".into()),
                ("$aapl".into(), "aapl.us".into())
            ]
        );
        assert_eq!(tags("I like $sap.de."), [("$sap.de".into(), "sap.de".into())]);
        assert_eq!(tags("ending $MSFT."), [("$MSFT".into(), "msft.us".into())]);
        assert_eq!(tags("$a $b $c $d").len(), 3);
        for none in [
            "costs $100",
            "US$5",
            "$$AAPL",
            "$",
            "a$AAPL",
            "$-x",
            "$ABCDEFGHIJKLMNOPQ",
        ] {
            assert!(tags(none).is_empty(), "{none}");
        }
        assert_eq!(tags("(«$NVDA»)"), [("$NVDA".into(), "nvda.us".into())]);
    }
}
