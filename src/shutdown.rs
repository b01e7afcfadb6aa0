//! Graceful shutdown, in the style of mini-redis's `shutdown.rs`: one `ShutdownSignal` owned by
//! whoever decides to stop, and a `Shutdown` handle held by every task that must stop with it
//! (the HTTP listener, each socket, the broker supervisor, the presence heartbeat).
//!
//! A handle does two jobs. It tells its task to stop (`recv` resolves, `is_shutdown` turns
//! true), and it keeps the owner waiting until the task is done: each handle holds a clone of a
//! completion sender, and `ShutdownSignal::shutdown` returns once every clone is dropped. A task
//! therefore finishes its own clean-up (a close frame, a presence "left") before it lets go.
//!
//! The server uses two signals in sequence (see `startup`): sockets first, then the background
//! tasks, so the sockets' last publishes still find the broker connection open.
//!
//! Layer 0: uses nothing else of this crate.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Tasks started under a signal, by name.
type Tasks = Mutex<Vec<(&'static str, JoinHandle<()>)>>;

/// The owner's side: triggers the stop and waits for every handle to be dropped.
pub struct ShutdownSignal {
    notify: watch::Sender<bool>,
    /// Cloned into every handle; dropped by `shutdown` so that only the handles keep the
    /// channel open.
    done_tx: mpsc::Sender<()>,
    /// Never receives a value: `recv` returning `None` means every sender (handle) is gone.
    done_rx: mpsc::Receiver<()>,
    /// The tasks started with `spawn`, by name: `shutdown` waits for each to finish and names
    /// those that did not.
    tasks: Tasks,
}

/// What a `ShutdownSignal::shutdown` saw: the tasks (started with `spawn`) still running at
/// its deadline, and whether some handle was still held then.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub late: Vec<&'static str>,
    pub handles_held: bool,
}

impl Drained {
    /// Every task stopped and every handle was dropped in time.
    pub fn is_clean(&self) -> bool {
        self.late.is_empty() && !self.handles_held
    }
}

/// Starts a `ShutdownSignal`'s stop from anywhere.
#[derive(Clone)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

/// A task's side: learn that the server is stopping, and hold the owner until this is dropped.
#[derive(Debug, Clone)]
pub struct Shutdown {
    notify: watch::Receiver<bool>,
    /// Held, never used to send: its drop is what tells the owner this task is done.
    _done: mpsc::Sender<()>,
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownSignal {
    pub fn new() -> Self {
        let (notify, _) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel(1);
        ShutdownSignal {
            notify,
            done_tx,
            done_rx,
            tasks: Mutex::default(),
        }
    }

    /// Starts a task that owns a handle of this signal and is waited for by `shutdown`: the
    /// one way a background task is started, so that none outlives the stop unnoticed.
    pub fn spawn<F, Fut>(&self, name: &'static str, task: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task(self.subscribe()));
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Tasks that ended on their own are forgotten as others start.
        tasks.retain(|(_, h)| !h.is_finished());
        tasks.push((name, handle));
    }

    /// A handle for a new task.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            notify: self.notify.subscribe(),
            _done: self.done_tx.clone(),
        }
    }

    /// A detached way to start the stop without waiting, for code that cannot hold the
    /// signal itself (the listener's graceful-stop future starts closing sockets with it, while
    /// plain requests finish).
    pub fn trigger(&self) -> Trigger {
        Trigger(self.notify.clone())
    }

    /// Tells every handle to stop, then waits until all are dropped and every task started
    /// with `spawn` has returned, or `grace` has passed.
    pub async fn shutdown(self, grace: Duration) -> Drained {
        let ShutdownSignal {
            notify,
            done_tx,
            mut done_rx,
            tasks,
        } = self;
        let deadline = tokio::time::Instant::now() + grace;
        notify.send_replace(true);
        drop(done_tx);
        let handles_held = tokio::time::timeout_at(deadline, done_rx.recv()).await.is_err();
        let tasks = tasks.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut late = Vec::new();
        for (name, handle) in tasks {
            if tokio::time::timeout_at(deadline, handle).await.is_err() {
                late.push(name);
            }
        }
        Drained { late, handles_held }
    }
}

impl Shutdown {
    /// True once the stop was triggered.
    pub fn is_shutdown(&self) -> bool {
        *self.notify.borrow()
    }

    /// Resolves when the stop is triggered (at once if it already was). Cancel-safe, so it can
    /// sit in a `select!` loop.
    pub async fn recv(&mut self) {
        // An error means the signal was dropped without a trigger: that is a stop too.
        let _ = self.notify.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_every_handle_to_finish_its_clean_up() {
        let signal = ShutdownSignal::new();
        let mut handle = signal.subscribe();
        let (cleaned_tx, mut cleaned_rx) = mpsc::channel::<&str>(1);
        tokio::spawn(async move {
            handle.recv().await;
            tokio::time::sleep(Duration::from_millis(50)).await; // clean-up takes a while
            cleaned_tx.send("closed").await.unwrap();
            drop(handle);
        });
        assert!(signal.shutdown(Duration::from_secs(5)).await.is_clean());
        assert_eq!(
            cleaned_rx.try_recv().ok(),
            Some("closed"),
            "returned only after the clean-up"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_never_stops_is_reported_after_the_grace_period() {
        let signal = ShutdownSignal::new();
        let stuck = signal.subscribe();
        assert!(signal.shutdown(Duration::from_secs(5)).await.handles_held);
        assert!(stuck.is_shutdown());
    }

    #[tokio::test(start_paused = true)]
    async fn spawned_tasks_are_waited_for_and_the_late_ones_named() {
        let signal = ShutdownSignal::new();
        signal.spawn("polite", |mut stop| async move { stop.recv().await });
        // Drops its handle at once but keeps running: only the join handle shows it.
        signal.spawn("deaf", |stop| async move {
            drop(stop);
            std::future::pending::<()>().await
        });
        let drained = signal.shutdown(Duration::from_secs(5)).await;
        assert_eq!(drained.late, ["deaf"]);
        assert!(!drained.handles_held);
    }

    #[tokio::test]
    async fn a_handle_taken_before_the_trigger_sees_it_at_once() {
        let signal = ShutdownSignal::new();
        let mut handle = signal.subscribe();
        signal.trigger().fire();
        assert!(handle.is_shutdown());
        tokio::time::timeout(Duration::from_secs(1), handle.recv())
            .await
            .unwrap();
    }
}
