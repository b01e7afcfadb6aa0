//! Per-user message rate limit: a token bucket per user, `capacity` messages per `window`,
//! refilled continuously. Kept per server instance (a user's sockets normally sit on one
//! instance behind a sticky load balancer); see docs/architecture.md for the trade-off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Token buckets keyed by user id. A plain mutex: `check` holds it for a few arithmetic
/// operations, far shorter than any await would be.
pub struct RateLimiter {
    /// Burst size: messages a user may send at once after being quiet.
    capacity: f64,
    /// Refill rate, tokens per second (`capacity / window`).
    per_sec: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// One user's bucket; refilled lazily from `at` when next checked, so idle users cost nothing.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One token bucket on its own (one socket's), `capacity` per `window`, refilled continuously.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
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

    /// Takes `cost` tokens, or says how long until they are there.
    pub fn take(&mut self, cost: f64) -> Result<(), Duration> {
        self.take_at(cost, Instant::now())
    }

    fn take_at(&mut self, cost: f64, now: Instant) -> Result<(), Duration> {
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_sec).min(self.capacity);
        self.at = now;
        if self.tokens >= cost {
            self.tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((cost - self.tokens) / self.per_sec))
        }
    }
}

impl RateLimiter {
    pub fn new(capacity: u32, window: Duration) -> Self {
        let capacity = f64::from(capacity.max(1));
        RateLimiter {
            capacity,
            per_sec: capacity / window.as_secs_f64().max(0.001),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `user`, or says how long until one is available.
    pub fn check(&self, user: i64) -> Result<(), Duration> {
        self.check_at(user, Instant::now())
    }

    fn check_at(&self, user: i64, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 10_000 {
            // Full buckets carry no information: drop them so the map cannot grow without bound.
            let (cap, rate) = (self.capacity, self.per_sec);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < cap);
        }
        let b = buckets.entry(user).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_sec).min(self.capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
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
            assert!(rl.check_at(1, t0).is_ok());
        }
        let wait = rl.check_at(1, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(rl.check_at(2, t0).is_ok(), "other users are not affected");
        assert!(rl.check_at(1, t0 + Duration::from_secs(1)).is_ok());
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
