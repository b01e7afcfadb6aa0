//! `GET /v1/ws`: authenticate and check the Origin before the handshake, then hand the socket
//! to its connection task.

use std::collections::HashMap;
use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{bearer, query, with_app};
use crate::app::App;
use crate::error::problem;
use crate::ws::connection;

/// Largest WebSocket message accepted; larger ones close the socket with 1009.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Frames are read up to this size before the message limit is checked. Reading the whole
/// oversized frame (instead of stopping at its header) is what lets the 1009 close frame reach
/// the client: closing with unread bytes in the kernel buffer sends a TCP reset that would
/// destroy it. Frames larger than this are cut off with a reset, which is fine for abuse.
const MAX_FRAME: usize = 1024 * 1024;

pub fn route(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("v1" / "ws")
        .and(warp::get())
        .and(warp::ws())
        .and(with_app(app))
        .and(warp::header::optional::<String>("origin"))
        .and(bearer())
        .and(query())
        .then(upgrade)
}

async fn upgrade(
    ws: warp::ws::Ws,
    app: Arc<App>,
    origin: Option<String>,
    bearer: Option<String>,
    q: HashMap<String, String>,
) -> Response {
    // Browsers always send Origin; a page on another site must not ride the user's token.
    // Clients without Origin (CLI tools, other servers) are not browsers and are allowed.
    if let Some(origin) = origin {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if !app.origins.contains(&origin) {
            tracing::info!(%origin, "websocket origin refused");
            return problem(StatusCode::FORBIDDEN, "origin not allowed");
        }
    }
    let token = q.get("token").cloned().or(bearer);
    let user = match app.authenticate(token.as_deref()).await {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| connection::run(socket, app, user))
        .into_response()
}
