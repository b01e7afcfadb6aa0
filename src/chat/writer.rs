//! The message writer: one task per instance that stores room messages in batches (group
//! commit) and publishes each batch as one event.
//!
//! A post hands its row to the writer and waits for its commit only. The writer takes whatever
//! has queued up (at most `MAX_BATCH`), stores it in one transaction (`messages::insert_batch`:
//! one commit, one WAL flush, for many messages of many rooms), answers every waiting post, and
//! publishes the batch as one `room_messages` event, in commit order, with the broker's confirm
//! awaited on a task of its own: off the path of both the next commit and the posting socket.
//! While one commit runs the next batch gathers: under load batches grow by themselves, and a
//! lone message waits for no timer.
//!
//! Guarantees, unchanged from one insert per message: a message is stored before anyone is told
//! of it (the publish follows the commit); a room's messages get consecutive `seq`s across
//! instances (the room rows are locked in id order, see `insert_batch`); a batch refused by the
//! database (a statement error: the transaction rolled back) is retried row by row, so a bad row
//! fails only its own post, while a batch whose connection failed is not retried (its commit may
//! have happened) and fails every post in it as unavailable; a publish that fails is delivered
//! to this instance's sockets by the bus, and other instances fill the gap from PostgreSQL.

use std::sync::Arc;

use tickertalk_wire::{Event, PostedMessage};
use tokio::sync::{mpsc, oneshot};

use crate::bus::Bus;
use crate::shutdown::ShutdownSignal;
use crate::store::messages::{self, NewMessage, Outcome};
use crate::store::{StoreError, StoreResult};

/// At most this many messages per commit (and per published event: about 300 bytes each).
pub const MAX_BATCH: usize = 256;

/// Posts waiting for the writer; a full queue makes posters wait (backpressure, not memory).
const QUEUE: usize = 4096;

/// One post waiting for its commit.
struct Job {
    row: NewMessage,
    done: oneshot::Sender<StoreResult<Outcome>>,
}

/// The handle posts use; cheap to clone. The task ends at the stop it was started under, after
/// storing and answering every post already queued.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer task under `stop`.
    pub fn spawn(db: sqlx::PgPool, bus: Arc<Bus>, stop: &ShutdownSignal) -> Writer {
        let tx = super::batch::spawn("message writer", QUEUE, MAX_BATCH, stop, move |jobs| {
            write(db.clone(), bus.clone(), jobs)
        });
        Writer { tx }
    }

    /// Stores one message (in the next batch) and says what happened once committed. A new
    /// message is published after the commit, without waiting for the broker; a repeat (a
    /// retry of a stored post) is not published again.
    pub async fn store(&self, row: NewMessage) -> StoreResult<Outcome> {
        let (done, wait) = oneshot::channel();
        let job = Job { row, done };
        // The writer has stopped (the server is shutting down): nothing was stored, which is
        // what a closed pool means too.
        if self.tx.send(job).await.is_err() {
            return Err(StoreError::Unavailable(sqlx::Error::PoolClosed));
        }
        wait.await
            .unwrap_or(Err(StoreError::Unavailable(sqlx::Error::PoolClosed)))
    }
}

/// Stores one batch, answers its posts, publishes it.
async fn write(db: sqlx::PgPool, bus: Arc<Bus>, jobs: Vec<Job>) {
    let rows: Vec<NewMessage> = jobs.iter().map(|j| j.row.clone()).collect();
    let results = match messages::insert_batch(&db, &rows).await {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        // The connection failed: whether the commit happened is unknown, so storing the
        // rows again could store them twice. Every post of the batch fails as unavailable.
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, batch = rows.len(), "batch insert failed: database unavailable");
            let why = e.to_string();
            (0..rows.len())
                .map(|_| {
                    Err(StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(
                        why.clone(),
                    ))))
                })
                .collect()
        }
        // A statement error rolled the whole transaction back: nothing of it is stored.
        Err(e) => {
            tracing::warn!(error = %e, batch = rows.len(), "batch insert failed; storing its rows one by one");
            one_by_one(&db, &rows).await
        }
    };
    let mut posted = Vec::with_capacity(jobs.len());
    for (job, result) in jobs.into_iter().zip(results) {
        if let Ok(Outcome::New(message)) = &result {
            posted.push(PostedMessage {
                message: message.clone(),
                client_id: job.row.client_id,
            });
        }
        // A poster that gave up (its socket closed) no longer listens; the message is stored
        // and published all the same.
        let _ = job.done.send(result);
    }
    let answers = posted.iter().filter(|p| p.message.bot.is_some()).count();
    metrics::counter!("tickertalk_messages_stored_total", "kind" => "room")
        .increment((posted.len() - answers) as u64);
    metrics::counter!("tickertalk_messages_stored_total", "kind" => "answer").increment(answers as u64);
    if !posted.is_empty() {
        // Handed to the channel now (batches reach the broker in commit order); the confirm
        // is awaited elsewhere while the next batch commits.
        bus.publish(Event::RoomMessages { messages: posted });
    }
}

/// After a failed batch: each row alone, so only the bad one fails.
async fn one_by_one(db: &sqlx::PgPool, rows: &[NewMessage]) -> Vec<StoreResult<Outcome>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(messages::insert(db, row).await);
    }
    out
}
