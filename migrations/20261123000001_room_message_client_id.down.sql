ALTER TABLE room_messages DROP COLUMN IF EXISTS client_id;
