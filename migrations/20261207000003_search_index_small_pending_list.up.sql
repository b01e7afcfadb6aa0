-- GIN indexes gather new entries in a pending list (4 MB by default) and merge it into the index
-- when it is full, inside whichever insert fills it: under fan-out load that insert's batch of
-- messages waited for the merge, and p99 went past 100 ms at 100 messages/s per room where it
-- had been 30-70 ms (make bench, fanout). Merging every 128 kB makes each merge small: the same
-- run then passed 300/room with p99 74 ms. Searches also have less unmerged list to scan.
ALTER INDEX room_messages_search SET (gin_pending_list_limit = 128);
ALTER INDEX direct_messages_search SET (gin_pending_list_limit = 128);
