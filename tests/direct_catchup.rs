//! Direct messages sent while an instance's broker connection is down reach its sockets once it
//! is back (rooms have their sequence to gap-fill from; direct messages are caught up by id), and
//! none arrives twice.

mod common;

use std::time::Duration;

use common::TestApp;
use serde_json::{Value, json};

fn direct_ids(frames: &[Value]) -> Vec<i64> {
    frames
        .iter()
        .filter(|v| v["type"] == 4)
        .filter_map(|v| v["id"].as_i64())
        .collect()
}

async fn send_dm(app: &TestApp, token: &str, to: &str, text: &str) -> i64 {
    let (status, body) = app
        .post(
            &format!("/v1/chat/threads/{to}"),
            Some(token),
            json!({"message": text}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn direct_messages_sent_while_an_instance_is_cut_off_reach_it_after_once() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let mut wb = b.ws(&bob).await;

    let d1 = send_dm(&a, &alice, "bob", "before").await;
    let got = wb.next_where(|v| v["type"] == 4).await;
    assert_eq!(got["id"], d1);

    // b loses the broker at a point of the test's choosing; alice writes meanwhile through a.
    b.bus().hold_down().await;
    let d2 = send_dm(&a, &alice, "bob", "while b is cut off").await;
    let d3 = send_dm(&a, &alice, "bob", "still cut off").await;
    assert!(direct_ids(&wb.drain(Duration::from_millis(300)).await).is_empty());

    b.bus().release();
    b.wait_broker_up().await;
    let d4 = send_dm(&a, &alice, "bob", "after").await;
    let mut frames = Vec::new();
    while direct_ids(&frames).len() < 3 {
        frames.push(wb.next_where(|v| v["type"] == 4).await);
    }
    frames.extend(wb.drain(Duration::from_millis(500)).await);
    let mut ids = direct_ids(&frames);
    ids.sort_unstable();
    assert_eq!(ids, [d2, d3, d4], "caught up once each, and d1 not again");
}
