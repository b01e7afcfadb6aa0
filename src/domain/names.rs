//! Names people choose or type: usernames, emails, passwords, room names. Each type's `parse`
//! is the only way to make one, so holding one means it is valid.

/// A username: a letter, then 2–31 letters, digits or `_`. Compared ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = raw.len() >= 3
            && raw.len() <= 32
            && raw.starts_with(|c: char| c.is_ascii_alphabetic())
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err("must be 3-32 characters: a letter, then letters, digits or _".into());
        }
        if raw.eq_ignore_ascii_case(super::BOT_NAME) {
            return Err("is reserved".into());
        }
        Ok(Username(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, kept as typed (uniqueness ignores case in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let valid = raw.len() <= 254
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control())
            && match raw.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Email(raw.to_string()))
        } else {
            Err("must be an email address like name@example.com".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8–128 characters. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if !(8..=128).contains(&n) {
            return Err("must be 8-128 characters".into());
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A room name: 1–64 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let n = name.chars().count();
        if n == 0 {
            return Err("must not be empty".into());
        }
        if n > 64 {
            return Err("must be at most 64 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if name.chars().any(is_invisible) {
            return Err("must not contain invisible or direction-changing characters".into());
        }
        if name
            .chars()
            .all(|c| unicode_normalization::char::is_combining_mark(c) || c.is_whitespace())
        {
            return Err("must contain a letter, digit or symbol, not only combining marks".into());
        }
        Ok(RoomName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that change nothing visible, or the direction of what follows: Unicode's format
/// characters (general category Cf: zero-width spaces and joiners, bidirectional embeddings,
/// overrides and isolates, the BOM, tags) and the blank fillers that render as nothing. A room
/// name with one could pass for another room's (`General` and `Gen\u{200B}eral`), or reorder
/// the text around it in every room list. Every Cf code point of Unicode 16 is listed.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{600}'..='\u{605}'
            | '\u{61C}'
            | '\u{6DD}'
            | '\u{70F}'
            | '\u{890}'..='\u{891}'
            | '\u{8E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
            // Fillers (letters by category, blank on screen).
            | '\u{115F}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{2800}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_contract_pattern() {
        for ok in [
            "bob",
            "Alice_1",
            "a23",
            "x_______________________________"[..32].as_ref(),
        ] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ab", "1abc", "_abc", "bo b", "bob!", "ålice", &"a".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bot_name_is_reserved_in_any_case() {
        assert!(Username::parse("stockbot").is_err());
        assert!(Username::parse("StockBot").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(Email::parse("a@b.co").is_ok());
        assert_eq!(Email::parse("  a@b.co ").unwrap().as_str(), "a@b.co");
        for bad in ["", "a", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@.co", "a@co."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_8_to_128_characters_and_never_debug_printed() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let p = Password::parse("correct horse").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn room_names_are_trimmed_and_bounded() {
        assert_eq!(RoomName::parse("  General ").unwrap().as_str(), "General");
        assert!(RoomName::parse("   ").is_err());
        assert!(RoomName::parse(&"r".repeat(65)).is_err());
        assert!(RoomName::parse(&"é".repeat(64)).is_ok());
        assert!(RoomName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn room_names_refuse_invisible_and_direction_changing_characters() {
        for bad in [
            "Gen\u{200B}eral",
            "\u{202E}lareneG",
            "a\u{2066}b\u{2069}",
            "\u{FEFF}General",
            "x\u{E0041}",
            "\u{3164}",
            "\u{301}\u{302}",
            " \u{20DD} ",
        ] {
            assert!(RoomName::parse(bad).is_err(), "{bad:?}");
        }
        for ok in ["Café", "Cafe\u{301}", "日本語", "📈 stocks", "e\u{301}"] {
            assert!(RoomName::parse(ok).is_ok(), "{ok:?}");
        }
    }
}
