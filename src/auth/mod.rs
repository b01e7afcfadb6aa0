//! Passwords (Argon2id) and tokens (HS256 access JWTs, opaque rotating refresh tokens).

pub mod password;
pub mod token;

pub use token::{AuthUser, Claims, TokenKeys};
