//! Direct messages: inbox and per-user threads.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{Paging, bearer, body, json, parse_json, query, respond, with_app};
use crate::app::App;
use crate::error::ApiError;
use crate::store;
use crate::ws::protocol::DirectFrame;

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let inbox = warp::path!("v1" / "chat" / "inbox")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(bearer())
        .and_then(|app, t| async move { respond(inbox(app, t).await) });
    let thread = warp::path!("v1" / "chat" / "threads" / String)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(bearer())
        .and(query())
        .and_then(|peer, app, t, q| async move { respond(thread(app, t, peer, q).await) });
    let send = warp::path!("v1" / "chat" / "threads" / String)
        .and(warp::post())
        .and(with_app(app))
        .and(bearer())
        .and(body())
        .and_then(|peer, app, t, b| async move { respond(send(app, t, peer, b).await) });
    inbox.or(thread).unify().or(send).unify()
}

async fn inbox(app: Arc<App>, bearer: Option<String>) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    Ok(json(
        StatusCode::OK,
        &store::dms::inbox(&app.db, me.user_id).await?,
    ))
}

async fn thread(
    app: Arc<App>,
    bearer: Option<String>,
    peer: String,
    q: HashMap<String, String>,
) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    let paging = Paging::parse(&q)?;
    let peer = store::users::by_username(&app.db, &peer)
        .await?
        .ok_or_else(|| ApiError::NotFound("unknown user".into()))?;
    let rows = store::dms::thread(&app.db, me.user_id, peer.id, paging.before, paging.limit).await?;
    let frames: Vec<DirectFrame> = rows.iter().map(DirectFrame::of).collect();
    Ok(json(StatusCode::OK, &frames))
}

#[derive(Deserialize)]
struct SendBody {
    message: Option<String>,
    client_id: Option<String>,
}

async fn send(
    app: Arc<App>,
    bearer: Option<String>,
    peer: String,
    body: Bytes,
) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    let b: SendBody = parse_json(&body)?;
    let text = b
        .message
        .ok_or_else(|| ApiError::invalid("message", "required"))?;
    let dm = app
        .send_dm(&me, &peer, &text, b.client_id)
        .await
        .map_err(|e| e.into_api("message"))?;
    Ok(json(StatusCode::CREATED, &DirectFrame::of(&dm)))
}
