//! `GET /v1/ws`: check the handshake, the Origin and the token before upgrading, then hand the
//! socket to its connection task.
//!
//! The upgrade is done here rather than with warp's `ws()` filter so the socket gets our own
//! `WebSocketConfig`: tungstenite preallocates its read buffer (128 KiB by default, not settable
//! through warp), which dominated memory per idle socket; chat frames are small.

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, origin};
use crate::realtime::coalesce::Coalesce;
use crate::realtime::{Dialect, Opening, connection};

/// Largest WebSocket message accepted; larger ones close the socket with 1009.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Frames are read up to this size before the message limit is checked. Reading the whole
/// oversized frame (instead of stopping at its header) is what lets the 1009 close frame reach
/// the client: closing with unread bytes in the kernel buffer sends a TCP reset that would
/// destroy it. Frames larger than this are cut off with a reset, which is fine for abuse.
const MAX_FRAME: usize = 1024 * 1024;

/// Initial read buffer per socket (tungstenite grows it for a larger frame when needed). It is
/// allocated for every socket, idle or not, and chat frames are a few hundred bytes (heaptrack
/// showed the 4 KiB buffers as a quarter of an idle socket's memory).
const READ_BUFFER: usize = 1024;

/// Bytes of queued frames gathered into one write (realtime::coalesce).
const COALESCE_LIMIT: usize = 16 * 1024;

/// Unsent bytes a socket may hold before a write fails (its sender is then disconnected).
const MAX_WRITE_BUFFER: usize = 512 * 1024;

fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_FRAME))
}

/// The `Sec-WebSocket-Accept` value when the request is a valid WebSocket handshake.
fn accept_key(headers: &HeaderMap) -> Option<String> {
    let has_token = |name: &str, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token("connection", "upgrade") || !has_token("upgrade", "websocket") {
        return None;
    }
    if headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()) != Some("13") {
        return None;
    }
    let key = headers.get("sec-websocket-key")?;
    Some(derive_accept_key(key.as_bytes()))
}

/// `GET /v1/ws`. A public route because it authenticates differently from the others: browsers
/// cannot set headers on a WebSocket, so the token may come as `?token=`, and a foreign Origin
/// is refused (403) before the token is even looked at. `?dm_since=<id>` replays the direct
/// messages stored after that id before anything live (a reconnecting client misses nothing).
pub async fn upgrade(state: Arc<AppState>, req: Request) -> HandlerResult {
    let dm_since = match req.query.get("dm_since").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(id)) if id >= 0 => Some(id),
        Some(_) => return Err(ApiError::invalid("dm_since", "must be a message id (>= 0)")),
    };
    let token = req.query.get("token").cloned();
    let opening = Opening {
        dialect: Dialect::V1,
        dm_since,
    };
    accept(state, req, token, opening).await
}

/// Checks the handshake and the Origin, authenticates (the `/v1` rules or, for the classic
/// dialect, the `/api` ones; `query_token` first, then `Authorization`), and hands the upgraded
/// socket to its connection task.
pub async fn accept(
    state: Arc<AppState>,
    req: Request,
    query_token: Option<String>,
    opening: Opening,
) -> HandlerResult {
    let host = origin::public_host(&req, &state.trusted_proxies);
    let Request {
        headers,
        upgrade,
        conn: req_conn,
        ..
    } = req;
    let (Some(accept), Some(on_upgrade)) = (accept_key(&headers), upgrade) else {
        return Err(ApiError::BadRequest(
            "this route expects a WebSocket upgrade".into(),
        ));
    };
    // Browsers always send Origin; a page on another site must not ride the user's token.
    // Clients without Origin (CLI tools, other servers) are not browsers and are allowed.
    if let Some(origin) = headers.get("origin") {
        let origin = origin.to_str().unwrap_or("");
        if !origin::allowed(origin, host.as_deref(), &state.origins) {
            tracing::info!(%origin, host = host.as_deref().unwrap_or(""), "websocket origin refused");
            return Err(ApiError::Forbidden("origin not allowed"));
        }
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = query_token.or(bearer);
    let user = match opening.dialect {
        Dialect::V1 => state.chat.authenticate(token.as_deref()).await,
        Dialect::Classic => state.chat.authenticate_api(token.as_deref()).await,
    }
    .map_err(ApiError::from)?;
    // Both places are held by the socket task until it ends: the user's, and the connection's
    // (so an upgraded socket still counts against its client address and the instance).
    let Some(user_place) = state.user_sockets.take(user.user_id) else {
        tracing::info!(
            user_id = user.user_id,
            "websocket refused: too many open for this user"
        );
        return Err(ApiError::TooMany(format!(
            "too many open sockets for this user (at most {} per server)",
            state.user_sockets.max()
        )));
    };
    let conn_place = req_conn.map(|c| c.place);
    tokio::spawn(async move {
        let _places = (user_place, conn_place);
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket = WebSocketStream::from_raw_socket(
                    Coalesce::new(TokioIo::new(upgraded), COALESCE_LIMIT),
                    Role::Server,
                    Some(socket_config()),
                )
                .await;
                let AppState {
                    chat,
                    hub,
                    sockets,
                    shutdown,
                    ..
                } = &*state;
                connection::run(
                    socket,
                    chat.clone(),
                    hub.clone(),
                    *sockets,
                    user,
                    opening,
                    shutdown.clone(),
                )
                .await;
            }
            Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
        }
    });
    let mut resp = Response::new(bytes::Bytes::new().into());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert("connection", HeaderValue::from_static("upgrade"));
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert(
        "sec-websocket-accept",
        HeaderValue::from_str(&accept).expect("base64 is a valid header"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_follows_rfc_6455() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("keep-alive, Upgrade"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("sec-websocket-version", HeaderValue::from_static("13"));
        h.insert(
            "sec-websocket-key",
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        // The example from RFC 6455 section 1.3.
        assert_eq!(accept_key(&h).as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        h.remove("upgrade");
        assert_eq!(accept_key(&h), None, "a plain GET is not a handshake");
    }
}
