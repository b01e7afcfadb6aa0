//! Validated domain values. Each constructor is the only validation for its value ("parse, don't
//! validate"): once a handler holds a `Username`, it is a valid one.
//!
//! The bottom layer (see docs/architecture.md): it owns what a valid name, text, command and
//! timestamp are. It must not use any other module of this crate, touch I/O, or know about HTTP,
//! SQL or the broker; everything above may use it.

pub mod command;
mod emoji;
pub mod fields;
mod names;
mod text;
pub mod time;

pub use command::{Command, HELP_TEXT, StockCode};
pub use emoji::Emoji;
pub use names::{Email, Password, RoomName, Username};
pub use text::{ClientId, MessageText, OptionalField, TextError};

/// The bot's display name; reserved so nobody can sign up as the bot.
pub const BOT_NAME: &str = "stockbot";

/// Per-field validation messages, keyed by the request's field name, so a client can put each
/// message beside the field that caused it. Ordered, so responses are stable.
pub type FieldErrors = std::collections::BTreeMap<&'static str, String>;
