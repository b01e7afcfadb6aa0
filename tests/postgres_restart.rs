//! PostgreSQL crash-restarted (`pg_ctl stop -m immediate`, then start) under two instances
//! serving a room. The presence tables are unlogged, so crash recovery empties
//! them: the instances must record their live sockets again, so a new joiner sees everyone who
//! is really there. What was acknowledged before the crash is still there after it, and posting
//! works again without restarting the servers. The database server is the test's own child
//! PostgreSQL (`common::children`), so no other test sees the crash.

mod common;

use std::time::{Duration, Instant};

use common::children::ChildPostgres;
use common::{TestApp, TestEnv, amqp_url};
use serde_json::json;

#[tokio::test]
async fn after_a_postgres_crash_restart_presence_is_whole_and_nothing_acknowledged_is_lost() {
    let Some(pg) = ChildPostgres::start() else {
        eprintln!("SKIPPED: no PostgreSQL server programs (or no root) to run a child server");
        return;
    };
    let env = TestEnv::create_on(&pg.admin_url(), &amqp_url()).await;
    let a = TestApp::spawn_in(env, &[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob, carol, dave, erin] = a.tokens(["alice", "bob", "carol", "dave", "erin"]).await;
    let room = a.create_room(&alice, "Crash").await;
    // Present: alice and dave on the first instance, bob and erin on the second.
    let mut present = Vec::new();
    for (app, token) in [(&a, &alice), (&b, &bob), (&a, &dave), (&b, &erin)] {
        let mut ws = app.ws(token).await;
        ws.join(room, None).await;
        present.push(ws);
    }
    present[0]
        .send(json!({"type": 1, "chatroomId": room, "chatmessage": "before", "client_id": "c0"}))
        .await;
    let before = present[0]
        .next_where(|v| v["type"] == 1 && v["client_id"] == "c0")
        .await;

    pg.crash_restart();

    // The pools reconnect by themselves; within a heartbeat (10 s) each instance notices that
    // its row is gone and records its sockets again.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut wc = a.ws(&carol).await;
        wc.send(json!({"type": 2, "chatroomId": room})).await;
        let list = wc
            .next_where(|v| v["type"] == 7 && v.get("users").is_some() || v["type"] == 6)
            .await;
        if list["users"] == json!(["alice", "bob", "carol", "dave", "erin"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "presence never rebuilt after the crash: {list}"
        );
        drop(wc);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // Posting works again, through both instances, and reaches the other one live.
    present[1]
        .send(json!({"type": 1, "chatroomId": room, "chatmessage": "after", "client_id": "c1"}))
        .await;
    let after = present[0]
        .next_where(|v| v["type"] == 1 && v["chatmessage"] == "after")
        .await;
    assert_eq!(after["chatuser"], "bob");
    // The message acknowledged before the crash is stored: a replay from before it has both.
    let mut replayer = b.ws(&carol).await;
    let replay = replayer
        .join(room, Some(before["id"].as_i64().unwrap() - 1))
        .await;
    let texts: Vec<&str> = replay
        .iter()
        .map(|m| m["chatmessage"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before", "after"]);
}
