use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{json, with_app};
use crate::app::App;
use crate::error::problem;

/// The OpenAPI description, embedded at build time.
const OPENAPI: &str = include_str!("../../docs/openapi.yaml");

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| json(StatusCode::OK, &json!({"status": "ok"})));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_app(app))
        .then(ready);
    let openapi = warp::path!("v1" / "openapi.yaml")
        .and(warp::get())
        .map(|| warp::reply::with_header(OPENAPI, "content-type", "application/yaml").into_response());
    healthz.or(readyz).unify().or(openapi).unify()
}

/// Ready when both the database answers a query and the broker connection is up.
async fn ready(app: Arc<App>) -> Response {
    let db_ok = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&app.db),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    let broker_ok = app.broker.is_up();
    if db_ok && broker_ok {
        return json(
            StatusCode::OK,
            &json!({"status": "ready", "database": "ok", "broker": "ok"}),
        );
    }
    let down: Vec<&str> = [(!db_ok).then_some("database"), (!broker_ok).then_some("broker")]
        .into_iter()
        .flatten()
        .collect();
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("not ready: {} unavailable", down.join(" and ")),
    )
}
