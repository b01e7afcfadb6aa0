//! RabbitMQ really stops and starts again (`rabbitmqctl stop_app` / `start_app`) while two server
//! instances serve a room. The broker is the test's own child RabbitMQ node
//! (`common::children`), so no other test shares the outage.

mod common;

use std::time::Duration;

use common::children::ChildBroker;
use common::{Pair, TestEnv, admin_url, pair_in_room_in};
use serde_json::json;

#[tokio::test]
async fn a_broker_restart_interrupts_live_delivery_briefly_and_loses_nothing() {
    let Some(broker) = ChildBroker::start().await else {
        eprintln!("SKIPPED: RabbitMQ is not installed here");
        return;
    };
    let rabbitmqctl = |arg: &str| broker.ctl(&[arg]);
    let env = TestEnv::create_on(&admin_url(), &broker.amqp_url()).await;
    let Pair {
        a,
        b,
        bob,
        room,
        mut wa,
        mut wb,
        ..
    } = pair_in_room_in(env, "Restart").await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "before"}))
        .await;
    let before = wb.next_where(|v| v["type"] == 1).await;

    assert!(rabbitmqctl("stop_app"), "rabbitmqctl stop_app");
    let restarted = async {
        a.wait_broker(false).await;
        b.wait_broker(false).await;
        assert_eq!(
            a.get("/readyz", None).await.0,
            503,
            "not ready without the broker"
        );
        // Posting still stores and acknowledges to the author.
        wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "during", "client_id": "c-d"}))
            .await;
        let ack = wa
            .next_where(|v| v["type"] == 1 && v["chatmessage"] == "during")
            .await;
        assert_eq!(ack["client_id"], "c-d");
    };
    let outcome = tokio::time::timeout(Duration::from_secs(90), restarted).await;
    // Whatever happened, bring the broker back for everyone else.
    assert!(rabbitmqctl("start_app"), "rabbitmqctl start_app");
    outcome.expect("outage steps finished in time");
    broker.ctl(&["await_startup", "--timeout", "60"]);
    a.wait_broker(true).await;
    b.wait_broker(true).await;

    // Bob's instance catches up on what was stored during the outage, then live delivery goes on.
    let during = wb.next_where(|v| v["type"] == 1).await;
    assert_eq!(during["chatmessage"], "during");
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "after"}))
        .await;
    assert_eq!(wb.next_where(|v| v["type"] == 1).await["chatmessage"], "after");
    wb.send(json!({"type": 1, "chatroomId": room, "chatmessage": "from b"}))
        .await;
    assert_eq!(
        wa.next_where(|v| v["type"] == 1 && v["chatuser"] == "bob").await["chatmessage"],
        "from b"
    );

    let mut wc = b.ws(&bob).await;
    let replay = wc.join(room, Some(before["id"].as_i64().unwrap() - 1)).await;
    let texts: Vec<&str> = replay
        .iter()
        .map(|m| m["chatmessage"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec!["before", "during", "after", "from b"],
        "nothing stored is missing"
    );
}
