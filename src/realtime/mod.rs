//! The real-time side: frame formats (`protocol`), the per-instance registry of sockets and rooms
//! that turns bus events into frames (`hub`), each room's delivery order (`sequencer`, no I/O)
//! and the reads that fill its gaps (`gaps`), what goes out on a tick (`ticks`), one task per
//! socket (`connection`), and why a frame is refused (`error`).
//!
//! Layer 4 (docs/architecture.md): it may use `chat` and everything below. It must not know
//! about HTTP: the upgrade happens in `http::socket`, which hands over an authenticated socket.
//! The hub receives events as the bus's `EventSink`; it never publishes.

pub mod coalesce;
pub mod connection;
pub mod error;
pub mod gaps;
pub mod hub;
pub mod protocol;
pub mod sequencer;
pub mod ticks;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::SessionCache;
use crate::bus::Interest;
use crate::shutdown::ShutdownSignal;

pub use connection::{Opening, SocketSettings};
pub use error::SocketError;
pub use hub::Hub;
pub use protocol::Dialect;

/// The hub with its gap task and tick tasks, started under `work` (they stop with it). Gap
/// fills read through `db` after `gap_wait`.
pub fn start(
    db: sqlx::PgPool,
    sessions: Arc<SessionCache>,
    interest: Arc<Interest>,
    gap_wait: Duration,
    work: &ShutdownSignal,
) -> Arc<Hub> {
    let ticks = Arc::new(ticks::Ticks::default());
    let (requests, queue) = gaps::channel();
    let hub = Hub::new(sessions, requests, ticks.clone(), interest);
    let h = hub.clone();
    work.spawn("gap fills", |stop| gaps::run(h, db, gap_wait, queue, stop));
    let (h, t) = (hub.clone(), ticks.clone());
    work.spawn("presence tick", |stop| ticks::presence(t, h, stop));
    let h = hub.clone();
    work.spawn("activity tick", |stop| ticks::activity(ticks, h, stop));
    hub
}
