DROP INDEX IF EXISTS direct_messages_unread_idx;
DROP TABLE IF EXISTS dm_read_markers;
DROP TABLE IF EXISTS read_markers;
