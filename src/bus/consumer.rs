//! Consuming: what this instance does with each delivery. Events go to the sink given at
//! construction (`EventSink`); revocations are acted on and acknowledged; stock answers and
//! dead-lettered commands are stored through the `AnswerStore` the consumer was started with,
//! and acknowledged to the broker only after that.

use std::sync::Arc;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};
use lapin::types::AMQPValue;
use std::time::Duration;
use tickertalk_wire::{BotMeta, Event, PRICES_TYPE, PriceReport, REFRESH_TYPE, StockAnswer, StockCommand};
use tracing::Instrument;

use super::codec::{self, Received};
use super::{AnswerStore, Bus, CALL_TIMEOUT};

/// An answer that could not be stored goes back to the queue after this pause (not at once:
/// a database that is down would otherwise make it loop as fast as the broker can deliver).
const ANSWER_RETRY: Duration = Duration::from_secs(1);

impl Bus {
    /// One delivery from this instance's event queue.
    pub(super) fn received(self: &Arc<Self>, delivery: &Delivery) {
        match codec::decode(self.instance_id, &delivery.properties, &delivery.data) {
            // Published here: `publish` delivered it here already.
            Received::Own => {}
            Received::Event(event) => {
                self.interest.count(&event);
                self.consumed(event)
            }
            Received::Undecodable(e) => tracing::warn!(error = %e, "undecodable event dropped"),
        }
    }

    /// An event for this instance (from the broker, or published here). A revocation is acted
    /// on (by the sink), then acknowledged; an acknowledgement may complete a logout waiting
    /// here.
    pub(super) fn consumed(self: &Arc<Self>, event: Event) {
        match event {
            Event::SessionRevoked { session_id } => {
                self.sink.deliver(event);
                let ack = Event::RevocationHeard {
                    session_id,
                    instance_id: self.instance_id,
                };
                self.publish(ack);
            }
            Event::RevocationHeard {
                session_id,
                instance_id,
            } => {
                let mut waiting = self.lock_revocations();
                if let Some(w) = waiting.get_mut(&session_id) {
                    w.pending.remove(&instance_id);
                    if w.pending.is_empty() {
                        let w = waiting.remove(&session_id).expect("present");
                        let _ = w.done.send(());
                    }
                }
            }
            other => self.sink.deliver(other),
        }
    }
}

/// A stock command RabbitMQ dead-lettered (no bot took it within its 60 s, or a bot kept
/// failing on it): the asker hears so in the room instead of nothing. The answer is stored
/// like the bot's would be, under the command's request id, so it is shown once even if the
/// bot answers after all; the dead letter is acknowledged only after that.
pub(super) async fn answer_dead_letter(store: Arc<dyn AnswerStore>, delivery: Delivery) {
    let reason = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-first-death-reason").cloned())
        .and_then(|v| match v {
            AMQPValue::LongString(s) => Some(s.to_string()),
            AMQPValue::ShortString(s) => Some(s.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    if is_kind(&delivery, REFRESH_TYPE) {
        // A refresh no bot took in time: the next period asks again.
        tracing::info!(%reason, "price refresh dead-lettered; dropped");
        let _ = tokio::time::timeout(CALL_TIMEOUT, delivery.ack(BasicAckOptions::default())).await;
        return;
    }
    let Ok(cmd) = serde_json::from_slice::<StockCommand>(&delivery.data) else {
        tracing::warn!(%reason, "undecodable dead-lettered command dropped");
        let _ = tokio::time::timeout(CALL_TIMEOUT, delivery.ack(BasicAckOptions::default())).await;
        return;
    };
    tracing::warn!(request_id = %cmd.request_id, room_id = cmd.room_id, %reason, "stock command dead-lettered; answering the room");
    let why = if reason == "expired" {
        "the quote bot did not answer in time"
    } else {
        "the quote bot could not handle this request"
    };
    let answer = unanswered(&cmd, why);
    metrics::counter!("tickertalk_stock_unanswered_total", "why" => "dead_letter").increment(1);
    let stored = store.store(answer).await;
    settle(delivery, stored).await;
}

/// An answer from the answer queue: stored (and published by the store), then acknowledged.
pub(super) async fn take_answer(store: Arc<dyn AnswerStore>, delivery: Delivery) {
    if is_kind(&delivery, PRICES_TYPE) {
        return take_prices(store, delivery).await;
    }
    let Some(answer) = decode::<StockAnswer>(&delivery, "stock answer").await else {
        return;
    };
    // Logged under the asking request's id (`trace_id`), which the bot handed back.
    let span = tracing::info_span!(
        "stock_answer",
        request_id = %answer.trace_id.as_deref().unwrap_or("-"),
        command_id = %answer.request_id,
        room_id = answer.room_id,
    );
    async {
        tracing::debug!(outcome = %answer.meta.outcome, "stock answer received");
        let stored = store.store(answer).await;
        settle(delivery, stored).await;
    }
    .instrument(span)
    .await;
}

/// A bot's prices for a refresh: stored (alerts fired, tickers published), then acknowledged.
async fn take_prices(store: Arc<dyn AnswerStore>, delivery: Delivery) {
    let Some(report) = decode::<PriceReport>(&delivery, "price report").await else {
        return;
    };
    let span = tracing::info_span!("price_report", refresh_id = %report.refresh_id);
    async {
        let stored = store.store_prices(report).await;
        settle(delivery, stored).await;
    }
    .instrument(span)
    .await;
}

/// The delivery from the answer queue, decoded; or, when it does not decode, rejected
/// (never storable: dropped, as the queue has no dead-letter exchange, and said) and `None`.
async fn decode<T: serde::de::DeserializeOwned>(delivery: &Delivery, what: &str) -> Option<T> {
    match serde_json::from_slice::<T>(&delivery.data) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!(error = %e, "undecodable {what} dropped");
            let reject = delivery.reject(BasicRejectOptions { requeue: false });
            let _ = tokio::time::timeout(CALL_TIMEOUT, reject).await;
            None
        }
    }
}

/// Whether the delivery's AMQP `type` is `kind`.
fn is_kind(delivery: &Delivery, kind: &str) -> bool {
    delivery.properties.kind().as_ref().map(|k| k.as_str()) == Some(kind)
}

/// Acknowledges a delivery whose work is done, or returns it to its queue after a pause.
async fn settle(delivery: Delivery, done: Result<(), String>) {
    match done {
        Ok(()) => {
            let _ = tokio::time::timeout(CALL_TIMEOUT, delivery.ack(BasicAckOptions::default())).await;
        }
        Err(why) => {
            tracing::warn!(%why, "stock answer not stored; returning it to its queue");
            tokio::time::sleep(ANSWER_RETRY).await;
            let nack = delivery.nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            });
            let _ = tokio::time::timeout(CALL_TIMEOUT, nack).await;
        }
    }
}

/// The answer for a command no bot answered (`why` says so), in the bot's name.
pub fn unanswered(cmd: &StockCommand, why: &str) -> StockAnswer {
    StockAnswer {
        request_id: cmd.request_id,
        room_id: cmd.room_id,
        text: format!(
            "{} quote is unavailable right now ({why}); please try again shortly.",
            cmd.symbol.as_str().to_ascii_uppercase()
        ),
        meta: BotMeta {
            asked_by: cmd.username.clone(),
            command: cmd.command_text(),
            outcome: "unanswered".into(),
            ..Default::default()
        },
        answered_at: chrono::Utc::now(),
        trace_id: cmd.trace_id.clone(),
    }
}
