//! The reconnect delay shared by the server's broker supervisor and the bot: 250 ms, doubling
//! up to 5 s, back to 250 ms after a connection that worked. One type, so the two processes
//! (and `docs/rabbitmq.md`) cannot drift apart.

use std::time::Duration;

use tokio::sync::watch;

const FIRST: Duration = Duration::from_millis(250);
const CAP: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Backoff {
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
    /// `stop` turns true meanwhile.
    pub async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(self.next) => {}
            _ = stop.changed() => return false,
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
        let (_tx, mut stop) = watch::channel(false);
        let mut b = Backoff::default();
        let mut seen = Vec::new();
        for _ in 0..7 {
            seen.push(b.delay().as_millis());
            assert!(b.wait(&mut stop).await);
        }
        assert_eq!(seen, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.delay(), FIRST);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_wait() {
        let (tx, mut stop) = watch::channel(false);
        let mut b = Backoff::default();
        tx.send_replace(true);
        assert!(!b.wait(&mut stop).await);
    }
}
