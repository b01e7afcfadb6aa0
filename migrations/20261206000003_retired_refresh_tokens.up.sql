-- Refresh tokens a refresh has replaced. One presented again means two parties hold the same
-- session (the token leaked, or was stolen and used first): the whole session is revoked, as
-- the OAuth 2.0 Security BCP recommends. Kept until the session expires (pruned by the
-- heartbeat).
CREATE TABLE retired_refresh_tokens (
    hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    retired_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retired_refresh_tokens_session ON retired_refresh_tokens (session_id);
