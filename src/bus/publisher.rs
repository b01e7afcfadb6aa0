//! Publishing with confirms: the publisher task that sends what `Bus::publish` queued, in
//! order, and waits for each confirm off the queue's path; the resender task that makes up for
//! failed publishes once the broker is back; and the single confirmed publish that commands and
//! revocations use.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Confirmation, PublisherConfirm};
use tickertalk_wire::topology::name;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use super::codec::Outgoing;
use super::{Bus, BusError, CALL_TIMEOUT};
use crate::shutdown::Shutdown;

/// How long a publish may wait for the broker's confirm before it counts as failed.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// After re-publishing what failed, the resender waits this long before it tries again (a
/// broker that takes publishes and then fails them must not make it loop).
const RESEND_PAUSE: Duration = Duration::from_secs(1);

/// A queued command nobody picked up within this time is dead-lettered rather than answered
/// minutes later with a stale quote.
const COMMAND_TTL_MS: &str = "60000";

/// The publisher task: sends what `publish` queued, in order, each handed over within
/// `CALL_TIMEOUT`; confirms are awaited beside it so the next event goes out meanwhile. At the
/// stop it sends what is still queued and waits for every confirm before it returns: a failed
/// one is remembered as unsent like any other, and what is left unsent is logged.
pub(super) async fn publisher(bus: Weak<Bus>, mut queued: mpsc::Receiver<Outgoing>, mut stop: Shutdown) {
    let mut confirms = JoinSet::new();
    loop {
        tokio::select! {
            out = queued.recv() => match (out, bus.upgrade()) {
                (Some(out), Some(bus)) => send_one(bus, out, &mut confirms).await,
                _ => break,
            },
            Some(_) = confirms.join_next(), if !confirms.is_empty() => {}
            _ = stop.recv() => break,
        }
    }
    queued.close();
    while let Some(out) = queued.recv().await {
        let Some(bus) = bus.upgrade() else { break };
        send_one(bus, out, &mut confirms).await;
    }
    while confirms.join_next().await.is_some() {}
    if let Some(bus) = bus.upgrade() {
        let left = bus.lock_unsent().len();
        if left > 0 {
            tracing::warn!(
                events = left,
                "events not published at shutdown: other instances read the stored messages from PostgreSQL at their next gap or reconnect"
            );
        }
    }
}

/// Hands one queued event to the broker; its confirm is awaited in `confirms`.
async fn send_one(bus: Arc<Bus>, out: Outgoing, confirms: &mut JoinSet<()>) {
    let events = bus.topology.events.clone();
    match bus
        .start_send(&events, &out.key, &out.payload, 1, true, None)
        .await
    {
        Ok(confirm) => {
            bus.lock_confirms().started(Instant::now());
            confirms.spawn(async move {
                let result = confirmed(confirm).await;
                bus.lock_confirms().finished(result.is_ok(), Instant::now());
                if let Err(e) = result {
                    tracing::warn!(error = %e, key = %out.key, "publish not confirmed: made up for once the broker is back");
                    bus.missed(out);
                }
            });
        }
        Err(e) => {
            tracing::warn!(error = %e, key = %out.key, "publish failed: made up for once the broker is back");
            bus.missed(out);
        }
    }
}

/// The resender task: whenever publishes failed, waits for the broker connection and queues
/// what makes up for them (the rooms' tips, the events to send again).
pub(super) async fn resender(
    bus: Weak<Bus>,
    wake: Arc<Notify>,
    mut up: watch::Receiver<bool>,
    mut stop: Shutdown,
) {
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = stop.recv() => return,
        }
        tokio::select! {
            connected = up.wait_for(|up| *up) => if connected.is_err() { return },
            _ = stop.recv() => return,
        }
        let Some(bus) = bus.upgrade() else { return };
        let redo = bus.lock_unsent().take();
        if !redo.is_empty() {
            tracing::info!(
                events = redo.len(),
                "publishing what failed while the broker was away"
            );
        }
        for out in redo {
            bus.enqueue(out);
        }
        drop(bus);
        tokio::select! {
            _ = tokio::time::sleep(RESEND_PAUSE) => {}
            _ = stop.recv() => return,
        }
    }
}

impl Bus {
    /// One confirmed publish on the shared channel.
    pub(super) async fn send(
        &self,
        exchange: &str,
        key: &str,
        payload: &[u8],
        delivery_mode: u8,
        kind: Option<&str>,
    ) -> Result<(), BusError> {
        let confirm = self
            .start_send(exchange, key, payload, delivery_mode, false, kind)
            .await?;
        confirmed(confirm).await
    }

    /// Hands one publish to the channel (in call order) and returns its pending confirm.
    /// `from_here`: marked with this instance's id, because `publish` already delivered it here
    /// (the consumer skips such copies).
    async fn start_send(
        &self,
        exchange: &str,
        key: &str,
        payload: &[u8],
        delivery_mode: u8,
        from_here: bool,
        kind: Option<&str>,
    ) -> Result<PublisherConfirm, BusError> {
        let guard = self.live.read().await;
        let live = guard.as_ref().ok_or(BusError::Down)?;
        let mut props = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(delivery_mode);
        if exchange == self.topology.commands {
            props = props.with_expiration(COMMAND_TTL_MS.into());
        }
        if from_here {
            props = props.with_app_id(self.instance_id.to_string().into());
        }
        if let Some(kind) = kind {
            props = props.with_type(name(kind));
        }
        let handed = live.publish.basic_publish(
            name(exchange),
            name(key),
            BasicPublishOptions {
                mandatory: false,
                ..Default::default()
            },
            payload,
            props,
        );
        let started = Instant::now();
        let handed = tokio::time::timeout(CALL_TIMEOUT, handed)
            .await
            .map_err(|_| BusError::Timeout)??;
        metrics::histogram!("tickertalk_broker_publish_seconds").record(started.elapsed().as_secs_f64());
        Ok(handed)
    }
}

/// Waits (at most `CONFIRM_TIMEOUT`) for the broker's answer to one publish.
async fn confirmed(confirm: PublisherConfirm) -> Result<(), BusError> {
    let started = Instant::now();
    let result = match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
        Err(_) => Err(BusError::Timeout),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(Confirmation::Nack(_))) => Err(BusError::Nacked),
        Ok(Ok(_)) => Ok(()),
    };
    match result {
        Ok(()) => {
            metrics::histogram!("tickertalk_broker_confirm_seconds").record(started.elapsed().as_secs_f64())
        }
        Err(_) => metrics::counter!("tickertalk_broker_confirm_failures_total").increment(1),
    }
    result
}
