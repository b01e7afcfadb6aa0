//! tickertalk: real-time chat rooms with a stock-quote bot.
//!
//! Where things live:
//! - `config`: flags/env/.env; `startup`: build and run a server (used by `main` and tests).
//! - `http/`: one module per resource; `ws/`: the socket protocol, hub and connection task.
//! - `chat`: what posting a message or a DM means (shared by HTTP and WebSocket).
//! - `broker/`: RabbitMQ wire format, topology, supervised connection (also used by the bot).
//! - `store/`: all SQL; `auth/`: passwords and tokens; `domain/`: validated values.

pub mod app;
pub mod auth;
pub mod broker;
pub mod chat;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod ratelimit;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod ws;

pub use config::Config;
pub use startup::Application;
