//! A reaction: one emoji. "One" as a person sees it: a single pictograph, possibly with a
//! skin tone, a variation selector, a keycap, or several joined by zero-width joiners (a family,
//! a flag). Anything else (text, two emoji, markup) is refused, so a reaction can never carry a
//! message of its own.

/// A validated reaction emoji.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

/// At most this many code points (the longest common ZWJ sequences have 7–10).
const MAX_CODE_POINTS: usize = 10;

impl Emoji {
    pub fn parse(raw: &str) -> Result<Emoji, &'static str> {
        let chars: Vec<char> = raw.chars().collect();
        if chars.is_empty() {
            return Err("must be one emoji");
        }
        if chars.len() > MAX_CODE_POINTS {
            return Err("must be one emoji (too long)");
        }
        // Pieces joined by U+200D each start with a pictograph (or a keycap base).
        let mut expect_base = true;
        let mut regional = 0;
        for (i, &c) in chars.iter().enumerate() {
            if expect_base {
                if is_pictograph(c) {
                    expect_base = false;
                } else if is_regional_indicator(c) {
                    regional += 1;
                    expect_base = false;
                } else if matches!(c, '0'..='9' | '#' | '*') && chars.get(i + 1..).is_some_and(is_keycap_tail)
                {
                    expect_base = false;
                } else {
                    return Err("must be one emoji");
                }
            } else if c == '\u{200D}' {
                expect_base = true;
            } else if is_regional_indicator(c) && regional == 1 {
                regional += 1;
            } else if !is_modifier(c) {
                return Err("must be one emoji");
            }
        }
        if expect_base || regional == 1 {
            return Err("must be one emoji");
        }
        Ok(Emoji(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What may follow a keycap's base: U+FE0F then U+20E3, or U+20E3 alone.
fn is_keycap_tail(rest: &[char]) -> bool {
    matches!(rest, ['\u{FE0F}', '\u{20E3}', ..] | ['\u{20E3}', ..])
}

fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
        | 0x2194..=0x21AA | 0x231A..=0x23FF | 0x24C2 | 0x25AA..=0x27BF
        | 0x2934 | 0x2935 | 0x2B05..=0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x1F000..=0x1F2FF | 0x1F300..=0x1FAFF)
        && !is_regional_indicator(c)
        && !is_modifier(c)
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Variation selectors, skin tones, the keycap mark and tag characters (subdivision flags).
fn is_modifier(c: char) -> bool {
    matches!(c as u32, 0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF | 0x20E3 | 0xE0020..=0xE007F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_emoji_of_every_shape_are_accepted() {
        for ok in [
            "👍",
            "❤️",
            "😂",
            "🎉",
            "👍🏽",
            "👨‍👩‍👧",
            "🇺🇸",
            "1️⃣",
            "#⃣",
            "🏳️‍🌈",
            "✅",
            "🚀",
        ] {
            assert!(Emoji::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn text_markup_and_several_emoji_are_refused() {
        for bad in [
            "",
            "a",
            "ok",
            "<b>",
            "👍👍",
            "👍 ",
            " 👍",
            "1",
            "🇺",
            "👍\u{200D}",
            "\u{200D}👍",
            "🏽",
            "👍a",
            "javascript:",
            "🇺🇸🇺🇸",
        ] {
            assert!(Emoji::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Emoji::parse(&"👍\u{FE0F}".repeat(6)).is_err(), "too long");
    }
}
