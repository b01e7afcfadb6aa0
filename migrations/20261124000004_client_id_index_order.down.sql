DROP INDEX IF EXISTS room_messages_client_id_key;
CREATE UNIQUE INDEX room_messages_client_id_key ON room_messages (user_id, client_id)
    WHERE client_id IS NOT NULL;
DROP INDEX IF EXISTS direct_messages_client_id_key;
CREATE UNIQUE INDEX direct_messages_client_id_key ON direct_messages (author_id, client_id)
    WHERE client_id IS NOT NULL;
