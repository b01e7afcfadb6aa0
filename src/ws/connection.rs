//! One task per socket. It owns the socket, reads client frames, writes whatever the hub queues
//! for it, pings, and closes on logout, slowness, idleness, oversize frames or shutdown.
//!
//! Writes happen in this task only, so frames leave in the order they were queued; a `since`
//! replay is written inline before any live message of that room, and live messages the replay
//! already covered are skipped by id (the per-room cursor).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
use tracing::Instrument;
use uuid::Uuid;

/// The upgraded connection as a WebSocket.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

use super::hub::{Closer, Outbound};
use super::protocol::{self, ClientFrame, RoomMessageFrame, kind};
use crate::app::App;
use crate::auth::AuthUser;
use crate::broker::Event;
use crate::chat::{ChatError, Posted};
use crate::domain::ClientId;
use crate::store;

/// At most this many stored messages are replayed for one `since` join.
pub const REPLAY_LIMIT: i64 = 500;

/// A write that takes longer than this means the client (or its network) is stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Typing notices are forwarded at most this often per socket.
const TYPING_EVERY: Duration = Duration::from_millis(1000);

pub async fn run(socket: Socket, app: Arc<App>, user: AuthUser) {
    let conn_id = Uuid::new_v4();
    let span = tracing::info_span!("ws", conn = %conn_id, user_id = user.user_id, user = %user.username);
    Connection::new(socket, app, user, conn_id)
        .serve()
        .instrument(span)
        .await;
}

struct Connection {
    app: Arc<App>,
    user: AuthUser,
    conn_id: Uuid,
    socket: Socket,
    rx: mpsc::Receiver<Outbound>,
    closer: Arc<Closer>,
    /// Per room: the highest message id already sent by a `since` replay.
    cursors: HashMap<i64, i64>,
    last_typing: Option<Instant>,
    /// Held for the task's lifetime; graceful shutdown waits until every clone is gone.
    _guard: Option<mpsc::Sender<()>>,
}

/// How the read side ended, if it did.
enum Flow {
    Continue,
    Close(u16, &'static str),
    Gone,
}

impl Connection {
    fn new(socket: Socket, app: Arc<App>, user: AuthUser, conn_id: Uuid) -> Self {
        let (tx, rx) = mpsc::channel(app.config.ws_send_buffer.max(8));
        let closer = Arc::new(Closer::default());
        app.hub
            .register(conn_id, user.user_id, user.session_id, tx, closer.clone());
        let guard = app.socket_guard();
        Connection {
            app,
            user,
            conn_id,
            socket,
            rx,
            closer,
            cursors: HashMap::new(),
            last_typing: None,
            _guard: guard,
        }
    }

    async fn serve(mut self) {
        tracing::info!("socket open");
        let mut shutdown = self.app.shutdown.clone();
        let ping_every = Duration::from_secs(self.app.config.ws_ping_secs.max(1));
        let idle_after = Duration::from_secs(self.app.config.ws_idle_secs.max(2));
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut last_heard = Instant::now();
        let closer = self.closer.clone();

        let end = loop {
            if *shutdown.borrow() {
                break Flow::Close(1001, "server shutting down");
            }
            let flow = tokio::select! {
                biased;
                _ = shutdown.changed() => Flow::Close(1001, "server shutting down"),
                (code, reason) = closer.closed() => Flow::Close(code, reason),
                out = self.rx.recv() => match out {
                    Some(out) => self.write_out(out).await,
                    None => Flow::Gone,
                },
                incoming = self.socket.next() => match incoming {
                    None => Flow::Gone,
                    Some(Err(WsError::Capacity(e))) => {
                        tracing::info!(error = %e, "oversized frame");
                        let _ = self.write(protocol::error("frame_too_large", "frames are limited to 64 KiB", None)).await;
                        Flow::Close(1009, "frame too large")
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "socket read failed");
                        Flow::Gone
                    }
                    Some(Ok(msg)) => {
                        last_heard = Instant::now();
                        self.on_message(msg).await
                    }
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() > idle_after {
                        Flow::Close(1008, "idle timeout")
                    } else {
                        self.send(Message::Ping(Bytes::new())).await
                    }
                }
            };
            match flow {
                Flow::Continue => {}
                other => break other,
            }
        };

        if let Flow::Close(code, reason) = end {
            tracing::info!(code, reason, "closing socket");
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                self.socket.send(Message::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                }))),
            )
            .await;
            // Give the client a moment to answer the close, so our close frame is not lost to
            // a reset caused by its unread data.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(Ok(m)) = self.socket.next().await {
                    if m.is_close() {
                        break;
                    }
                }
            })
            .await;
            let _ = tokio::time::timeout(Duration::from_secs(1), SinkExt::close(&mut self.socket)).await;
        }
        self.cleanup().await;
        tracing::info!("socket closed");
    }

    async fn cleanup(&mut self) {
        let rooms = self.app.hub.unregister(self.conn_id);
        for room_id in rooms {
            self.leave_presence(room_id).await;
        }
    }

    async fn send(&mut self, msg: Message) -> Flow {
        match tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(msg)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(_)) => Flow::Gone,
            Err(_) => Flow::Close(1013, "too slow: write timed out"),
        }
    }

    async fn write(&mut self, text: impl Into<Utf8Bytes>) -> Flow {
        self.send(Message::Text(text.into())).await
    }

    async fn write_out(&mut self, out: Outbound) -> Flow {
        match out {
            Outbound::Frame(frame) => self.write(frame).await,
            Outbound::Room { room_id, id, frame } => {
                if self.cursors.get(&room_id).is_some_and(|&c| id <= c) {
                    return Flow::Continue; // the replay already sent it
                }
                self.write(frame).await
            }
        }
    }

    async fn on_message(&mut self, msg: Message) -> Flow {
        if msg.is_close() {
            // tungstenite has queued the answering close frame; flushing sends it (RFC 6455
            // 5.5.1), so the client sees a clean close instead of 1006.
            let _ = tokio::time::timeout(Duration::from_secs(1), SinkExt::close(&mut self.socket)).await;
            return Flow::Gone;
        }
        if msg.is_ping() || msg.is_pong() {
            return Flow::Continue;
        }
        let Message::Text(text) = msg else {
            return self
                .write(protocol::error("invalid_frame", "frames must be JSON text", None))
                .await;
        };
        let frame = match ClientFrame::parse(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                return self
                    .write(protocol::error(
                        "invalid_frame",
                        &e.message,
                        e.client_id.as_deref(),
                    ))
                    .await;
            }
        };
        let client_id = match frame.client_id.as_deref().map(ClientId::parse).transpose() {
            Ok(c) => c.map(|c| c.as_str().to_string()),
            Err(e) => return self.write(protocol::error("invalid_frame", &e, None)).await,
        };
        let cid = client_id.as_deref();
        let result = match frame.kind {
            Some(kind::ROOM_MESSAGE) => self.post(&frame, client_id.clone()).await,
            Some(kind::JOIN) => self.join(&frame).await,
            Some(kind::LEAVE) => self.leave(&frame).await,
            Some(kind::DIRECT) => self.direct(&frame, client_id.clone()).await,
            Some(kind::TYPING) => self.typing(&frame).await,
            Some(other) => Err((
                "unknown_type",
                format!("unknown frame type {other}; expected 1, 2, 3, 4 or 5"),
            )),
            None => Err(("invalid_frame", "missing field `type`".to_string())),
        };
        match result {
            Ok(flow) => flow,
            Err((code, message)) => self.write(protocol::error(code, &message, cid)).await,
        }
    }

    fn room_id(frame: &ClientFrame) -> Result<i64, (&'static str, String)> {
        frame
            .room_id
            .ok_or(("invalid_frame", "missing field `chatroomId`".into()))
    }

    /// Type 1: post to a room (which also joins it, before storing, so the echo is not missed).
    async fn post(
        &mut self,
        frame: &ClientFrame,
        client_id: Option<String>,
    ) -> Result<Flow, (&'static str, String)> {
        let room_id = Self::room_id(frame)?;
        let text = frame
            .chatmessage
            .as_deref()
            .ok_or(("invalid_frame", "missing field `chatmessage`".to_string()))?;
        if !self.app.hub.is_member(self.conn_id, room_id)
            && let Flow::Gone = self.enter(room_id, None).await?
        {
            return Ok(Flow::Gone);
        }
        match self
            .app
            .post_room_message(&self.user, room_id, text, client_id.clone())
            .await
        {
            Ok(Posted::Stored(_)) => Ok(Flow::Continue), // the echo arrives through the hub
            Ok(Posted::Command { command, request_id }) => Ok(self
                .write(protocol::command_accepted(
                    room_id,
                    command,
                    request_id,
                    client_id.as_deref(),
                ))
                .await),
            Err(e) => Err(chat_error(e)),
        }
    }

    /// Type 2: join, optionally replaying stored messages after `since`.
    async fn join(&mut self, frame: &ClientFrame) -> Result<Flow, (&'static str, String)> {
        let room_id = Self::room_id(frame)?;
        if frame.since.is_some_and(|since| since < 0) {
            return Err(("invalid_frame", "`since` must be a message id (>= 0)".into()));
        }
        self.enter(room_id, frame.since).await
    }

    /// Registers in the room, replays, then sends the presence list.
    async fn enter(&mut self, room_id: i64, since: Option<i64>) -> Result<Flow, (&'static str, String)> {
        // Register first, so live messages from now on are queued; read the floor after.
        let newly = self.app.hub.join(self.conn_id, room_id);
        let last_seq = match store::rooms::last_seq(&self.app.db, room_id).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.app.hub.leave(self.conn_id, room_id);
                return Err(("unknown_room", format!("room {room_id} does not exist")));
            }
            Err(e) => {
                if newly {
                    self.app.hub.leave(self.conn_id, room_id);
                }
                return Err(chat_error(e.into()));
            }
        };
        self.app.hub.set_floor(room_id, last_seq);
        if let Some(since) = since {
            let rows = store::messages::after(&self.app.db, room_id, since, REPLAY_LIMIT)
                .await
                .map_err(|e| chat_error(e.into()))?;
            let mut cursor = self.cursors.get(&room_id).copied().unwrap_or(0).max(since);
            for m in &rows {
                let frame = serde_json::to_string(&RoomMessageFrame::of(m)).expect("frame");
                if let Flow::Gone = self.write(frame).await {
                    return Ok(Flow::Gone);
                }
                cursor = cursor.max(m.id);
            }
            self.cursors.insert(room_id, cursor);
        }
        if newly {
            match store::presence::enter(
                &self.app.db,
                self.app.instance_id,
                self.conn_id,
                room_id,
                self.user.user_id,
            )
            .await
            {
                Ok(true) => {
                    self.app
                        .publish_or_local(Event::Presence {
                            room_id,
                            conn_id: self.conn_id,
                            joined: Some(self.user.username.clone()),
                            left: None,
                        })
                        .await
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(room_id, error = %e, "presence not recorded"),
            }
        }
        let users = store::presence::users_in(&self.app.db, room_id)
            .await
            .unwrap_or_default();
        Ok(self.write(protocol::presence_list(room_id, &users)).await)
    }

    async fn leave(&mut self, frame: &ClientFrame) -> Result<Flow, (&'static str, String)> {
        let room_id = Self::room_id(frame)?;
        if !self.app.hub.leave(self.conn_id, room_id) {
            return Err((
                "not_in_room",
                format!("this socket has not joined room {room_id}"),
            ));
        }
        self.cursors.remove(&room_id);
        self.leave_presence(room_id).await;
        Ok(self.write(protocol::left_room(room_id)).await)
    }

    async fn leave_presence(&mut self, room_id: i64) {
        match store::presence::leave(&self.app.db, self.conn_id, room_id, self.user.user_id).await {
            Ok(true) => {
                self.app
                    .publish_or_local(Event::Presence {
                        room_id,
                        conn_id: self.conn_id,
                        joined: None,
                        left: Some(self.user.username.clone()),
                    })
                    .await
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(room_id, error = %e, "presence not cleared"),
        }
    }

    async fn direct(
        &mut self,
        frame: &ClientFrame,
        client_id: Option<String>,
    ) -> Result<Flow, (&'static str, String)> {
        let recipient = frame
            .recipient
            .as_deref()
            .ok_or(("invalid_frame", "missing field `recipient`".to_string()))?;
        let text = frame
            .message
            .as_deref()
            .ok_or(("invalid_frame", "missing field `message`".to_string()))?;
        self.app
            .send_dm(&self.user, recipient, text, client_id)
            .await
            .map_err(chat_error)?;
        Ok(Flow::Continue) // the echo arrives through the hub
    }

    async fn typing(&mut self, frame: &ClientFrame) -> Result<Flow, (&'static str, String)> {
        let room_id = Self::room_id(frame)?;
        if !self.app.hub.is_member(self.conn_id, room_id) {
            return Err(("not_in_room", format!("join room {room_id} before typing in it")));
        }
        if self.last_typing.is_some_and(|t| t.elapsed() < TYPING_EVERY) {
            return Ok(Flow::Continue);
        }
        self.last_typing = Some(Instant::now());
        self.app
            .publish_or_local(Event::Typing {
                room_id,
                username: self.user.username.clone(),
                conn_id: self.conn_id,
            })
            .await;
        Ok(Flow::Continue)
    }
}

fn chat_error(e: ChatError) -> (&'static str, String) {
    (e.code(), e.public_message())
}
