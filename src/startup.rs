//! Building and running the server: the library entry point `main` and the tests share.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::app::App;
use crate::auth::TokenKeys;
use crate::broker::Broker;
use crate::config::{Config, ConfigError, redact_url};
use crate::ratelimit::RateLimiter;
use crate::store;
use crate::ws::Hub;

/// How long shutdown waits for sockets to close and publishes to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Gap in a room's sequence tolerated before reading the missing messages from PostgreSQL.
const GAP_WAIT: Duration = Duration::from_millis(300);

/// A configured server bound to its listener, not yet serving.
pub struct Application {
    pub app: Arc<App>,
    listener: TcpListener,
    stop_tx: watch::Sender<bool>,
    /// Stops the broker supervisor and heartbeat, only after the sockets have drained, so their
    /// last publishes (presence "left") still go out.
    background_stop: watch::Sender<bool>,
    guard_rx: mpsc::Receiver<()>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

/// Opens the database (one clear error when it is unreachable) and applies migrations.
pub async fn open_database(config: &Config) -> Result<sqlx::PgPool, ConfigError> {
    let db = tokio::time::timeout(
        Duration::from_secs(10),
        store::connect(&config.database_url, config.db_max_connections),
    )
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(|e| ConfigError {
        variable: "DATABASE_URL",
        message: format!("cannot connect to {} ({e})", redact_url(&config.database_url)),
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
        let db = open_database(&config).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (background_stop, background_rx) = watch::channel(false);
        let (guard_tx, guard_rx) = mpsc::channel(1);
        let hub = Hub::new(db.clone(), GAP_WAIT);
        let broker = Broker::new(&config.amqp_url, &config.broker_prefix);
        let app = Arc::new(App {
            keys: TokenKeys::new(
                config.jwt_secret.as_deref().unwrap_or_default(),
                config.access_token_ttl(),
            ),
            limiter: RateLimiter::new(
                config.rate_limit_messages,
                Duration::from_secs(config.rate_limit_window_secs.max(1)),
            ),
            origins: config.origins(),
            instance_id: Uuid::new_v4(),
            config,
            db,
            hub: hub.clone(),
            broker: broker.clone(),
            shutdown: stop_rx,
            socket_guard: std::sync::Mutex::new(Some(guard_tx)),
        });
        store::presence::heartbeat(&app.db, app.instance_id)
            .await
            .map_err(|e| ConfigError {
                variable: "DATABASE_URL",
                message: format!("cannot write to the database ({e})"),
            })?;
        let background = vec![
            tokio::spawn(broker.supervise(hub, background_rx.clone())),
            tokio::spawn(heartbeat(app.clone(), background_rx)),
        ];
        Ok(Application {
            app,
            listener,
            stop_tx,
            background_stop,
            guard_rx,
            background,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then drains: stop accepting, close every socket with a
    /// close frame, let in-flight stores and publishes finish, stop the broker, forget presence.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Application {
            app,
            listener,
            stop_tx,
            background_stop,
            mut guard_rx,
            background,
        } = self;
        let addr = listener.local_addr().ok();
        tracing::info!(?addr, instance = %app.instance_id, "listening");
        let routes = crate::http::routes(app.clone());
        let stop = stop_tx.clone();
        warp::serve(routes)
            .incoming(listener)
            .graceful(async move {
                shutdown.await;
                tracing::info!("shutting down");
                // Sockets watch this; they close while warp finishes plain requests.
                stop.send_replace(true);
            })
            .run()
            .await;
        stop_tx.send_replace(true);
        let instance = app.instance_id;
        let db = app.db.clone();
        drop(app.close_socket_guard());
        drop(app);
        // Every socket task holds a guard sender; recv() returns None once all are gone.
        if tokio::time::timeout(DRAIN_TIMEOUT, guard_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("some sockets did not close in time");
        }
        background_stop.send_replace(true);
        for task in background {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, task).await;
        }
        if let Err(e) = store::presence::retire(&db, instance).await {
            tracing::warn!(error = %e, "presence not cleared at shutdown");
        }
        db.close().await;
        tracing::info!("stopped");
    }
}

/// Keeps this instance's presence rows alive (and sweeps dead instances).
async fn heartbeat(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = store::presence::heartbeat(&app.db, app.instance_id).await {
                    tracing::warn!(error = %e, "presence heartbeat failed");
                }
            }
            _ = stop.changed() => break,
        }
    }
}
