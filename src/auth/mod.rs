//! Passwords (Argon2id) and tokens (HS256 access JWTs, opaque rotating refresh tokens).
//!
//! Layer 1 (docs/architecture.md), beside `store`: pure cryptography and in-memory state, no
//! I/O. Whether a token's session is still active is a database question, answered by
//! `chat::accounts`, which keeps recent answers in a `SessionCache`.

pub mod keys;
pub mod password;
pub mod session_cache;
pub mod token;

pub use password::PasswordError;
pub use session_cache::SessionCache;
pub use token::{AuthUser, Claims, TokenKeys};
