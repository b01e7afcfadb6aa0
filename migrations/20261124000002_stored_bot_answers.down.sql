DELETE FROM room_messages WHERE user_id = (SELECT id FROM users WHERE username = 'stockbot');
DELETE FROM users WHERE username = 'stockbot';
ALTER TABLE room_messages DROP COLUMN IF EXISTS bot_meta;
