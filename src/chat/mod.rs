//! The use cases: what signing up, posting, joining a room or sending a direct message *means*,
//! whichever door the request came through (HTTP or a WebSocket frame).
//!
//! Every write follows one rule: store in PostgreSQL first, publish on the bus second. A
//! message a client was told about is therefore never lost; a publish that fails is delivered
//! locally by the bus and other instances catch up from the database.
//!
//! Layer 3 (docs/architecture.md): it may use `bus`, `store`, `auth`, `domain`, `config`. It
//! must not know about HTTP statuses, WebSocket frames or warp: it returns `ChatError`, which
//! each boundary maps once (`http::error`, `realtime::error`).

mod accounts;
mod batch;
mod changes;
mod direct;
mod error;
mod markers;
mod presence;
pub mod ratelimit;
mod rooms;
mod search;
pub mod throttle;
mod tickers;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

pub use accounts::{ApiCredentials, Session, SignUp};
pub use changes::{Kind, Toggle};
pub use direct::SentDm;
pub use error::ChatError;
pub use ratelimit::RateLimiter;
pub use rooms::Posted;
pub use search::Found;

use crate::auth::keys::KeySealer;
use crate::auth::{AuthUser, SessionCache, TokenKeys};
use crate::bus::Bus;
use crate::config::Config;
use crate::shutdown::ShutdownSignal;
use crate::store;

/// Control frames (join, leave, typing) one user may send over all their sockets on one
/// instance per `CONTROL_WINDOW`: ample for a client switching rooms, or rejoining a few dozen
/// with `since` after a reconnect (the web client rejoins every room it was in), far below
/// what costs the server (each join is a database read and a presence write).
pub const CONTROLS_PER_WINDOW: u32 = 120;
pub const CONTROL_WINDOW: Duration = Duration::from_secs(10);
/// A join with `since` replays up to 500 stored messages: it costs this many control frames.
pub const REPLAY_COST: u32 = 2;

/// The chat service: the handles every use case needs, and the use cases as methods (split by
/// concern over this module's files). One per server instance, shared by `Arc`.
pub struct Chat {
    /// The pool every use case queries.
    db: PgPool,
    /// Where stored things are announced to every instance.
    bus: Arc<Bus>,
    /// Signs and checks access tokens (the secret never leaves this struct).
    keys: TokenKeys,
    /// Seals `/api` secret keys at rest (derived from the same server secret).
    sealer: KeySealer,
    /// Per-user message budget, shared by HTTP posts and socket frames so neither door doubles it.
    limiter: RateLimiter,
    /// Per-user budget of WebSocket control frames (join, leave, typing) over all the user's
    /// sockets here; a join with `since` (a history replay) costs `REPLAY_COST`.
    controls: RateLimiter,
    /// Per-user budget of searches, and the searches one instance runs at once (`search.rs`).
    searches: RateLimiter,
    search_slots: tokio::sync::Semaphore,
    /// How long a login stays refreshable.
    refresh_ttl: Duration,
    /// Failed logins per key before throttling (`throttle`); 0: off.
    login_free: i32,
    /// Sign-ups per client address per hour (`throttle`); 0: no limit.
    signups_per_address: i32,
    /// Rooms a user may create per hour (`throttle`); 0: no limit.
    rooms_per_user: i32,
    /// Stores room messages in batches and publishes them (group commit, `writer.rs`).
    writer: writer::Writer,
    /// Sessions recently found active; the hub drops revoked ones (`auth::session_cache`).
    sessions: Arc<SessionCache>,
    /// Presence entries and exits, each recorded in batches (`presence.rs`).
    entries: tokio::sync::mpsc::Sender<presence::Entry>,
    exits: tokio::sync::mpsc::Sender<presence::Exit>,
    /// The `stockbot` account's id, once looked up (`rooms.rs`).
    bot_id: std::sync::OnceLock<i64>,
    /// Per-user budget of quotes (`/stock` symbols, cashtags, watches, alerts), `tickers.rs`;
    /// none when `QUOTES_PER_MINUTE` is 0.
    quotes: Option<RateLimiter>,
    /// When each room last got a cashtag quote for each symbol (`tickers.rs`).
    cashtags: tickers::CashtagMemory,
    /// How often watched and alerted symbols are refreshed (`WATCH_REFRESH_SECS`; zero: never).
    pub refresh_period: Duration,
}

impl Chat {
    /// Starts the message writer's and the presence entries' and exits' tasks under `work`:
    /// its stop stores and answers whatever they hold.
    pub fn new(
        db: PgPool,
        bus: Arc<Bus>,
        sessions: Arc<SessionCache>,
        config: &Config,
        work: &ShutdownSignal,
    ) -> Chat {
        Chat {
            sessions,
            writer: writer::Writer::spawn(db.clone(), bus.clone(), work),
            entries: presence::spawn_entries(db.clone(), bus.clone(), bus.instance_id, work),
            exits: presence::spawn_exits(db.clone(), bus.clone(), work),
            db,
            bus,
            keys: TokenKeys::new(
                config.jwt_secret.as_deref().unwrap_or_default(),
                config.access_token_ttl(),
            ),
            sealer: KeySealer::new(config.jwt_secret.as_deref().unwrap_or_default()),
            limiter: RateLimiter::new(
                config.rate_limit_messages,
                Duration::from_secs(config.rate_limit_window_secs.max(1)),
            ),
            controls: RateLimiter::new(CONTROLS_PER_WINDOW, CONTROL_WINDOW),
            searches: RateLimiter::new(search::SEARCHES_PER_WINDOW, search::SEARCH_WINDOW),
            search_slots: tokio::sync::Semaphore::new(search::SEARCH_SLOTS),
            refresh_ttl: config.refresh_token_ttl(),
            login_free: i32::try_from(config.login_free_failures).unwrap_or(i32::MAX),
            signups_per_address: i32::try_from(config.signups_per_address).unwrap_or(i32::MAX),
            rooms_per_user: i32::try_from(config.rooms_per_user).unwrap_or(i32::MAX),
            bot_id: std::sync::OnceLock::new(),
            quotes: (config.quotes_per_minute > 0)
                .then(|| RateLimiter::new(config.quotes_per_minute, Duration::from_secs(60))),
            cashtags: Default::default(),
            refresh_period: Duration::from_secs(config.watch_refresh_secs),
        }
    }

    /// Takes one message from `user`'s budget.
    fn rate_check(&self, user: &AuthUser) -> Result<(), ChatError> {
        self.limiter
            .check(user.user_id)
            .map_err(|wait| ChatError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            })
    }

    /// Takes a control frame (join, leave, typing) of `cost` (`REPLAY_COST` for a join with
    /// `since`, else 1) from `user`'s budget.
    pub fn control_check(&self, user: &AuthUser, cost: u32) -> Result<(), ChatError> {
        self.controls
            .take(user.user_id, cost)
            .map_err(|wait| ChatError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
    }

    /// Whether the database answers a query (within 2 s) and the broker is ready (`Bus::ready`:
    /// connected, confirming, answering within 1 s).
    pub async fn ready(&self) -> Readiness {
        let (database, broker) =
            tokio::join!(store::ping(&self.db, Duration::from_secs(2)), self.bus.ready());
        Readiness { database, broker }
    }

    /// The gauges `/metrics` reads at each scrape: the pool's connections, and the broker link.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            pool_size: self.db.size(),
            pool_idle: self.db.num_idle(),
            pool_max: self.db.options().get_max_connections(),
            broker_connected: self.bus.is_up(),
        }
    }

    /// This instance's id, the bus's: its presence rows (those of a dead instance are ignored
    /// and swept instead of showing ghosts) and its revocation acknowledgements.
    pub fn instance_id(&self) -> Uuid {
        self.bus.instance_id
    }

    /// Refreshes the bots gauge (an alert watches it); a down broker leaves it be,
    /// `tickertalk_broker_connected` says that.
    pub async fn count_bots(&self) {
        let _ = self.bus.bot_consumers().await;
    }

    /// The last step of a stop, once every task is done: forget this instance's presence and
    /// close the pool.
    pub async fn close(&self) {
        if let Err(e) = self.retire().await {
            tracing::warn!(error = %e, "presence not cleared at shutdown");
        }
        self.db.close().await;
    }
}

/// What `Chat::ready` found.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    pub database: bool,
    pub broker: bool,
}

/// What `Chat::gauges` read.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    pub pool_size: u32,
    pub pool_idle: usize,
    pub pool_max: u32,
    pub broker_connected: bool,
}
