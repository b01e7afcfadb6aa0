//! Fan-out load generator: `rooms` rooms of `per_room` WebSocket clients each, spread
//! over one or more running server instances; every room receives `rate` messages per second
//! from its own members (round-robin), and every member (the author included) must receive every
//! message. Latency is per delivery, from just before the post was written to its receipt.
//!
//! With several rates (`--rates 20,40,60`) it steps up, `--step-secs` per step, and stops at the
//! first step that fails (not 100 % delivery, any error frame, or p99 above `--p99-budget-ms`).
//! With no rate (`--rates ''`) it only connects and joins: the idle-socket measurement.
//!
//! Per step it prints a JSON line (`{"scenario":"fanout",...}`) and, at the end, a table; the
//! CPU and RSS of the server instances (`SERVER_PIDS`), PostgreSQL (every `postgres` process),
//! RabbitMQ (`beam.smp`) and this load generator are read from `/proc` over each step.
//!
//! The generator must stay cheap per frame or it becomes the limit: it speaks just enough
//! WebSocket by hand (RFC 6455 over a plain TcpStream: the handshake, unmasked server frames,
//! masked client frames, pongs) to read every frame that arrived with one system call and no
//! per-frame allocation; a reader finds its payload (`"chatmessage":"bench STEP MICROS"`) with a
//! byte search, no JSON parse; latencies go to shared fixed-bucket histograms (one atomic add).
//!
//!   bash bench/run.sh fanout        (starts the servers; see bench/run.sh for the knobs)
//!   cargo run --release --example fanout -- --base-url http://127.0.0.1:PORT --rooms 20 --per-room 50 --rates 50

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, Semaphore};

/// The sending half of a socket: posts go out on it, and so do the reader's pongs.
type Writer = Arc<Mutex<OwnedWriteHalf>>;

#[derive(Parser)]
struct Args {
    /// Server base URL(s), comma-separated; the sockets of each room are split between them.
    #[arg(long, value_delimiter = ',', required = true)]
    base_url: Vec<String>,
    #[arg(long, default_value_t = 20)]
    rooms: usize,
    #[arg(long, default_value_t = 50)]
    per_room: usize,
    /// Accounts the sockets are spread over (signing up is deliberately slow: Argon2id).
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Messages per second per room, one step each; empty: connect and join only (idle).
    #[arg(long, default_value = "50", value_parser = parse_rates)]
    rates: Rates,
    #[arg(long, default_value_t = 10)]
    step_secs: u64,
    #[arg(long, default_value_t = 100.0)]
    p99_budget_ms: f64,
    /// Sockets connecting at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Logins per second made during each step (aligned with `--rates`; missing = 0): the
    /// "logins during fan-out" measurement. Each is a real Argon2id verification.
    #[arg(long, default_value = "", value_parser = parse_rates)]
    logins_per_sec: Rates,
    /// `/stock=` commands per second (all rooms together), one step each, after the fan-out
    /// steps: each room's first socket asks, and the bot's answer is timed on that socket.
    /// Needs a bot and a quote service (bench/run.sh stock starts both).
    #[arg(long, default_value = "", value_parser = parse_rates)]
    stock_rates: Rates,
    /// Places each socket on a random instance (seeded, the same every run) instead of splitting
    /// each room's sockets evenly: the many-small-rooms routing measurement.
    #[arg(long)]
    random_placement: bool,
    /// Only the first N rooms post (0: all): a low total rate over many rooms, since rates are
    /// whole messages per second per room.
    #[arg(long, default_value_t = 0)]
    sending_rooms: usize,
    /// A name for this run in the JSON lines and the table.
    #[arg(long, default_value = "fanout")]
    label: String,
}

/// Histogram buckets: 100 µs wide, up to 10 s (the last bucket holds everything slower).
const BUCKET_US: u64 = 100;
const BUCKETS: usize = 100_000;
const MAX_STEPS: usize = 32;

/// What every reader adds to, per step.
struct Step {
    received: AtomicU64,
    hist: Vec<AtomicU32>,
    max_us: AtomicU64,
}

impl Step {
    fn new() -> Step {
        Step {
            received: AtomicU64::new(0),
            hist: (0..BUCKETS).map(|_| AtomicU32::new(0)).collect(),
            max_us: AtomicU64::new(0),
        }
    }

    fn record(&self, us: u64) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let b = ((us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.hist[b].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// Waits until `expected` arrived or `within` passed (stragglers later than that fail the
    /// step anyway); returns how many arrived.
    async fn wait_for(&self, expected: u64, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        while self.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received.load(Ordering::Relaxed)
    }

    /// The latency (ms) below which `p` of the deliveries fall (upper bucket edge).
    fn percentile(&self, p: f64) -> f64 {
        let total: u64 = self.hist.iter().map(|b| b.load(Ordering::Relaxed) as u64).sum();
        if total == 0 {
            return 0.0;
        }
        let want = ((total as f64) * p).ceil() as u64;
        let mut seen = 0;
        for (i, b) in self.hist.iter().enumerate() {
            seen += b.load(Ordering::Relaxed) as u64;
            if seen >= want {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        f64::INFINITY
    }
}

struct Shared {
    steps: Vec<Step>,
    /// Bot answers, per stock step.
    stock_steps: Vec<Step>,
    /// Per room: when each unanswered command was sent, oldest first (one bot may answer a
    /// little out of order; the oldest is the fair match for a latency median).
    asked: Vec<std::sync::Mutex<std::collections::VecDeque<u64>>>,
    /// Answers that said the quote was unavailable (no bot, broker trouble).
    unavailable: AtomicU64,
    errors: AtomicU64,
    closed: AtomicU64,
    stop: AtomicBool,
    /// The stock step answers count towards.
    stock_step: AtomicU64,
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let base0 = &args.base_url[0];
    let run = format!("{:x}", now_us() % 0xffffff);

    let tokens = sign_up(&http, base0, &run, args.users.max(1)).await;
    let mut rooms = Vec::new();
    for r in 0..args.rooms {
        let v: Value = http
            .post(format!("{base0}/v1/chat/rooms"))
            .bearer_auth(&tokens[0])
            .json(&json!({"name": format!("bench {run} {r}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rooms.push(v["id"].as_i64().expect("room created"));
    }

    let servers = pids_from_env();
    let rss_before = rss_kib(&servers);
    let shared = Arc::new(Shared {
        steps: (0..MAX_STEPS).map(|_| Step::new()).collect(),
        stock_steps: (0..args.stock_rates.0.len().min(MAX_STEPS))
            .map(|_| Step::new())
            .collect(),
        asked: (0..args.rooms).map(|_| Default::default()).collect(),
        unavailable: AtomicU64::new(0),
        stock_step: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });

    // Connect and join every socket, `connect_concurrency` at a time.
    let total = args.rooms * args.per_room;
    let cpu_before = CpuSample::take(&servers);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut joining = Vec::with_capacity(total);
    // Which instances have a socket in each room.
    let mut placed = vec![vec![false; args.base_url.len()]; args.rooms];
    // The instance of each room's sockets, in the order they post (round-robin).
    let mut socket_at: Vec<Vec<usize>> = vec![Vec::new(); args.rooms];
    for (r, &room) in rooms.iter().enumerate() {
        for j in 0..args.per_room {
            let i = r * args.per_room + j;
            let at = if args.random_placement {
                (mix(i as u64) % args.base_url.len() as u64) as usize
            } else {
                j % args.base_url.len()
            };
            placed[r][at] = true;
            socket_at[r].push(at);
            let base = args.base_url[at].clone();
            let token = tokens[i % tokens.len()].clone();
            let gate = gate.clone();
            joining.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                (r, connect_and_join(&base, &token, room).await)
            }));
        }
    }
    let mut sinks: Vec<Vec<Writer>> = (0..args.rooms).map(|_| Vec::new()).collect();
    let mut readers = Vec::with_capacity(total);
    for j in joining {
        let (r, (read_half, buf, writer)) = j.await.unwrap();
        sinks[r].push(writer.clone());
        // Bot answers are timed on the asking socket, the room's first.
        let asker = (sinks[r].len() == 1).then_some(r);
        readers.push(tokio::spawn(read(read_half, buf, writer, shared.clone(), asker)));
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let cpu = CpuSample::take(&servers).since(&cpu_before);
    // Let the last presence frames settle before reading the memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_joined = rss_kib(&servers);
    let per_socket = (rss_joined.saturating_sub(rss_before)) as f64 * 1024.0 / total as f64;
    let idle = json!({
        "scenario": "idle", "label": args.label, "sockets": total, "rooms": args.rooms,
        "per_room": args.per_room, "instances": args.base_url.len(),
        "connect_and_join_s": round(connect_secs, 2),
        "server_rss_before_kib": rss_before, "server_rss_joined_kib": rss_joined,
        "bytes_per_socket": per_socket.round(),
        "cpu_server_pct": round(cpu.server, 0), "cpu_postgres_pct": round(cpu.postgres, 0),
        "cpu_broker_pct": round(cpu.broker, 0), "cpu_loadgen_pct": round(cpu.me, 0),
    });
    println!("{idle}");
    println!(
        "connected and joined {total} sockets in {connect_secs:.2} s (CPU: server {:.0} %, PostgreSQL {:.0} %, \
         RabbitMQ {:.0} %, load generator {:.0} %); server RSS {rss_before} -> {rss_joined} KiB ({:.1} KiB per socket)",
        cpu.server,
        cpu.postgres,
        cpu.broker,
        cpu.me,
        per_socket / 1024.0
    );

    let metrics_urls: Vec<String> = std::env::var("METRICS_URLS")
        .unwrap_or_default()
        .split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    let items_before = room_items(&http, &metrics_urls).await;
    let mut results = Vec::new();
    for (step, &rate) in args.rates.0.iter().enumerate().take(MAX_STEPS) {
        let logins = args.logins_per_sec.0.get(step).copied().unwrap_or(0);
        let login_task = (logins > 0).then(|| {
            tokio::spawn(log_in_steadily(
                base0.clone(),
                run.clone(),
                args.users.max(1),
                logins,
                Duration::from_secs(args.step_secs),
            ))
        });
        let mut result = run_step(&args, &rooms, &mut sinks, &shared, &servers, step, rate).await;
        if let Some(task) = login_task {
            let (ok, failed, p99) = task.await.unwrap();
            result["logins_per_s"] = json!(logins);
            result["logins_ok"] = json!(ok);
            result["logins_failed"] = json!(failed);
            result["login_p99_ms"] = json!(p99);
        } else {
            result["logins_per_s"] = json!(0);
        }
        println!("{result}");
        let passed = result["passed"].as_bool() == Some(true);
        results.push(result);
        if !passed {
            break;
        }
    }
    if !args.rates.0.is_empty() && !metrics_urls.is_empty() {
        // Room items each instance received from the broker against those its sockets needed
        // (its own counters), beside what all-to-all would have delivered to it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = room_items(&http, &metrics_urls).await;
        // What all-to-all would have delivered, counted the same way as the counters do: an
        // instance receives from the broker every post made through another instance (its own
        // are delivered locally), and needs those of rooms it has sockets in.
        let posts_per_room: u64 = results
            .iter()
            .map(|r| r["rate_per_room"].as_u64().unwrap_or(0) * args.step_secs)
            .sum();
        let sending = sending_rooms(&args);
        let per: Vec<Value> = (0..metrics_urls.len())
            .map(|k| {
                let (received, needed) = match (after.get(k), items_before.get(k)) {
                    (Some(a), Some(b)) => (a.0 - b.0, a.1 - b.1),
                    _ => (f64::NAN, f64::NAN),
                };
                let (mut all, mut need) = (0u64, 0u64);
                for r in 0..sending {
                    for n in 0..posts_per_room {
                        let from = socket_at[r][n as usize % socket_at[r].len()];
                        if from != k {
                            all += 1;
                            need += u64::from(placed[r][k]);
                        }
                    }
                }
                json!({"instance": k, "received": received, "needed": needed,
                       "received_per_needed": round(received / needed, 2),
                       "needed_by_placement": need,
                       "all_to_all_received": all,
                       "all_to_all_per_needed": round(all as f64 / need as f64, 2)})
            })
            .collect();
        let v = json!({"scenario": "interest", "label": args.label, "rooms": args.rooms,
                       "per_room": args.per_room, "instances": args.base_url.len(), "per_instance": per});
        println!("{v}");
    }
    let mut stock = Vec::new();
    for (step, &rate) in args.stock_rates.0.iter().enumerate().take(MAX_STEPS) {
        let result = run_stock_step(&args, &rooms, &sinks, &shared, &servers, step, rate).await;
        println!("{result}");
        let passed = result["passed"].as_bool() == Some(true);
        stock.push(result);
        if !passed {
            break;
        }
    }
    shared.stop.store(true, Ordering::Relaxed);

    print_table(
        &args.label,
        &[
            ("commands/s asked", "commands_per_s", ""),
            ("answered/s", "answered_per_s", ""),
            ("unanswered", "unanswered", ""),
            ("unavailable", "unavailable", ""),
            ("p50 ms", "p50_ms", ""),
            ("p99 ms", "p99_ms", ""),
            ("server CPU", "cpu_server_pct", " %"),
            ("bot CPU", "cpu_bot_pct", " %"),
            ("broker CPU", "cpu_broker_pct", " %"),
        ],
        &stock,
    );
    print_table(
        &args.label,
        &[
            ("rate/room", "rate_per_room", ""),
            ("logins/s", "logins_per_s", ""),
            ("sent msg/s", "sent_per_s", ""),
            ("deliveries/s", "deliveries_per_s", ""),
            ("lost", "lost", ""),
            ("errors", "errors", ""),
            ("p50 ms", "p50_ms", ""),
            ("p99 ms", "p99_ms", ""),
            ("max ms", "max_ms", ""),
            ("server CPU", "cpu_server_pct", " %"),
            ("PG CPU", "cpu_postgres_pct", " %"),
            ("broker CPU", "cpu_broker_pct", " %"),
            ("loadgen CPU", "cpu_loadgen_pct", " %"),
            ("server RSS", "server_rss_mib", " MiB"),
        ],
        &results,
    );
    if !results.is_empty() {
        let best = results
            .iter()
            .filter(|r| r["passed"].as_bool() == Some(true))
            .filter_map(|r| r["rate_per_room"].as_u64())
            .max();
        println!(
            "{}",
            json!({"scenario": "fanout-summary", "label": args.label, "highest_passing_rate_per_room": best})
        );
    }
    // Idle only: then every socket leaves at once (clients dropped by a load balancer, or a
    // network blip), timed until the server has cleared their presence.
    if args.rates.0.is_empty()
        && args.stock_rates.0.is_empty()
        && let Ok(db) = std::env::var("SERVER_DATABASE_URL")
    {
        let left = leave_storm(&db, &servers, &args.label, total, readers, sinks).await;
        println!("{left}");
    }
    // Exit without closing 10,000 sockets politely: the server is stopped next anyway.
    std::process::exit(0);
}

/// Closes every socket at once and waits until PostgreSQL holds no presence row (polled with
/// psql every 100 ms, for at most 120 s): how long a disconnect storm takes to clear, and what
/// it costs the server and PostgreSQL in core-seconds.
async fn leave_storm(
    db: &str,
    servers: &[u32],
    label: &str,
    total: usize,
    readers: Vec<tokio::task::JoinHandle<()>>,
    sinks: Vec<Vec<Writer>>,
) -> Value {
    let rows_before = presence_rows(db).await;
    let before = CpuSample::take(servers);
    let started = Instant::now();
    for r in &readers {
        r.abort();
    }
    drop(sinks);
    for r in readers {
        let _ = r.await; // each held a writer: the sockets are closed once all are gone
    }
    let mut cleared = None;
    while started.elapsed() < Duration::from_secs(120) {
        if presence_rows(db).await == Some(0) {
            cleared = Some(started.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = CpuSample::take(servers).core_secs_since(&before);
    let core_secs = |secs: f64| round(secs, 2);
    let v = json!({
        "scenario": "leave", "label": label, "sockets": total, "presence_rows_before": rows_before,
        "cleared_s": cleared.map(|s| round(s, 2)),
        "server_cpu_s": core_secs(cpu.server), "postgres_cpu_s": core_secs(cpu.postgres),
        "broker_cpu_s": core_secs(cpu.broker),
    });
    println!(
        "{total} sockets left at once: presence cleared in {} (CPU: server {:.2} s, PostgreSQL {:.2} s, RabbitMQ {:.2} s)",
        cleared.map_or("(not within 120 s)".to_string(), |s| format!("{s:.2} s")),
        core_secs(cpu.server),
        core_secs(cpu.postgres),
        core_secs(cpu.broker)
    );
    v
}

/// Rows in `room_presence` (psql, so the load generator needs no database driver).
async fn presence_rows(db: &str) -> Option<u64> {
    let db = db.to_string();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("psql")
            .args([db.as_str(), "-tAXc", "SELECT count(*) FROM room_presence"])
            .output()
            .ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    })
    .await
    .ok()?
}

async fn sign_up(http: &reqwest::Client, base: &str, run: &str, users: usize) -> Vec<String> {
    let mut tokens = Vec::new();
    for i in 0..users {
        let name = format!("b{run}u{i}");
        let v: Value = http
            .post(format!("{base}/v1/auth/signup"))
            .json(&json!({"username": name, "email": format!("{name}@bench.example"), "password": "benchmark-pw"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(v["token"].as_str().expect("signup").to_string());
    }
    tokens
}

/// Opens a WebSocket by hand and joins `room`: returns the read half, whatever was read past
/// the join's presence list, and the write half.
async fn connect_and_join(base: &str, token: &str, room: i64) -> (OwnedReadHalf, BytesMut, Writer) {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let stream = TcpStream::connect(host).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let request = format!(
        "GET /v1/ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    wr.write_all(request.as_bytes()).await.unwrap();
    let mut buf = BytesMut::with_capacity(4096);
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
        assert!(
            rd.read_buf(&mut buf).await.unwrap() > 0,
            "handshake: connection closed"
        );
    };
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "handshake refused: {:?}",
        String::from_utf8_lossy(&buf[..head_end])
    );
    buf.advance(head_end);
    wr.write_all(&client_frame(
        0x1,
        json!({"type": 2, "chatroomId": room}).to_string().as_bytes(),
    ))
    .await
    .unwrap();
    loop {
        while let Some((opcode, payload)) = next_frame(&mut buf) {
            if opcode == 0x1 && find(&payload, b"\"users\"").is_some() {
                return (rd, buf, Arc::new(Mutex::new(wr)));
            }
            assert!(
                opcode != 0x8,
                "join refused: {:?}",
                String::from_utf8_lossy(&payload)
            );
        }
        assert!(
            rd.read_buf(&mut buf).await.unwrap() > 0,
            "join: connection closed"
        );
    }
}

/// A client frame (FIN set), masked as the protocol requires; the all-zero key leaves the
/// payload as it is, which spares the XOR.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Takes one complete server frame (unmasked, unfragmented: the server's frames are small)
/// off the front of `buf`: its opcode and payload.
fn next_frame(buf: &mut BytesMut) -> Option<(u8, BytesMut)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let (len, head) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if buf.len() < head + len {
        return None;
    }
    buf.advance(head);
    Some((opcode, buf.split_to(len)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Counts this socket's deliveries until the run ends; answers pings.
async fn read(
    mut rd: OwnedReadHalf,
    mut buf: BytesMut,
    writer: Writer,
    shared: Arc<Shared>,
    asker: Option<usize>,
) {
    const MARK: &[u8] = b"\"chatmessage\":\"bench ";
    const BOT: &[u8] = b"\"chatuser\":\"stockbot\"";
    'socket: loop {
        while let Some((opcode, payload)) = next_frame(&mut buf) {
            match opcode {
                0x1 => {
                    if let Some(at) = find(&payload, MARK) {
                        let rest = &payload[at + MARK.len()..];
                        let mut parts = rest.split(|&b| b == b' ' || b == b'"');
                        let mut num =
                            || -> Option<u64> { std::str::from_utf8(parts.next()?).ok()?.parse().ok() };
                        let (step, sent) = (num().unwrap_or(MAX_STEPS as u64) as usize, num().unwrap_or(0));
                        if let Some(s) = shared.steps.get(step) {
                            s.record(now_us().saturating_sub(sent));
                        }
                    } else if let Some(r) = asker
                        && find(&payload, BOT).is_some()
                    {
                        let asked = shared.asked[r].lock().unwrap().pop_front();
                        let step = shared.stock_step.load(Ordering::Relaxed) as usize;
                        if let (Some(at), Some(s)) = (asked, shared.stock_steps.get(step)) {
                            s.record(now_us().saturating_sub(at));
                        }
                        if find(&payload, b"unavailable").is_some() {
                            shared.unavailable.fetch_add(1, Ordering::Relaxed);
                        }
                    } else if payload.starts_with(b"{\"type\":6") {
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("error frame: {}", String::from_utf8_lossy(&payload));
                    }
                }
                0x9 => {
                    let pong = client_frame(0xA, &payload);
                    if writer.lock().await.write_all(&pong).await.is_err() {
                        break 'socket;
                    }
                }
                0x8 => break 'socket,
                _ => {}
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if !shared.stop.load(Ordering::Relaxed) {
        shared.closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// One rate for `step_secs`: every room gets `rate` posts a second from its members in turn.
async fn run_step(
    args: &Args,
    rooms: &[i64],
    sinks: &mut [Vec<Writer>],
    shared: &Arc<Shared>,
    servers: &[u32],
    step: usize,
    rate: u32,
) -> Value {
    let errors_before = shared.errors.load(Ordering::Relaxed);
    let cpu_before = CpuSample::take(servers);
    let per_room_msgs = rate as u64 * args.step_secs;
    let sending = sending_rooms(args);
    let started = Instant::now();
    let mut senders = Vec::new();
    for (r, room_sinks) in sinks.iter_mut().enumerate() {
        let room = rooms[r];
        let mine = std::mem::take(room_sinks);
        let per_room_msgs = if r < sending { per_room_msgs } else { 0 };
        // Rooms start spread over one tick, not all at the same instant.
        let offset = Duration::from_micros(1_000_000 / rate.max(1) as u64 * r as u64 / rooms.len() as u64);
        senders.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1) as u64));
            for n in 0..per_room_msgs {
                tick.tick().await;
                let k = n as usize % mine.len();
                let frame = format!(
                    "{{\"type\":1,\"chatroomId\":{room},\"chatmessage\":\"bench {step} {}\"}}",
                    now_us()
                );
                let frame = client_frame(0x1, frame.as_bytes());
                if mine[k].lock().await.write_all(&frame).await.is_err() {
                    break;
                }
            }
            (r, mine)
        }));
    }
    for s in senders {
        let (r, mine) = s.await.unwrap();
        sinks[r] = mine;
    }
    let send_secs = started.elapsed().as_secs_f64();
    let cpu_after = CpuSample::take(servers);
    let rss = rss_kib(servers);
    // Wait for the stragglers (anything later than 5 s fails the step anyway).
    let expected = per_room_msgs * sending as u64 * args.per_room as u64;
    let s = &shared.steps[step];
    let received = s.wait_for(expected, Duration::from_secs(5)).await;
    let errors = shared.errors.load(Ordering::Relaxed) - errors_before;
    let p99 = s.percentile(0.99);
    let passed = received == expected && errors == 0 && p99 <= args.p99_budget_ms;
    let cpu = cpu_after.since(&cpu_before);
    json!({
        "scenario": "fanout", "label": args.label, "instances": args.base_url.len(),
        "rooms": rooms.len(), "per_room": args.per_room, "rate_per_room": rate,
        "step_secs": args.step_secs,
        "sent_per_s": (per_room_msgs * sending as u64) as f64 / args.step_secs as f64,
        "deliveries_per_s": (received as f64 / send_secs).round(),
        "expected": expected, "received": received, "lost": expected.saturating_sub(received),
        "errors": errors, "sockets_closed": shared.closed.load(Ordering::Relaxed),
        "p50_ms": s.percentile(0.50), "p95_ms": s.percentile(0.95), "p99_ms": p99,
        "max_ms": round(s.max_us.load(Ordering::Relaxed) as f64 / 1000.0, 1),
        "cpu_server_pct": round(cpu.server, 0), "cpu_postgres_pct": round(cpu.postgres, 0),
        "cpu_broker_pct": round(cpu.broker, 0), "cpu_loadgen_pct": round(cpu.me, 0),
        "server_rss_mib": round(rss as f64 / 1024.0, 1),
        "passed": passed,
    })
}

/// Prints step results (JSON values) as a markdown table, one column per (heading, key, unit),
/// and whether each step passed; nothing when there are none.
fn print_table(label: &str, columns: &[(&str, &str, &str)], rows: &[Value]) {
    if rows.is_empty() {
        return;
    }
    println!();
    let head: Vec<&str> = columns.iter().map(|c| c.0).collect();
    println!("| {label} | {} | pass |", head.join(" | "));
    println!("|{}", "---|".repeat(columns.len() + 2));
    for r in rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|(_, key, unit)| format!("{}{unit}", r[*key]))
            .collect();
        let pass = if r["passed"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        };
        println!("| {label} | {} | {pass} |", cells.join(" | "));
    }
}

/// Logs in `per_sec` times a second for `how_long`, over the run's accounts; returns how many
/// succeeded, failed, and the p99 latency (ms).
async fn log_in_steadily(
    base: String,
    run: String,
    users: usize,
    per_sec: u32,
    how_long: Duration,
) -> (u64, u64, f64) {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_sec.max(1) as u64));
    let total = per_sec as u64 * how_long.as_secs();
    let mut tasks = Vec::new();
    for i in 0..total {
        tick.tick().await;
        let (http, base, name) = (
            http.clone(),
            base.clone(),
            format!("b{run}u{}", i as usize % users),
        );
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let ok = http
                .post(format!("{base}/v1/auth/login"))
                .json(&json!({"username": name, "password": "benchmark-pw"}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            (ok, started.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let (mut ok, mut failed, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (good, ms) = t.await.unwrap();
        if good {
            ok += 1
        } else {
            failed += 1
        }
        lat.push(ms);
    }
    lat.sort_by(f64::total_cmp);
    let p99 = lat
        .get((lat.len() as f64 * 0.99) as usize)
        .or(lat.last())
        .copied()
        .unwrap_or(0.0);
    (ok, failed, round(p99, 1))
}

/// One stock step: `rate` commands a second over all rooms (`/stock=aapl.us` and `msft.us` in
/// turn: repeated symbols, as in a busy chat), each asked on the room's first socket; passes
/// when every command got a quote (none unanswered, none "unavailable") and the median answer
/// took at most 20 ms.
async fn run_stock_step(
    args: &Args,
    rooms: &[i64],
    sinks: &[Vec<Writer>],
    shared: &Arc<Shared>,
    servers: &[u32],
    step: usize,
    rate: u32,
) -> Value {
    shared.stock_step.store(step as u64, Ordering::Relaxed);
    let unavailable_before = shared.unavailable.load(Ordering::Relaxed);
    let bot = std::env::var("BOT_PID").ok().and_then(|p| p.parse::<u32>().ok());
    let cpu_before = CpuSample::take(servers);
    let bot_before = bot.and_then(ticks).unwrap_or(0);
    let total = rate as u64 * args.step_secs;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1) as u64));
    for n in 0..total {
        tick.tick().await;
        let r = n as usize % rooms.len();
        let symbol = if n % 2 == 0 { "aapl.us" } else { "msft.us" };
        let frame = format!(
            "{{\"type\":1,\"chatroomId\":{},\"chatmessage\":\"/stock={symbol}\"}}",
            rooms[r]
        );
        shared.asked[r].lock().unwrap().push_back(now_us());
        let frame = client_frame(0x1, frame.as_bytes());
        if sinks[r][0].lock().await.write_all(&frame).await.is_err() {
            break;
        }
    }
    let send_secs = started.elapsed().as_secs_f64();
    let cpu = CpuSample::take(servers).since(&cpu_before);
    let bot_pct = bot.and_then(ticks).unwrap_or(0).saturating_sub(bot_before) as f64 / send_secs;
    let s = &shared.stock_steps[step];
    let answered = s.wait_for(total, Duration::from_secs(10)).await;
    let unavailable = shared.unavailable.load(Ordering::Relaxed) - unavailable_before;
    let p50 = s.percentile(0.50);
    json!({
        "scenario": "stock", "label": args.label, "rooms": rooms.len(), "step_secs": args.step_secs,
        "commands_per_s": rate, "asked": total, "answered": answered,
        "answered_per_s": (answered as f64 / send_secs).round(),
        "unanswered": total.saturating_sub(answered), "unavailable": unavailable,
        "p50_ms": p50, "p95_ms": s.percentile(0.95), "p99_ms": s.percentile(0.99),
        "cpu_server_pct": round(cpu.server, 0), "cpu_bot_pct": round(bot_pct, 0),
        "cpu_broker_pct": round(cpu.broker, 0), "cpu_postgres_pct": round(cpu.postgres, 0),
        "passed": answered == total && unavailable == 0 && p50 <= 20.0,
    })
}

#[derive(Clone)]
struct Rates(Vec<u32>);

fn parse_rates(s: &str) -> Result<Rates, String> {
    s.split(',')
        .filter(|r| !r.trim().is_empty())
        .map(|r| r.trim().parse().map_err(|e| format!("rate {r:?}: {e}")))
        .collect::<Result<_, _>>()
        .map(Rates)
}

/// How many rooms post (the first ones).
fn sending_rooms(args: &Args) -> usize {
    match args.sending_rooms {
        0 => args.rooms,
        n => n.min(args.rooms),
    }
}

/// splitmix64: a fixed pseudo-random placement without a dependency.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `(received, needed)` room-item counters of each instance's `/metrics` (NaN where absent:
/// a server from before routing by interest has no such counters).
async fn room_items(http: &reqwest::Client, urls: &[String]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for url in urls {
        let url = format!("{}/metrics", url.trim_end_matches("/metrics"));
        let text = match http.get(&url).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let read = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(name)?
                        .strip_prefix(' ')?
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .unwrap_or(f64::NAN)
        };
        out.push((
            read("tickertalk_room_items_received_total"),
            read("tickertalk_room_items_needed_total"),
        ));
    }
    out
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn pids_from_env() -> Vec<u32> {
    std::env::var("SERVER_PIDS")
        .or_else(|_| std::env::var("SERVER_PID"))
        .unwrap_or_default()
        .split([',', ' '])
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

/// CPU ticks (utime + stime) of the server instances, PostgreSQL, RabbitMQ and this process.
struct CpuSample {
    at: Instant,
    server: u64,
    postgres: u64,
    broker: u64,
    me: u64,
}

/// CPU of the same four, per process group: core-seconds or percent of one core, as the
/// `CpuSample` method that made it says.
struct Cpu {
    server: f64,
    postgres: f64,
    broker: f64,
    me: f64,
}

impl CpuSample {
    fn take(servers: &[u32]) -> CpuSample {
        let mut sample = CpuSample {
            at: Instant::now(),
            server: servers.iter().map(|p| ticks(*p).unwrap_or(0)).sum(),
            postgres: 0,
            broker: 0,
            me: ticks(std::process::id()).unwrap_or(0),
        };
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            match std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .as_deref()
                .map(str::trim)
            {
                Ok("postgres") => sample.postgres += ticks(pid).unwrap_or(0),
                Ok("beam.smp") => sample.broker += ticks(pid).unwrap_or(0),
                _ => {}
            }
        }
        sample
    }

    /// Core-seconds each used over the interval.
    fn core_secs_since(&self, before: &CpuSample) -> Cpu {
        // USER_HZ is 100 on every Linux this runs on.
        let secs = |a: u64, b: u64| a.saturating_sub(b) as f64 / 100.0;
        Cpu {
            server: secs(self.server, before.server),
            postgres: secs(self.postgres, before.postgres),
            broker: secs(self.broker, before.broker),
            me: secs(self.me, before.me),
        }
    }

    /// Percent of one core over the interval (200 % = both cores of this machine).
    fn since(&self, before: &CpuSample) -> Cpu {
        let secs = self.at.duration_since(before.at).as_secs_f64().max(1e-9);
        let used = self.core_secs_since(before);
        let pct = |core_secs: f64| core_secs / secs * 100.0;
        Cpu {
            server: pct(used.server),
            postgres: pct(used.postgres),
            broker: pct(used.broker),
            me: pct(used.me),
        }
    }
}

fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}
