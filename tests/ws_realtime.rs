//! Real-time rooms: real servers (two instances where it matters), real PostgreSQL, real RabbitMQ.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{TestApp, Ws, ids};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn users_on_two_instances_chat_and_other_rooms_hear_nothing() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob, carol] = a.tokens(["alice", "bob", "carol"]).await;
    let room1 = a.create_room(&alice, "One").await;
    let room2 = a.create_room(&alice, "Two").await;
    let mut wa = a.ws(&alice).await;
    let mut wb = b.ws(&bob).await;
    let mut wc = b.ws(&carol).await;
    wa.join(room1, None).await;
    wb.join(room1, None).await;
    wc.join(room2, None).await;

    wa.send(json!({"type": 1, "chatroomId": room1, "chatmessage": "hi bob", "client_id": "c-1"}))
        .await;
    let echo = wa.next_where(|v| v["type"] == 1).await;
    assert_eq!(
        (echo["chatmessage"].as_str(), echo["client_id"].as_str()),
        (Some("hi bob"), Some("c-1"))
    );
    let got = wb.next_where(|v| v["type"] == 1).await;
    assert_eq!(
        (got["chatuser"].as_str(), got["chatmessage"].as_str()),
        (Some("alice"), Some("hi bob"))
    );
    assert!(
        got.get("client_id").is_none(),
        "client_id only on the author's sockets"
    );
    assert_eq!(got["id"], echo["id"]);

    wb.send(json!({"type": 1, "chatroomId": room1, "chatmessage": "hi alice"}))
        .await;
    let got = wa.next_where(|v| v["type"] == 1).await;
    assert_eq!(got["chatuser"], "bob");

    let heard: Vec<Value> = wc
        .drain(Duration::from_millis(800))
        .await
        .into_iter()
        .filter(|v| v["type"] == 1)
        .collect();
    assert!(heard.is_empty(), "carol in another room heard {heard:?}");
}

#[tokio::test]
async fn two_hundred_messages_from_two_senders_on_two_instances_arrive_in_stored_order() {
    let a = TestApp::spawn(&["--rate-limit-messages=1000"]).await;
    let b = a.spawn_peer(&["--rate-limit-messages=1000"]).await;
    let [alice, bob, carol] = a.tokens(["alice", "bob", "carol"]).await;
    let room = a.create_room(&alice, "Busy").await;
    let mut reader = a.ws(&carol).await;
    reader.join(room, None).await;
    let mut wa = a.ws(&alice).await;
    let mut wb = b.ws(&bob).await;
    wa.join(room, None).await;
    wb.join(room, None).await;
    let send_all = |mut ws: Ws, who: &'static str| async move {
        for i in 0..100 {
            ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("{who} {i}")}))
                .await;
        }
        ws
    };
    let (wa, wb) = tokio::join!(send_all(wa, "alice"), send_all(wb, "bob"));
    let got = reader.messages(room, 200).await;
    let got_ids = ids(&got);
    assert_eq!(got_ids.iter().collect::<HashSet<_>>().len(), 200, "no duplicates");
    assert_eq!(
        got_ids,
        a.stored_ids(&alice, room).await,
        "live order is the stored order"
    );
    // Each sender's own messages keep their sending order too.
    for who in ["alice", "bob"] {
        let mine: Vec<String> = got
            .iter()
            .filter(|m| m["chatuser"] == who)
            .map(|m| m["chatmessage"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(mine, (0..100).map(|i| format!("{who} {i}")).collect::<Vec<_>>());
    }
    let extra: Vec<Value> = reader
        .drain(Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|v| v["type"] == 1)
        .collect();
    assert!(extra.is_empty(), "nothing delivered twice: {extra:?}");
    drop((wa, wb));
}

#[tokio::test]
async fn rejoining_with_since_while_others_post_yields_exactly_the_stored_messages() {
    let a = TestApp::spawn(&["--rate-limit-messages=1000"]).await;
    let b = a.spawn_peer(&["--rate-limit-messages=1000"]).await;
    let (alice, bob) = (a.token("alice").await, a.token("bob").await);
    let room = a.create_room(&alice, "Since").await;
    let mut wb = b.ws(&bob).await;
    wb.join(room, None).await;
    for i in 0..10 {
        wb.send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("before {i}")}))
            .await;
    }
    let mut wa = a.ws(&alice).await;
    wa.join(room, None).await;
    wb.send(json!({"type": 1, "chatroomId": room, "chatmessage": "seen"}))
        .await;
    let seen = wa
        .next_where(|v| v["type"] == 1 && v["chatmessage"] == "seen")
        .await;
    let since = seen["id"].as_i64().unwrap();
    drop(wa); // alice's connection drops

    // Bob keeps posting while alice reconnects.
    let poster = tokio::spawn(async move {
        for i in 0..120 {
            wb.send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("after {i}")}))
                .await;
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        wb
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut wa = a.ws(&alice).await;
    let replayed = wa.join(room, Some(since)).await;
    let mut wb = poster.await.unwrap();
    // Bob's own echo of his last message marks the end of the stream.
    wb.next_where(|v| v["type"] == 1 && v["chatmessage"] == "after 119")
        .await;
    let mut union = ids(&replayed);
    while !union.contains(&a.stored_ids(&alice, room).await.last().copied().unwrap()) {
        let v = wa.next().await;
        if v["type"] == 1 {
            union.push(v["id"].as_i64().unwrap());
        }
    }
    for v in wa.drain(Duration::from_millis(400)).await {
        if v["type"] == 1 {
            union.push(v["id"].as_i64().unwrap());
        }
    }
    let expected: Vec<i64> = a
        .stored_ids(&alice, room)
        .await
        .into_iter()
        .filter(|id| *id > since)
        .collect();
    assert_eq!(expected.len(), 120);
    assert_eq!(
        union, expected,
        "replay + live = exactly the stored messages after since, in order"
    );
}

#[tokio::test]
async fn a_spoofed_chatuser_is_ignored() {
    let app = TestApp::spawn(&[]).await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    let room = app.create_room(&alice, "Spoof").await;
    let mut wb = app.ws(&bob).await;
    wb.join(room, None).await;
    let mut wa = app.ws(&alice).await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "i am bob", "chatuser": "bob"}))
        .await;
    let got = wb.next_where(|v| v["type"] == 1).await;
    assert_eq!(got["chatuser"], "alice");
    let (_, stored) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(&alice))
        .await;
    assert_eq!(stored[0]["chatuser"], "alice");
}

#[tokio::test]
async fn bad_frames_get_their_error_and_the_socket_keeps_working() {
    let app = TestApp::spawn(&[]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Errors").await;
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "invalid_frame"),
        ("[1,2]".into(), "invalid_frame"),
        (json!({"type": "one"}).to_string(), "invalid_frame"),
        (json!({"chatroomId": room}).to_string(), "invalid_frame"),
        (
            json!({"type": 99, "chatroomId": room}).to_string(),
            "unknown_type",
        ),
        (
            json!({"type": 1, "chatroomId": 987654, "chatmessage": "x"}).to_string(),
            "unknown_room",
        ),
        (
            json!({"type": 2, "chatroomId": 987654}).to_string(),
            "unknown_room",
        ),
        (
            json!({"type": 1, "chatroomId": room, "chatmessage": "   "}).to_string(),
            "empty_message",
        ),
        (
            json!({"type": 1, "chatroomId": room, "chatmessage": "x".repeat(2001)}).to_string(),
            "message_too_long",
        ),
        (
            json!({"type": 1, "chatroomId": room}).to_string(),
            "invalid_frame",
        ),
        (
            json!({"type": 4, "recipient": "nobody_here", "message": "hi"}).to_string(),
            "unknown_user",
        ),
        (
            json!({"type": 3, "chatroomId": 987654}).to_string(),
            "not_in_room",
        ),
    ];
    for (frame, code) in cases {
        ws.send_text(&frame).await;
        let err = ws.next_where(|v| v["type"] == 6).await;
        assert_eq!(err["error"]["code"], code, "frame {frame}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "x".repeat(2001), "client_id": "c-9"}))
        .await;
    assert_eq!(
        ws.next_where(|v| v["type"] == 6).await["client_id"],
        "c-9",
        "errors echo client_id"
    );
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "still here", "client_id": "c-10"}))
        .await;
    let ok = ws.next_where(|v| v["type"] == 1).await;
    assert_eq!(
        (ok["chatmessage"].as_str(), ok["client_id"].as_str()),
        (Some("still here"), Some("c-10"))
    );
    let (_, stored) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(&alice))
        .await;
    assert_eq!(
        stored.as_array().unwrap().len(),
        1,
        "only the good message was stored"
    );
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009_and_others_are_unaffected() {
    let app = TestApp::spawn(&[]).await;
    let alice = app.token("alice").await;
    let room = app.create_room(&alice, "Big").await;
    let mut ws = app.ws(&alice).await;
    let mut other = app.ws(&alice).await;
    other.join(room, None).await;
    ws.send_text(&format!(
        "{{\"type\":1,\"chatroomId\":{room},\"chatmessage\":\"{}\"}}",
        "x".repeat(70_000)
    ))
    .await;
    let close_code = ws.close_code(Duration::from_secs(5)).await;
    assert_eq!(close_code, Some(1009));
    other
        .send(json!({"type": 1, "chatroomId": room, "chatmessage": "fine"}))
        .await;
    assert_eq!(other.next_where(|v| v["type"] == 1).await["chatmessage"], "fine");
}

#[tokio::test]
async fn the_rate_limit_refuses_and_does_not_store() {
    let app = TestApp::spawn(&["--rate-limit-messages=5", "--rate-limit-window-secs=60"]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Rate").await;
    for i in 0..7 {
        ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    let mut acks = 0;
    let mut limited = Vec::new();
    while acks + limited.len() < 7 {
        let v = ws.next().await;
        match v["type"].as_i64() {
            Some(1) => acks += 1,
            Some(6) => {
                assert_eq!(v["error"]["code"], "rate_limited");
                limited.push(v["client_id"].as_str().unwrap().to_string());
            }
            _ => {}
        }
    }
    assert_eq!((acks, limited), (5, vec!["c5".to_string(), "c6".to_string()]));
    let (_, stored) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(&alice))
        .await;
    assert_eq!(stored.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_while_others_get_everything() {
    let app = TestApp::spawn(&["--rate-limit-messages=100000", "--ws-send-buffer=16"]).await;
    let [alice, bob, carol] = app.tokens(["alice", "bob", "carol"]).await;
    let room = app.create_room(&alice, "Flood").await;
    // Carol's socket has a tiny receive buffer and never reads after joining.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let req = format!("ws://{}/v1/ws?token={carol}", app.addr)
        .into_client_request()
        .unwrap();
    let (stream, _) = tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    let mut stuck = Ws { stream };
    stuck.join(room, None).await;
    let mut reader = app.ws(&bob).await;
    reader.join(room, None).await;
    let before = app.hub.connection_count();
    assert_eq!(before, 2);

    // Alice posts over HTTP (a socket that posts also receives every echo and would have to
    // read them, or it would be cut off as well).
    let n = 600;
    let big = "y".repeat(1900);
    let reading = tokio::spawn(async move {
        let got = reader.messages(room, n).await;
        (reader, got.len())
    });
    for i in 0..n {
        let (status, _) = app
            .post(
                &format!("/v1/chat/rooms/{room}/messages"),
                Some(&alice),
                json!({"chatmessage": format!("{i} {big}")}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (_, got) = tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("reader keeps up")
        .unwrap();
    assert_eq!(got, n, "the reading client got every message");
    // The stuck client is disconnected (after its buffer filled), not buffered forever.
    let mut gone = false;
    for _ in 0..150 {
        if app.hub.connection_count() == 2 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the non-reading socket was dropped (count {})",
        app.hub.connection_count()
    );
    drop(stuck);
}

#[tokio::test]
async fn live_delivery_resumes_after_the_broker_connection_drops_and_nothing_stored_is_lost() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let (alice, bob) = (a.token("alice").await, a.token("bob").await);
    let room = a.create_room(&alice, "Outage").await;
    let mut wa = a.ws(&alice).await;
    let mut wb = b.ws(&bob).await;
    wa.join(room, None).await;
    wb.join(room, None).await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "before"}))
        .await;
    let first = wb.next_where(|v| v["type"] == 1).await;

    // Instance A loses RabbitMQ. Posting still stores and acknowledges to the author.
    a.bus().drop_connection().await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "during", "client_id": "c-d"}))
        .await;
    let ack = wa
        .next_where(|v| v["type"] == 1 && v["chatmessage"] == "during")
        .await;
    assert_eq!(ack["client_id"], "c-d");

    // A reconnects by itself; live delivery works again in both directions, and B also gets
    // the message stored during the outage (gap filled from the database, in order).
    a.wait_broker_up().await;
    let mut ok = false;
    for _ in 0..50 {
        if a.get("/readyz", None).await.0 == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "ready again");
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "after"}))
        .await;
    let during = wb.next_where(|v| v["type"] == 1).await;
    let after = wb.next_where(|v| v["type"] == 1).await;
    assert_eq!(
        (during["chatmessage"].as_str(), after["chatmessage"].as_str()),
        (Some("during"), Some("after"))
    );
    wb.send(json!({"type": 1, "chatroomId": room, "chatmessage": "from b"}))
        .await;
    assert_eq!(
        wa.next_where(|v| v["type"] == 1 && v["chatuser"] == "bob").await["chatmessage"],
        "from b"
    );

    // A rejoin with since sees every stored message.
    let mut wc = b.ws(&bob).await;
    let replay = wc.join(room, Some(first["id"].as_i64().unwrap() - 1)).await;
    let texts: Vec<&str> = replay
        .iter()
        .map(|m| m["chatmessage"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["before", "during", "after", "from b"]);
}

#[tokio::test]
async fn presence_and_typing_cross_instances() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let (alice, bob) = (a.token("alice").await, a.token("bob").await);
    let room = a.create_room(&alice, "Presence").await;
    let mut wa = a.ws(&alice).await;
    wa.join(room, None).await;
    let mut wb = b.ws(&bob).await;
    wb.send(json!({"type": 2, "chatroomId": room})).await;
    let list = wb
        .next_where(|v| v["type"] == 7 && v.get("users").is_some())
        .await;
    assert_eq!(list["users"], json!(["alice", "bob"]));
    let joined = wa.next_where(|v| v["type"] == 7).await;
    assert_eq!(joined["joined"], "bob");

    wb.send(json!({"type": 5, "chatroomId": room})).await;
    let typing = wa.next_where(|v| v["type"] == 5).await;
    assert_eq!(
        (typing["chatuser"].as_str(), typing["chatroomId"].as_i64()),
        (Some("bob"), Some(room))
    );

    wb.send(json!({"type": 3, "chatroomId": room})).await;
    assert_eq!(wb.next_where(|v| v["type"] == 3).await["chatroomId"], room);
    let left = wa.next_where(|v| v["type"] == 7).await;
    assert_eq!(left["left"], "bob");
}

/// Exits are recorded in batches: a user is announced `left` once, when their last socket in
/// the room goes, however many of their sockets close together.
#[tokio::test]
async fn left_is_announced_once_when_a_users_last_socket_in_the_room_goes() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let room = app.create_room(&alice, "Exits").await;
    let mut wa = app.ws(&alice).await;
    wa.join(room, None).await;
    let mut bobs = Vec::new();
    for _ in 0..4 {
        let mut w = app.ws(&bob).await;
        w.join(room, None).await;
        bobs.push(w);
    }
    let lefts = |frames: &[Value]| -> Vec<Value> {
        frames
            .iter()
            .filter(|v| v["type"] == 7 && v.get("left").is_some())
            .cloned()
            .collect()
    };
    let joined = wa.drain(Duration::from_secs(1)).await;
    assert!(lefts(&joined).is_empty(), "{joined:?}");

    drop(bobs.pop());
    let after_one = wa.drain(Duration::from_secs(1)).await;
    assert!(
        lefts(&after_one).is_empty(),
        "bob still has sockets here: {after_one:?}"
    );

    drop(bobs);
    let after_all = lefts(&wa.drain(Duration::from_secs(2)).await);
    assert_eq!(after_all.len(), 1, "{after_all:?}");
    assert_eq!(after_all[0]["left"], "bob");
    assert_eq!(app.chat.present_users(room).await, vec!["alice".to_string()]);
}

/// The presence tables are unlogged, so a PostgreSQL crash or immediate restart empties them.
/// Here the test empties them itself (exactly what the restart does to them; a real restart
/// would disturb the other tests sharing the server): at its next heartbeat (10 s) each instance
/// notices its row is gone and records its live sockets again.
#[tokio::test]
async fn presence_is_rebuilt_from_the_live_sockets_after_the_database_lost_it() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob, carol] = a.tokens(["alice", "bob", "carol"]).await;
    let room = a.create_room(&alice, "Amnesia").await;
    let mut wa = a.ws(&alice).await;
    wa.join(room, None).await;
    let mut wb = b.ws(&bob).await;
    wb.join(room, None).await;
    sqlx::query("TRUNCATE room_presence, instances")
        .execute(&a.db)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    loop {
        let mut wc = a.ws(&carol).await;
        wc.send(json!({"type": 2, "chatroomId": room})).await;
        let list = wc
            .next_where(|v| v["type"] == 7 && v.get("users").is_some())
            .await;
        if list["users"] == json!(["alice", "bob", "carol"]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "presence never rebuilt: {}",
            list["users"]
        );
        drop(wc);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn the_handshake_refuses_bad_tokens_with_401_and_foreign_origins_with_403() {
    let app = TestApp::spawn(&[]).await;
    let alice = app.token("alice").await;
    let try_connect = |token: String, origin: Option<&'static str>| {
        let addr = app.addr;
        async move {
            let mut req = format!("ws://{addr}/v1/ws?token={token}")
                .into_client_request()
                .unwrap();
            if let Some(o) = origin {
                req.headers_mut().insert("origin", o.parse().unwrap());
            }
            match tokio_tungstenite::connect_async(req).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
                Err(e) => panic!("unexpected {e}"),
            }
        }
    };
    assert_eq!(try_connect(String::new(), None).await, 401);
    assert_eq!(try_connect("garbage".into(), None).await, 401);
    assert_eq!(try_connect(alice.clone(), Some("http://evil.example")).await, 403);
    assert_eq!(
        try_connect(alice.clone(), Some("http://allowed.example")).await,
        101
    );
    assert_eq!(
        try_connect(alice.clone(), None).await,
        101,
        "non-browser clients send no Origin"
    );
    // Non-browser clients may send the token as a bearer header instead of in the URL.
    let mut req = format!("ws://{}/v1/ws", app.addr).into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {alice}").parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_ok(),
        "bearer header accepted"
    );
}

#[tokio::test]
async fn logging_out_closes_that_sessions_sockets_on_every_instance() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let alice = a.token("alice").await;
    let mut ws = b.ws(&alice).await;
    let resp = a
        .http
        .delete(a.url("/v1/auth/token"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let code = ws.close_code(Duration::from_secs(5)).await;
    assert_eq!(code, Some(4001));
}

#[tokio::test]
async fn direct_messages_reach_both_users_on_every_instance_and_are_stored() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let (alice, bob) = (a.token("alice").await, a.token("bob").await);
    let mut wa = a.ws(&alice).await;
    let mut wb = b.ws(&bob).await;
    wa.send(json!({"type": 4, "recipient": "bob", "message": "psst", "client_id": "d-1"}))
        .await;
    let mine = wa.next_where(|v| v["type"] == 4).await;
    let theirs = wb.next_where(|v| v["type"] == 4).await;
    assert_eq!(
        (mine["client_id"].as_str(), theirs.get("client_id")),
        (Some("d-1"), None)
    );
    assert_eq!(
        (
            theirs["author"].as_str(),
            theirs["recipient"].as_str(),
            theirs["message"].as_str()
        ),
        (Some("alice"), Some("bob"), Some("psst"))
    );
    let (_, thread) = b.get("/v1/chat/threads/alice", Some(&bob)).await;
    assert_eq!(thread[0]["id"], theirs["id"]);
    let (_, inbox) = b.get("/v1/chat/inbox", Some(&bob)).await;
    assert_eq!(
        inbox,
        json!([{"username": "alice", "latest_message": "psst", "created_at": theirs["created_at"],
                "latest_id": theirs["id"], "unread": 1, "last_read_id": null,
                // alice's socket is in no room: `online` means a socket in a room.
                "online": false}])
    );
}

#[tokio::test]
async fn shutdown_sends_close_frames_and_finishes() {
    let app = TestApp::spawn(&[]).await;
    let alice = app.token("alice").await;
    let mut ws = app.ws(&alice).await;
    let stopping = tokio::spawn(app.stop());
    let code = ws.close_code(Duration::from_secs(5)).await;
    assert_eq!(code, Some(1001));
    drop(ws);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("stops within seconds")
        .unwrap();
}

#[tokio::test]
async fn a_stock_command_with_no_bot_running_is_answered_at_once_not_left_silent() {
    let app = TestApp::spawn(&[]).await;
    let (_, room, mut ws) = app.user_in_room("alice", "NoBot").await;
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "/stock=aapl.us", "client_id": "q-1"}))
        .await;
    // The acceptance comes first (the web client shows the bot typing on it, and clears that
    // on the answer), then the answer: record the order of both.
    let mut seen = Vec::new();
    let reply = loop {
        let frame = ws.next().await;
        match frame["type"].as_i64() {
            Some(8) => seen.push(frame),
            Some(1) => break frame,
            _ => {}
        }
    };
    assert_eq!(
        seen.len(),
        1,
        "the acceptance before the answer: {seen:?} then {reply}"
    );
    assert_eq!(
        (seen[0]["command"].as_str(), seen[0]["client_id"].as_str()),
        (Some("stock"), Some("q-1"))
    );
    assert_eq!(
        (reply["chatuser"].as_str(), reply["bot"].as_bool()),
        (Some("stockbot"), Some(true))
    );
    assert!(
        reply["chatmessage"].as_str().unwrap().contains("offline"),
        "{reply}"
    );
    // Stored like any answer (so it has an id), naming who asked.
    assert!(reply["id"].is_i64(), "{reply}");
    assert_eq!(
        (&reply["asked_by"], &reply["outcome"]),
        (&json!("alice"), &json!("unanswered"))
    );
}

#[tokio::test]
async fn a_silent_client_that_never_answers_pings_is_closed_as_idle() {
    let app = TestApp::spawn(&["--ws-ping-secs=1", "--ws-idle-secs=2"]).await;
    let alice = app.token("alice").await;
    let mut silent = app.ws(&alice).await;
    let mut lively = app.ws(&alice).await;
    // The lively client reads (tungstenite answers pings while reading); the silent one does not.
    let keep = tokio::spawn(async move { lively.drain(Duration::from_millis(4500)).await.len() });
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let code = silent.close_code(Duration::from_secs(3)).await;
    assert_eq!(code, Some(1008), "closed as idle");
    keep.await.unwrap();
    assert_eq!(
        app.hub.connection_count(),
        1,
        "the client that answered pings is still connected"
    );
}

/// With no `ALLOWED_ORIGINS` for it, a page on the server's own address is accepted
/// whatever the host name (a LAN address, a Docker name, a domain); another origin is refused.
/// Behind a proxy, its `X-Forwarded-Host` counts only when the proxy is trusted.
#[tokio::test]
async fn a_page_on_the_servers_own_address_is_accepted_under_any_host_name() {
    async fn handshake(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
        let mut req = format!("ws://{}/v1/ws", app.addr).into_client_request().unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok(_) => 101,
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let bearer = format!("Bearer {t}");
    let bearer = bearer.as_str();
    let cases = [
        (
            vec![("host", "chat.lan:8080"), ("origin", "http://chat.lan:8080")],
            101,
        ),
        (
            vec![
                ("host", "192.168.1.20:8080"),
                ("origin", "http://192.168.1.20:8080"),
            ],
            101,
        ),
        (
            vec![
                ("host", "chat.example.com"),
                ("origin", "https://chat.example.com"),
            ],
            101,
        ),
        (
            vec![("host", "chat.lan:8080"), ("origin", "http://evil.lan:8080")],
            403,
        ),
        (
            vec![("host", "chat.lan:8080"), ("origin", "http://chat.lan:9090")],
            403,
        ),
        (vec![("host", "chat.lan:8080"), ("origin", "null")], 403),
        // The allowlist still adds origins.
        (
            vec![("host", "chat.lan:8080"), ("origin", "http://allowed.example")],
            101,
        ),
        // An untrusted client cannot name the host it wants.
        (
            vec![
                ("host", "chat.lan:8080"),
                ("x-forwarded-host", "evil.lan"),
                ("origin", "http://evil.lan"),
            ],
            403,
        ),
    ];
    for (mut headers, want) in cases {
        headers.push(("authorization", bearer));
        assert_eq!(handshake(&app, &headers).await, want, "{headers:?}");
    }

    // A trusted proxy that forwards the public host: the page's origin is that host.
    let behind = app.spawn_peer(&["--trusted-proxies=127.0.0.1"]).await;
    let proxied = [
        ("host", "127.0.0.1:3000"),
        ("x-forwarded-host", "chat.example.com"),
        ("origin", "https://chat.example.com"),
        ("authorization", bearer),
    ];
    assert_eq!(handshake(&behind, &proxied).await, 101);
    assert_eq!(handshake(&app, &proxied).await, 403, "not trusted there");

    // What a refused client asks to explain itself.
    let check = |app: &TestApp, origin: &str, host: &str| {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("origin", origin)
            .finish();
        app.http
            .get(app.url(&format!("/v1/ws/check?{q}")))
            .header("host", host)
            .send()
    };
    let (status, body) = common::read(
        check(&app, "http://chat.lan:8080", "chat.lan:8080")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["allowed"], true, "{body}");
    let (_, body) = common::read(
        check(&app, "https://chat.example.com", "10.0.0.5:8080")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (&body["allowed"], &body["server_host"]),
        (&json!(false), &json!("10.0.0.5:8080")),
        "{body}"
    );
}

/// A room created through one instance appears at once on every socket of every instance (room
/// lists are live), joined to the room or not.
#[tokio::test]
async fn a_room_created_on_one_instance_reaches_every_socket_on_every_instance() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let mut wa = a.ws(&alice).await;
    let mut wb = b.ws(&bob).await;
    let id = a.create_room(&alice, "Fresh Room").await;
    for ws in [&mut wa, &mut wb] {
        let frame = ws.next_where(|v| v["type"] == 9).await;
        assert_eq!(frame["room"]["id"], id, "{frame}");
        assert_eq!(frame["room"]["name"], "Fresh Room");
        assert!(frame["room"]["created_at"].is_string());
    }
    // The same room in the list a reload would fetch.
    let (_, rooms) = b.get("/v1/chat/rooms", Some(&bob)).await;
    assert!(rooms.as_array().unwrap().iter().any(|r| r["id"] == id));
}
