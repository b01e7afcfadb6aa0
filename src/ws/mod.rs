//! The WebSocket side: frame formats (`protocol`), the per-instance registry of sockets and rooms
//! that turns broker events into frames (`hub`), and one task per socket (`connection`).

pub mod connection;
pub mod hub;
pub mod protocol;

pub use hub::Hub;
