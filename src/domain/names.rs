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
        Ok(RoomName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
}
