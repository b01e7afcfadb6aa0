//! The consume loop. Commands are acknowledged only after the reply is confirmed by the broker,
//! so a bot that dies mid-command loses nothing: RabbitMQ redelivers the unacknowledged command
//! to another (or the restarted) bot. The quorum queue's delivery limit dead-letters a command
//! that keeps failing instead of letting it loop forever.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tickertalk_wire::topology::{ANSWER_KEY, name};
use tickertalk_wire::{
    Backoff, BotMeta, Nodes, PRICES_TYPE, PriceRefresh, REFRESH_TYPE, StockAnswer, StockCommand, Topology,
};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::BotConfig;
use crate::fetch::QuoteSource;

/// How long a finishing bot waits for the commands in hand.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs until `stop` turns true: connect, consume, reconnect with backoff on any failure.
pub async fn run(cfg: BotConfig, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let source =
        Arc::new(QuoteSource::new(cfg.fetch_config()).map_err(|e| format!("QUOTE_URL: http client: {e}"))?);
    let topology = Topology::new(&cfg.broker_prefix);
    let nodes = Nodes::parse(&cfg.amqp_url).map_err(|e| format!("AMQP_URL: {e}"))?;
    let mut backoff = Backoff::default();
    let mut sessions = 0u64;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let ended = session(
            &cfg,
            nodes.current(),
            &topology,
            &source,
            &mut stop,
            &mut sessions,
        )
        .await;
        metrics::gauge!("tickertalk_bot_consuming").set(0.0);
        metrics::gauge!("tickertalk_bot_broker_connected").set(0.0);
        match ended {
            Ok(Ended::Stopped) => return Ok(()),
            Ok(Ended::Lost) => {
                backoff.reset();
                tracing::warn!(broker = %nodes.current().1, "broker connection lost; reconnecting to the next node");
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    variable = "AMQP_URL",
                    broker = %nodes.current().1,
                    nodes = nodes.len(),
                    retry_in_ms = backoff.delay().as_millis() as u64,
                    "cannot reach the broker; retrying"
                )
            }
        }
        // The node may be gone: the next attempt goes to the next one of AMQP_URL.
        nodes.advance();
        let stopped = async {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if !backoff.wait(stopped).await {
            return Ok(());
        }
    }
}

enum Ended {
    Stopped,
    Lost,
}

/// One connection's lifetime, to the node at `url` (`endpoint`: its `host:port`, for the log).
async fn session(
    cfg: &BotConfig,
    (url, endpoint): (&str, String),
    topology: &Topology,
    source: &Arc<QuoteSource>,
    stop: &mut watch::Receiver<bool>,
    sessions: &mut u64,
) -> Result<Ended, lapin::Error> {
    let props = ConnectionProperties::default().with_connection_name("tickertalk-bot".into());
    // A node that accepts TCP and then says nothing must not hold the bot: try the next one.
    let conn = tokio::time::timeout(Duration::from_secs(5), Connection::connect(url, props))
        .await
        .map_err(|_| {
            lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(
                lapin::ConnectionState::Closed,
            ))
        })??;
    metrics::gauge!("tickertalk_bot_broker_connected").set(1.0);
    *sessions += 1;
    if *sessions > 1 {
        metrics::counter!("tickertalk_bot_broker_reconnects_total").increment(1);
    }
    let consume = conn.create_channel().await?;
    topology.declare(&consume).await?;
    consume
        .basic_qos(cfg.prefetch, BasicQosOptions::default())
        .await?;
    let publish = conn.create_channel().await?;
    publish.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut consumer = consume
        .basic_consume(
            name(&topology.stock_queue),
            name(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %topology.stock_queue, prefetch = cfg.prefetch, broker = %endpoint, "bot consuming");
    metrics::gauge!("tickertalk_bot_consuming").set(1.0);

    let mut in_hand = JoinSet::new();
    let ended = loop {
        tokio::select! {
            _ = stop.changed() => break Ended::Stopped,
            Some(done) = in_hand.join_next(), if !in_hand.is_empty() => {
                if let Ok(Err(PublishBroken)) = done {
                    // Replies cannot go out on this connection: reconnect rather than nack and
                    // redeliver every command in a tight loop.
                    break Ended::Lost;
                }
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let (source, publish, exchange) = (source.clone(), publish.clone(), topology.commands.clone());
                    in_hand.spawn(handle(delivery, source, publish, exchange));
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer failed");
                    break Ended::Lost;
                }
                None => break Ended::Lost,
            }
        }
    };
    if let Ended::Stopped = ended {
        // Finish the commands in hand (their replies and acks), then leave; anything prefetched
        // but unacknowledged goes back to the queue when the connection closes.
        tracing::info!(in_hand = in_hand.len(), "stopping: finishing commands in hand");
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while in_hand.join_next().await.is_some() {}
        })
        .await;
    }
    in_hand.abort_all();
    let _ = conn.close(200, name("bye")).await;
    Ok(ended)
}

/// The publish channel failed: this connection can no longer deliver replies.
struct PublishBroken;

async fn handle(
    delivery: Delivery,
    source: Arc<QuoteSource>,
    publish: Channel,
    exchange: String,
) -> Result<(), PublishBroken> {
    if delivery.properties.kind().as_ref().map(|k| k.as_str()) == Some(REFRESH_TYPE) {
        return refresh(delivery, source, publish, exchange).await;
    }
    let cmd: StockCommand = match serde_json::from_slice(&delivery.data) {
        Ok(c) => c,
        Err(e) => {
            // Unreadable: no room to answer into. Dead-letter it for a human to look at.
            tracing::error!(error = %e, "undecodable command dead-lettered");
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            return Ok(());
        }
    };
    metrics::counter!("tickertalk_bot_commands_total").increment(1);
    // `request_id` is the asking HTTP request's (`trace_id`, the server's X-Request-Id), so a
    // command can be followed from the server's log through this one and back.
    let span = tracing::info_span!(
        "command",
        request_id = %cmd.trace_id.as_deref().unwrap_or("-"),
        command_id = %cmd.request_id,
        room_id = cmd.room_id,
        symbol = cmd.symbol.as_str(),
    );
    answer(delivery, cmd, source, publish, exchange)
        .instrument(span)
        .await
}

/// Fetches the quote and publishes the answer to the durable answer queue (through the commands
/// exchange); a server instance stores it in the room. The command is acknowledged only once
/// the broker confirmed the answer.
async fn answer(
    delivery: Delivery,
    cmd: StockCommand,
    source: Arc<QuoteSource>,
    publish: Channel,
    exchange: String,
) -> Result<(), PublishBroken> {
    let found = source.answer(&cmd.symbol).await;
    let reply = StockAnswer {
        request_id: cmd.request_id,
        room_id: cmd.room_id,
        text: found.text,
        meta: BotMeta {
            asked_by: cmd.username.clone(),
            command: cmd.command_text(),
            outcome: found.outcome.to_string(),
            quote: found.quote,
            suggestion: found.suggestion,
            alert: None,
        },
        answered_at: Utc::now(),
        trace_id: cmd.trace_id.clone(),
    };
    let published = publish_reply(&publish, &exchange, &reply, None).await;
    if published.is_ok() {
        metrics::counter!("tickertalk_bot_answers_total", "outcome" => found.outcome).increment(1);
        tracing::info!(outcome = found.outcome, "replied");
    }
    settle(delivery, &publish, published).await
}

/// A scheduled price refresh: every symbol's quote, one report back on the answer queue, then
/// the acknowledgement (as for a command: only once the broker confirmed the report).
async fn refresh(
    delivery: Delivery,
    source: Arc<QuoteSource>,
    publish: Channel,
    exchange: String,
) -> Result<(), PublishBroken> {
    let asked: PriceRefresh = match serde_json::from_slice(&delivery.data) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "undecodable price refresh dropped");
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            return Ok(());
        }
    };
    let span = tracing::info_span!("refresh", refresh_id = %asked.refresh_id, symbols = asked.symbols.len());
    async move {
        let report = crate::refresh::prices(&source, &asked).await;
        let published = publish_reply(&publish, &exchange, &report, Some(PRICES_TYPE)).await;
        if published.is_ok() {
            metrics::counter!("tickertalk_bot_refreshes_total").increment(1);
            tracing::info!(priced = report.prices.len(), "prices reported");
        }
        settle(delivery, &publish, published).await
    }
    .instrument(span)
    .await
}

/// Acknowledges a delivery whose answer the broker confirmed, or returns it to the queue.
async fn settle(
    delivery: Delivery,
    publish: &Channel,
    published: Result<(), String>,
) -> Result<(), PublishBroken> {
    match published {
        Ok(()) => {
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                // The reply went out; the command may come back and be answered twice. That is
                // the price of at-least-once; the alternative (ack first) could lose the reply.
                tracing::warn!(error = %e, "ack failed after reply");
            }
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, "reply not confirmed; command requeued");
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await;
            if publish.status().connected() {
                Ok(())
            } else {
                Err(PublishBroken)
            }
        }
    }
}

async fn publish_reply<T: serde::Serialize>(
    ch: &Channel,
    exchange: &str,
    reply: &T,
    kind: Option<&str>,
) -> Result<(), String> {
    let payload = serde_json::to_vec(reply).map_err(|e| e.to_string())?;
    let mut props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    if let Some(kind) = kind {
        props = props.with_type(name(kind));
    }
    let confirm = ch
        .basic_publish(
            name(exchange),
            name(ANSWER_KEY),
            BasicPublishOptions::default(),
            &payload,
            props,
        )
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), confirm).await {
        Ok(Ok(Confirmation::Nack(_))) => Err("broker nacked the reply".into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("confirm timed out".into()),
    }
}
