//! Passwords (Argon2id) and tokens (HS256 access JWTs, opaque rotating refresh tokens).
//!
//! Layer 1 (docs/architecture.md), beside `store`: pure cryptography, no I/O. Whether a token's
//! session is still active is a database question, answered by `chat::accounts`.

pub mod keys;
pub mod password;
pub mod token;

pub use password::PasswordError;
pub use token::{AuthUser, Claims, TokenKeys};
