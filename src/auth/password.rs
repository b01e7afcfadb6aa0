//! Argon2id with the OWASP minimum parameter set (m = 19 MiB, t = 2, p = 1). Hashing takes tens
//! of milliseconds of CPU, so it always runs on the blocking pool: a burst of logins must not
//! stall the async workers that serve everyone else.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashing itself failed (a bad stored hash, or the blocking pool is gone): a server fault,
/// never the user's. The message is for the log.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError(format!("argon2 hash: {e}")))
    })
    .await
    .map_err(|e| PasswordError(format!("hash task: {e}")))?
}

/// Checks a password against a stored hash. With no stored hash (unknown user) it still burns the
/// same work against a dummy hash, so response time does not reveal whether the user exists.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let phc = stored.as_deref().unwrap_or(DUMMY_HASH);
        let parsed = PasswordHash::new(phc).map_err(|e| PasswordError(format!("stored hash: {e}")))?;
        let ok = hasher().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(ok && stored.is_some())
    })
    .await
    .map_err(|e| PasswordError(format!("verify task: {e}")))?
}

/// A valid Argon2id hash of a random string nobody knows, with the production parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3kY3zL0kXx7e1nIYf1Qy2q9wQm2m0o0dDq3oQwGf3wM";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("wrong horse".into(), Some(h)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(!verify("anything".into(), None).await.unwrap());
    }
}
