//! Per-user rate limits (messages, WebSocket control frames): a token bucket per user,
//! `capacity` tokens per `window`, refilled continuously. Kept per server instance (a user's
//! sockets normally sit on one instance behind a sticky load balancer); see
//! docs/architecture.md for the trade-off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by user id. A plain mutex: `check` holds it for a few arithmetic
/// operations, far shorter than any await would be.
pub struct RateLimiter {
    /// A full bucket: what a user who has been quiet starts from.
    full: TokenBucket,
    buckets: Mutex<HashMap<i64, TokenBucket>>,
}

/// One token bucket, `capacity` per `window`, refilled continuously and lazily (from `at`, when
/// next asked), so an idle one costs nothing. On its own it is one socket's budget; keyed by
/// user in a `RateLimiter`, each user's.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    /// Refill rate, tokens per second (`capacity / window`).
    per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(capacity: u32, window: Duration) -> Self {
        let capacity = f64::from(capacity.max(1));
        TokenBucket {
            capacity,
            per_sec: capacity / window.as_secs_f64().max(0.001),
            tokens: capacity,
            at: Instant::now(),
        }
    }

    /// Takes `cost` tokens, or says how long until they are there (and takes none).
    pub fn take(&mut self, cost: f64) -> Result<(), Duration> {
        self.take_at(cost, Instant::now())
    }

    fn take_at(&mut self, cost: f64, now: Instant) -> Result<(), Duration> {
        self.tokens = self.tokens_at(now);
        self.at = now;
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - self.tokens) / self.per_sec))
        }
    }

    fn tokens_at(&self, now: Instant) -> f64 {
        (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_sec).min(self.capacity)
    }
}

impl RateLimiter {
    pub fn new(capacity: u32, window: Duration) -> Self {
        RateLimiter {
            full: TokenBucket::new(capacity, window),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`, or says how long until one is available.
    pub fn check(&self, user: i64) -> Result<(), Duration> {
        self.take_at(user, 1, Instant::now())
    }

    /// Takes `cost` tokens for `user` (all or none), or says how long until they are there.
    pub fn take(&self, user: i64, cost: u32) -> Result<(), Duration> {
        self.take_at(user, cost, Instant::now())
    }

    fn take_at(&self, user: i64, cost: u32, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            // Full buckets carry no information: drop them so the map cannot grow without bound.
            buckets.retain(|_, b| b.tokens_at(now) < b.capacity);
        }
        let b = buckets.entry(user).or_insert_with(|| TokenBucket {
            at: now,
            ..self.full.clone()
        });
        b.take_at(f64::from(cost), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_then_refills() {
        let rl = RateLimiter::new(3, Duration::from_secs(3));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.take_at(1, 1, t0).is_ok());
        }
        let wait = rl.take_at(1, 1, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(rl.take_at(2, 1, t0).is_ok(), "other users are not affected");
        assert!(rl.take_at(1, 1, t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_token_bucket_charges_its_cost() {
        let mut b = TokenBucket::new(10, Duration::from_secs(10));
        let t0 = b.at;
        assert!(b.take_at(5.0, t0).is_ok());
        assert!(b.take_at(5.0, t0).is_ok());
        let wait = b.take_at(1.0, t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(b.take_at(2.0, t0 + Duration::from_secs(2)).is_ok());
    }
}
