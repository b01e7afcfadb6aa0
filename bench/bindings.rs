//! What routing by interest costs RabbitMQ (`docs/scaling.md`): binding changes, and the crash
//! of an instance with many bindings.
//!
//! 1. Binds `--shards` shard bindings (`shard.N.#`, as an instance does) to an exclusive queue,
//!    then unbinds them, one at a time as `src/bus/interest.rs` does: time and broker CPU
//!    (every `beam.smp` on the machine, from /proc) per binding change.
//! 2. A child process (this binary, `--hold`) plays an instance: its own connection, an exclusive
//!    queue with `--shards` bindings. This process plays another instance publishing room events
//!    with confirms at `--rate` per second to a queue of its own (bound `shard.#`). After 3 s
//!    the child is killed with SIGKILL: RabbitMQ notices the dead connection, deletes its queue
//!    and every binding. Confirm latency (p50, p99, max) and broker CPU are reported for the
//!    3 s before the kill and the 5 s after it.
//!
//!   cargo run --release --example bindings -- --amqp-url amqp://guest:guest@127.0.0.1:5672/%2f
//!   (or bash bench/run.sh bindings)

use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::json;
use tickertalk_wire::routing::shard_binding;
use tickertalk_wire::topology::name;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
struct Args {
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    #[arg(long, default_value_t = 4096)]
    shards: i64,
    /// Confirmed publishes per second during the crash measurement.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Internal: play the instance that gets killed (binds, says "ready", waits).
    #[arg(long, hide = true)]
    hold: Option<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let conn = Connection::connect(&args.amqp_url, ConnectionProperties::default())
        .await
        .expect("broker");
    let ch = conn.create_channel().await.unwrap();
    if let Some(exchange) = &args.hold {
        let queue = exclusive_queue(&ch).await;
        bind_all(&ch, &queue, exchange, args.shards).await;
        println!("ready");
        std::future::pending::<()>().await;
    }
    let exchange = format!("bench.bindings.{}", std::process::id());
    ch.exchange_declare(
        name(&exchange),
        ExchangeKind::Topic,
        // Not auto-delete: unbinding everything in step 1 would delete it.
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();

    // 1. Binding changes, one at a time.
    let queue = exclusive_queue(&ch).await;
    let (cpu0, t0) = (broker_ticks(), Instant::now());
    bind_all(&ch, &queue, &exchange, args.shards).await;
    let (bind_s, bind_cpu) = (t0.elapsed().as_secs_f64(), ticks_since(cpu0));
    let (cpu1, t1) = (broker_ticks(), Instant::now());
    for shard in 0..args.shards {
        ch.queue_unbind(
            name(&queue),
            name(&exchange),
            name(&shard_binding(shard)),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
    let (unbind_s, unbind_cpu) = (t1.elapsed().as_secs_f64(), ticks_since(cpu1));
    let per = |total: f64| (total * 1e6 / args.shards as f64).round();
    println!(
        "{}",
        json!({"scenario": "bindings", "shards": args.shards,
               "bind_us_each": per(bind_s), "bind_broker_cpu_us_each": per(bind_cpu),
               "unbind_us_each": per(unbind_s), "unbind_broker_cpu_us_each": per(unbind_cpu)})
    );

    // 2. An instance with `shards` bindings crashes while another publishes.
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--amqp-url",
            &args.amqp_url,
            "--shards",
            &args.shards.to_string(),
            "--hold",
            &exchange,
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("holder starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line == "ready" => break,
            Ok(Some(_)) => {}
            _ => panic!("the holding instance exited before it was ready"),
        }
    }

    // The publishing instance's own queue, drained.
    let mine = exclusive_queue(&ch).await;
    ch.queue_bind(
        name(&mine),
        name(&exchange),
        name("shard.#"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut drained = ch
        .basic_consume(
            name(&mine),
            name("drain"),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    tokio::spawn(async move { while drained.next().await.is_some() {} });
    let publish = conn.create_channel().await.unwrap();
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();

    let before = confirms_for(
        &publish,
        &exchange,
        args.rate,
        args.shards,
        Duration::from_secs(3),
    )
    .await;
    let killed_at = Instant::now();
    let pid = child.id().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let _ = child.wait().await;
    let after = confirms_for(
        &publish,
        &exchange,
        args.rate,
        args.shards,
        Duration::from_secs(5),
    )
    .await;
    let v = json!({"scenario": "instance_crash", "shards": args.shards, "rate": args.rate,
        "before": before, "after_kill": after,
        "measured_s_after_kill": round(killed_at.elapsed().as_secs_f64())});
    println!("{v}");
    let _ = ch
        .exchange_delete(name(&exchange), lapin::options::ExchangeDeleteOptions::default())
        .await;
    let _ = conn.close(200, name("bye")).await;
}

async fn exclusive_queue(ch: &Channel) -> String {
    let q = ch
        .queue_declare(
            name(""),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    q.name().as_str().to_string()
}

async fn bind_all(ch: &Channel, queue: &str, exchange: &str, shards: i64) {
    for shard in 0..shards {
        ch.queue_bind(
            name(queue),
            name(exchange),
            name(&shard_binding(shard)),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    }
}

/// Publishes `rate` per second for `span` (each awaited for its confirm on a task of its own)
/// and returns confirm latency percentiles in ms, and the broker's CPU share.
async fn confirms_for(
    ch: &Channel,
    exchange: &str,
    rate: u64,
    shards: i64,
    span: Duration,
) -> serde_json::Value {
    let cpu = broker_ticks();
    let started = Instant::now();
    let mut waits = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut i = 0i64;
    while started.elapsed() < span {
        tick.tick().await;
        let key = format!("shard.{}.messages", i % shards);
        let sent = Instant::now();
        let confirm = ch
            .basic_publish(
                name(exchange),
                name(&key),
                BasicPublishOptions::default(),
                br#"{"kind":"room_messages","messages":[]}"#,
                BasicProperties::default(),
            )
            .await
            .unwrap();
        waits.spawn(async move {
            let _ = confirm.await;
            sent.elapsed().as_secs_f64() * 1000.0
        });
        i += 1;
    }
    let mut ms: Vec<f64> = waits.join_all().await;
    ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| round(ms[((ms.len() - 1) as f64 * p) as usize]);
    json!({"publishes": ms.len(), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0),
           "broker_cpu_pct": round(ticks_since(cpu) / span.as_secs_f64() * 100.0)})
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// CPU ticks (1/100 s) of every `beam.smp` process.
fn broker_ticks() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let path = entry.path();
        if std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "beam.smp")
            && let Ok(stat) = std::fs::read_to_string(path.join("stat"))
            && let Some(rest) = stat.rsplit(')').next()
        {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
            total += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

/// Broker CPU seconds since `ticks`.
fn ticks_since(ticks: u64) -> f64 {
    broker_ticks().saturating_sub(ticks) as f64 / 100.0
}
