//! The real-time side: frame formats (`protocol`), the per-instance registry of sockets and rooms
//! that turns bus events into frames (`hub`), one task per socket (`connection`), and why a
//! frame is refused (`error`).
//!
//! Layer 4 (docs/architecture.md): it may use `chat` and everything below. It must not know
//! about HTTP: the upgrade happens in `http::socket`, which hands over an authenticated socket.
//! The hub receives events as the bus's `EventSink`; it never publishes.

pub mod coalesce;
pub mod connection;
pub mod error;
pub mod hub;
pub mod protocol;

pub use connection::{Opening, SocketSettings};
pub use error::SocketError;
pub use hub::Hub;
pub use protocol::Dialect;
