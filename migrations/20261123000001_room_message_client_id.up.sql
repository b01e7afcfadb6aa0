-- The author's own id for a message (issue #12), stored with it so that a message rebuilt from
-- PostgreSQL (a delivery gap filled after a broker fault) still acknowledges its author.
ALTER TABLE room_messages ADD COLUMN client_id text CHECK (length(client_id) BETWEEN 1 AND 64);
