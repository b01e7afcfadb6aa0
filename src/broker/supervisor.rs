//! One supervised RabbitMQ connection per server instance: connect, declare the topology, consume
//! this instance's queue into the hub, and on any failure reconnect with capped exponential
//! backoff. Publishing never waits for a reconnect: while the broker is down `publish` fails at
//! once and the caller falls back to local delivery (the message is already stored).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::sync::{RwLock, watch};

use super::backoff::Backoff;
use super::topology::{STOCK_KEY, Topology, name};
use super::wire::{Event, StockCommand};
use crate::ws::Hub;

/// How long a publish may wait for the broker's confirm before it counts as failed.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker unavailable")]
    Down,
    #[error("broker refused the message")]
    Nacked,
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker confirm timed out")]
    Timeout,
    #[error("no bot is consuming commands")]
    NoBot,
}

/// A queued command nobody picked up within this time is dead-lettered rather than answered
/// minutes later with a stale quote.
const COMMAND_TTL_MS: &str = "60000";

/// The live connection, present only while connected.
struct Live {
    conn: Connection,
    /// Confirm-mode channel shared by every publisher of this instance (lapin channels are
    /// safe to use concurrently; confirms are matched per publish).
    publish: Channel,
}

/// A server instance's handle on RabbitMQ.
pub struct Broker {
    url: String,
    pub topology: Topology,
    live: RwLock<Option<Live>>,
    /// Flips to true while connected; `/readyz` and tests read it.
    up_tx: watch::Sender<bool>,
}

impl Broker {
    pub fn new(url: &str, prefix: &str) -> Arc<Self> {
        Arc::new(Broker {
            url: url.to_string(),
            topology: Topology::new(prefix),
            live: RwLock::new(None),
            up_tx: watch::channel(false).0,
        })
    }

    pub fn is_up(&self) -> bool {
        *self.up_tx.borrow()
    }

    /// Watches the connected/disconnected state.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.up_tx.subscribe()
    }

    /// Publishes an event to every instance and waits for the broker's confirm.
    pub async fn publish_event(&self, event: &Event) -> Result<(), BrokerError> {
        let payload = serde_json::to_vec(event).expect("events always serialise");
        // Events are a fan-out of data already stored in PostgreSQL: transient delivery mode is
        // enough (a lost event is re-read from the database by the gap filler).
        self.publish(&self.topology.events, &event.routing_key(), &payload, 1)
            .await
    }

    /// Queues a bot command durably (persistent message, confirmed by the broker).
    /// Refuses when no bot consumes the queue, so the caller can say so instead of leaving
    /// the room in silence.
    pub async fn publish_command(&self, cmd: &StockCommand) -> Result<(), BrokerError> {
        {
            let guard = self.live.read().await;
            let live = guard.as_ref().ok_or(BrokerError::Down)?;
            let passive = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let queue = live
                .publish
                .queue_declare(name(&self.topology.stock_queue), passive, FieldTable::default())
                .await?;
            if queue.consumer_count() == 0 {
                return Err(BrokerError::NoBot);
            }
        }
        let payload = serde_json::to_vec(cmd).expect("commands always serialise");
        self.publish(&self.topology.commands, STOCK_KEY, &payload, 2)
            .await
    }

    async fn publish(
        &self,
        exchange: &str,
        key: &str,
        payload: &[u8],
        delivery_mode: u8,
    ) -> Result<(), BrokerError> {
        let guard = self.live.read().await;
        let live = guard.as_ref().ok_or(BrokerError::Down)?;
        let mut props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(delivery_mode);
        if exchange == self.topology.commands {
            props = props.with_expiration(COMMAND_TTL_MS.into());
        }
        let confirm = live
            .publish
            .basic_publish(
                name(exchange),
                name(key),
                BasicPublishOptions {
                    mandatory: false,
                    ..Default::default()
                },
                payload,
                props,
            )
            .await?;
        drop(guard);
        match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
            Err(_) => Err(BrokerError::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(Confirmation::Nack(_))) => Err(BrokerError::Nacked),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Closes the current connection as if the broker had dropped it (tests use this to exercise
    /// the reconnect path without restarting a shared broker).
    pub async fn drop_connection(&self) {
        if let Some(live) = self.live.read().await.as_ref() {
            let _ = live.conn.close(320, name("forced by test")).await;
        }
    }

    /// Runs until `stop` fires: connect, consume, and reconnect with backoff on failure.
    pub async fn supervise(self: Arc<Self>, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::default();
        loop {
            if *stop.borrow() {
                break;
            }
            match self.connect_once().await {
                Ok(mut consumer) => {
                    backoff.reset();
                    tracing::info!("broker connected");
                    self.up_tx.send_replace(true);
                    // Messages stored while we were away never reached this instance's queue:
                    // read them from the database for every room with local sockets.
                    hub.resync();
                    loop {
                        tokio::select! {
                            _ = stop.changed() => break,
                            next = consumer.next() => match next {
                                Some(Ok(delivery)) => match serde_json::from_slice::<Event>(&delivery.data) {
                                    Ok(event) => hub.dispatch(event),
                                    Err(e) => tracing::warn!(error = %e, "undecodable event dropped"),
                                },
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "broker consumer failed");
                                    break;
                                }
                                None => {
                                    tracing::warn!("broker consumer ended");
                                    break;
                                }
                            }
                        }
                    }
                    self.up_tx.send_replace(false);
                    if let Some(live) = self.live.write().await.take() {
                        let _ = live.conn.close(200, name("bye")).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.delay().as_millis() as u64, "broker connect failed");
                }
            }
            if !backoff.wait(&mut stop).await {
                break;
            }
        }
        self.up_tx.send_replace(false);
        if let Some(live) = self.live.write().await.take() {
            let _ = live.conn.close(200, name("shutdown")).await;
        }
    }

    async fn connect_once(&self) -> Result<lapin::Consumer, BrokerError> {
        let props = ConnectionProperties::default().with_connection_name("tickertalk-server".into());
        let conn = tokio::time::timeout(Duration::from_secs(5), Connection::connect(&self.url, props))
            .await
            .map_err(|_| BrokerError::Timeout)??;
        let setup = conn.create_channel().await?;
        self.topology.declare(&setup).await?;
        let queue = self.topology.declare_instance_queue(&setup).await?;
        let consumer = setup
            .basic_consume(
                name(&queue),
                name("tickertalk-server"),
                BasicConsumeOptions {
                    no_ack: true,
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let publish = conn.create_channel().await?;
        publish.confirm_select(ConfirmSelectOptions::default()).await?;
        *self.live.write().await = Some(Live { conn, publish });
        Ok(consumer)
    }
}
