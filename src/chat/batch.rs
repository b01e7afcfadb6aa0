//! One task that takes queued jobs in batches: what the message writer and presence entries
//! share. Jobs queue on a bounded channel (a full queue makes senders wait); the task takes
//! whatever has queued, up to `max`, hands it to `handle`, and takes the next lot once that is
//! done. Under load batches grow by themselves; a lone job waits for no timer.

use std::future::Future;

use tokio::sync::mpsc;

/// Starts the task on the current runtime; it ends when every sender is dropped.
pub fn spawn<J, F, Fut>(queue: usize, max: usize, mut handle: F) -> mpsc::Sender<J>
where
    J: Send + 'static,
    F: FnMut(Vec<J>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (tx, mut rx) = mpsc::channel(queue);
    tokio::spawn(async move {
        let mut jobs = Vec::with_capacity(max);
        while rx.recv_many(&mut jobs, max).await > 0 {
            handle(std::mem::replace(&mut jobs, Vec::with_capacity(max))).await;
        }
    });
    tx
}
