//! One task that takes queued jobs in batches: what the message writer and presence entries
//! share. Jobs queue on a bounded channel (a full queue makes senders wait); the task takes
//! whatever has queued, up to `max`, hands it to `handle`, and takes the next lot once that is
//! done. Under load batches grow by themselves; a lone job waits for no timer.

use std::future::Future;

use tokio::sync::mpsc;

use crate::shutdown::ShutdownSignal;

/// Starts the task under `stop`. At the stop the queue closes (senders get an error at once)
/// and every job already queued is still handed to `handle`, so none is dropped unanswered.
pub fn spawn<J, F, Fut>(
    name: &'static str,
    queue: usize,
    max: usize,
    stop: &ShutdownSignal,
    mut handle: F,
) -> mpsc::Sender<J>
where
    J: Send + 'static,
    F: FnMut(Vec<J>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (tx, mut rx) = mpsc::channel(queue);
    stop.spawn(name, |mut stop| async move {
        let mut jobs = Vec::with_capacity(max);
        // After the stop the closed queue still yields what was in it, then ends.
        let mut stopping = false;
        loop {
            tokio::select! {
                n = rx.recv_many(&mut jobs, max) => {
                    if n == 0 {
                        return;
                    }
                    handle(std::mem::replace(&mut jobs, Vec::with_capacity(max))).await;
                }
                _ = stop.recv(), if !stopping => {
                    stopping = true;
                    rx.close();
                }
            }
        }
    });
    tx
}
