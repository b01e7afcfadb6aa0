//! Validated domain values. Each constructor is the only validation for its value ("parse, don't
//! validate"): once a handler holds a `Username`, it is a valid one.

mod command;
mod names;
mod text;

pub use command::{Command, StockCode};
pub use names::{Email, Password, RoomName, Username};
pub use text::{ClientId, MessageText, OptionalField, TextError};

/// The bot's display name; reserved so nobody can sign up as the bot.
pub const BOT_NAME: &str = "stockbot";
