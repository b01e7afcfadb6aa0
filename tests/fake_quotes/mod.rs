//! What tests/stock_bot.rs and tests/stocks.rs share: a fake quote service speaking real HTTP
//! on 127.0.0.1 (quotes at `/q/l/`, daily history at `/q/d/l/`), the bot in-process and as a
//! process, and socket helpers for bot answers.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use lapin::options::QueueDeclareOptions;
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use serde_json::{Value, json};
use tickertalk_bot::{BotConfig, worker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::common::{self, TestApp, Ws, amqp_url};

// ---------------------------------------------------------------------------------------------
// Fake quote service
// ---------------------------------------------------------------------------------------------

/// The quote CSV header (stooq's `f=sd2t2ohlcv&h`), CRLF-terminated.
pub const HEADER: &str = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\n";

/// An HTML page served with 200, as a misbehaving proxy or the service's error page would.
pub const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Stooq</title></head>\n\
                         <body><p>Service temporarily unavailable</p></body></html>\n";

/// What the fake quote service answers to one request.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    /// A quote CSV the way stooq writes it: header, one row, CRLF line ends.
    pub fn quote(symbol: &str, close: &str) -> Answer {
        Answer::ok_csv(format!(
            "{HEADER}{},2024-05-03,22:00:09,92.11,94.10,91.50,{close},163224109\r\n",
            symbol.to_ascii_uppercase()
        ))
    }

    /// The unknown-symbol answer: `N/D` in every field after the symbol.
    pub fn no_data(symbol: &str) -> Answer {
        Answer::ok_csv(format!(
            "{HEADER}{},N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n",
            symbol.to_ascii_uppercase()
        ))
    }

    pub fn ok_csv(body: String) -> Answer {
        Answer {
            status: 200,
            content_type: "text/csv",
            body,
        }
    }

    pub fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into(),
        }
    }
}

/// One request as the fake service saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The `s=` query parameter (the symbol as the bot sent it).
    pub symbol: String,
    /// The whole query string.
    pub query: String,
    /// Asked at the history path (`/q/d/l/`), not the quote path.
    pub history: bool,
}

/// How the fake answers history requests (quotes go to the test's handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    /// [`history_csv`]: 60 trading days up to the day before the quotes' date.
    Normal,
    /// This status with an HTML page.
    Status(u16),
    /// 200 with a body that is not CSV.
    Garbage,
    /// The normal body after this long.
    Slow(Duration),
}

/// The fake's daily history for `symbol`: 60 weekdays ending 2024-05-02 (the day before
/// [`Answer::quote`]'s date), closes rising from 85.90 by 0.10 a day to 91.80 (the previous
/// close; MSFT's and TSLA's scaled to near their quotes in tests: 403.92 and 169.83), CRLF
/// line ends, oldest first, as stooq writes it.
pub fn history_csv(symbol: &str) -> String {
    let scale = match symbol {
        "msft.us" => 4.4,
        "tsla.us" => 1.85,
        _ => 1.0,
    };
    let mut days = Vec::new();
    let mut d = chrono::NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
    while days.len() < 60 {
        if !matches!(
            chrono::Datelike::weekday(&d),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        ) {
            days.push(d);
        }
        d = d.pred_opt().unwrap();
    }
    days.reverse();
    let mut body = String::from("Date,Open,High,Low,Close,Volume\r\n");
    for (i, day) in days.iter().enumerate() {
        let close = (85.90 + 0.10 * i as f64) * scale;
        body.push_str(&format!(
            "{day},{:.2},{:.2},{:.2},{close:.2},1000000\r\n",
            close - 0.5,
            close + 1.0,
            close - 1.0
        ));
    }
    body
}

pub type Handler = Arc<dyn Fn(Hit) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// A minimal HTTP/1.1 server on 127.0.0.1:0: one request per connection, `Connection: close`.
pub struct FakeQuotes {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub task: tokio::task::JoinHandle<()>,
    pub history: Arc<Mutex<HistoryMode>>,
}

impl FakeQuotes {
    pub async fn start<F, Fut>(handler: F) -> FakeQuotes
    where
        F: Fn(Hit) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |hit| Box::pin(handler(hit)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let history = Arc::new(Mutex::new(HistoryMode::Normal));
        let task = tokio::spawn({
            let (hits, history) = (hits.clone(), history.clone());
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(serve_one(stream, handler.clone(), hits.clone(), history.clone()));
                }
            }
        });
        FakeQuotes {
            addr,
            hits,
            task,
            history,
        }
    }

    /// How history requests are answered from now on.
    pub fn set_history(&self, mode: HistoryMode) {
        *self.history.lock().unwrap() = mode;
    }

    /// The bot's `QUOTE_HISTORY_URL` on this fake, shaped like stooq's.
    pub fn history_url(&self, tag: &str) -> String {
        format!("http://{}/q/d/l/?s={{symbol}}&i=d&bot={tag}", self.addr)
    }

    /// History requests for `symbol`.
    pub fn history_hits_for(&self, symbol: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.history && h.symbol == symbol)
            .count()
    }

    /// The bot's `QUOTE_URL`, shaped like stooq's; `tag` lets a test tell bots apart.
    pub fn url(&self, tag: &str) -> String {
        format!(
            "http://{}/q/l/?s={{symbol}}&f=sd2t2ohlcv&h&e=csv&bot={tag}",
            self.addr
        )
    }

    /// Quote requests (history requests are counted apart: `history_hits_for`).
    pub fn hits(&self) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| !h.history)
            .cloned()
            .collect()
    }

    pub fn hits_for(&self, symbol: &str) -> usize {
        self.hits().iter().filter(|h| h.symbol == symbol).count()
    }
}

impl Drop for FakeQuotes {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve_one(
    mut stream: TcpStream,
    handler: Handler,
    hits: Arc<Mutex<Vec<Hit>>>,
    history: Arc<Mutex<HistoryMode>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let target = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let query = target
        .split_once('?')
        .map(|(_, q)| q.to_string())
        .unwrap_or_default();
    let symbol = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("s="))
        .unwrap_or_default()
        .to_string();
    let is_history = target.starts_with("/q/d/l");
    let hit = Hit {
        symbol,
        query,
        history: is_history,
    };
    hits.lock().unwrap().push(hit.clone());
    let answer = if is_history {
        let mode = *history.lock().unwrap();
        match mode {
            HistoryMode::Normal => Answer::ok_csv(history_csv(&hit.symbol)),
            HistoryMode::Status(code) => Answer::status(code, HTML_PAGE),
            HistoryMode::Garbage => Answer::ok_csv("No data".into()),
            HistoryMode::Slow(wait) => {
                tokio::time::sleep(wait).await;
                Answer::ok_csv(history_csv(&hit.symbol))
            }
        }
    } else {
        handler(hit).await
    };
    let reason = match answer.status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        answer.status,
        answer.content_type,
        answer.body.len(),
        answer.body
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The bot, in-process and as a process
// ---------------------------------------------------------------------------------------------

/// `worker::run` in a task, stopped through its watch channel.
pub struct Bot {
    pub stop: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Bot {
    pub fn start(prefix: &str, quote_url: &str, extra: &[&str]) -> Bot {
        let mut args = vec![
            "tickertalk-bot".to_string(),
            format!("--amqp-url={}", amqp_url()),
            format!("--quote-url={quote_url}"),
            format!("--quote-history-url={}", history_url_for(quote_url)),
            format!("--broker-prefix={prefix}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let cfg = BotConfig::try_parse_from(args).expect("bot config");
        cfg.validate().expect("valid bot config");
        let (stop, rx) = watch::channel(false);
        Bot {
            stop,
            task: tokio::spawn(worker::run(cfg, rx)),
        }
    }

    pub async fn stop(self) {
        self.stop.send_replace(true);
        let res = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("bot stops in time")
            .expect("bot task did not panic");
        assert_eq!(res, Ok(()), "bot ends cleanly");
    }
}

/// The real `tickertalk-bot` binary; killed (SIGKILL) when dropped, so a failing test leaves
/// no process behind.
pub struct BotProcess {
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl BotProcess {
    pub fn spawn(prefix: &str, quote_url: &str, log_name: &str) -> BotProcess {
        BotProcess::spawn_with(prefix, quote_url, log_name, &[])
    }

    /// `spawn` with further environment variables.
    pub fn spawn_with(prefix: &str, quote_url: &str, log_name: &str, env: &[(&str, &str)]) -> BotProcess {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let log = dir.join(format!("{log_name}-{prefix}.log"));
        let out = std::fs::File::create(&log).expect("bot log file");
        let err = out.try_clone().unwrap();
        let child = Command::new(common::bot_binary())
            // No `.env` is read from here: only what this test sets.
            .current_dir(dir)
            .env("AMQP_URL", amqp_url())
            .env("QUOTE_URL", quote_url)
            .env("QUOTE_HISTORY_URL", history_url_for(quote_url))
            .env("BROKER_PREFIX", prefix)
            .env("QUOTE_TIMEOUT_MS", "20000")
            .env("QUOTE_CACHE_SECS", "0")
            .env("RUST_LOG", "info")
            .env("METRICS_ADDR", "")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("bot binary starts");
        BotProcess { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no chance to finish, ack or close anything.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().expect("kill bot");
        self.child.wait().expect("reap bot")
    }

    /// SIGTERM, then waits for the exit (at most `wait`).
    pub async fn terminate(&mut self, wait: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Broker and socket helpers
// ---------------------------------------------------------------------------------------------

/// The history URL on the same (fake) service as `quote_url`: stooq's history path.
pub fn history_url_for(quote_url: &str) -> String {
    quote_url.replacen("/q/l/", "/q/d/l/", 1)
}

pub fn sname(s: &str) -> ShortString {
    ShortString::from(s)
}

/// Waits until `n` consumers are on the prefix's stock command queue.
pub async fn wait_consumers(prefix: &str, n: u32) {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .expect("amqp");
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("{prefix}.stock.commands");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let q = ch
            .queue_declare(
                sname(&queue),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the server declared the command queue");
        if q.consumer_count() == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{queue}: {} consumers, expected {n}",
            q.consumer_count()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = ch.close(200, sname("bye")).await;
    let _ = conn.close(200, sname("bye")).await;
}

pub fn is_bot_reply(v: &Value, room: i64) -> bool {
    v["type"] == 1 && v["chatroomId"] == room && v["chatuser"] == "stockbot" && v["bot"] == true
}

/// The next bot message in `room` (panics after 10 s), checked for the contract's shape.
pub async fn bot_reply(ws: &mut Ws, room: i64) -> String {
    bot_frame(ws, room).await["chatmessage"]
        .as_str()
        .expect("chatmessage")
        .to_string()
}

/// The next bot message frame in `room` (panics after 10 s). Answers to `/stock` are stored
/// (they have an id and name the asker); usage replies are not.
pub async fn bot_frame(ws: &mut Ws, room: i64) -> Value {
    let v = ws.next_where(|v| is_bot_reply(v, room)).await;
    assert!(v["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    assert_eq!(
        v.get("id").is_some(),
        v.get("asked_by").is_some(),
        "stored answers, and only they, have an id and an asker: {v}"
    );
    v
}

/// The next bot message's text in `room`, or `None` after `wait`.
pub async fn bot_reply_within(ws: &mut Ws, room: i64, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        let v = ws
            .next_within(deadline.saturating_duration_since(Instant::now()))
            .await?;
        if is_bot_reply(&v, room) {
            return Some(v["chatmessage"].as_str()?.to_string());
        }
    }
}

/// Sends a command over the socket; returns the type 8 acceptance frame.
pub async fn command(ws: &mut Ws, room: i64, text: &str, client_id: &str) -> Value {
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": text, "client_id": client_id}))
        .await;
    let accepted = ws.next_where(|v| v["type"] == 8 || v["type"] == 6).await;
    assert_eq!(accepted["type"], 8, "command accepted: {accepted}");
    assert_eq!(accepted["chatroomId"], room, "{accepted}");
    assert_eq!(accepted["client_id"], client_id, "{accepted}");
    accepted
}

pub fn failure(symbol: &str, why: &str) -> String {
    format!("Sorry, the quote service failed for {symbol} ({why}). Please try again later.")
}

pub async fn stored_bodies(app: &TestApp, token: &str, room: i64) -> Vec<Value> {
    let (status, list) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(token))
        .await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// The chat messages `reader` receives before the one whose text is `text` (which the caller
/// posts): what came between, empty when nothing did.
pub async fn seen_before(reader: &mut Ws, text: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let frame = reader.next_where(|v| v["type"] == 1).await;
        if frame["chatmessage"] == text {
            return seen;
        }
        seen.push(frame);
    }
}

/// The texts of a room's stored messages, in order.
pub async fn stored_texts(app: &TestApp, token: &str, room: i64) -> Vec<String> {
    stored_bodies(app, token, room)
        .await
        .iter()
        .map(|m| m["chatmessage"].as_str().unwrap().to_string())
        .collect()
}
