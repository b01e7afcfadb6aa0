-- The bot's answers are stored room messages by `stockbot` (issue #13): in history, in `since`
-- replay and in the room's order like any message. bot_meta holds who asked what, and the quote.
ALTER TABLE room_messages ADD COLUMN bot_meta jsonb;

-- The bot's account. It cannot log in: '!' is no password hash (login treats it as none), and
-- the name is reserved from sign-up. Its answers use the request id as client_id, so an answer
-- delivered twice is stored once.
INSERT INTO users (username, email, password_hash) VALUES ('stockbot', 'stockbot@invalid', '!')
    ON CONFLICT DO NOTHING;
