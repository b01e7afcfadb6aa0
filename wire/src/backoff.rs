//! The reconnect delay shared by the server's broker supervisor and the bot: 250 ms, doubling
//! up to 5 s, back to 250 ms after a connection that worked. One type, so the two processes
//! (and `docs/rabbitmq.md`) cannot drift apart.

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

    /// Sleeps the current delay (then doubles it, up to the cap). Returns false, at once, when
    /// `stop` resolves first (a process shutting down must not sit out a 5 s delay); a `stop`
    /// that is already resolved wins over a zero delay.
    pub async fn wait(&mut self, stop: impl Future<Output = ()>) -> bool {
        tokio::select! {
            biased;
            _ = stop => return false,
            _ = tokio::time::sleep(self.next) => {}
        }
        self.next = (self.next * 2).min(CAP);
        true
    }
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

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_wait() {
        let mut b = Backoff::default();
        assert!(!b.wait(async {}).await);
        assert_eq!(b.delay(), FIRST, "an interrupted wait does not grow the delay");
    }
}
