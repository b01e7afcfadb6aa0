//! Access tokens are HS256 JWTs carrying the user and the session id; the algorithm is pinned, so
//! a token signed any other way (or `alg: none`) is refused. Refresh tokens are 256 random bits,
//! given to the client once and stored only as a SHA-256 hash.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id, as a string (JWT `sub` is a string).
    pub sub: String,
    /// Session id: revoking the session revokes the token.
    pub sid: Uuid,
    /// Username at issue time, for logs and the WebSocket author (ids stay authoritative).
    pub name: String,
    pub iat: i64,
    pub exp: i64,
}

/// The authenticated caller of a request or socket.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: i64,
    pub username: String,
    pub session_id: Uuid,
}

/// Signing and verification keys, built once from `JWT_SECRET`.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: chrono::Duration,
}

impl TokenKeys {
    pub fn new(secret: &str, ttl: std::time::Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        validation.validate_nbf = true;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15)),
        }
    }

    /// Issues an access token; returns it with its expiry.
    pub fn issue(&self, user_id: i64, username: &str, session_id: Uuid) -> (String, DateTime<Utc>) {
        let exp = Utc::now() + self.ttl;
        (self.issue_until(user_id, username, session_id, exp), exp)
    }

    /// An access token that expires at `exp` (in the past for the QA route's expired token).
    pub fn issue_until(&self, user_id: i64, username: &str, session_id: Uuid, exp: DateTime<Utc>) -> String {
        let now = Utc::now();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id,
            name: username.to_string(),
            iat: now.timestamp().min(exp.timestamp()),
            exp: exp.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    /// Verifies signature, algorithm and expiry. Revocation is checked by the caller (database).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// A new refresh token and the hash to store for it.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = hex(&raw);
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The stored form of a refresh token.
pub fn refresh_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let keys = TokenKeys::new("0123456789abcdef0123", Duration::from_secs(60));
        let sid = Uuid::new_v4();
        let (token, _) = keys.issue(7, "alice", sid);
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.sid, claims.name.as_str()),
            ("7", sid, "alice")
        );
    }

    #[test]
    fn a_token_from_another_key_or_tampered_is_refused() {
        let keys = TokenKeys::new("0123456789abcdef0123", Duration::from_secs(60));
        let other = TokenKeys::new("another-secret-entirely", Duration::from_secs(60));
        let (token, _) = other.issue(7, "alice", Uuid::new_v4());
        assert!(keys.verify(&token).is_none());
        let (mut good, _) = keys.issue(7, "alice", Uuid::new_v4());
        good.push('x');
        assert!(keys.verify(&good).is_none());
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        let keys = TokenKeys::new("0123456789abcdef0123", Duration::from_secs(60));
        // {"alg":"none","typ":"JWT"} . {"sub":1,"sid":...,"exp":far future} . (no signature)
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let payload = "eyJzdWIiOjEsInNpZCI6IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCIsIm5hbWUiOiJhIiwiaWF0IjowLCJleHAiOjk5OTk5OTk5OTl9";
        assert!(keys.verify(&format!("{header}.{payload}.")).is_none());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::new("0123456789abcdef0123", Duration::from_secs(60));
        let claims = Claims {
            sub: "1".into(),
            sid: Uuid::new_v4(),
            name: "a".into(),
            iat: 0,
            exp: 1000,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&token).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(refresh_hash(&a), ha);
        assert_ne!(ha, a.as_bytes());
    }
}
