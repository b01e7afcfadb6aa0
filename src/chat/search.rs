//! Searching what one can read: the rooms one is a member of (or one given room) and one's
//! direct messages. Each search is a ranked full-text query, so it has its own per-user budget
//! (`SEARCHES_PER_WINDOW`), apart from posting.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::{Chat, ChatError};
use crate::auth::AuthUser;
use crate::store::{self, search::Cursor, search::Hit, search::Order, search::Scope};

/// Searches one user may run per `SEARCH_WINDOW` (on one instance).
pub const SEARCHES_PER_WINDOW: u32 = 30;
pub const SEARCH_WINDOW: Duration = Duration::from_secs(10);
/// Searches running at once on one instance, whoever asks: many users' budgets together must
/// not take every database connection and core. A search waits this long for a slot, then is
/// refused as busy (503, try again).
pub const SEARCH_SLOTS: usize = 4;
const SLOT_WAIT: Duration = Duration::from_secs(2);
const BUSY: &str = "server busy searching; try again shortly";

/// A page of hits, and where the next one starts (`None`: this was the last).
#[derive(Debug)]
pub struct Found {
    pub hits: Vec<Hit>,
    pub next: Option<Cursor>,
}

impl Chat {
    /// One page of `user`'s search for `text` in `room` (or everything they can read), from
    /// `at` (`None`: the first page).
    pub async fn search(
        &self,
        user: &AuthUser,
        text: &str,
        (room, order): (Option<i64>, Order),
        at: Option<Cursor>,
        limit: i64,
    ) -> Result<Found, ChatError> {
        self.searches
            .check(user.user_id)
            .map_err(|wait| ChatError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })?;
        let scope = match room {
            Some(id) => {
                self.room(id).await?;
                Scope::Room(id)
            }
            None => Scope::Mine,
        };
        let _slot = slot(&self.search_slots).await?;
        let at = match at {
            Some(at) => at,
            None => store::search::snapshot(&self.db).await?,
        };
        // One more than asked: whether there is a next page.
        let mut hits =
            store::search::search(&self.db, user.user_id, text, scope, order, at, limit + 1).await?;
        let next = (hits.len() as i64 > limit).then(|| Cursor {
            offset: at.offset + limit,
            ..at
        });
        hits.truncate(limit as usize);
        Ok(Found { hits, next })
    }
}

/// One of the instance's search slots, waiting at most `SLOT_WAIT` for it.
async fn slot(slots: &Semaphore) -> Result<SemaphorePermit<'_>, ChatError> {
    match tokio::time::timeout(SLOT_WAIT, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ChatError::Busy(BUSY)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_search_waits_for_a_slot_then_is_refused_as_busy() {
        let slots = Semaphore::new(1);
        let held = slot(&slots).await.unwrap();
        let started = tokio::time::Instant::now();
        assert!(matches!(slot(&slots).await, Err(ChatError::Busy(BUSY))));
        assert_eq!(started.elapsed(), SLOT_WAIT);
        drop(held);
        assert!(slot(&slots).await.is_ok(), "a freed slot is taken at once");
    }
}
