-- Stock commands waiting for their answer. An answer is stored only for a request that is
-- here, in the room it names, and the request row then goes: whatever can publish on the
-- answer queue (a bot, or anything holding the broker's credentials) cannot post into a room
-- nobody asked in, nor answer twice. Rows the heartbeat finds older than ten minutes are
-- deleted (a command expires in its queue after 60 s and is then answered by the server).
CREATE TABLE stock_requests (
    request_id uuid PRIMARY KEY,
    room_id bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    username text NOT NULL,
    command text NOT NULL,
    asked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_requests_asked_at ON stock_requests (asked_at);
