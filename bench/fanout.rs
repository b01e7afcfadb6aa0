//! Fan-out benchmark: N WebSocket clients in one room of a running server, one sender posting M
//! messages; measures delivery latency (send → receipt on every socket) and throughput.
//! Run through `make bench` (bench/run.sh), which starts a release server and records its RSS.
//!
//!   cargo run --release --example fanout -- --base-url http://127.0.0.1:PORT --sockets 2000 --messages 200

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    base_url: String,
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    #[arg(long, default_value_t = 200)]
    messages: usize,
    /// Accounts the sockets are spread over (signing up is deliberately slow: Argon2id).
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Messages per second the sender posts.
    #[arg(long, default_value_t = 50)]
    rate: u64,
}

fn now_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let run = format!("{:x}", now_us() % 0xffffff);
    let mut tokens = Vec::new();
    for i in 0..args.users.max(1) {
        let name = format!("b{run}u{i}");
        let v: Value = http
            .post(format!("{}/v1/auth/signup", args.base_url))
            .json(&json!({"username": name, "email": format!("{name}@bench.example"), "password": "benchmark-pw"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(v["token"].as_str().expect("signup").to_string());
    }
    let room: Value = http
        .post(format!("{}/v1/chat/rooms", args.base_url))
        .bearer_auth(&tokens[0])
        .json(&json!({"name": format!("bench-{run}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["id"].as_i64().unwrap();
    let ws_base = args.base_url.replacen("http", "ws", 1);

    let received = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.sockets * args.messages)));
    let connect_start = Instant::now();
    let mut readers = Vec::new();
    for i in 0..args.sockets {
        let url = format!("{ws_base}/v1/ws?token={}", tokens[i % tokens.len()]);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
        ws.send(Message::text(json!({"type": 2, "chatroomId": room}).to_string()))
            .await
            .unwrap();
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && t.contains("\"users\"")
            {
                break;
            }
        }
        let (received, latencies, want) = (received.clone(), latencies.clone(), args.messages);
        readers.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(want);
            while mine.len() < want {
                match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let v: Value = serde_json::from_str(&t).unwrap();
                        if v["type"] == 1
                            && let Some(sent) = v["chatmessage"]
                                .as_str()
                                .and_then(|m| m.split(' ').nth(1))
                                .and_then(|s| s.parse::<u128>().ok())
                        {
                            mine.push((now_us() - sent) as u64);
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    println!("connected {} sockets in {connect_secs:.1} s", args.sockets);
    if let Ok(pid) = std::env::var("SERVER_PID") {
        println!("server RSS with sockets connected: {}", rss(&pid));
    }

    let (mut sender, _) = tokio_tungstenite::connect_async(format!("{ws_base}/v1/ws?token={}", tokens[0]))
        .await
        .unwrap();
    let send_start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
    let drain = tokio::spawn(async move {
        // The sender's own echoes must be read, or the server cuts it off as a slow client.
        while let Some(Ok(_)) = sender.next().await {}
    });
    let (mut post, _) = tokio_tungstenite::connect_async(format!("{ws_base}/v1/ws?token={}", tokens[0]))
        .await
        .unwrap();
    for i in 0..args.messages {
        tick.tick().await;
        post.send(Message::text(
            json!({"type": 1, "chatroomId": room, "chatmessage": format!("m{i} {}", now_us())}).to_string(),
        ))
        .await
        .unwrap();
        if i % 16 == 0 {
            while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_millis(1), post.next()).await {}
        }
    }
    for r in readers {
        let _ = r.await;
    }
    drain.abort();
    let elapsed = send_start.elapsed().as_secs_f64();
    let mut lat = latencies.lock().await.clone();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let expected = args.sockets * args.messages;
    println!(
        "| sockets | messages | deliveries | lost | throughput (deliveries/s) | p50 ms | p95 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |",
        args.sockets,
        args.messages,
        lat.len(),
        expected - lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.95),
        pct(0.99),
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    if let Ok(pid) = std::env::var("SERVER_PID") {
        println!("server RSS after the run: {}", rss(&pid));
    }
}

fn rss(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "?".into())
}
