//! Which sessions this instance recently found active, so that an authenticated request does
//! not have to ask PostgreSQL every time (that query was a third of a history read).
//!
//! An entry is trusted for a short time (`SESSION_CACHE_SECS`, default 5 s) and dropped at once
//! when a revocation is heard: the hub forgets a session on every `session_revoked` event, and
//! forgets everything when the broker connection comes back (events may have been missed
//! while it was down). `chat::accounts` consults the cache only while the broker is connected.
//! What is left is one double fault: an instance that logs a session out while *its* broker
//! connection is down cannot tell the others, which then accept that session's tokens for at
//! most the entry's lifetime (docs/architecture.md, "Session cache").
//!
//! Only positive answers are cached; a revoked or unknown session is asked about every time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// More entries than this and the stale ones are swept (and, if all are fresh, all of them):
/// memory stays bounded whatever the number of sessions.
const MAX_ENTRIES: usize = 100_000;

pub struct SessionCache {
    ttl: Duration,
    checked: Mutex<HashMap<Uuid, Instant>>,
}

impl SessionCache {
    /// `ttl` zero disables the cache.
    pub fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            checked: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Instant>> {
        self.checked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `session` was found active within the last `ttl`.
    pub fn is_fresh(&self, session: Uuid) -> bool {
        !self.ttl.is_zero() && self.map().get(&session).is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Records that the database just said `session` is active.
    pub fn remember(&self, session: Uuid) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map();
        if map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, at| at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(session, Instant::now());
    }

    /// The session was revoked: ask the database next time.
    pub fn forget(&self, session: Uuid) {
        self.map().remove(&session);
    }

    /// Revocations may have been missed (the broker connection was down): trust nothing.
    pub fn clear(&self) {
        self.map().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = SessionCache::new(Duration::from_millis(50));
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(!cache.is_fresh(a));
        cache.remember(a);
        cache.remember(b);
        assert!(cache.is_fresh(a) && cache.is_fresh(b));
        cache.forget(a);
        assert!(!cache.is_fresh(a) && cache.is_fresh(b));
        std::thread::sleep(Duration::from_millis(60));
        assert!(!cache.is_fresh(b), "expired");
        cache.remember(b);
        cache.clear();
        assert!(!cache.is_fresh(b));
    }

    #[test]
    fn a_zero_lifetime_disables_it() {
        let cache = SessionCache::new(Duration::ZERO);
        let a = Uuid::new_v4();
        cache.remember(a);
        assert!(!cache.is_fresh(a));
    }
}
