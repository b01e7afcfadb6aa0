//! Liveness, readiness and the API description.

use std::sync::Arc;

use serde_json::json;
use warp::Reply;
use warp::http::StatusCode;

use super::error::problem;
use super::routes::{HandlerResult, Request};
use super::{AppState, json};

/// The OpenAPI description, embedded at build time.
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

/// Alive: the process answers. Says nothing about its dependencies, on purpose (a load
/// balancer must not restart instances because the database is down).
pub async fn healthz(_state: Arc<AppState>, _req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &json!({"status": "ok"})))
}

/// Ready when both the database answers a query and the broker connection is up.
pub async fn readyz(state: Arc<AppState>, _req: Request) -> HandlerResult {
    let (db_ok, broker_ok) = state.chat.readiness().await;
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

pub async fn openapi(_state: Arc<AppState>, _req: Request) -> HandlerResult {
    Ok(warp::reply::with_header(OPENAPI, "content-type", "application/yaml").into_response())
}
