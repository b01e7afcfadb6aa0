//! The reconnect delay shared by the server's broker supervisor and the bot: 250 ms, doubling
//! up to 5 s, back to 250 ms after a connection that worked, each sleep jittered down to half of
//! it. One type, so the two processes (and `docs/rabbitmq.md`) cannot drift apart.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(5);

/// Capped exponential delay between reconnect attempts, with one instance per supervised
/// connection. Without a cap a broker down for an hour would be retried hours late; without the
/// doubling, hundreds of instances would hammer a broker that is restarting.
#[derive(Debug)]
pub struct Backoff {
    /// What the next `wait` sleeps.
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST }
    }
}

impl Backoff {
    /// A connection worked: the next failure waits the shortest delay again.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// The delay the next `wait` will sleep.
    pub fn delay(&self) -> Duration {
        self.next
    }

    /// Sleeps the current delay, jittered (then doubles it, up to the cap). Returns false, at
    /// once, when `stop` resolves first (a process shutting down must not sit out a 5 s delay);
    /// a `stop` that is already resolved wins over a zero delay.
    pub async fn wait(&mut self, stop: impl Future<Output = ()>) -> bool {
        tokio::select! {
            biased;
            _ = stop => return false,
            _ = tokio::time::sleep(jittered(self.next)) => {}
        }
        self.next = (self.next * 2).min(CAP);
        true
    }
}

/// A random delay between half of `d` and `d`: when a node dies, every process that was on it
/// reconnects at once, and without jitter they would all arrive at the next node in the same
/// millisecond, again and again at each doubling ("equal jitter").
pub fn jittered(d: Duration) -> Duration {
    let half = d / 2;
    let spread = half.as_micros() as u64;
    if spread == 0 {
        return d;
    }
    let r = (uuid::Uuid::new_v4().as_u128() as u64) % (spread + 1);
    half + Duration::from_micros(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(b.delay().as_millis());
            assert!(b.wait(std::future::pending()).await);
        }
        assert_eq!(seen, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.delay(), FIRST);
    }

    #[test]
    fn jitter_stays_between_half_and_all_and_varies() {
        let d = Duration::from_millis(1000);
        let seen: std::collections::HashSet<Duration> = (0..100).map(|_| jittered(d)).collect();
        assert!(seen.iter().all(|j| *j >= d / 2 && *j <= d), "{seen:?}");
        assert!(seen.len() > 50, "only {} distinct delays", seen.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_wait() {
        let mut b = Backoff::default();
        assert!(!b.wait(async {}).await);
        assert_eq!(b.delay(), FIRST, "an interrupted wait does not grow the delay");
    }
}
