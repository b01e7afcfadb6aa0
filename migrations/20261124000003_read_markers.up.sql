-- Read markers (issue #13): how far each user has read each room and each direct conversation,
-- kept on the server so unread counts survive reloads and follow the user to other devices.
-- Markers only move forward. A room's unread count is rooms.last_seq - last_read_seq: no count
-- over the messages, however long the room.
CREATE TABLE read_markers (
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id       BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    last_read_id  BIGINT NOT NULL,
    last_read_seq BIGINT NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id)
);

CREATE TABLE dm_read_markers (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    peer_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_id BIGINT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, peer_id)
);
-- Unread direct messages: those from a peer to me after the marker.
CREATE INDEX direct_messages_unread_idx ON direct_messages (recipient_id, author_id, id);
