//! Editing, deleting and reacting: who may, what history shows, and how the changes reach every
//! socket of the room on every instance, in order with the messages, live, after a `since`
//! reconnect and after a broker outage.

mod common;

use std::time::Duration;

use common::{TestApp, pair_in_room};
use serde_json::{Value, json};

const THUMBS: &str = "%F0%9F%91%8D";

/// The next frame of `room` that is a message (1) or a change (12).
async fn next_item(ws: &mut common::Ws, room: i64) -> Value {
    ws.next_where(|v| (v["type"] == 1 || v["type"] == 12) && v["chatroomId"] == room)
        .await
}

#[tokio::test]
async fn only_the_author_edits_and_history_shows_edits_tombstones_and_reactions() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let room = app.create_room(&alice, "edits").await;
    let m = app.post_message(&alice, room, "helo").await;
    let id = m["id"].as_i64().unwrap();
    let path = format!("/v1/chat/rooms/{room}/messages/{id}");

    let (status, _) = app
        .patch(&path, Some(&bob), json!({"chatmessage": "mine now"}))
        .await;
    assert_eq!(status, 403, "not the author");
    let (status, body) = app.patch(&path, Some(&alice), json!({"chatmessage": ""})).await;
    assert_eq!((status, body["errors"]["chatmessage"].is_string()), (422, true));
    let (status, body) = app
        .patch(&path, Some(&alice), json!({"chatmessage": "hello"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["chatmessage"], "hello");
    assert!(body["edited_at"].is_string());

    // Reactions: toggled per user, counted, `me` for the reader.
    for token in [&alice, &bob] {
        let (status, _) = app
            .put(&format!("{path}/reactions/{THUMBS}"), Some(token), json!(null))
            .await;
        assert_eq!(status, 204);
    }
    let (status, _) = app
        .put(&format!("{path}/reactions/{THUMBS}"), Some(&bob), json!(null))
        .await;
    assert_eq!(status, 204, "adding it again changes nothing");
    let (status, body) = app
        .put(&format!("{path}/reactions/hello"), Some(&bob), json!(null))
        .await;
    assert_eq!(
        (status, body["errors"]["emoji"].is_string()),
        (422, true),
        "{body}"
    );
    let (_, page) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(&bob))
        .await;
    assert_eq!(
        page[0]["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": true}])
    );
    let (status, _) = app
        .delete(&format!("{path}/reactions/{THUMBS}"), Some(&bob))
        .await;
    assert_eq!(status, 204);
    let (_, page) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(&bob))
        .await;
    assert_eq!(
        page[0]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": false}])
    );

    // A reply names what it answers.
    let (status, reply) = app
        .post(
            &format!("/v1/chat/rooms/{room}/messages"),
            Some(&bob),
            json!({"chatmessage": "hi!", "reply_to": id}),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        reply["reply_to"],
        json!({"id": id, "chatuser": "alice", "snippet": "hello"})
    );
    let other = app.create_room(&bob, "elsewhere").await;
    let (status, body) = app
        .post(
            &format!("/v1/chat/rooms/{other}/messages"),
            Some(&bob),
            json!({"chatmessage": "x", "reply_to": id}),
        )
        .await;
    assert_eq!(status, 404, "another room's message: {body}");

    // Deleting: not bob's (he did not create this room); alice's. The message keeps its place.
    let (status, _) = app.delete(&path, Some(&bob)).await;
    assert_eq!(status, 403);
    let (status, _) = app.delete(&path, Some(&alice)).await;
    assert_eq!(status, 204);
    let (status, _) = app.delete(&path, Some(&alice)).await;
    assert_eq!(status, 204, "deleting again is not an error");
    let (status, _) = app
        .patch(&path, Some(&alice), json!({"chatmessage": "back"}))
        .await;
    assert_eq!(status, 409, "a deleted message cannot be edited");
    let (_, page) = app
        .get(&format!("/v1/chat/rooms/{room}/messages"), Some(&alice))
        .await;
    assert_eq!(page[0]["id"], id);
    assert_eq!(page[0]["deleted"], true);
    assert_eq!(page[0]["chatmessage"], "", "the text is gone");
    assert!(page[0].get("reactions").is_none(), "and its reactions");
    assert_eq!(page[1]["reply_to"]["deleted"], true);
    assert_eq!(page[1]["reply_to"]["snippet"], "");

    // The room's creator may delete others' messages in it.
    let (status, _) = app
        .delete(
            &format!("/v1/chat/rooms/{room}/messages/{}", reply["id"]),
            Some(&alice),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .delete(&format!("/v1/chat/rooms/{room}/messages/999999"), Some(&alice))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn changes_reach_the_other_instance_in_order_with_the_messages() {
    let mut p = pair_in_room("live-changes").await;
    let room = p.room;
    let m = p.a.post_message(&p.alice, room, "first").await;
    let id = m["id"].as_i64().unwrap();
    let path = format!("/v1/chat/rooms/{room}/messages/{id}");
    p.a.patch(&path, Some(&p.alice), json!({"chatmessage": "first!"}))
        .await;
    p.b.put(&format!("{path}/reactions/{THUMBS}"), Some(&p.bob), json!(null))
        .await;
    p.a.post_message(&p.alice, room, "second").await;
    p.a.delete(&path, Some(&p.alice)).await;

    let mut seen = Vec::new();
    for _ in 0..5 {
        let v = next_item(&mut p.wb, room).await;
        seen.push((
            v["type"].as_i64().unwrap(),
            v["change"].as_str().unwrap_or("").to_string(),
            v["chatmessage"].as_str().unwrap().to_string(),
        ));
        if v["change"] == "reaction" {
            assert_eq!(
                v["reaction"],
                json!({"emoji": "👍", "chatuser": "bob", "on": true})
            );
            assert_eq!(v["reactions"], json!([{"emoji": "👍", "count": 1}]));
        }
    }
    let want = [
        (1, "", "first"),
        (12, "edited", "first!"),
        (12, "reaction", "first!"),
        (1, "", "second"),
        (12, "deleted", ""),
    ];
    let want: Vec<(i64, String, String)> = want
        .iter()
        .map(|(t, c, m)| (*t, c.to_string(), m.to_string()))
        .collect();
    assert_eq!(seen, want);
    // The author's own socket sees the same, in the same order.
    let mut mine = Vec::new();
    for _ in 0..5 {
        mine.push(next_item(&mut p.wa, room).await["type"].as_i64().unwrap());
    }
    assert_eq!(mine, vec![1, 12, 12, 1, 12]);
}

#[tokio::test]
async fn a_since_reconnect_learns_the_edits_and_deletions_it_missed() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let room = app.create_room(&alice, "replay-changes").await;
    let old = app.post_message(&alice, room, "old").await["id"]
        .as_i64()
        .unwrap();
    let gone = app.post_message(&alice, room, "to delete").await["id"]
        .as_i64()
        .unwrap();
    let last = app.post_message(&alice, room, "last seen").await["id"]
        .as_i64()
        .unwrap();
    // bob saw everything up to `last`, then went away.
    app.patch(
        &format!("/v1/chat/rooms/{room}/messages/{old}"),
        Some(&alice),
        json!({"chatmessage": "old, edited"}),
    )
    .await;
    app.delete(&format!("/v1/chat/rooms/{room}/messages/{gone}"), Some(&alice))
        .await;
    app.put(
        &format!("/v1/chat/rooms/{room}/messages/{last}/reactions/{THUMBS}"),
        Some(&bob),
        json!(null),
    )
    .await;
    let new = app.post_message(&alice, room, "new").await["id"]
        .as_i64()
        .unwrap();

    let mut ws = app.ws(&bob).await;
    let replayed = ws.join(room, Some(last)).await;
    let got: Vec<(i64, i64)> = replayed
        .iter()
        .map(|v| (v["type"].as_i64().unwrap(), v["id"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![(12, old), (12, gone), (12, last), (1, new)],
        "{replayed:?}"
    );
    assert_eq!(replayed[0]["chatmessage"], "old, edited");
    assert_eq!(replayed[1]["deleted"], true);
    assert_eq!(
        replayed[2]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": true}]),
        "the replay is bob's own: it says which reactions are his"
    );
    // Nothing twice: live items the replay covered are skipped.
    assert!(
        ws.drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|v| v["type"] != 1 && v["type"] != 12)
    );
}

#[tokio::test]
async fn changes_stored_while_the_broker_was_down_reach_the_other_instance() {
    let mut p = pair_in_room("outage-changes").await;
    let room = p.room;
    let id = p.a.post_message(&p.alice, room, "v1").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(next_item(&mut p.wb, room).await["chatmessage"], "v1");
    // Instance a loses the broker: its changes are stored but never published.
    p.a.bus().hold_down().await;
    let path = format!("/v1/chat/rooms/{room}/messages/{id}");
    for text in ["v2", "v3", "v4"] {
        let (status, _) =
            p.a.patch(&path, Some(&p.alice), json!({"chatmessage": text}))
                .await;
        assert_eq!(status, 200);
    }
    p.a.post_message(&p.alice, room, "after").await;
    let early = p.wb.drain(Duration::from_millis(300)).await;
    assert!(
        early.iter().all(|v| v["type"] != 1 && v["type"] != 12),
        "nothing reached b yet: {early:?}"
    );
    p.a.bus().release();
    // b reads what it missed from PostgreSQL: the positions of v2 and v3 are superseded by
    // v4's and must not hold the stream back.
    let v = next_item(&mut p.wb, room).await;
    assert_eq!(
        (v["type"].as_i64(), v["chatmessage"].as_str()),
        (Some(12), Some("v4"))
    );
    let v = next_item(&mut p.wb, room).await;
    assert_eq!(
        (v["type"].as_i64(), v["chatmessage"].as_str()),
        (Some(1), Some("after"))
    );
}

#[tokio::test]
async fn direct_messages_are_edited_deleted_and_reacted_to_by_the_right_people() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob, carol] = app.tokens(["alice", "bob", "carol"]).await;
    let (_, dm) = app
        .post("/v1/chat/threads/bob", Some(&alice), json!({"message": "hi bob"}))
        .await;
    let id = dm["id"].as_i64().unwrap();
    let mut wb = app.ws(&bob).await;
    let (status, _) = app
        .patch(
            &format!("/v1/chat/threads/alice/messages/{id}"),
            Some(&bob),
            json!({"message": "no"}),
        )
        .await;
    assert_eq!(status, 403, "bob did not write it");
    let (status, _) = app
        .patch(
            &format!("/v1/chat/threads/bob/messages/{id}"),
            Some(&carol),
            json!({"message": "no"}),
        )
        .await;
    assert_eq!(status, 404, "not carol's conversation");
    let (status, body) = app
        .patch(
            &format!("/v1/chat/threads/bob/messages/{id}"),
            Some(&alice),
            json!({"message": "hi Bob"}),
        )
        .await;
    assert_eq!((status, body["message"].as_str()), (200, Some("hi Bob")));
    let v = wb.next_where(|v| v["type"] == 13).await;
    assert_eq!(
        (v["change"].as_str(), v["message"].as_str()),
        (Some("edited"), Some("hi Bob"))
    );
    let (status, _) = app
        .put(
            &format!("/v1/chat/threads/alice/messages/{id}/reactions/{THUMBS}"),
            Some(&bob),
            json!(null),
        )
        .await;
    assert_eq!(status, 204);
    let v = wb.next_where(|v| v["type"] == 13).await;
    assert_eq!(
        v["reaction"],
        json!({"emoji": "👍", "chatuser": "bob", "on": true})
    );
    let (_, thread) = app.get("/v1/chat/threads/alice", Some(&bob)).await;
    assert_eq!(
        thread[0]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": true}])
    );
    let (status, _) = app
        .delete(&format!("/v1/chat/threads/bob/messages/{id}"), Some(&alice))
        .await;
    assert_eq!(status, 204);
    let (_, thread) = app.get("/v1/chat/threads/alice", Some(&bob)).await;
    assert_eq!(
        (thread[0]["deleted"].as_bool(), thread[0]["message"].as_str()),
        (Some(true), Some(""))
    );
}

#[tokio::test]
async fn direct_conversations_show_typing_and_who_is_online() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    app.post("/v1/chat/threads/bob", Some(&alice), json!({"message": "hi"}))
        .await;
    let (_, inbox) = app.get("/v1/chat/inbox", Some(&alice)).await;
    assert_eq!(
        (inbox[0]["username"].as_str(), inbox[0]["online"].as_bool()),
        (Some("bob"), Some(false))
    );
    let mut wb = app.ws(&bob).await;
    let room = app.create_room(&bob, "bobs").await;
    wb.join(room, None).await;
    let (_, inbox) = app.get("/v1/chat/inbox", Some(&alice)).await;
    assert_eq!(inbox[0]["online"], true);
    assert!(inbox[0]["last_read_id"].is_null());

    let mut wa = app.ws(&alice).await;
    wa.send(json!({"type": 5, "recipient": "bob"})).await;
    let v = wb.next_where(|v| v["type"] == 5).await;
    assert_eq!(v, json!({"type": 5, "username": "alice"}));
    // (A second socket: one socket's typing notices are at most one a second.)
    let mut wa2 = app.ws(&alice).await;
    wa2.send(json!({"type": 5, "recipient": "nobody_here", "client_id": "t-1"}))
        .await;
    let v = wa2.next_where(|v| v["type"] == 6).await;
    assert_eq!(v["error"]["code"], "unknown_user");
}

/// Twenty different emoji fit on a message; the twenty-first is refused, in rooms and in direct
/// conversations alike. Taking a reaction back from a deleted message is already done.
#[tokio::test]
async fn a_message_holds_twenty_different_emoji_and_a_deleted_one_none() {
    const EMOJI: [&str; 21] = [
        "👍", "❤️", "😂", "🎉", "😮", "😢", "🚀", "👀", "🔥", "✅", "💯", "🙏", "👏", "🤔", "😎", "🥳", "😡",
        "🤝", "💡", "📈", "📉",
    ];
    let app = TestApp::spawn(&["--rate-limit-messages=1000"]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let room = app.create_room(&alice, "emoji").await;
    let id = app.post_message(&alice, room, "react to me").await["id"]
        .as_i64()
        .unwrap();
    let (_, dm) = app
        .post(
            "/v1/chat/threads/bob",
            Some(&alice),
            json!({"message": "and to me"}),
        )
        .await;
    let dm = dm["id"].as_i64().unwrap();
    for (base, token) in [
        (format!("/v1/chat/rooms/{room}/messages/{id}"), &alice),
        (format!("/v1/chat/threads/alice/messages/{dm}"), &bob),
    ] {
        for (i, e) in EMOJI.iter().enumerate() {
            let url = format!("{base}/reactions/{}", urlencode(e));
            let (status, body) = app.put(&url, Some(token), json!(null)).await;
            let want = if i < 20 { 204 } else { 409 };
            assert_eq!(status, want, "{base} emoji #{} {e}: {body}", i + 1);
        }
        // One already there is still fine.
        let (status, _) = app
            .put(
                &format!("{base}/reactions/{}", urlencode("👍")),
                Some(token),
                json!(null),
            )
            .await;
        assert_eq!(status, 204);
    }
    app.delete(&format!("/v1/chat/rooms/{room}/messages/{id}"), Some(&alice))
        .await;
    app.delete(&format!("/v1/chat/threads/bob/messages/{dm}"), Some(&alice))
        .await;
    for url in [
        format!("/v1/chat/rooms/{room}/messages/{id}/reactions/{THUMBS}"),
        format!("/v1/chat/threads/alice/messages/{dm}/reactions/{THUMBS}"),
    ] {
        let (status, _) = app.delete(&url, Some(&bob)).await;
        assert_eq!(status, 204, "{url}");
        let (status, _) = app.put(&url, Some(&bob), json!(null)).await;
        assert_eq!(status, 409, "{url}: a deleted message takes no reaction");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn a_topic_is_not_a_new_room_and_bad_query_text_is_refused() {
    let app = TestApp::spawn(&["--rooms-per-user=1"]).await;
    let alice = app.token("alice").await;
    let room = app.create_room(&alice, "topics").await;
    for i in 0..3 {
        let (status, body) = app
            .patch(
                &format!("/v1/chat/rooms/{room}"),
                Some(&alice),
                json!({"topic": format!("topic {i}")}),
            )
            .await;
        assert_eq!(status, 200, "topics do not spend the room budget: {body}");
    }
    let (status, _) = app
        .patch(
            &format!("/v1/chat/rooms/{room}"),
            Some(&alice),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(status, 429, "a rename does");
    for (path, field) in [
        (format!("/v1/chat/rooms/{room}/members?after=%00"), "after"),
        ("/v1/search?q=a%00b".to_string(), "q"),
    ] {
        let (status, body) = app.get(&path, Some(&alice)).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body["errors"][field].is_string(), "{path}: {body}");
    }
}
