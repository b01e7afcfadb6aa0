//! Test harness: the real server on port 0 against its own fresh PostgreSQL database and its own
//! broker prefix, so tests run in parallel without seeing each other.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tickertalk::app::App;
use tickertalk::{Application, Config};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "test-secret-0123456789abcdef";

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://tickertalk:tickertalk@127.0.0.1:5432/tickertalk".into())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The same URL with another database name.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A fresh, empty database (migrations are applied by the server at start), and the broker
/// prefix used with it, both removed by `drop_db`.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub prefix: Option<String>,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!("tt_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&with_db(&admin_url(), "postgres"))
            .await
            .expect("admin connection");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create db");
        admin.close().await;
        TestDb {
            url: with_db(&admin_url(), &name),
            name,
            prefix: None,
        }
    }

    /// Drops the database (closing whatever still uses it) and the prefix's broker objects:
    /// durable quorum queues left behind would pile up and slow every broker restart.
    pub async fn drop_db(&self) {
        if let Some(prefix) = &self.prefix {
            let _ = tickertalk::broker::Topology::new(prefix)
                .delete_at(&amqp_url())
                .await;
        }
        if let Ok(admin) = sqlx::PgPool::connect(&with_db(&admin_url(), "postgres")).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}

pub fn config(db_url: &str, prefix: &str, extra: &[&str]) -> Config {
    let mut args: Vec<String> = vec![
        "tickertalk".into(),
        "--listen-addr=127.0.0.1:0".into(),
        format!("--database-url={db_url}"),
        format!("--amqp-url={}", amqp_url()),
        format!("--jwt-secret={SECRET}"),
        format!("--broker-prefix={prefix}"),
        "--allowed-origins=http://allowed.example".into(),
        "--db-max-connections=8".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Config::try_parse_from(args).expect("test config")
}

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Starts a server on a new database with a new broker prefix.
    pub async fn spawn(extra: &[&str]) -> (TestApp, TestDb, String) {
        let mut db = TestDb::create().await;
        let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
        db.prefix = Some(prefix.clone());
        let app = TestApp::spawn_on(&db.url, &prefix, extra).await;
        (app, db, prefix)
    }

    /// Starts another server instance on an existing database and prefix.
    pub async fn spawn_on(db_url: &str, prefix: &str, extra: &[&str]) -> TestApp {
        tickertalk::telemetry::init("warn");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let application = Application::build(config(db_url, prefix, extra), listener)
            .await
            .expect("server builds");
        let addr = application.local_addr();
        let app = application.app.clone();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(application.run(async move {
            let _ = rx.await;
        }));
        let t = TestApp {
            addr,
            app,
            http: reqwest::Client::new(),
            stop: Some(tx),
            handle: Some(handle),
        };
        t.wait_broker_up().await;
        t
    }

    pub async fn wait_broker_up(&self) {
        let mut w = self.app.broker.watch();
        tokio::time::timeout(Duration::from_secs(15), w.wait_for(|up| *up))
            .await
            .expect("broker up in time")
            .unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Graceful shutdown; returns once the server has drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(15), h)
                .await
                .expect("server stops in time")
                .unwrap();
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
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

    pub async fn create_room(&self, token: &str, name: &str) -> i64 {
        let (status, body) = self
            .post("/v1/chat/rooms", Some(token), json!({"name": name}))
            .await;
        assert_eq!(status, 201, "create room: {body}");
        body["id"].as_i64().unwrap()
    }

    pub async fn ws(&self, token: &str) -> Ws {
        Ws::connect(self.addr, token).await
    }
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
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws?token={token}"))
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
            if v["type"] == 1 && v["chatroomId"] == room {
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
