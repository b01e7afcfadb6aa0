//! Free text: message bodies, client ids, optional profile fields. Text is stored as typed;
//! escaping is the renderer's job, never the parser's.

/// A chat message body: 1–2000 characters after trimming. Stored verbatim (untrimmed): HTML or
/// SQL-looking text is data, escaped by whoever renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

/// Why a message body was refused; the codes are the WebSocket error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong,
    /// PostgreSQL text cannot hold U+0000.
    Nul,
}

impl TextError {
    pub fn code(self) -> &'static str {
        match self {
            TextError::Empty => "empty_message",
            TextError::TooLong => "message_too_long",
            TextError::Nul => "invalid_message",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            TextError::Empty => "message must not be empty",
            TextError::TooLong => "message must be at most 2000 characters",
            TextError::Nul => "message must not contain NUL characters",
        }
    }
}

impl MessageText {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, TextError> {
        if raw.trim().is_empty() {
            return Err(TextError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(TextError::TooLong);
        }
        if raw.contains('\0') {
            return Err(TextError::Nul);
        }
        Ok(MessageText(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The client's own id for a frame, echoed back so it can match acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        // Characters, as the contract and the database's check count them (not bytes).
        if raw.is_empty() || raw.chars().count() > 64 || raw.chars().any(char::is_control) {
            return Err("client_id must be 1-64 printable characters".into());
        }
        Ok(ClientId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional profile field (`first_name`, ...): trimmed, empty means absent, bounded length.
pub struct OptionalField;

impl OptionalField {
    pub fn parse(raw: Option<&str>, max: usize) -> Result<Option<String>, String> {
        match raw.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) if v.chars().count() > max => Err(format!("must be at most {max} characters")),
            Some(v) if v.chars().any(char::is_control) => Err("must not contain control characters".into()),
            Some(v) => Ok(Some(v.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_is_kept_verbatim() {
        let raw = "  <script>alert(1)</script>'; DROP TABLE users; --  ";
        assert_eq!(MessageText::parse(raw).unwrap().as_str(), raw);
    }

    #[test]
    fn blank_and_oversized_messages_are_refused() {
        assert_eq!(MessageText::parse(" \n\t").unwrap_err(), TextError::Empty);
        assert_eq!(
            MessageText::parse(&"é".repeat(2001)).unwrap_err(),
            TextError::TooLong
        );
        assert!(MessageText::parse(&"é".repeat(2000)).is_ok());
        assert_eq!(MessageText::parse("a\0b").unwrap_err(), TextError::Nul);
    }

    #[test]
    fn client_ids_are_short_and_printable() {
        assert!(ClientId::parse("c-17").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
        assert!(
            ClientId::parse(&"é".repeat(64)).is_ok(),
            "64 characters, 128 bytes"
        );
        assert!(ClientId::parse(&"é".repeat(65)).is_err());
    }

    #[test]
    fn optional_fields_treat_blank_as_absent() {
        assert_eq!(OptionalField::parse(Some("  "), 10).unwrap(), None);
        assert_eq!(
            OptionalField::parse(Some(" Ann "), 10).unwrap(),
            Some("Ann".into())
        );
        assert!(OptionalField::parse(Some("abcdefghijk"), 10).is_err());
    }
}
