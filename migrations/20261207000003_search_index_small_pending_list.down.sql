ALTER INDEX room_messages_search RESET (gin_pending_list_limit);
ALTER INDEX direct_messages_search RESET (gin_pending_list_limit);
