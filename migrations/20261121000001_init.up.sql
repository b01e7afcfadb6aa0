-- Accounts. Uniqueness ignores case, so "Alice" and "alice" cannot both sign up.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    first_name    TEXT,
    last_name     TEXT,
    phone         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- One row per login. Access tokens carry the session id, so revoking the row kills them at once;
-- the refresh token is stored only as a SHA-256 hash and rotates on every use.
CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    refreshed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX sessions_refresh_hash_key ON sessions (refresh_hash);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- last_seq is the per-room message counter. Bumping it locks the room row, which serialises
-- inserts per room: seq, id and created_at then all grow in the same order inside a room.
CREATE TABLE rooms (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX rooms_name_key ON rooms (lower(name));

-- created_at uses clock_timestamp(): it is taken after the room row lock, so it is monotonic
-- per room (now() would be the transaction start and could go backwards relative to seq).
CREATE TABLE room_messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id    BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT room_messages_room_seq_key UNIQUE (room_id, seq)
);
-- "latest 50" and "50 before X" walk this index backwards from one point: no room scan.
CREATE INDEX room_messages_room_time_idx ON room_messages (room_id, created_at DESC, id DESC);

CREATE TABLE direct_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body         TEXT NOT NULL,
    message_type SMALLINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
-- A conversation is the unordered pair of users; the thread query walks this index.
CREATE INDEX direct_messages_pair_idx ON direct_messages
    (LEAST(author_id, recipient_id), GREATEST(author_id, recipient_id), created_at DESC, id DESC);
CREATE INDEX direct_messages_recipient_idx ON direct_messages (recipient_id, created_at DESC);
CREATE INDEX direct_messages_author_idx ON direct_messages (author_id, created_at DESC);

-- Live presence: which connection (on which server instance) is in which room. Rows of an
-- instance whose heartbeat stopped are ignored and later swept, so a crash cannot leave
-- ghosts. UNLOGGED: it is rebuilt by the live sockets, losing it on a crash is harmless.
CREATE UNLOGGED TABLE instances (
    id           UUID PRIMARY KEY,
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNLOGGED TABLE room_presence (
    conn_id     UUID NOT NULL,
    room_id     BIGINT NOT NULL,
    instance_id UUID NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL,
    PRIMARY KEY (conn_id, room_id)
);
CREATE INDEX room_presence_room_idx ON room_presence (room_id);
