//! Building and running the server: the one place where the layers are wired together (the
//! top layer, docs/architecture.md). `main` and the tests both go through `Application`.
//!
//! Every background task is started under one of five `ShutdownSignal`s, and a stop runs them
//! in order, each phase waiting for its tasks to finish what they hold:
//!
//! 1. `sockets`: the listener stops accepting and every socket closes with a close frame;
//! 2. `intake`: the broker consumer stops and settles the stock answers it is storing;
//! 3. `work`: the message writer and presence batchers store and answer what is queued (and
//!    publish it), the hub's gap fills and ticks stop, the heartbeat and probes stop;
//! 4. `outbox`: the publisher sends what is queued and waits for every confirm;
//! 5. `connection`: the broker connection closes.
//!
//! Then this instance's presence rows are removed and the pool closes. `run` returns what it
//! saw (`Stopped`): a task still running at its phase's deadline is named there.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tickertalk_wire::Nodes;
use tokio::net::TcpListener;

use crate::auth::SessionCache;
use crate::bus::{AnswerStore, Bus, Interest};
use crate::chat::Chat;
use crate::config::{Config, ConfigError};
use crate::http::{self, AppState};
use crate::realtime::{self, SocketSettings};
use crate::shutdown::{Shutdown, ShutdownSignal};
use crate::store;

mod metric_help;
use metric_help::describe_metrics;

/// Turns Nagle's algorithm off for every connection the listener accepts (Linux copies the
/// option from the listening socket to each accepted one; `no_delay_is_inherited` checks it).
/// Chat frames are small and already gathered into one write per batch (`realtime::coalesce`):
/// with Nagle on, a second small frame waited for the client's delayed ACK, 40 ms, which is
/// what the stock benchmark's p99 of 45-50 ms was.
fn no_delay(listener: &TcpListener) {
    if let Err(e) = socket2::SockRef::from(listener).set_tcp_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY on the listener");
    }
}

/// How long each shutdown phase waits for its tasks.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Gap in a room's sequence tolerated before reading the missing messages from PostgreSQL.
const GAP_WAIT: Duration = Duration::from_millis(300);

/// How often this instance proves it is alive in the presence table.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// A configured server bound to its listener, not yet serving.
pub struct Application {
    /// What the handlers share. Dropped by `run` before the drain, because it holds a socket
    /// shutdown handle of its own.
    state: Arc<AppState>,
    listener: TcpListener,
    limits: http::listener::Limits,
    /// `METRICS_ADDR`'s listener, when it is set.
    metrics: Option<TcpListener>,
    phases: Phases,
    /// For tests, which reach the broker and the database beside the server.
    bus: Arc<Bus>,
    db: PgPool,
}

/// The stop's phases, in order (see the module comment).
struct Phases {
    sockets: ShutdownSignal,
    intake: ShutdownSignal,
    work: ShutdownSignal,
    outbox: ShutdownSignal,
    connection: ShutdownSignal,
}

/// What a stop saw.
#[derive(Debug, Default)]
pub struct Stopped {
    /// Tasks still running at their phase's deadline, as `phase/task`.
    pub late: Vec<String>,
    /// Phases where some handle (a socket, a supervisor's intake) was still held at the deadline.
    pub held: Vec<&'static str>,
    /// Publishes never confirmed, and events never published, when the broker connection
    /// closed (both zero when the broker was up throughout).
    pub unconfirmed: usize,
    pub unsent: usize,
}

impl Stopped {
    /// Every task stopped in time, holding nothing.
    pub fn is_clean(&self) -> bool {
        self.late.is_empty() && self.held.is_empty() && self.unconfirmed == 0 && self.unsent == 0
    }

    fn phase(&mut self, name: &'static str, drained: crate::shutdown::Drained) {
        if drained.handles_held {
            self.held.push(name);
        }
        self.late
            .extend(drained.late.into_iter().map(|task| format!("{name}/{task}")));
    }
}

/// Opens the database (one clear error when it is unreachable) and applies migrations.
/// The default rooms (`store::rooms::DEFAULT_ROOMS`), created when missing: `tickertalk seed`,
/// or every start with `SEED_ROOMS`.
pub async fn seed_rooms(db: &sqlx::PgPool) -> Result<(), ConfigError> {
    crate::store::rooms::ensure(db, &crate::store::rooms::DEFAULT_ROOMS)
        .await
        .map_err(|e| ConfigError {
            variable: "DATABASE_URL",
            message: format!("cannot create the default rooms ({e})"),
        })?;
    tracing::info!("default rooms present: General, Random");
    Ok(())
}

pub async fn open_database(config: &Config) -> Result<PgPool, ConfigError> {
    let db = tokio::time::timeout(
        Duration::from_secs(10),
        store::connect(&config.database_url, config.db_max_connections),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(|e| ConfigError {
        variable: "DATABASE_URL",
        message: format!(
            "cannot connect to {} ({e})",
            tickertalk_wire::redact_url(&config.database_url)
        ),
    })?;
    store::migrate(&db).await.map_err(|e| ConfigError {
        variable: "DATABASE_URL",
        message: format!("migrations failed ({e})"),
    })?;
    Ok(db)
}

impl Application {
    /// Validates the configuration, connects to PostgreSQL, migrates, and starts the broker
    /// supervisor. The broker may be down: the server starts anyway and reports not-ready.
    pub async fn build(config: Config, listener: TcpListener) -> Result<Application, ConfigError> {
        config.validate(true)?;
        tickertalk_wire::prometheus::install();
        describe_metrics();
        no_delay(&listener);
        let limits = http::listener::Limits::new(
            Duration::from_secs(config.http_header_timeout_secs),
            config.max_connections_per_address,
            config.max_connections,
            http::listener::raise_file_limit(),
        );
        let metrics = match config.metrics_addr.trim() {
            "" => None,
            addr => Some(TcpListener::bind(addr).await.map_err(|e| ConfigError {
                variable: "METRICS_ADDR",
                message: format!("cannot listen on {addr} ({e})"),
            })?),
        };
        let db = open_database(&config).await?;
        if config.seed_rooms {
            seed_rooms(&db).await?;
        }
        let sessions = Arc::new(SessionCache::new(Duration::from_secs(config.session_cache_secs)));
        let phases = Phases {
            sockets: ShutdownSignal::new(),
            intake: ShutdownSignal::new(),
            work: ShutdownSignal::new(),
            outbox: ShutdownSignal::new(),
            connection: ShutdownSignal::new(),
        };
        let interest = Arc::new(Interest::default());
        let hub = realtime::start(
            db.clone(),
            sessions.clone(),
            interest.clone(),
            GAP_WAIT,
            &phases.work,
        );
        let nodes = Nodes::parse(&config.amqp_url).map_err(|message| ConfigError {
            variable: "AMQP_URL",
            message,
        })?;
        let bus = Bus::new(
            nodes,
            &config.broker_prefix,
            hub.clone(),
            interest,
            &phases.outbox,
        );
        let chat = Arc::new(Chat::new(
            db.clone(),
            bus.clone(),
            sessions,
            &config,
            &phases.work,
        ));
        chat.heartbeat().await.map_err(|e| ConfigError {
            variable: "DATABASE_URL",
            message: format!("cannot write to the database ({e})"),
        })?;
        // Answers from the bot's queue are stored by the chat use cases.
        let (supervised, answers, intake) = (
            bus.clone(),
            chat.clone() as Arc<dyn AnswerStore>,
            phases.intake.subscribe(),
        );
        phases
            .connection
            .spawn("broker", |close| supervised.supervise(answers, intake, close));
        let (c, h) = (chat.clone(), hub.clone());
        phases.work.spawn("heartbeat", |stop| heartbeat(c, h, stop));
        let probed = db.clone();
        phases.work.spawn("pool probe", |stop| pool_probe(probed, stop));
        let priced = chat.clone();
        phases
            .work
            .spawn("price refresh", |stop| price_refresh(priced, stop));
        let state = Arc::new(AppState {
            chat,
            hub,
            sockets: SocketSettings::from_config(&config),
            origins: config.origins(),
            pages: Default::default(),
            trusted_proxies: config.proxies()?,
            user_sockets: http::limits::Tally::new(config.max_sockets_per_user),
            shutdown: phases.sockets.subscribe(),
            qa_routes: config.qa_routes,
            body_timeout: Duration::from_secs(config.http_body_timeout_secs.max(1)),
        });
        Ok(Application {
            state,
            listener,
            limits,
            metrics,
            phases,
            bus,
            db,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Where `/metrics` is served (`METRICS_ADDR`), if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// What the handlers share (tests reach the hub and the use cases through it).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Tests: the broker handle (to hold it down, drop its connection, watch it).
    pub fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    /// Tests: the pool (to look at or arrange rows beside the server).
    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// Serves until `shutdown` resolves, then stops phase by phase (see the module comment) and
    /// says what it saw.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Stopped {
        let Application {
            state,
            listener,
            limits,
            metrics,
            phases,
            bus,
            db: _,
        } = self;
        let addr = listener.local_addr().ok();
        let chat = state.chat.clone();
        if let Some(metrics) = metrics {
            tracing::info!(addr = ?metrics.local_addr().ok(), "metrics listening");
            // A few connections, no per-address cap: Prometheus and an operator's curl.
            let limits = http::listener::Limits::new(limits.header_timeout, 0, 64, 0);
            let router = http::metrics_router(&state);
            phases.connection.spawn("metrics listener", |mut stop| {
                http::listener::serve(metrics, router, limits, async move { stop.recv().await })
            });
        }
        tracing::info!(?addr, instance = %chat.instance_id(), "listening");
        let Phases {
            sockets,
            intake,
            work,
            outbox,
            connection,
        } = phases;
        let close_sockets = sockets.trigger();
        // The router holds the state (and its socket handle); it is dropped when serving ends.
        http::listener::serve(listener, http::router(state), limits, async move {
            shutdown.await;
            tracing::info!("shutting down");
            close_sockets.fire();
        })
        .await;
        let mut stopped = Stopped::default();
        stopped.phase("sockets", sockets.shutdown(DRAIN_TIMEOUT).await);
        stopped.phase("intake", intake.shutdown(DRAIN_TIMEOUT).await);
        stopped.phase("work", work.shutdown(DRAIN_TIMEOUT).await);
        stopped.phase("outbox", outbox.shutdown(DRAIN_TIMEOUT).await);
        (stopped.unconfirmed, stopped.unsent) = bus.outstanding();
        stopped.phase("connection", connection.shutdown(DRAIN_TIMEOUT).await);
        chat.close().await;
        if stopped.is_clean() {
            tracing::info!("stopped");
        } else {
            tracing::warn!(late = ?stopped.late, held = ?stopped.held, unconfirmed = stopped.unconfirmed, unsent = stopped.unsent, "stopped, but not everything finished in time");
        }
        stopped
    }
}

/// How often the pool probe takes a connection.
const POOL_PROBE_EVERY: Duration = Duration::from_secs(1);

/// Takes a connection from the pool (and gives it back) once a second, recording how long it
/// waited: `tickertalk_db_pool_acquire_seconds` is what any query would have waited then. sqlx
/// has no hook that times the pool's own acquires, so the wait is sampled.
async fn pool_probe(db: sqlx::PgPool, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval(POOL_PROBE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let started = std::time::Instant::now();
                if let Ok(conn) = db.acquire().await {
                    metrics::histogram!("tickertalk_db_pool_acquire_seconds").record(started.elapsed().as_secs_f64());
                    drop(conn);
                }
            }
            _ = shutdown.recv() => break,
        }
    }
}

/// Keeps this instance's presence rows alive (and sweeps dead instances). When PostgreSQL had
/// lost them (the presence tables are unlogged: an immediate restart or crash empties them),
/// records every local socket's rooms again from the hub.
async fn heartbeat(chat: Arc<Chat>, hub: Arc<realtime::Hub>, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    let mut restore = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match chat.heartbeat().await {
                    Ok(lost) => restore |= lost,
                    Err(e) => tracing::warn!(error = %e, "presence heartbeat failed"),
                }
                chat.count_bots().await;
                // Every instance prunes; a delete of rows already gone costs one index scan.
                if let Err(e) = chat.prune_budgets().await {
                    tracing::warn!(error = %e, "rate budgets not pruned; retrying at the next heartbeat");
                }
                if restore {
                    let entries = hub.memberships();
                    match chat.restore_presence(&entries).await {
                        Ok(n) => {
                            restore = false;
                            if !entries.is_empty() {
                                tracing::warn!(restored = n, sockets = entries.len(), "presence was lost by the database; recorded again");
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "presence not restored; retrying at the next heartbeat"),
                    }
                }
            }
            _ = shutdown.recv() => break,
        }
    }
}

/// Checks a few times per `WATCH_REFRESH_SECS` whether the scheduled price refresh is due
/// (one server per period asks the bots: `chat::tickers`), and posts fired alerts left unposted.
async fn price_refresh(chat: Arc<Chat>, mut shutdown: Shutdown) {
    let every = (chat.refresh_period / 4).clamp(Duration::from_millis(250), Duration::from_secs(5));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = chat.tick_prices().await {
                    tracing::warn!(error = %e, "price refresh not asked; retrying");
                }
            }
            _ = shutdown.recv() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_delay_is_inherited() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        no_delay(&listener);
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
