//! RabbitMQ frozen (SIGSTOP) for 10 s while two instances serve a room: the TCP
//! connections stay open and nothing answers. Posting must not wait on it, `/readyz` must say
//! so, and everything stored during the freeze reaches the other instance afterwards, once.
//! The broker is the test's own child RabbitMQ node (`common::children`), so no other test
//! sees the freeze; dropping it kills it, whatever happens.

mod common;

use std::time::{Duration, Instant};

use common::children::ChildBroker;
use common::{Pair, TestEnv, admin_url, pair_in_room_in};
use serde_json::json;

/// Thaws the broker when dropped, also on panic.
struct Frozen<'a>(&'a ChildBroker);

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.thaw();
    }
}

#[tokio::test]
async fn a_frozen_broker_delays_no_post_shows_in_readyz_and_loses_nothing() {
    let Some(broker) = ChildBroker::start().await else {
        eprintln!("SKIPPED: RabbitMQ is not installed here");
        return;
    };
    let env = TestEnv::create_on(&admin_url(), &broker.amqp_url()).await;
    let Pair {
        a,
        // Kept alive: bob's instance.
        b: _b,
        room,
        mut wa,
        mut wb,
        ..
    } = pair_in_room_in(env, "Frozen").await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "before", "client_id": "b0"}))
        .await;
    assert_eq!(wb.next_where(|v| v["type"] == 1).await["chatmessage"], "before");
    assert_eq!(a.get("/readyz", None).await.0, 200);

    assert!(broker.freeze(), "SIGSTOP the broker");
    let frozen = Frozen(&broker);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        let sent = Instant::now();
        wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("frozen {i}"), "client_id": format!("f{i}")}))
            .await;
        let ack = wa
            .next_where(|v| v["type"] == 1 && v["client_id"] == format!("f{i}"))
            .await;
        assert_eq!(ack["chatmessage"], format!("frozen {i}"));
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "a post waited {slowest:?} on a frozen broker"
    );
    // A /stock command checks the bot queue first: bounded too, and answered, not silent.
    let asked = Instant::now();
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "/stock=aapl.us", "client_id": "s1"}))
        .await;
    let reply = wa.next_where(|v| v["type"] == 1 && v["bot"] == true).await;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "the command held its socket {:?}",
        asked.elapsed()
    );
    assert!(
        reply["chatmessage"]
            .as_str()
            .unwrap()
            .contains("unavailable right now"),
        "{reply}"
    );
    let mut not_ready = false;
    while started.elapsed() < Duration::from_secs(8) {
        if a.get("/readyz", None).await.0 == 503 {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(not_ready, "/readyz still 200 with the broker frozen");
    let left = Duration::from_secs(10).saturating_sub(started.elapsed());
    tokio::time::sleep(left).await;
    drop(frozen);

    // Bob's instance gets everything stored during the freeze, in order and once each.
    let mut got = Vec::new();
    while got.len() < 5 {
        let m = wb.next_where(|v| v["type"] == 1 && v["bot"] != true).await;
        got.push(m["chatmessage"].as_str().unwrap().to_string());
    }
    let want: Vec<String> = (0..5).map(|i| format!("frozen {i}")).collect();
    assert_eq!(got, want);
    // Alice saw each of her posts once: nothing comes twice after the thaw.
    let extra: Vec<_> = wa
        .drain(Duration::from_secs(2))
        .await
        .into_iter()
        .filter(|v| v["type"] == 1 && v["bot"] != true)
        .collect();
    assert!(extra.is_empty(), "duplicates after the thaw: {extra:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.get("/readyz", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "/readyz did not come back");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "after"}))
        .await;
    let after = wb.next_where(|v| v["type"] == 1 && v["bot"] != true).await;
    assert_eq!(after["chatmessage"], "after");
}
