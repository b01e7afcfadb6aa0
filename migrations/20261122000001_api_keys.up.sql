-- Access keys of the original direct-message API (/api/*). A client signs its own HS256 JWTs
-- with the secret key and names the key id in the JWT header, so the server must be able to
-- read the secret back: it is stored sealed (XChaCha20-Poly1305 under a key derived from
-- JWT_SECRET, the key id as associated data), never in the clear. Each key belongs to a session,
-- so revoking the session (DELETE /api/auth_token, or /v1 logout) revokes the key.
CREATE TABLE api_keys (
    access_key_id TEXT PRIMARY KEY,
    session_id    UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    modified_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_keys_session_id_idx ON api_keys (session_id);

