//! RabbitMQ killed with SIGKILL mid-run, then started again (issue #12): posts made while it
//! is gone are stored and acknowledged to their author at once, and reach the other instance
//! once the broker is back. Its own test binary (cargo runs test binaries one at a time), so
//! no other test sees the outage; a guard restarts the broker whatever happens.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Pair, broker_pid, pair_in_room};
use serde_json::json;

/// Starts the broker again (as scripts/deps.sh does) and waits until it answers.
fn start_broker() {
    let _ = Command::new("rabbitmq-server").arg("-detached").status();
    for _ in 0..30 {
        let ok = Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "10"])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Restarts the broker when dropped, also on panic.
struct Killed;

impl Drop for Killed {
    fn drop(&mut self) {
        start_broker();
    }
}

#[tokio::test]
async fn posts_during_a_broker_kill_are_acknowledged_at_once_and_reach_everyone_after() {
    let Some(pid) = broker_pid() else {
        eprintln!("SKIPPED: no local RabbitMQ process to kill");
        return;
    };
    if Command::new("rabbitmq-server").arg("--help").output().is_err() {
        eprintln!("SKIPPED: rabbitmq-server cannot be started from here");
        return;
    }
    let Pair {
        a,
        b,
        room,
        mut wa,
        mut wb,
        ..
    } = pair_in_room("Killed").await;

    let killed = Killed;
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .is_ok_and(|s| s.success()),
        "kill -9 the broker"
    );
    a.wait_broker(false).await;
    for i in 0..3 {
        let sent = Instant::now();
        wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("gone {i}"), "client_id": format!("k{i}")}))
            .await;
        let ack = wa
            .next_where(|v| v["type"] == 1 && v["client_id"] == format!("k{i}"))
            .await;
        assert_eq!(ack["chatmessage"], format!("gone {i}"));
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "ack took {:?}",
            sent.elapsed()
        );
    }
    drop(killed);
    a.wait_broker_up().await;
    b.wait_broker_up().await;
    let mut got = Vec::new();
    while got.len() < 3 {
        let m = wb.next_where(|v| v["type"] == 1 && v["bot"] != true).await;
        got.push(m["chatmessage"].as_str().unwrap().to_string());
    }
    assert_eq!(got, ["gone 0", "gone 1", "gone 2"]);
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "back"}))
        .await;
    let back = wb.next_where(|v| v["type"] == 1 && v["bot"] != true).await;
    assert_eq!(back["chatmessage"], "back");
}
