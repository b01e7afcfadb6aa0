//! Per-user and per-socket quotas on everything that costs the server: WebSocket control
//! frames (joins with `since` most), room creation, the room list's size, direct messages
//! sharing the message budget, and room names that could pass for another room's.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_socket_flooding_joins_and_leaves_gets_refusals_then_is_closed_and_others_are_served() {
    let app = TestApp::spawn(&["--rate-limit-messages=1000"]).await;
    let (alice, room, mut alice_ws) = app.user_in_room("alice", "Flooded").await;
    for i in 0..50 {
        app.post_message(&alice, room, &format!("m{i}")).await;
    }
    alice_ws.drain(Duration::from_millis(200)).await;
    let mallory = app.token("mallory").await;
    let flood = app.ws(&mallory).await;
    let (mut sink, mut stream) = flood.stream.split();

    // 2,000 join (with a replay of the whole room) and leave frames, as fast as they go.
    let sending = async {
        let mut sent = 0;
        for i in 0..1000 {
            let join = json!({"type": 2, "chatroomId": room, "since": 0}).to_string();
            let leave = json!({"type": 3, "chatroomId": room}).to_string();
            if sink.send(Message::text(join)).await.is_err() || sink.send(Message::text(leave)).await.is_err()
            {
                break;
            }
            sent = 2 * (i + 1);
        }
        sent
    };
    let reading = async {
        let (mut replayed, mut refused, mut close) = (0, 0, None);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == 1 {
                        replayed += 1;
                    } else if v["type"] == 6 && v["error"]["code"] == "rate_limited" {
                        refused += 1;
                    }
                }
                Message::Close(frame) => {
                    close = frame.map(|f| u16::from(f.code));
                    break;
                }
                _ => {}
            }
        }
        (replayed, refused, close)
    };
    // Meanwhile alice keeps talking: her messages reach her as usual.
    let talking = async {
        let mut took = Vec::new();
        for i in 0..10 {
            let started = Instant::now();
            app.post_message(&alice, room, &format!("during {i}")).await;
            alice_ws.next_where(|v| v["type"] == 1).await;
            took.push(started.elapsed());
        }
        took
    };
    let (sent, (replayed, refused, close), took) = tokio::join!(sending, reading, talking);
    eprintln!(
        "sent {sent} frames; {replayed} messages replayed, {refused} refusals, close {close:?}; \
         alice's messages meanwhile took at most {:?}",
        took.iter().max()
    );
    assert_eq!(close, Some(1008), "a socket that does not slow down is closed");
    assert!(refused > 0, "it was told first");
    // Without limits all 1,000 joins replay 50 messages each; the socket's budget (60, a
    // replay costing 2 and a leave 1) allows about 20, then 20 refusals close it.
    assert!(replayed <= 30 * 50, "replays are bounded: {replayed} messages");
    assert_eq!(took.len(), 10);
}

#[tokio::test]
async fn a_users_sockets_share_one_budget_of_control_frames() {
    let app = TestApp::spawn(&[]).await;
    let (bob, room, _) = app.user_in_room("bob", "Shared").await;
    // Several sockets of one user, each well under its own budget, together over the user's.
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(app.ws(&bob).await);
    }
    // 50 frames on each socket, sent at once, then every answer read. The user's budget
    // refills 12 a second meanwhile; on a loaded machine the burst can take seconds, so what
    // may pass is bounded by the time it took, not assumed to be 120.
    let started = std::time::Instant::now();
    for ws in &mut sockets {
        for round in 0..50 {
            let kind = if round % 2 == 0 { 2 } else { 3 };
            ws.send(json!({"type": kind, "chatroomId": room})).await;
        }
    }
    // Every frame is answered once, or not at all if its socket was closed for 20 refusals in
    // a row. A frame that got past the budget is answered with the room's member list (a
    // join), a `left` frame (a leave) or an error other than `rate_limited` (the budget is
    // taken before anything else is checked): those are counted, not inferred.
    let (mut limited, mut allowed) = (0, 0);
    for ws in &mut sockets {
        for v in ws.drain(Duration::from_millis(500)).await {
            match (v["type"].as_i64(), v["error"]["code"].as_str()) {
                (Some(6), Some("rate_limited")) => limited += 1,
                (Some(6), _) | (Some(3), _) => allowed += 1,
                (Some(7), _) if v.get("users").is_some() => allowed += 1,
                _ => {}
            }
        }
    }
    let refill = (12.0 * started.elapsed().as_secs_f64()).ceil() as usize;
    eprintln!("{allowed} allowed, {limited} refused, {refill} refilled");
    assert!(allowed >= 110, "the budget's 120 were usable: {allowed} allowed");
    assert!(
        limited > 0 && allowed <= 120 + refill,
        "{allowed} of 200 allowed: the user's budget is 120 (+{refill} refilled meanwhile); \
         each socket's 60 was never reached"
    );
}

#[tokio::test]
async fn room_creation_has_a_per_user_quota() {
    let app = TestApp::spawn(&["--rooms-per-user=3"]).await;
    let [ann, ben] = app.tokens(["ann", "ben"]).await;
    for i in 0..3 {
        let (status, _) = app
            .post("/v1/chat/rooms", Some(&ann), json!({"name": format!("r{i}")}))
            .await;
        assert_eq!(status, 201);
    }
    let resp = app
        .http
        .post(app.url("/v1/chat/rooms"))
        .bearer_auth(&ann)
        .json(&json!({"name": "one too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry), "Retry-After {retry}");
    let (status, _) = app
        .post("/v1/chat/rooms", Some(&ben), json!({"name": "ben's"}))
        .await;
    assert_eq!(status, 201, "another user's quota is their own");
}

#[tokio::test]
async fn the_room_list_is_paged() {
    let app = TestApp::spawn(&[]).await;
    let token = app.token("pager").await;
    // 205 rooms, named so that name order differs from id order.
    sqlx::query("INSERT INTO rooms (name) SELECT 'room ' || lpad((1000 - g)::text, 4, '0') FROM generate_series(1, 205) g")
        .execute(&app.db)
        .await
        .unwrap();
    let page = |query: String| {
        let app = &app;
        let token = &token;
        async move {
            let resp = app
                .http
                .get(app.url(&format!("/v1/chat/rooms{query}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let link = resp
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string());
            let (status, body) = common::read(resp).await;
            (status, body, link)
        }
    };
    let (status, first, link) = page(String::new()).await;
    assert_eq!(status, 200);
    let first = first.as_array().unwrap().clone();
    assert_eq!(first.len(), 100, "100 by default");
    let last = first[99]["id"].as_i64().unwrap();
    assert_eq!(
        link.as_deref(),
        Some(format!("</v1/chat/rooms?after={last}&limit=100>; rel=\"next\"").as_str())
    );
    let mut names: Vec<String> = first
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    let (_, second, _) = page(format!("?after={last}&limit=200")).await;
    let second = second.as_array().unwrap();
    assert_eq!(second.len(), 105);
    names.extend(second.iter().map(|r| r["name"].as_str().unwrap().to_string()));
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted, "by name, no room twice, none missed");
    assert_eq!(page("?limit=0".into()).await.0, 422);
    assert_eq!(page("?limit=201".into()).await.0, 422);
    assert_eq!(page("?after=abc".into()).await.0, 422);
    assert_eq!(page("?after=99999999".into()).await.0, 404);
    let (_, last_page, link) = page(format!("?after={}", second.last().unwrap()["id"])).await;
    assert_eq!((last_page, link), (json!([]), None));
}

#[tokio::test]
async fn direct_messages_share_the_message_budget_with_rooms() {
    let app = TestApp::spawn(&["--rate-limit-messages=3"]).await;
    let (alice, room, _) = app.user_in_room("alice", "Budget").await;
    app.signup("bob").await;
    for i in 0..2 {
        app.post_message(&alice, room, &format!("m{i}")).await;
    }
    let (status, _) = app
        .post("/v1/chat/threads/bob", Some(&alice), json!({"message": "third"}))
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post("/v1/chat/threads/bob", Some(&alice), json!({"message": "fourth"}))
        .await;
    assert_eq!(status, 429, "rooms and direct messages draw from one budget");
}

#[tokio::test]
async fn room_names_that_could_pass_for_another_are_refused() {
    let app = TestApp::spawn(&[]).await;
    let token = app.token("namer").await;
    app.create_room(&token, "General").await;
    for name in [
        "Gen\u{200B}eral",
        "\u{202E}lareneG",
        "Gen\u{2066}eral",
        "\u{301}\u{302}",
    ] {
        let (status, body) = app
            .post("/v1/chat/rooms", Some(&token), json!({"name": name}))
            .await;
        assert_eq!(status, 422, "{name:?}: {body}");
        assert!(body["errors"]["name"].is_string(), "{body}");
    }
}

/// Garbage frames are refused like rate-limited ones: answered with an error frame each, until
/// 20 in a row close the socket (a client that keeps sending them is not answered forever).
#[tokio::test]
async fn a_socket_sending_only_garbage_is_closed() {
    let app = TestApp::spawn(&[]).await;
    let token = app.token("noisy").await;
    let mut ws = app.ws(&token).await;
    for i in 0..19 {
        ws.send_text(&format!("not json {i}")).await;
        let v = ws.next().await;
        assert_eq!(v["error"]["code"], "invalid_frame", "{v}");
    }
    ws.send_text("still not json").await;
    assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(1008));
    // A frame that is taken in between starts the count again.
    let room = app.create_room(&token, "Calm").await;
    let mut calm = app.ws(&token).await;
    for round in 0..3 {
        for _ in 0..15 {
            calm.send_text("garbage").await;
            assert_eq!(calm.next().await["error"]["code"], "invalid_frame");
        }
        let kind = if round % 2 == 0 { 2 } else { 3 };
        calm.send(json!({"type": kind, "chatroomId": room})).await;
        let taken = calm.next().await;
        assert_ne!(taken["type"], 6, "{taken}");
    }
}
