-- Edits, deletions, reactions and replies, ordered with the messages.
--
-- A room's stream is everything its sockets are told in order: new messages and changes to
-- them. `rooms.last_rev` counts the stream; `rooms.last_seq` still counts messages only (unread
-- counts are `last_seq` minus a read marker, and an edit or a reaction is not unread).
-- A message enters the stream at `rev`; its latest change is at `changed_rev` (an earlier
-- change's position is then superseded: a gap fill that finds nothing there skips it). Both are
-- taken under the room row's lock, like `seq`, so positions are committed in order.
ALTER TABLE rooms
    ADD COLUMN last_rev bigint NOT NULL DEFAULT 0,
    ADD COLUMN topic text NOT NULL DEFAULT '' CHECK (length(topic) <= 250);
UPDATE rooms SET last_rev = last_seq;

ALTER TABLE room_messages
    ADD COLUMN rev bigint,
    ADD COLUMN changed_rev bigint,
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN reply_to bigint REFERENCES room_messages (id) ON DELETE SET NULL;
UPDATE room_messages SET rev = seq;
ALTER TABLE room_messages ALTER COLUMN rev SET NOT NULL;
CREATE UNIQUE INDEX room_messages_room_rev ON room_messages (room_id, rev);
CREATE UNIQUE INDEX room_messages_room_changed_rev ON room_messages (room_id, changed_rev)
    WHERE changed_rev IS NOT NULL;

-- Full-text search. Cashtags and mentions get tokens of their own (`zzcashtagtsla`,
-- `zzmentionbob`) besides the plain word, so `$TSLA` finds cashtags only and `TSLA` finds both;
-- the query text goes through the same function.
CREATE FUNCTION search_text(body text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(
        regexp_replace(body, '\$([A-Za-z][A-Za-z0-9]{0,15})', '\1 zzcashtag\1', 'g'),
        '@([A-Za-z][A-Za-z0-9_]{2,31})', '\1 zzmention\1', 'g')
$$;
ALTER TABLE room_messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', search_text(body))) STORED;
CREATE INDEX room_messages_search ON room_messages USING gin (search);

ALTER TABLE direct_messages
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english', search_text(body))) STORED;
CREATE INDEX direct_messages_search ON direct_messages USING gin (search);

-- One row per user, message and emoji: toggling is an insert or a delete.
CREATE TABLE room_reactions (
    message_id bigint NOT NULL REFERENCES room_messages (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji text NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE TABLE direct_reactions (
    message_id bigint NOT NULL REFERENCES direct_messages (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji text NOT NULL CHECK (length(emoji) BETWEEN 1 AND 32),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Who belongs to a room: everyone who joined it (opened it, or posted) and has not left.
-- Leaving keeps the row with `left_at`, so the room stays out of that user's list until they
-- join again.
CREATE TABLE room_members (
    room_id bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at timestamptz NOT NULL DEFAULT now(),
    left_at timestamptz,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);
INSERT INTO room_members (room_id, user_id)
    SELECT room_id, user_id FROM read_markers
    UNION
    SELECT DISTINCT room_id, user_id FROM room_messages
    EXCEPT
    SELECT r.id, u.id FROM rooms r CROSS JOIN users u WHERE u.username = 'stockbot';
