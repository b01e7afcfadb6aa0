//! Counting what a key holds (connections per client address, WebSockets per user) with a cap:
//! a place is taken up front and given back when its `Taken` guard drops, so a count can never
//! drift from what is really open, whichever way a connection ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Counts per key, at most `max` each (0: no cap, still counted).
pub struct Tally<K> {
    max: usize,
    counts: Mutex<HashMap<K, usize>>,
}

/// One place held in a `Tally`; dropping it gives the place back.
pub struct Taken<K: Hash + Eq + Copy> {
    tally: Arc<Tally<K>>,
    key: K,
}

impl<K: Hash + Eq + Copy> Tally<K> {
    pub fn new(max: usize) -> Arc<Tally<K>> {
        Arc::new(Tally {
            max,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// The cap (0: none).
    pub fn max(&self) -> usize {
        self.max
    }

    /// A place for `key`, or `None` when it already holds `max`.
    pub fn take(self: &Arc<Self>, key: K) -> Option<Taken<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(key).or_insert(0);
        if self.max > 0 && *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Taken {
            tally: self.clone(),
            key,
        })
    }

    /// Places `key` holds now.
    pub fn count(&self, key: K) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(&key).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq + Copy> Drop for Taken<K> {
    fn drop(&mut self) {
        let mut counts = self.tally.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_capped_per_key_and_given_back_on_drop() {
        let tally = Tally::new(2);
        let a1 = tally.take("a").unwrap();
        let _a2 = tally.take("a").unwrap();
        assert!(tally.take("a").is_none(), "a third place for the same key");
        let _b = tally.take("b").expect("other keys are counted apart");
        drop(a1);
        assert_eq!(tally.count("a"), 1);
        assert!(tally.take("a").is_some(), "a place given back can be taken again");
    }

    #[test]
    fn no_cap_still_counts_and_forgets_empty_keys() {
        let tally = Tally::new(0);
        let held: Vec<_> = (0..100).map(|_| tally.take(1).unwrap()).collect();
        assert_eq!(tally.count(1), 100);
        drop(held);
        assert_eq!(tally.count(1), 0);
        assert!(tally.counts.lock().unwrap().is_empty());
    }
}
