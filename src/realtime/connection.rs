//! One task per socket. It owns the socket, reads client frames, writes whatever the hub queues
//! for it, pings, and closes on logout, slowness, idleness, oversize frames or shutdown.
//! What a frame *means* (posting, joining, presence) is asked of `chat`; this file is transport.
//!
//! Writes happen in this task only, so frames leave in the order they were queued; a `since`
//! replay is written inline before any live message of that room, and live messages the replay
//! already covered are skipped by id (the per-room cursor).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
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

use super::coalesce::Coalesce;
use super::error::SocketError;
use super::hub::{Closer, Hub, Outbound};
use super::protocol::{self, ClassicFrame, ClientFrame, Dialect, DirectFrame, RoomMessageFrame, kind};
use crate::auth::AuthUser;
use crate::chat::ratelimit::TokenBucket;
use crate::chat::{Chat, ChatError, Posted, SentDm};
use crate::config::Config;
use crate::domain::ClientId;
use crate::shutdown::Shutdown;
use crate::store::messages::StreamItem;

/// The upgraded connection as a WebSocket, its writes gathered until each flush.
pub type Socket = WebSocketStream<Coalesce<TokioIo<Upgraded>>>;

/// What a frame handler returns: how the socket goes on, or why the frame was refused.
type FrameResult = Result<Flow, SocketError>;

/// At most this many stored messages are replayed for one `since` join.
pub const REPLAY_LIMIT: i64 = 500;

/// At most this many queued frames are written with one flush.
const WRITE_BATCH: usize = 64;

/// A write that takes longer than this means the client (or its network) is stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Typing notices are forwarded at most this often per socket.
const TYPING_EVERY: Duration = Duration::from_millis(1000);

/// Control frames (join, leave, typing) one socket may send per `chat::CONTROL_WINDOW`, a
/// join with `since` costing `chat::REPLAY_COST`; the user's budget over all sockets is
/// `chat::CONTROLS_PER_WINDOW`.
const SOCKET_CONTROLS: u32 = 60;

/// Frames refused in a row (rate-limited or invalid) after which the socket is closed with
/// 1008: a client that does not slow down when told is cut off, not answered forever.
const MAX_STRIKES: u32 = 20;

/// Per-socket limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct SocketSettings {
    /// Frames queued for a socket before it counts as not reading (and is closed with 1013).
    pub send_buffer: usize,
    pub ping_every: Duration,
    /// Silence (no frame, no pong) after which the socket is closed with 1008.
    pub idle_after: Duration,
}

impl SocketSettings {
    pub fn from_config(config: &Config) -> SocketSettings {
        SocketSettings {
            send_buffer: config.ws_send_buffer.max(8),
            ping_every: Duration::from_secs(config.ws_ping_secs.max(1)),
            idle_after: Duration::from_secs(config.ws_idle_secs.max(2)),
        }
    }
}

/// How a socket was opened: which API it speaks, and from which direct message on it wants
/// to be caught up (`dm_since`, sent by a client reconnecting: nothing it missed is lost).
#[derive(Debug, Clone, Copy)]
pub struct Opening {
    pub dialect: Dialect,
    pub dm_since: Option<i64>,
}

/// At most this many direct messages are replayed for one `dm_since`.
pub const DM_REPLAY_LIMIT: i64 = 500;

/// Serves one authenticated socket until it closes. Holding `shutdown` until the end is what
/// makes the server's drain wait for this socket's close frame and presence clean-up.
pub async fn run(
    socket: Socket,
    chat: Arc<Chat>,
    hub: Arc<Hub>,
    settings: SocketSettings,
    user: AuthUser,
    opening: Opening,
    shutdown: Shutdown,
) {
    let conn_id = Uuid::new_v4();
    let span = tracing::info_span!("ws", conn = %conn_id, user_id = user.user_id, user = %user.username);
    let (tx, rx) = mpsc::channel(settings.send_buffer);
    let closer = Arc::new(Closer::default());
    // Registered before the replay is read, so nothing stored meanwhile can fall between.
    hub.register(
        conn_id,
        user.user_id,
        user.session_id,
        opening.dialect,
        tx,
        closer.clone(),
    );
    Connection {
        chat,
        hub,
        settings,
        user,
        conn_id,
        socket,
        rx,
        closer,
        cursors: HashMap::new(),
        dm_cursor: None,
        dialect: opening.dialect,
        dm_since: opening.dm_since,
        last_typing: None,
        controls: TokenBucket::new(SOCKET_CONTROLS, crate::chat::CONTROL_WINDOW),
        strikes: 0,
        shutdown,
    }
    .serve()
    .instrument(span)
    .await;
}

/// The socket metrics' handles, looked up once: the macros hash their name on every call, and
/// these are recorded once per socket write. Per write, not per frame: a histogram sample per
/// delivery cost the 400,000-deliveries/s fan-out about a fifth more server CPU and tens of MB
/// of samples between two upkeeps (BENCHMARKS.md).
struct Meters {
    deliveries: metrics::Counter,
    latency: metrics::Histogram,
}

static METERS: LazyLock<Meters> = LazyLock::new(|| Meters {
    deliveries: metrics::counter!("tickertalk_deliveries_total"),
    latency: metrics::histogram!("tickertalk_delivery_latency_seconds"),
});

/// Why a socket was cut, for `tickertalk_sockets_cut_total`: 1013 is the server's "too slow"
/// (send buffer full, or a write that did not finish), 1008 the idle timeout.
fn count_cut(code: u16) {
    let reason = match code {
        1013 => "slow",
        1008 => "idle",
        _ => return,
    };
    metrics::counter!("tickertalk_sockets_cut_total", "reason" => reason).increment(1);
}

/// How a write (with its `WRITE_TIMEOUT`) ended, as the socket goes on.
fn written(result: Result<Result<(), WsError>, tokio::time::error::Elapsed>) -> Flow {
    match result {
        Ok(Ok(())) => Flow::Continue,
        Ok(Err(_)) => Flow::Gone,
        Err(_) => Flow::Close(1013, "too slow: write timed out"),
    }
}

/// The socket task's state.
struct Connection {
    chat: Arc<Chat>,
    hub: Arc<Hub>,
    settings: SocketSettings,
    user: AuthUser,
    conn_id: Uuid,
    socket: Socket,
    rx: mpsc::Receiver<Outbound>,
    closer: Arc<Closer>,
    /// Per room: the highest message id already sent by a `since` replay.
    cursors: HashMap<i64, i64>,
    /// The highest direct-message id the `dm_since` replay sent.
    dm_cursor: Option<i64>,
    dialect: Dialect,
    /// Replayed once, when serving starts.
    dm_since: Option<i64>,
    /// When this socket last forwarded a typing notice (they are throttled per socket).
    last_typing: Option<Instant>,
    /// This socket's budget of control frames.
    controls: TokenBucket,
    /// Frames refused in a row (`MAX_STRIKES`).
    strikes: u32,
    /// Tells the task to close with 1001, and holds the server's drain until it has.
    shutdown: Shutdown,
}

/// How the read side ended, if it did.
enum Flow {
    Continue,
    Close(u16, &'static str),
    Gone,
}

impl Connection {
    async fn serve(mut self) {
        tracing::info!(dialect = ?self.dialect, "socket open");
        if let Some(since) = self.dm_since
            && let Flow::Gone = self.replay_direct(since).await
        {
            self.cleanup().await;
            return;
        }
        let mut shutdown = self.shutdown.clone();
        let (ping_every, idle_after) = (self.settings.ping_every, self.settings.idle_after);
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut last_heard = Instant::now();
        let closer = self.closer.clone();

        let end = loop {
            if shutdown.is_shutdown() {
                break Flow::Close(1001, "server shutting down");
            }
            let flow = tokio::select! {
                biased;
                _ = shutdown.recv() => Flow::Close(1001, "server shutting down"),
                (code, reason) = closer.closed() => Flow::Close(code, reason),
                out = self.rx.recv() => match out {
                    Some(out) => self.write_batch(out).await,
                    None => Flow::Gone,
                },
                incoming = self.socket.next() => match incoming {
                    None => Flow::Gone,
                    Some(Err(WsError::Capacity(e))) => {
                        tracing::info!(error = %e, "oversized frame");
                        let _ = self.write(protocol::error("frame_too_large", "frames are limited to 64 KiB", None)).await;
                        Flow::Close(1009, "frame too large")
                    }
                    Some(Err(WsError::Utf8(e))) => {
                        tracing::info!(error = %e, "text frame is not UTF-8");
                        Flow::Close(1007, "text frames must be UTF-8")
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "socket read failed");
                        Flow::Gone
                    }
                    Some(Ok(msg)) => {
                        last_heard = Instant::now();
                        // Boxed: handling a frame (posting, joining...) is a deep future, and
                        // inline it would make every socket's task that much larger for its
                        // whole life, idle or not (about 5 KiB per socket before).
                        Box::pin(self.on_message(msg)).await
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
            count_cut(code);
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
        let rooms = self.hub.unregister(self.conn_id);
        for room_id in rooms {
            self.chat.leave_presence(&self.user, self.conn_id, room_id).await;
        }
    }

    async fn send(&mut self, msg: Message) -> Flow {
        written(tokio::time::timeout(WRITE_TIMEOUT, self.socket.send(msg)).await)
    }

    /// Writes `frames` and flushes once: one write and one timer for the lot.
    async fn write_frames(&mut self, frames: impl IntoIterator<Item = Utf8Bytes>) -> Flow {
        let write = async {
            for frame in frames {
                self.socket.feed(Message::Text(frame)).await?;
            }
            self.socket.flush().await
        };
        written(tokio::time::timeout(WRITE_TIMEOUT, write).await)
    }

    async fn write(&mut self, text: impl Into<Utf8Bytes>) -> Flow {
        self.send(Message::Text(text.into())).await
    }

    /// Writes (without flushing) what `out` asks for: nothing when a replay already sent it,
    /// several frames for a tick of presence notices.
    /// Returns the `stored_at` of a room message it wrote (for the delivery metrics).
    async fn feed(&mut self, out: Outbound) -> Result<Option<i64>, WsError> {
        let frame = match out {
            Outbound::Frame(frame) => frame,
            Outbound::Room {
                room_id,
                position,
                stored_at,
                frame,
            } => {
                if self.cursors.get(&room_id).is_some_and(|&c| position <= c) {
                    return Ok(None); // the replay already sent it
                }
                self.socket.feed(Message::Text(frame)).await?;
                return Ok(Some(stored_at));
            }
            Outbound::Direct { id, frame } => {
                if self.dm_cursor.is_some_and(|c| id <= c) {
                    return Ok(None); // the connect-time replay already sent it
                }
                frame
            }
            Outbound::Notices(notices) => {
                for n in notices.iter().filter(|n| n.except != self.conn_id) {
                    self.socket.feed(Message::Text(n.frame.clone())).await?;
                }
                return Ok(None);
            }
        };
        self.socket.feed(Message::Text(frame)).await?;
        Ok(None)
    }

    /// Writes `first` and whatever else is queued for this socket (up to `WRITE_BATCH`
    /// items), then flushes once: one system call for the lot (`realtime::coalesce`), and one
    /// timer for the lot instead of one per frame.
    async fn write_batch(&mut self, first: Outbound) -> Flow {
        let write = async {
            let mut next = Some(first);
            let mut taken = 0;
            // Room messages in this write, and the oldest one's `stored_at`.
            let (mut delivered, mut oldest) = (0u64, i64::MAX);
            while let Some(out) = next {
                if let Some(stored_at) = self.feed(out).await? {
                    delivered += 1;
                    oldest = oldest.min(stored_at);
                }
                taken += 1;
                next = if taken < WRITE_BATCH {
                    self.rx.try_recv().ok()
                } else {
                    None
                };
            }
            if delivered > 0 {
                // The write's longest wait: its oldest message's, from storing to this write.
                let waited = chrono::Utc::now().timestamp_micros() - oldest;
                let meters = &*METERS;
                meters.deliveries.increment(delivered);
                meters.latency.record(waited.max(0) as f64 / 1e6);
            }
            self.socket.flush().await
        };
        written(tokio::time::timeout(WRITE_TIMEOUT, write).await)
    }

    /// Writes replayed stored messages, `(id, frame)` in order, and returns the highest id
    /// written (at least `cursor`): live copies up to it are then skipped. `None` when the
    /// socket went away meanwhile.
    async fn write_replay(
        &mut self,
        frames: impl Iterator<Item = (i64, String)>,
        mut cursor: i64,
    ) -> Option<i64> {
        let frames: Vec<Utf8Bytes> = frames
            .map(|(id, frame)| {
                cursor = cursor.max(id);
                frame.into()
            })
            .collect();
        match self.write_frames(frames).await {
            Flow::Gone => None,
            _ => Some(cursor),
        }
    }

    /// Writes the direct messages stored after `since` (before any queued live one, which the
    /// cursor then skips if the replay covered it).
    async fn replay_direct(&mut self, since: i64) -> Flow {
        let rows = match self
            .chat
            .direct_since(self.user.user_id, since, DM_REPLAY_LIMIT)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                let e = SocketError::from(e);
                return self
                    .write(protocol::error(e.code(), &e.public_message(), None))
                    .await;
            }
        };
        let dialect = self.dialect;
        let frames = rows.iter().map(|m| {
            let frame = match dialect {
                Dialect::V1 => serde_json::to_string(&DirectFrame::of(m)).expect("frame"),
                Dialect::Classic => protocol::classic_direct(m),
            };
            (m.id, frame)
        });
        let Some(cursor) = self.write_replay(frames, since).await else {
            return Flow::Gone;
        };
        self.dm_cursor = Some(cursor);
        Flow::Continue
    }

    /// A frame from an `/api/ws` client: a direct message, nothing else.
    async fn on_classic(&mut self, text: &str) -> Flow {
        let refuse = |code: u16, kind: &str, field: &str, why: &str| {
            protocol::classic_error(code, kind, serde_json::json!({ field: why }))
        };
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return self
                    .write(refuse(400, "Form error", "body", &format!("malformed JSON: {e}")))
                    .await;
            }
        };
        // NUL and null are field errors here too, before anything reaches the database.
        if let Some(object) = value.as_object()
            && let Err(errors) = crate::domain::fields::check::<ClassicFrame>(object)
        {
            let errors = serde_json::to_value(&errors).unwrap_or_default();
            return self
                .write(protocol::classic_error(400, "Form error", errors))
                .await;
        }
        let frame: ClassicFrame = match serde_json::from_value(value) {
            Ok(f) => f,
            Err(e) => {
                return self
                    .write(refuse(400, "Form error", "body", &format!("bad field: {e}")))
                    .await;
            }
        };
        let (Some(recipient), Some(message)) = (frame.recipient.as_deref(), frame.message.as_deref()) else {
            let field = if frame.recipient.is_none() {
                "recipient"
            } else {
                "message"
            };
            return self.write(refuse(400, "Form error", field, "required")).await;
        };
        match self.chat.send_dm(&self.user, recipient, message, None).await {
            Ok(_) => Flow::Continue, // every socket of both users gets it through the hub
            Err(e) => {
                let e = SocketError::from(e);
                let (code, kind, field) = match e.code() {
                    "unknown_user" => (404, "User error", "recipient"),
                    "rate_limited" => (429, "User error", "message"),
                    "internal" | "unavailable" => (500, "Server error", "message"),
                    _ => (400, "Form error", "message"),
                };
                self.write(refuse(code, kind, field, &e.public_message())).await
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
            let e = SocketError::InvalidFrame("frames must be JSON text".into());
            return self.refuse(e, None).await;
        };
        if self.dialect == Dialect::Classic {
            return self.on_classic(text.as_str()).await;
        }
        let frame = match ClientFrame::parse(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                let cid = e.client_id.clone();
                return self
                    .refuse(SocketError::InvalidFrame(e.message), cid.as_deref())
                    .await;
            }
        };
        let client_id = match frame.client_id.as_deref().map(ClientId::parse).transpose() {
            Ok(c) => c.map(|c| c.as_str().to_string()),
            Err(e) => return self.refuse(SocketError::InvalidFrame(e), None).await,
        };
        let cid = client_id.as_deref();
        // Control frames spend from the socket's and the user's budgets first; a join with
        // `since` (a history replay) costs more.
        let control_cost = match frame.kind {
            Some(kind::JOIN) if frame.since.is_some() => Some(crate::chat::REPLAY_COST),
            Some(kind::JOIN | kind::LEAVE | kind::TYPING) => Some(1),
            _ => None,
        };
        let result = match control_cost.map(|cost| self.control_allowed(cost)) {
            Some(Err(e)) => Err(e),
            _ => match frame.kind {
                Some(kind::ROOM_MESSAGE) => self.post(&frame, client_id.clone()).await,
                Some(kind::JOIN) => self.join(&frame).await,
                Some(kind::LEAVE) => self.leave(&frame).await,
                Some(kind::DIRECT) => self.direct(&frame, client_id.clone()).await,
                Some(kind::TYPING) => self.typing(&frame).await,
                Some(other) => Err(SocketError::UnknownType(other)),
                None => Err(SocketError::missing("type")),
            },
        };
        match result {
            Ok(flow) => {
                self.strikes = 0;
                flow
            }
            Err(e) => self.refuse(e, cid).await,
        }
    }

    /// A control frame of `cost` within this socket's and its user's budgets, or
    /// `rate_limited`.
    fn control_allowed(&mut self, cost: u32) -> Result<(), SocketError> {
        if let Err(wait) = self.controls.take(f64::from(cost)) {
            return Err(SocketError::Chat(ChatError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }));
        }
        Ok(self.chat.control_check(&self.user, cost)?)
    }

    /// Answers a refused frame with an error frame, or closes the socket (1008) once
    /// `MAX_STRIKES` frames in a row were refused.
    async fn refuse(&mut self, e: SocketError, client_id: Option<&str>) -> Flow {
        self.strikes += 1;
        if self.strikes >= MAX_STRIKES {
            tracing::info!(
                user_id = self.user.user_id,
                code = e.code(),
                "socket closed: too many refused frames"
            );
            metrics::counter!("tickertalk_sockets_cut_total", "reason" => "refused").increment(1);
            return Flow::Close(1008, "too many refused frames");
        }
        self.write(protocol::error(e.code(), &e.public_message(), client_id))
            .await
    }

    fn room_id(frame: &ClientFrame) -> Result<i64, SocketError> {
        frame.room_id.ok_or(SocketError::missing("chatroomId"))
    }

    /// Type 1: post to a room (which also joins it, before storing, so the echo is not missed).
    async fn post(&mut self, frame: &ClientFrame, client_id: Option<String>) -> FrameResult {
        let room_id = Self::room_id(frame)?;
        let text = frame
            .chatmessage
            .as_deref()
            .ok_or(SocketError::missing("chatmessage"))?;
        if !self.hub.is_member(self.conn_id, room_id)
            && let Flow::Gone = self.enter(room_id, None).await?
        {
            return Ok(Flow::Gone);
        }
        match self
            .chat
            .post_room_message(&self.user, room_id, text, client_id.clone(), frame.reply_to)
            .await
        {
            Ok(Posted::Stored(_)) => Ok(Flow::Continue), // the echo arrives through the hub
            // A retry of a stored post: only this socket is told (nothing was published).
            Ok(Posted::Repeat(m)) => Ok(self
                .write(RoomMessageFrame::acknowledging(&m, client_id.as_deref()).to_text())
                .await),
            Ok(Posted::Command { command, request_id }) => Ok(self
                .write(protocol::command_accepted(
                    room_id,
                    command,
                    request_id,
                    client_id.as_deref(),
                ))
                .await),
            Err(e) => Err(e.into()),
        }
    }

    /// Type 2: join, optionally replaying stored messages after `since`.
    async fn join(&mut self, frame: &ClientFrame) -> FrameResult {
        let room_id = Self::room_id(frame)?;
        if frame.since.is_some_and(|since| since < 0) {
            return Err(SocketError::InvalidFrame(
                "`since` must be a message id (>= 0)".into(),
            ));
        }
        self.enter(room_id, frame.since).await
    }

    /// Registers in the room, replays, then sends the presence list.
    async fn enter(&mut self, room_id: i64, since: Option<i64>) -> FrameResult {
        // Register first, so live messages from now on are queued; read the floor after. A room
        // whose sequence this instance already follows exists and needs no floor read.
        let joined = self.hub.join(self.conn_id, room_id);
        if !joined.has_floor {
            // The room's events must reach this instance before its floor is read.
            self.hub.follow(room_id).await;
            let last_rev = match self.chat.last_rev(room_id).await {
                Ok(s) => s,
                Err(e) => {
                    if joined.newly {
                        self.hub.leave(self.conn_id, room_id);
                    }
                    return Err(match e {
                        ChatError::UnknownRoom => SocketError::NoSuchRoom(room_id),
                        other => other.into(),
                    });
                }
            };
            self.hub.set_floor(room_id, last_rev);
        }
        if let Some(since) = since {
            let replay = self
                .chat
                .replay(self.user.user_id, room_id, since, REPLAY_LIMIT)
                .await?;
            // The cursor is a stream position: live items up to it were in the replay.
            let start = self.cursors.get(&room_id).copied().unwrap_or(0);
            let frames = replay.items.iter().map(|item| {
                let frame = match item {
                    StreamItem::New(p) => RoomMessageFrame::of(&p.message),
                    StreamItem::Changed(m) => RoomMessageFrame::changed_since(m),
                };
                (
                    item.position(),
                    serde_json::to_string(&frame.with_mine(&replay.mine)).expect("frame"),
                )
            });
            let Some(cursor) = self.write_replay(frames, start).await else {
                return Ok(Flow::Gone);
            };
            self.cursors.insert(room_id, cursor);
        }
        let users = if joined.newly {
            self.chat.enter_presence(&self.user, self.conn_id, room_id).await
        } else {
            self.chat.present_users(room_id).await
        };
        Ok(self.write(protocol::presence_list(room_id, &users)).await)
    }

    async fn leave(&mut self, frame: &ClientFrame) -> FrameResult {
        let room_id = Self::room_id(frame)?;
        if !self.hub.leave(self.conn_id, room_id) {
            return Err(SocketError::NotInRoom(format!(
                "this socket has not joined room {room_id}"
            )));
        }
        self.cursors.remove(&room_id);
        self.chat.leave_presence(&self.user, self.conn_id, room_id).await;
        Ok(self.write(protocol::left_room(room_id)).await)
    }

    async fn direct(&mut self, frame: &ClientFrame, client_id: Option<String>) -> FrameResult {
        let recipient = frame
            .recipient
            .as_deref()
            .ok_or(SocketError::missing("recipient"))?;
        let text = frame.message.as_deref().ok_or(SocketError::missing("message"))?;
        match self
            .chat
            .send_dm(&self.user, recipient, text, client_id.clone())
            .await?
        {
            SentDm::Stored(_) => Ok(Flow::Continue), // the echo arrives through the hub
            // A retry of a stored message: only this socket is told (nothing was published).
            SentDm::Repeat(m) => Ok(self
                .write(DirectFrame::acknowledging(&m, client_id.as_deref()).to_text())
                .await),
        }
    }

    /// Type 5: typing in a room (`chatroomId`) or to someone (`recipient`).
    async fn typing(&mut self, frame: &ClientFrame) -> FrameResult {
        if let (None, Some(recipient)) = (frame.room_id, frame.recipient.as_deref()) {
            if self.last_typing.is_some_and(|t| t.elapsed() < TYPING_EVERY) {
                return Ok(Flow::Continue);
            }
            self.last_typing = Some(Instant::now());
            self.chat.typing_to(&self.user, recipient).await?;
            return Ok(Flow::Continue);
        }
        let room_id = Self::room_id(frame)?;
        if !self.hub.is_member(self.conn_id, room_id) {
            return Err(SocketError::NotInRoom(format!(
                "join room {room_id} before typing in it"
            )));
        }
        if self.last_typing.is_some_and(|t| t.elapsed() < TYPING_EVERY) {
            return Ok(Flow::Continue);
        }
        self.last_typing = Some(Instant::now());
        self.chat.typing(&self.user, self.conn_id, room_id).await;
        Ok(Flow::Continue)
    }
}
