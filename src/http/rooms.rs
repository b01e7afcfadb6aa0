//! Rooms and their messages.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::{Paging, bearer, body, json, parse_json, query, respond, with_app};
use crate::app::App;
use crate::chat::Posted;
use crate::domain::RoomName;
use crate::error::ApiError;
use crate::store;
use crate::ws::protocol::RoomMessageFrame;

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let create = warp::path!("v1" / "chat" / "rooms")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(bearer())
        .and(body())
        .and_then(|app, t, b| async move { respond(create(app, t, b).await) });
    let list = warp::path!("v1" / "chat" / "rooms")
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(bearer())
        .and_then(|app, t| async move { respond(list(app, t).await) });
    let get = warp::path!("v1" / "chat" / "rooms" / i64)
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(bearer())
        .and_then(|id, app, t| async move { respond(get(app, t, id).await) });
    // The original README documented /v1/api/chat/...; both paths serve the same history.
    let history = warp::path!("v1" / "chat" / "rooms" / i64 / "messages")
        .or(warp::path!("v1" / "api" / "chat" / "rooms" / i64 / "messages"))
        .unify()
        .and(warp::get())
        .and(with_app(app.clone()))
        .and(bearer())
        .and(query())
        .and_then(|id, app, t, q| async move { respond(history(app, t, id, q).await) });
    let post = warp::path!("v1" / "chat" / "rooms" / i64 / "messages")
        .and(warp::post())
        .and(with_app(app))
        .and(bearer())
        .and(body())
        .and_then(|id, app, t, b| async move { respond(post(app, t, id, b).await) });
    create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(history)
        .unify()
        .or(post)
        .unify()
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
}

async fn create(app: Arc<App>, bearer: Option<String>, body: Bytes) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    let b: CreateBody = parse_json(&body)?;
    let name = RoomName::parse(b.name.as_deref().unwrap_or("")).map_err(|e| ApiError::invalid("name", e))?;
    let room = store::rooms::create(&app.db, &name, Some(me.user_id)).await?;
    tracing::info!(room_id = room.id, user_id = me.user_id, "room created");
    Ok(json(StatusCode::CREATED, &room))
}

async fn list(app: Arc<App>, bearer: Option<String>) -> Result<Response, ApiError> {
    app.authenticate(bearer.as_deref()).await?;
    Ok(json(StatusCode::OK, &store::rooms::list(&app.db).await?))
}

async fn get(app: Arc<App>, bearer: Option<String>, id: i64) -> Result<Response, ApiError> {
    app.authenticate(bearer.as_deref()).await?;
    let room = store::rooms::get(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("unknown room".into()))?;
    Ok(json(StatusCode::OK, &room))
}

async fn history(
    app: Arc<App>,
    bearer: Option<String>,
    id: i64,
    q: HashMap<String, String>,
) -> Result<Response, ApiError> {
    app.authenticate(bearer.as_deref()).await?;
    let paging = Paging::parse(&q)?;
    if store::rooms::get(&app.db, id).await?.is_none() {
        return Err(ApiError::NotFound("unknown room".into()));
    }
    let rows = store::messages::latest(&app.db, id, paging.before, paging.limit).await?;
    let frames: Vec<RoomMessageFrame> = rows.iter().map(RoomMessageFrame::of).collect();
    Ok(json(StatusCode::OK, &frames))
}

#[derive(Deserialize)]
struct PostBody {
    chatmessage: Option<String>,
    client_id: Option<String>,
}

async fn post(app: Arc<App>, bearer: Option<String>, id: i64, body: Bytes) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    let b: PostBody = parse_json(&body)?;
    let text = b
        .chatmessage
        .ok_or_else(|| ApiError::invalid("chatmessage", "required"))?;
    let client_id = b
        .client_id
        .map(|c| crate::domain::ClientId::parse(&c).map(|c| c.as_str().to_string()))
        .transpose()
        .map_err(|e| ApiError::invalid("client_id", e))?;
    let posted = app
        .post_room_message(&me, id, &text, client_id)
        .await
        .map_err(|e| e.into_api("chatmessage"))?;
    match posted {
        Posted::Stored(m) => Ok(json(StatusCode::CREATED, &RoomMessageFrame::of(&m))),
        Posted::Command { command, request_id } => Ok(json(
            StatusCode::ACCEPTED,
            &json!({"status": "accepted", "command": command, "request_id": request_id}),
        )),
    }
}
