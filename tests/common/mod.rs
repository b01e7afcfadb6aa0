//! Test harness: the real server on port 0 against its own fresh PostgreSQL database and its own
//! broker prefix, so tests run in parallel without seeing each other.
//!
//! Clean-up is ownership, as with `#[sqlx::test]`: a `TestApp` shares a `TestEnv` (the database
//! and the broker prefix), and the last one dropped removes both, also when the test panics
//! (drops run during unwinding). Tests never tear down by hand.
#![allow(dead_code)]

pub mod children;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tickertalk::bus::Bus;
use tickertalk::chat::Chat;
use tickertalk::realtime::Hub;
use tickertalk::startup::Stopped;
use tickertalk::store::admin;
use tickertalk::{Application, Config};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "test-secret-0123456789abcdef";

/// A URL on the test PostgreSQL whose role may create databases (each test makes its own).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk".into())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The built `tickertalk-bot` binary, beside the test executable's directory (`cargo test
/// --workspace` and `make build` build it; integration tests of this package cannot name
/// another package's binary with `CARGO_BIN_EXE_*`).
pub fn bot_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = dir.join("tickertalk-bot");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins`",
        bin.display()
    );
    bin
}

/// What a test owns outside the process: a database and a broker prefix. Dropping the last
/// reference removes both.
pub struct TestEnv {
    pub db_name: String,
    pub db_url: String,
    pub prefix: String,
    /// Where the database was created (the shared PostgreSQL, or a test's own child server).
    pub admin_url: String,
    /// The broker the servers use (the shared one, or a test's own child node).
    pub amqp_url: String,
}

impl TestEnv {
    /// A fresh, empty database (servers migrate it at start) and an unused broker prefix, on
    /// the shared PostgreSQL and RabbitMQ.
    pub async fn create() -> Arc<TestEnv> {
        TestEnv::create_on(&admin_url(), &amqp_url()).await
    }

    /// The same on given services: a test's own PostgreSQL or RabbitMQ (`children`).
    pub async fn create_on(admin_url: &str, amqp_url: &str) -> Arc<TestEnv> {
        let db_name = format!("tt_test_{}", uuid::Uuid::new_v4().simple());
        admin::create(admin_url, &db_name)
            .await
            .expect("create test database");
        Arc::new(TestEnv {
            db_url: admin::url_with_db(admin_url, &db_name).expect("test database URL"),
            db_name,
            prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
            admin_url: admin_url.to_string(),
            amqp_url: amqp_url.to_string(),
        })
    }
}

impl Drop for TestEnv {
    /// Drops the database (ending whatever still uses it) and deletes the prefix's durable
    /// queues and exchanges: quorum queues left behind pile up and slow every broker restart.
    ///
    /// `Drop` cannot await, and may run inside the test's runtime (or while it unwinds from a
    /// panic), so the clean-up runs on a thread of its own with a runtime of its own.
    fn drop(&mut self) {
        let (name, prefix, amqp, admin_url) = (
            self.db_name.clone(),
            self.prefix.clone(),
            self.amqp_url.clone(),
            self.admin_url.clone(),
        );
        let cleaned = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("clean-up runtime");
            rt.block_on(async {
                let topology = tickertalk_wire::Topology::new(&prefix);
                let _ = tokio::time::timeout(Duration::from_secs(20), topology.delete_at(&amqp)).await;
                let db = admin::drop(&admin_url, &name);
                if !matches!(
                    tokio::time::timeout(Duration::from_secs(20), db).await,
                    Ok(Ok(()))
                ) {
                    eprintln!("test clean-up: could not drop database {name}");
                }
            });
        })
        .join();
        if cleaned.is_err() {
            eprintln!("test clean-up panicked for {}", self.db_name);
        }
    }
}

pub fn config(env: &TestEnv, extra: &[&str]) -> Config {
    let (db_url, prefix) = (&env.db_url, &env.prefix);
    let mut args: Vec<String> = vec![
        "tickertalk".into(),
        "--listen-addr=127.0.0.1:0".into(),
        format!("--database-url={db_url}"),
        format!("--amqp-url={}", env.amqp_url),
        format!("--jwt-secret={SECRET}"),
        format!("--broker-prefix={prefix}"),
        "--allowed-origins=http://allowed.example".into(),
        "--db-max-connections=8".into(),
    ];
    // Tests sign many users up from one address: no sign-up limit unless a test sets one.
    if !extra.iter().any(|a| a.starts_with("--signups-per-address")) {
        args.push("--signups-per-address=0".into());
    }
    // `/metrics` on a port of its own (`TestApp::metrics_addr`), never a fixed one.
    if !extra.iter().any(|a| a.starts_with("--metrics-addr")) {
        args.push("--metrics-addr=127.0.0.1:0".into());
    }
    // Nor on rooms per user (a test's one user may create many).
    if !extra.iter().any(|a| a.starts_with("--rooms-per-user")) {
        args.push("--rooms-per-user=0".into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    Config::try_parse_from(args).expect("test config")
}

/// A running server instance. Dropping it stops it; dropping the last instance of an
/// environment also removes the environment.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where this instance serves `/metrics` (`METRICS_ADDR`).
    pub metrics_addr: Option<SocketAddr>,
    pub chat: Arc<Chat>,
    pub hub: Arc<Hub>,
    /// The server's pool, for tests that look at or arrange rows directly.
    pub db: sqlx::PgPool,
    bus: Arc<Bus>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Stopped>>,
    /// Last field, so it is dropped after the server was told to stop.
    pub env: Arc<TestEnv>,
}

impl TestApp {
    /// Starts a server on a new database with a new broker prefix.
    pub async fn spawn(extra: &[&str]) -> TestApp {
        TestApp::spawn_in(TestEnv::create().await, extra).await
    }

    /// Starts another server instance on this one's database and broker prefix.
    pub async fn spawn_peer(&self, extra: &[&str]) -> TestApp {
        TestApp::spawn_in(self.env.clone(), extra).await
    }

    /// Starts a server in a given environment (one made with `TestEnv::create_on`).
    pub async fn spawn_in(env: Arc<TestEnv>, extra: &[&str]) -> TestApp {
        tickertalk::telemetry::init("warn");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let application = Application::build(config(&env, extra), listener)
            .await
            .expect("server builds");
        let addr = application.local_addr();
        let metrics_addr = application.metrics_addr();
        // Not the state itself: it holds a socket shutdown handle, and keeping it would make
        // every graceful stop wait out its drain timeout.
        let (chat, hub) = (application.state().chat.clone(), application.state().hub.clone());
        let (db, bus) = (application.db().clone(), application.bus().clone());
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(application.run(async move {
            let _ = rx.await;
        }));
        let t = TestApp {
            addr,
            metrics_addr,
            chat,
            hub,
            db,
            bus,
            http: reqwest::Client::new(),
            stop: Some(tx),
            handle: Some(handle),
            env,
        };
        t.wait_broker_up().await;
        t
    }

    pub fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    pub async fn wait_broker_up(&self) {
        self.wait_broker(true).await;
    }

    /// Waits (up to 60 s: a real broker restart can take that long) until the broker
    /// connection is `up` or down.
    pub async fn wait_broker(&self, up: bool) {
        let mut w = self.bus().watch();
        tokio::time::timeout(Duration::from_secs(60), w.wait_for(|now| *now == up))
            .await
            .unwrap_or_else(|_| panic!("broker {} in time", if up { "up" } else { "down" }))
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Graceful shutdown; returns once the server has drained. (Dropping a `TestApp` only
    /// signals the stop: tests of shutdown itself call this.)
    pub async fn stop(mut self) -> Stopped {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let h = self.handle.take().expect("running");
        tokio::time::timeout(Duration::from_secs(40), h)
            .await
            .expect("server stops in time")
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PUT, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PATCH, path, token, body).await
    }

    async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    /// Signs up `name` (password `password123`) and returns the signup reply.
    pub async fn signup(&self, name: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/auth/signup",
                None,
                json!({"username": name, "email": format!("{name}@example.com"), "password": "password123"}),
            )
            .await;
        assert_eq!(status, 201, "signup {name}: {body}");
        body
    }

    /// Signs up `name` and returns its access token.
    pub async fn token(&self, name: &str) -> String {
        self.signup(name).await["token"].as_str().unwrap().to_string()
    }

    /// Signs up each of `names`; their tokens, in order.
    pub async fn tokens<const N: usize>(&self, names: [&str; N]) -> [String; N] {
        let mut tokens = Vec::with_capacity(N);
        for name in names {
            tokens.push(self.token(name).await);
        }
        tokens.try_into().expect("one token per name")
    }

    /// The texts of a room's latest page of history, oldest first.
    pub async fn room_texts(&self, token: &str, room: i64) -> Vec<String> {
        let (status, list) = self
            .get(&format!("/v1/chat/rooms/{room}/messages"), Some(token))
            .await;
        assert_eq!(status, 200, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .map(|m| m["chatmessage"].as_str().unwrap().to_string())
            .collect()
    }

    pub async fn create_room(&self, token: &str, name: &str) -> i64 {
        let (status, body) = self
            .post("/v1/chat/rooms", Some(token), json!({"name": name}))
            .await;
        assert_eq!(status, 201, "create room: {body}");
        body["id"].as_i64().unwrap()
    }

    /// The usual opening: signs up `user`, who creates room `room` and joins it on a new
    /// socket. Returns the user's token, the room id and the joined socket.
    pub async fn user_in_room(&self, user: &str, room: &str) -> (String, i64, Ws) {
        let token = self.token(user).await;
        let room = self.create_room(&token, room).await;
        let mut ws = self.ws(&token).await;
        ws.join(room, None).await;
        (token, room, ws)
    }

    /// Posts `text` to a room over HTTP and returns the stored message.
    pub async fn post_message(&self, token: &str, room: i64, text: &str) -> Value {
        let (status, body) = self
            .post(
                &format!("/v1/chat/rooms/{room}/messages"),
                Some(token),
                json!({"chatmessage": text}),
            )
            .await;
        assert_eq!(status, 201, "post to room {room}: {body}");
        body
    }

    /// The ids of every stored message of a room, oldest first, read over HTTP page by page.
    pub async fn stored_ids(&self, token: &str, room: i64) -> Vec<i64> {
        let mut all = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/v1/chat/rooms/{room}/messages?limit=100&before={b}"),
                None => format!("/v1/chat/rooms/{room}/messages?limit=100"),
            };
            let (status, page) = self.get(&path, Some(token)).await;
            assert_eq!(status, 200, "history of room {room}: {page}");
            let page = ids(page.as_array().unwrap());
            if page.is_empty() {
                break;
            }
            before = Some(page[0]);
            all.splice(0..0, page);
        }
        all
    }

    pub async fn ws(&self, token: &str) -> Ws {
        Ws::connect(self.addr, token).await
    }
}

impl Drop for TestApp {
    /// Tells the server to stop (without waiting: `Drop` cannot await). Its database and broker
    /// objects go with the last `TestEnv` reference, right after.
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The `id` of each frame.
pub fn ids(frames: &[Value]) -> Vec<i64> {
    frames.iter().map(|f| f["id"].as_i64().unwrap()).collect()
}

pub async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A WebSocket client.
pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(addr: SocketAddr, token: &str) -> Ws {
        Ws::open(addr, &format!("/v1/ws?token={token}")).await
    }

    /// A socket on any WebSocket path (with its query string).
    pub async fn open(addr: SocketAddr, path: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("ws connects");
        Ws { stream }
    }

    pub async fn send(&mut self, v: Value) {
        self.stream.send(Message::text(v.to_string())).await.unwrap();
    }

    pub async fn send_text(&mut self, s: &str) {
        self.stream.send(Message::text(s.to_string())).await.unwrap();
    }

    /// The next JSON frame, or None after `wait` without one (or if the socket closed).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => return Some(serde_json::from_str(&t).expect("server sends JSON")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a frame within 10 s")
    }

    /// Skips frames until one matches; panics after 10 s.
    pub async fn next_where(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self
                .next_within(left)
                .await
                .expect("expected frame did not arrive");
            if pred(&v) {
                return v;
            }
        }
    }

    /// Joins a room and waits for the presence list that completes the join.
    pub async fn join(&mut self, room: i64, since: Option<i64>) -> Vec<Value> {
        let mut frame = json!({"type": 2, "chatroomId": room});
        if let Some(s) = since {
            frame["since"] = json!(s);
        }
        self.send(frame).await;
        let mut replayed = Vec::new();
        loop {
            let v = self.next().await;
            if v["type"] == 7 && v["chatroomId"] == room && v.get("users").is_some() {
                return replayed;
            }
            // Stored messages, and changes to older ones (type 12).
            if (v["type"] == 1 || v["type"] == 12) && v["chatroomId"] == room {
                replayed.push(v);
            }
        }
    }

    /// Collects room messages (type 1 with an id) of `room` until `n` arrived.
    pub async fn messages(&mut self, room: i64, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < n {
            let v = self.next().await;
            if v["type"] == 1 && v["chatroomId"] == room && v.get("id").is_some() {
                out.push(v);
            }
        }
        out
    }

    /// The code of the close frame the server sends within `wait` (other frames are skipped).
    pub async fn close_code(&mut self, wait: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, self.stream.next()).await {
            if let Message::Close(Some(frame)) = msg {
                return Some(u16::from(frame.code));
            }
        }
        None
    }

    /// Frames arriving within `wait` (for asserting that nothing arrives).
    pub async fn drain(&mut self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(v) = self.next_within(wait).await {
            out.push(v);
        }
        out
    }
}

/// Two instances sharing one environment, with alice's socket on the first and bob's on the
/// second, both joined to a new room: the set-up of the broker fault tests.
pub struct Pair {
    pub a: TestApp,
    pub b: TestApp,
    pub alice: String,
    pub bob: String,
    pub room: i64,
    pub wa: Ws,
    pub wb: Ws,
}

pub async fn pair_in_room(room_name: &str) -> Pair {
    pair_in_room_in(TestEnv::create().await, room_name).await
}

/// `pair_in_room` in a given environment (a test's own broker or database server).
pub async fn pair_in_room_in(env: Arc<TestEnv>, room_name: &str) -> Pair {
    let a = TestApp::spawn_in(env, &[]).await;
    let b = a.spawn_peer(&[]).await;
    let (alice, bob) = (a.token("alice").await, a.token("bob").await);
    let room = a.create_room(&alice, room_name).await;
    let mut wa = a.ws(&alice).await;
    let mut wb = b.ws(&bob).await;
    wa.join(room, None).await;
    wb.join(room, None).await;
    Pair {
        a,
        b,
        alice,
        bob,
        room,
        wa,
        wb,
    }
}

/// An `/api` JWT as the original clients make them: the access key's id in the *header*
/// (`access_key`), `claims` as given, signed HS256 with the key's secret (unsigned for `alg`
/// "none"; any other `alg` is only named in the header, the signature stays HS256).
pub fn client_jwt(key_id: &str, secret: &str, alg: &str, claims: &Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT", "access_key": key_id}).to_string());
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    if alg == "none" {
        return format!("{input}.");
    }
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{sig}")
}

/// Terminates every connection the server's role holds to database `db`, as a PostgreSQL
/// restart would. Only the role's own: an autovacuum worker visiting the database runs as the
/// superuser, and terminating it is refused ("must be a superuser"), which failed this now and
/// then.
pub async fn kill_connections(admin: &sqlx::PgPool, db: &str) {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND usename = current_user",
    )
    .bind(db)
    .execute(admin)
    .await
    .unwrap();
}
