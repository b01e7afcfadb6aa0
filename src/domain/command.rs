//! Chat commands: any message starting with `/`. Commands are never stored.

pub use tickertalk_wire::StockCode;

/// What a chat message starting with `/` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/stock=CODE` with a valid code: goes to the bot.
    Stock(StockCode),
    /// A bad `/stock=` code or an unknown command: answered at once with usage help.
    Help { reason: String },
}

/// Usage text the bot's name answers with for anything it does not understand.
pub const STOCK_USAGE: &str =
    "Usage: /stock=CODE, for example /stock=aapl.us (letters, digits, '.', '-', '^'; up to 20 characters)";

impl Command {
    /// `None` when the text is an ordinary message (does not start with `/`).
    pub fn parse(text: &str) -> Option<Command> {
        let text = text.trim();
        let rest = text.strip_prefix('/')?;
        let (name, arg) = match rest.split_once('=') {
            Some((name, arg)) => (name, Some(arg.trim())),
            None => (rest.split_whitespace().next().unwrap_or(""), None),
        };
        if !name.eq_ignore_ascii_case("stock") {
            return Some(Command::Help {
                reason: format!("Unknown command /{}.", truncate(name, 32)),
            });
        }
        Some(match arg.map(StockCode::parse) {
            Some(Ok(code)) => Command::Stock(code),
            Some(Err(_)) => Command::Help {
                reason: format!(
                    "\"{}\" is not a valid stock code.",
                    truncate(arg.unwrap_or(""), 32)
                ),
            },
            None => Command::Help {
                reason: "/stock needs a code.".into(),
            },
        })
    }

    /// The reply sent to the room for a `Help` command.
    pub fn help_text(reason: &str) -> String {
        format!("{reason} {STOCK_USAGE}")
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_not_a_command() {
        assert_eq!(Command::parse("hello /stock=aapl.us"), None);
    }

    #[test]
    fn stock_codes_are_case_insensitive_and_kept_lower_case() {
        assert_eq!(
            Command::parse("/stock=AAPL.US"),
            Some(Command::Stock(StockCode::parse("aapl.us").unwrap()))
        );
        assert_eq!(
            Command::parse("/STOCK=^spx").unwrap(),
            Command::Stock(StockCode::parse("^SPX").unwrap())
        );
    }

    #[test]
    fn bad_codes_and_unknown_commands_get_help() {
        for text in [
            "/stock=",
            "/stock=aa pl",
            "/stock=<script>",
            "/stock",
            "/weather=rome",
            "/",
        ] {
            assert!(
                matches!(Command::parse(text), Some(Command::Help { .. })),
                "{text}"
            );
        }
        assert!(StockCode::parse(&"a".repeat(21)).is_err());
    }

    #[test]
    fn help_text_explains_usage() {
        assert!(Command::help_text("Unknown command /x.").contains("/stock=aapl.us"));
    }
}
