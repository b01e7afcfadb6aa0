-- Posting is idempotent per user and client_id (issue #13): a retry of a message already stored
-- finds it instead of storing it again, on any instance. Before this, client_id was only echoed,
-- so older rows may repeat one: the newest keeps it, the older ones forget it.
UPDATE room_messages m SET client_id = NULL
 WHERE client_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM room_messages n
                WHERE n.user_id = m.user_id AND n.client_id = m.client_id AND n.id > m.id);
CREATE UNIQUE INDEX room_messages_client_id_key ON room_messages (user_id, client_id)
    WHERE client_id IS NOT NULL;

ALTER TABLE direct_messages ADD COLUMN client_id text CHECK (length(client_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX direct_messages_client_id_key ON direct_messages (author_id, client_id)
    WHERE client_id IS NOT NULL;
