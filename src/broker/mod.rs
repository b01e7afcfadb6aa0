//! RabbitMQ: the wire format, the topology (see `docs/rabbitmq.md`) and the supervised
//! connection of a server instance.

pub mod backoff;
pub mod supervisor;
pub mod topology;
pub mod wire;

pub use backoff::Backoff;
pub use supervisor::Broker;
pub use topology::Topology;
pub use wire::{BotReply, Event, StockCommand};
