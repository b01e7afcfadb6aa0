//! tickertalk: real-time chat rooms with a stock-quote bot.
//!
//! The modules form layers; each uses only the layers below it (checked by `tests/layers.rs`,
//! drawn in `docs/architecture.md`):
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | 6 | `startup` | wiring the layers together, running and draining a server |
//! | 5 | `http` | routes, request parsing, problem-details errors, the WebSocket upgrade |
//! | 4 | `realtime` | frames, the hub (sockets, rooms, ordered fan-out), one task per socket |
//! | 3 | `chat` | the use cases: accounts, rooms, posting, direct messages, presence |
//! | 2 | `bus` | the supervised RabbitMQ connection: publish, consume into an `EventSink` |
//! | 1 | `store`, `auth` | all SQL; passwords and tokens |
//! | 0 | `domain`, `config`, `shutdown`, `trace` | validated values and timestamps; configuration; the stop signal; the request id of the work in progress |
//!
//! What the server shares with the bot (events, commands, topology, backoff, stock codes) is
//! the `tickertalk-wire` crate, below all of these.

pub mod auth;
pub mod bus;
pub mod chat;
pub mod config;
pub mod domain;
pub mod http;
pub mod realtime;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod trace;

pub use config::Config;
pub use startup::Application;
pub use tickertalk_wire::telemetry;
