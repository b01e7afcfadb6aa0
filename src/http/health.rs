//! Liveness, readiness and the API description.

use std::sync::Arc;

use serde_json::json;
use warp::Reply;
use warp::http::StatusCode;

use super::error::problem;
use super::routes::{HandlerResult, Request};
use super::{AppState, json};
use crate::chat::Chat;
use crate::realtime::Hub;

/// The OpenAPI description, embedded at build time.
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// Alive: the process answers. Says nothing about its dependencies, on purpose (a load
/// balancer must not restart instances because the database is down).
pub async fn healthz(_state: Arc<AppState>, _req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &json!({"status": "ok"})))
}

/// Ready when both the database answers a query and the broker connection is up.
pub async fn readyz(state: Arc<AppState>, _req: Request) -> HandlerResult {
    let ready = state.chat.ready().await;
    let (db_ok, broker_ok) = (ready.database, ready.broker);
    if db_ok && broker_ok {
        return Ok(json(
            StatusCode::OK,
            &json!({"status": "ready", "database": "ok", "broker": "ok"}),
        ));
    }
    let down: Vec<&str> = [(!db_ok).then_some("database"), (!broker_ok).then_some("broker")]
        .into_iter()
        .flatten()
        .collect();
    Ok(problem(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("not ready: {} unavailable", down.join(" and ")),
    ))
}

/// `GET /metrics` on `METRICS_ADDR` (never on the public listener): every metric of this
/// process in the Prometheus text format. The gauges of current state (sockets, rooms joined,
/// the database pool, the broker link) are read now; everything else was counted as it
/// happened. `docs/metrics.md` lists them.
pub fn metrics(chat: &Chat, hub: &Hub) -> warp::reply::Response {
    let (sockets, memberships) = hub.counts();
    metrics::gauge!("tickertalk_websockets_open").set(sockets as f64);
    metrics::gauge!("tickertalk_room_memberships").set(memberships as f64);
    let g = chat.gauges();
    let idle = g.pool_idle as u32;
    metrics::gauge!("tickertalk_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("tickertalk_db_pool_connections", "state" => "busy")
        .set(f64::from(g.pool_size.saturating_sub(idle)));
    metrics::gauge!("tickertalk_db_pool_max_connections").set(f64::from(g.pool_max));
    metrics::gauge!("tickertalk_broker_connected").set(if g.broker_connected { 1.0 } else { 0.0 });
    let text = tickertalk_wire::prometheus::render();
    warp::reply::with_header(text, "content-type", tickertalk_wire::prometheus::CONTENT_TYPE).into_response()
}

pub async fn openapi(_state: Arc<AppState>, _req: Request) -> HandlerResult {
    Ok(warp::reply::with_header(OPENAPI, "content-type", "application/yaml").into_response())
}
