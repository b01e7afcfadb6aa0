-- The retry lookup (`messages::insert_batch`) joins on (author, client_id). With the author
-- first in the index, a planner without fresh statistics matched on the author alone and then
-- filtered every message of that author, per key: for `stockbot`, whose answers all share one
-- author, each batch read all of its history (measured: stock answers at 500/s fell behind).
-- client_id first makes every plan a point lookup.
DROP INDEX IF EXISTS room_messages_client_id_key;
CREATE UNIQUE INDEX room_messages_client_id_key ON room_messages (client_id, user_id)
    WHERE client_id IS NOT NULL;
DROP INDEX IF EXISTS direct_messages_client_id_key;
CREATE UNIQUE INDEX direct_messages_client_id_key ON direct_messages (client_id, author_id)
    WHERE client_id IS NOT NULL;
