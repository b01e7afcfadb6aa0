DROP INDEX IF EXISTS direct_messages_client_id_key;
ALTER TABLE direct_messages DROP COLUMN IF EXISTS client_id;
DROP INDEX IF EXISTS room_messages_client_id_key;
