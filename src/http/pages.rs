//! The latest-page cache of room history: the JSON body of `GET /v1/chat/rooms/{id}/messages`
//! without `before`, kept per room and `limit`, tagged with the room's `last_seq` when it was
//! read.
//!
//! Stored messages are never edited or deleted, and usernames never change, so a room's latest
//! page changes only when its `last_seq` does. A read asks PostgreSQL for `last_seq` (one
//! primary-key lookup) and serves the cached body when the tag matches; otherwise it reads the
//! page and caches it. The database is asked on every read, not the hub's view of the room:
//! a message posted through another instance is in the next read here even when its broker
//! event has not arrived yet (read-your-writes across instances).
//!
//! A page read after its tag may be newer than the tag says; that only costs one more refill,
//! never a stale answer. It must not hold anything a user could not read anyway: every
//! signed-in user may read every room.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

/// Pages kept at most (each about 10 KiB at 50 messages): a bounded cache, not an index of
/// every room.
pub const MAX_PAGES: usize = 1024;

/// Cached page bodies by `(room id, limit)`.
#[derive(Default)]
pub struct LatestPages {
    pages: Mutex<HashMap<(i64, i64), (i64, Bytes)>>,
}

impl LatestPages {
    /// The cached body of a room's latest `limit` messages if it was read at `last_seq`.
    pub fn get(&self, room_id: i64, limit: i64, last_seq: i64) -> Option<Bytes> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        match pages.get(&(room_id, limit)) {
            Some((seq, body)) if *seq == last_seq => Some(body.clone()),
            _ => None,
        }
    }

    /// Keeps `body`, read when the room's `last_seq` was at least `last_seq`. When full, one
    /// other page is dropped (whichever the map yields first: cheap, and fair enough for a
    /// cache whose misses cost one query).
    pub fn put(&self, room_id: i64, limit: i64, last_seq: i64, body: Bytes) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.len() >= MAX_PAGES
            && !pages.contains_key(&(room_id, limit))
            && let Some(victim) = pages.keys().next().copied()
        {
            pages.remove(&victim);
        }
        pages.insert((room_id, limit), (last_seq, body));
    }

    /// Pages held now.
    pub fn len(&self) -> usize {
        self.pages.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_only_at_the_sequence_it_was_read_at() {
        let pages = LatestPages::default();
        assert_eq!(pages.get(1, 50, 7), None);
        pages.put(1, 50, 7, Bytes::from_static(b"[7]"));
        assert_eq!(pages.get(1, 50, 7).as_deref(), Some(&b"[7]"[..]));
        assert_eq!(pages.get(1, 50, 8), None, "a newer message makes the page stale");
        assert_eq!(pages.get(1, 20, 7), None, "another limit is another page");
        assert_eq!(pages.get(2, 50, 7), None, "another room is another page");
        pages.put(1, 50, 8, Bytes::from_static(b"[8]"));
        assert_eq!(pages.get(1, 50, 8).as_deref(), Some(&b"[8]"[..]));
        assert_eq!(pages.len(), 1);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let pages = LatestPages::default();
        for room in 0..(MAX_PAGES as i64 + 100) {
            pages.put(room, 50, 1, Bytes::from_static(b"[]"));
        }
        assert_eq!(pages.len(), MAX_PAGES);
        let last = MAX_PAGES as i64 + 99;
        assert!(pages.get(last, 50, 1).is_some(), "the newest page is kept");
    }
}
