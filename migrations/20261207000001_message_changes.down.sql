DROP TABLE room_members;
DROP TABLE direct_reactions;
DROP TABLE room_reactions;
DROP INDEX direct_messages_search;
ALTER TABLE direct_messages DROP COLUMN search, DROP COLUMN deleted_at, DROP COLUMN edited_at;
DROP INDEX room_messages_search;
ALTER TABLE room_messages DROP COLUMN search;
DROP FUNCTION search_text(text);
DROP INDEX room_messages_room_changed_rev;
DROP INDEX room_messages_room_rev;
ALTER TABLE room_messages
    DROP COLUMN reply_to, DROP COLUMN deleted_at, DROP COLUMN edited_at,
    DROP COLUMN changed_rev, DROP COLUMN rev;
ALTER TABLE rooms DROP COLUMN topic, DROP COLUMN last_rev;
