//! Access keys of the original direct-message API (`/api/*`). That API's clients sign their own
//! HS256 JWTs with a secret key the server handed them, and name the key in the JWT header
//! (`"access_key": "<access_key_id>"`). The server must therefore read each secret back; it keeps
//! it sealed with XChaCha20-Poly1305 under a key derived from `JWT_SECRET`, with the key id as
//! associated data, so a copy of the database alone neither reveals a secret nor lets anyone
//! move a sealed secret to another key id.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new key pair: both 32 random bytes, base32 without padding (the old server's format).
pub struct NewKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl NewKey {
    pub fn generate() -> NewKey {
        NewKey {
            access_key_id: random_base32(),
            secret_access_key: random_base32(),
        }
    }
}

fn random_base32() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    data_encoding::BASE32_NOPAD.encode(&raw)
}

/// Seals and unseals secret keys. Built once from `JWT_SECRET`.
#[derive(Clone)]
pub struct KeySealer {
    cipher: XChaCha20Poly1305,
}

const NONCE_LEN: usize = 24;

impl KeySealer {
    pub fn new(server_secret: &str) -> KeySealer {
        // A key of its own, derived with a label: the JWT signing key is never used as is.
        let key = Sha256::new()
            .chain_update(b"tickertalk api-key sealing v1\0")
            .chain_update(server_secret.as_bytes())
            .finalize();
        KeySealer {
            cipher: XChaCha20Poly1305::new(&key),
        }
    }

    /// nonce || ciphertext, bound to `key_id`.
    pub fn seal(&self, key_id: &str, secret: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: key_id.as_bytes(),
                },
            )
            .expect("sealing a short secret cannot fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The secret, or `None` if the bytes were not sealed for `key_id` under this server secret.
    pub fn unseal(&self, key_id: &str, sealed: &[u8]) -> Option<String> {
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: key_id.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The `access_key` named in a JWT's header, if the token is shaped like a JWT and has one.
/// Read before any verification: it only says which secret to verify with.
pub fn access_key_of(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("access_key")?.as_str().map(str::to_string)
}

/// The longest a client-signed token may live: its `exp` at most this far ahead. A token copied
/// from a log or a proxy then works for an hour at most, whatever its signer chose.
pub const CLIENT_TOKEN_MAX_SECS: i64 = 3600;

/// Whether `token` is an HS256 JWT signed with `secret`, with an `exp` in the future but at most
/// `CLIENT_TOKEN_MAX_SECS` ahead, and no `nbf` in the future (5 s leeway each); the key's own
/// expiry and revocation are checked by the caller.
pub fn verify_client_token(token: &str, secret: &str) -> bool {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.leeway = 5;
    let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    ) else {
        return false;
    };
    let now = chrono::Utc::now().timestamp();
    data.claims["exp"]
        .as_f64()
        .is_some_and(|exp| exp <= (now + CLIENT_TOKEN_MAX_SECS + 5) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::EncodingKey;
    use serde_json::json;

    fn client_token(key_id: &str, secret: &str, alg: Algorithm) -> String {
        let now = chrono::Utc::now().timestamp();
        signed(
            key_id,
            secret,
            alg,
            json!({"sub": "x", "iat": now, "exp": now + 600}),
        )
    }

    fn signed(key_id: &str, secret: &str, alg: Algorithm, claims: serde_json::Value) -> String {
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"alg": format!("{alg:?}"), "typ": "JWT", "access_key": key_id}).to_string());
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        // jsonwebtoken's encoder cannot add a custom header field; sign the input by hand.
        let sig = jsonwebtoken::crypto::sign(
            signing_input.as_bytes(),
            &EncodingKey::from_secret(secret.as_bytes()),
            alg,
        )
        .unwrap();
        format!("{signing_input}.{sig}")
    }

    #[test]
    fn keys_are_base32_of_32_bytes_and_differ() {
        let (a, b) = (NewKey::generate(), NewKey::generate());
        assert_eq!(a.access_key_id.len(), 52);
        assert!(
            a.secret_access_key
                .chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        assert_ne!(a.secret_access_key, b.secret_access_key);
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_key_id_and_server_secret() {
        let sealer = KeySealer::new("server-secret-0123456789");
        let sealed = sealer.seal("KEYID", "the secret");
        assert!(!sealed.windows(10).any(|w| w == b"the secret"));
        assert_eq!(sealer.unseal("KEYID", &sealed).as_deref(), Some("the secret"));
        assert_eq!(sealer.unseal("OTHER", &sealed), None);
        assert_eq!(
            KeySealer::new("another-server-secret").unseal("KEYID", &sealed),
            None
        );
    }

    #[test]
    fn client_tokens_verify_with_their_secret_only() {
        let token = client_token("KEYID", "s3cret", Algorithm::HS256);
        assert_eq!(access_key_of(&token).as_deref(), Some("KEYID"));
        assert!(verify_client_token(&token, "s3cret"));
        assert!(!verify_client_token(&token, "wrong"));
        let hs512 = client_token("KEYID", "s3cret", Algorithm::HS512);
        assert!(!verify_client_token(&hs512, "s3cret"), "the algorithm is pinned");
        assert_eq!(access_key_of("not a jwt"), None);
    }

    #[test]
    fn client_tokens_need_an_exp_within_the_cap_and_no_future_nbf() {
        let now = chrono::Utc::now().timestamp();
        let token = |claims| signed("KEYID", "s3cret", Algorithm::HS256, claims);
        assert!(verify_client_token(&token(json!({"exp": now + 60})), "s3cret"));
        assert!(
            verify_client_token(&token(json!({"exp": now + CLIENT_TOKEN_MAX_SECS})), "s3cret"),
            "the longest allowed"
        );
        for (why, claims) in [
            ("no exp", json!({})),
            ("no exp, only iat", json!({"iat": now})),
            ("expired", json!({"exp": now - 60})),
            ("too long-lived", json!({"exp": now + CLIENT_TOKEN_MAX_SECS + 60})),
            ("nbf an hour ahead", json!({"exp": now + 600, "nbf": now + 3600})),
        ] {
            assert!(!verify_client_token(&token(claims), "s3cret"), "{why}");
        }
    }
}
