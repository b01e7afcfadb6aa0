//! Read markers and unread counts: kept on the server, so they survive reloads
//! and follow the user to other devices; updated live in every tab.

mod common;

use std::time::Duration;

use common::TestApp;
use serde_json::{Value, json};

fn room_entry(rooms: &Value, id: i64) -> Value {
    rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("room {id} in {rooms}"))
}

#[tokio::test]
async fn room_markers_move_forward_only_and_every_tab_of_the_user_hears_of_it() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let room = a.create_room(&bob, "Markers").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            a.post_message(&bob, room, &format!("m{i}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    // Never opened: no marker, nothing counted.
    let (_, rooms) = a.get("/v1/chat/rooms", Some(&alice)).await;
    let entry = room_entry(&rooms, room);
    assert_eq!(
        (&entry["unread"], &entry["read_seq"], &entry["last_seq"]),
        (&json!(0), &Value::Null, &json!(3)),
        "{entry}"
    );

    // Alice has a tab on each instance; one of them marks the first message read.
    let mut tab_a = a.ws(&alice).await;
    let mut tab_b = b.ws(&alice).await;
    let read = format!("/v1/chat/rooms/{room}/read");
    let (status, marker) = a.put(&read, Some(&alice), json!({"last_read_id": ids[0]})).await;
    assert_eq!(status, 200, "{marker}");
    assert_eq!(
        marker,
        json!({"room_id": room, "last_read_id": ids[0], "read_seq": 1, "last_seq": 3, "unread": 2})
    );
    for tab in [&mut tab_a, &mut tab_b] {
        let frame = tab.next_where(|v| v["type"] == 11).await;
        assert_eq!(
            (&frame["chatroomId"], &frame["last_read_id"], &frame["unread"]),
            (&json!(room), &json!(ids[0]), &json!(2)),
            "{frame}"
        );
    }
    // The other instance, a reload, another device: the same count.
    let (_, rooms) = b.get("/v1/chat/rooms", Some(&alice)).await;
    assert_eq!(room_entry(&rooms, room)["unread"], 2);
    // A new message counts.
    a.post_message(&bob, room, "m3").await;
    let (_, rooms) = b.get("/v1/chat/rooms", Some(&alice)).await;
    assert_eq!(room_entry(&rooms, room)["unread"], 3);
    // Bob's list is his own: he never marked anything.
    let (_, rooms) = b.get("/v1/chat/rooms", Some(&bob)).await;
    assert_eq!(room_entry(&rooms, room)["read_seq"], Value::Null);

    // Read to the end, then a late request from an older tab: the marker does not move back.
    let (_, marker) = b.put(&read, Some(&alice), json!({"last_read_id": ids[2]})).await;
    assert_eq!(marker["unread"], 1);
    let (_, marker) = a.put(&read, Some(&alice), json!({"last_read_id": ids[1]})).await;
    assert_eq!(
        (&marker["last_read_id"], &marker["unread"]),
        (&json!(ids[2]), &json!(1))
    );

    // Bad requests change nothing.
    let other = a.create_room(&bob, "Other").await;
    let foreign = a.post_message(&bob, other, "elsewhere").await["id"]
        .as_i64()
        .unwrap();
    for (body, want) in [
        (json!({"last_read_id": foreign}), 404),
        (json!({"last_read_id": 999_999_999}), 404),
        (json!({"last_read_id": 0}), 422),
        (json!({}), 422),
        (json!({"last_read_id": "x"}), 422),
    ] {
        let (status, problem) = a.put(&read, Some(&alice), body.clone()).await;
        assert_eq!(status, want, "{body}: {problem}");
    }
    let (status, _) = a
        .put(
            "/v1/chat/rooms/999999/read",
            Some(&alice),
            json!({"last_read_id": ids[0]}),
        )
        .await;
    assert_eq!(status, 404);
    let (_, rooms) = a.get("/v1/chat/rooms", Some(&alice)).await;
    assert_eq!(room_entry(&rooms, room)["last_read_id"], ids[2]);
}

/// Unread counts stay live for rooms a socket has not joined: once a second at most, every
/// socket hears which rooms got messages and their latest message number.
#[tokio::test]
async fn sockets_hear_activity_in_rooms_they_have_not_joined() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let room = a.create_room(&bob, "Busy").await;
    let mut watcher = a.ws(&alice).await; // joined to nothing
    let mut poster = b.ws(&bob).await;
    poster.join(room, None).await;
    for i in 0..5 {
        poster
            .send(json!({"type": 1, "chatroomId": room, "chatmessage": format!("x{i}")}))
            .await;
    }
    let mut last_seq = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while last_seq < 5 {
        let frame = watcher.next_where(|v| v["type"] == 10).await;
        let entry = frame["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == room)
            .cloned()
            .unwrap_or_else(|| panic!("{frame}"));
        last_seq = entry["last_seq"].as_i64().unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "activity never reached 5: {frame}"
        );
    }
    assert!(
        !watcher
            .drain(Duration::from_millis(300))
            .await
            .iter()
            .any(|v| v["type"] == 1),
        "only activity, not the messages themselves"
    );
}

#[tokio::test]
async fn direct_message_unread_counts_come_with_the_inbox_and_clear_with_a_marker() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (status, dm) = b
            .post("/v1/chat/threads/alice", Some(&bob), json!({"message": text}))
            .await;
        assert_eq!(status, 201);
        ids.push(dm["id"].as_i64().unwrap());
    }
    // Alice's own message does not count for her.
    a.post("/v1/chat/threads/bob", Some(&alice), json!({"message": "hi"}))
        .await;
    let (_, inbox) = a.get("/v1/chat/inbox", Some(&alice)).await;
    assert_eq!(inbox[0]["username"], "bob");
    assert_eq!(inbox[0]["unread"], 3, "{inbox}");
    let (_, inbox) = a.get("/v1/chat/inbox", Some(&bob)).await;
    assert_eq!(inbox[0]["unread"], 1, "bob has not read alice's: {inbox}");

    let mut tab = b.ws(&alice).await;
    let (status, marker) = a
        .put(
            "/v1/chat/threads/bob/read",
            Some(&alice),
            json!({"last_read_id": ids[1]}),
        )
        .await;
    assert_eq!(status, 200, "{marker}");
    assert_eq!(
        marker,
        json!({"username": "bob", "last_read_id": ids[1], "unread": 1})
    );
    let frame = tab.next_where(|v| v["type"] == 11).await;
    assert_eq!((&frame["username"], &frame["unread"]), (&json!("bob"), &json!(1)));
    let (_, inbox) = b.get("/v1/chat/inbox", Some(&alice)).await;
    assert_eq!(inbox[0]["unread"], 1);
    // A message of another conversation is not this conversation's.
    let carol = a.token("carol").await;
    let (_, theirs) = a
        .post(
            "/v1/chat/threads/bob",
            Some(&carol),
            json!({"message": "not yours"}),
        )
        .await;
    let (status, _) = a
        .put(
            "/v1/chat/threads/bob/read",
            Some(&alice),
            json!({"last_read_id": theirs["id"]}),
        )
        .await;
    assert_eq!(status, 404);
}
