//! Exchange and queue names and their idempotent declaration. Declaring something that exists
//! with the same arguments is a no-op, so every process declares what it uses at every
//! (re)connect and start-up order does not matter. `docs/rabbitmq.md` draws the picture.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Names derived from the prefix (`BROKER_PREFIX`), so tenants and tests can share a broker.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Topic exchange every event goes through; each server instance binds one queue to it.
    pub events: String,
    /// Direct exchange for bot commands.
    pub commands: String,
    /// Durable quorum queue the bots consume.
    pub stock_queue: String,
    /// Where commands go after too many failed deliveries.
    pub dead_exchange: String,
    /// Dead-lettered commands: the servers consume it and answer the room (and log them). A
    /// quorum queue, like the command queue: a classic one lives on one node, and while that
    /// node is down no process could even declare it, so none could (re)connect.
    pub dead_queue: String,
    /// The classic dead-letter queue of earlier versions (removed at declaration when empty).
    legacy_dead_queue: String,
    /// Durable quorum queue of answers (`StockAnswer`), bound to the commands exchange: the
    /// bots publish, the server instances consume (competing) and store.
    pub answer_queue: String,
}

/// Routing key of answers on the commands exchange.
pub const ANSWER_KEY: &str = "stock.answer";

/// Deliveries of one answer before RabbitMQ drops it (one no server can store, ever).
pub const ANSWER_DELIVERY_LIMIT: i64 = 20;

/// Routing key of stock commands on the commands exchange.
pub const STOCK_KEY: &str = "stock";

/// Deliveries of one command before RabbitMQ dead-letters it (a bot crashing on it each time).
pub const DELIVERY_LIMIT: i64 = 5;

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            events: format!("{prefix}.events"),
            commands: format!("{prefix}.commands"),
            stock_queue: format!("{prefix}.stock.commands"),
            dead_exchange: format!("{prefix}.dead"),
            dead_queue: format!("{prefix}.stock.dead_letters"),
            legacy_dead_queue: format!("{prefix}.stock.commands.dead"),
            answer_queue: format!("{prefix}.stock.answers"),
        }
    }

    /// Declares the events exchange and the command path (used by servers and bots alike).
    pub async fn declare(&self, ch: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            name(&self.events),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            name(&self.commands),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            name(&self.dead_exchange),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;

        let durable_q = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        // A dead letter is delivered to the servers until one has answered the room with it.
        ch.queue_declare(name(&self.dead_queue), durable_q, quorum(ANSWER_DELIVERY_LIMIT))
            .await?;
        bind(ch, &self.dead_queue, &self.dead_exchange, STOCK_KEY).await?;

        // A quorum queue counts deliveries itself (x-delivery-limit), which is what stops a
        // poison command from looping forever even when the consumer dies before it can nack.
        let mut args = quorum(DELIVERY_LIMIT);
        args.insert(
            name("x-dead-letter-exchange"),
            AMQPValue::LongString(LongString::from(self.dead_exchange.as_str())),
        );
        args.insert(
            name("x-dead-letter-routing-key"),
            AMQPValue::LongString(LongString::from(STOCK_KEY)),
        );
        ch.queue_declare(name(&self.stock_queue), durable_q, args).await?;
        bind(ch, &self.stock_queue, &self.commands, STOCK_KEY).await?;

        ch.queue_declare(name(&self.answer_queue), durable_q, quorum(ANSWER_DELIVERY_LIMIT))
            .await?;
        bind(ch, &self.answer_queue, &self.commands, ANSWER_KEY).await?;
        Ok(())
    }

    /// Removes the classic dead-letter queue of earlier versions, if it is empty (it has no
    /// consumer any more and would fill up). A non-empty one is left, with a warning, for an
    /// operator to read. Best effort, on a channel of its own (a refusal closes the channel).
    pub async fn retire_legacy(&self, conn: &lapin::Connection) {
        let Ok(ch) = conn.create_channel().await else {
            return;
        };
        let opts = QueueDeleteOptions {
            if_empty: true,
            ..Default::default()
        };
        if let Err(e) = ch.queue_delete(name(&self.legacy_dead_queue), opts).await {
            tracing::warn!(queue = %self.legacy_dead_queue, error = %e,
                "the old dead-letter queue is not empty: read its commands and delete it");
        }
        let _ = ch.close(200, name("bye")).await;
    }

    /// Deletes every durable queue and exchange of this prefix (tearing down a tenant, or a
    /// test run: quorum queues left behind pile up and slow every broker restart). Deleting
    /// something that does not exist succeeds.
    pub async fn delete(&self, ch: &Channel) -> lapin::Result<()> {
        for q in [
            &self.stock_queue,
            &self.dead_queue,
            &self.legacy_dead_queue,
            &self.answer_queue,
        ] {
            ch.queue_delete(name(q), QueueDeleteOptions::default()).await?;
        }
        for x in [&self.events, &self.commands, &self.dead_exchange] {
            ch.exchange_delete(name(x), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Connects to the first node of `amqp_url` (one URL or a comma-separated list) that
    /// answers, deletes this prefix's topology, disconnects.
    pub async fn delete_at(&self, amqp_url: &str) -> Result<(), String> {
        let nodes = crate::Nodes::parse_in_order(amqp_url)?;
        let mut result = Err("no node".to_string());
        for _ in 0..nodes.len() {
            let (url, endpoint) = nodes.current();
            match lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await {
                Ok(conn) => {
                    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
                    let result = self.delete(&ch).await.map_err(|e| e.to_string());
                    let _ = conn.close(200, name("bye")).await;
                    return result;
                }
                Err(e) => result = Err(format!("{endpoint}: {e}")),
            }
            nodes.advance();
        }
        result
    }

    /// Declares this server instance's own queue: server-named, exclusive and auto-delete (it
    /// dies with the connection), and a classic queue on the node the instance is connected to
    /// (its events are transient: a quorum queue would replicate what nobody needs twice).
    /// Bound to the events every instance gets (`routing::BROADCAST_BINDINGS`); room events come
    /// through the shard bindings the instance adds as its sockets join rooms. One queue per
    /// instance, never per socket.
    pub async fn declare_instance_queue(&self, ch: &Channel) -> lapin::Result<String> {
        let opts = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let q = ch.queue_declare(name(""), opts, FieldTable::default()).await?;
        let queue = q.name().as_str().to_string();
        for key in crate::routing::BROADCAST_BINDINGS {
            bind(ch, &queue, &self.events, key).await?;
        }
        Ok(queue)
    }
}

/// The arguments of a quorum queue that gives up on a message after `limit` deliveries.
fn quorum(limit: i64) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        name("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    args.insert(name("x-delivery-limit"), AMQPValue::LongLongInt(limit));
    args
}

async fn bind(ch: &Channel, queue: &str, exchange: &str, key: &str) -> lapin::Result<()> {
    ch.queue_bind(
        name(queue),
        name(exchange),
        name(key),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
}

/// lapin wants `ShortString` for names; every name here is ours and short.
pub fn name(s: &str) -> ShortString {
    ShortString::from(s)
}
