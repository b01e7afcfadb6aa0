//! Search: what one can read and nothing else, ranked, highlighted, paged; cashtags and
//! mentions; deleted messages gone from it; bad queries refused.

mod common;

use common::TestApp;
use serde_json::{Value, json};

/// `GET /v1/search?q=<text>` (percent-encoded) with `extra` (`&limit=3`) as given.
async fn search(app: &TestApp, token: &str, text: &str, extra: &str) -> (u16, Value) {
    let q: String = text
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    app.get(&format!("/v1/search?q={q}{extra}"), Some(token)).await
}

fn texts(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["chatmessage"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_finds_what_the_user_can_read_ranked_highlighted_and_paged() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob, carol] = app.tokens(["alice", "bob", "carol"]).await;
    let room = app.create_room(&alice, "markets").await;
    let secret = app.create_room(&carol, "carols room").await;
    app.post_message(&alice, room, "I am buying $TSLA today").await;
    app.post_message(&bob, room, "TSLA is up, tesla tesla tesla")
        .await;
    app.post_message(&bob, room, "@alice have you seen the earnings?")
        .await;
    app.post_message(&carol, secret, "$TSLA is my secret").await;
    app.post(
        "/v1/chat/threads/alice",
        Some(&bob),
        json!({"message": "earnings call at 5"}),
    )
    .await;

    // A cashtag finds cashtags only; the bare word finds both messages with it.
    let (status, page) = search(&app, &alice, "$TSLA", "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(texts(&page), vec!["I am buying $TSLA today"], "not carol's room");
    let r = &page["results"][0];
    assert_eq!(r["chatroomId"], room);
    assert_eq!(r["chatuser"], "alice");
    assert!(
        r["highlight"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["match"] == true && p["text"].as_str().unwrap().contains("TSLA")),
        "{r}"
    );
    let (_, page) = search(&app, &alice, "tsla", "").await;
    assert_eq!(texts(&page).len(), 2);
    // Text that looks like markup is shown as written in the highlight (ts_headline alone
    // dropped it).
    app.post_message(&alice, room, "<b>$NVDA</b> in private & more")
        .await;
    let (_, page) = search(&app, &alice, "$NVDA", "").await;
    let shown: String = page["results"][0]["highlight"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert!(shown.contains("NVDA</b> in private"), "{shown:?}");
    // Mentions, and direct messages (with the other user named).
    let (_, page) = search(&app, &alice, "@alice", "").await;
    assert_eq!(texts(&page), vec!["@alice have you seen the earnings?"]);
    let (_, page) = search(&app, &alice, "earnings", "").await;
    assert_eq!(texts(&page).len(), 2);
    let dm = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("thread").is_some())
        .unwrap();
    assert_eq!(
        (dm["thread"].as_str(), dm["chatuser"].as_str()),
        (Some("bob"), Some("bob"))
    );
    // One room, by id: any room can be read, so carol's can be searched by name.
    let (_, page) = search(&app, &alice, "secret", &format!("&room_id={secret}")).await;
    assert_eq!(texts(&page), vec!["$TSLA is my secret"]);

    // Paging: a cursor, no repeats, and the end says so.
    for i in 0..5 {
        app.post_message(&alice, room, &format!("page test {i}")).await;
    }
    let (_, first) = search(&app, &alice, "page test", "&limit=3").await;
    assert_eq!(texts(&first).len(), 3);
    let next = first["next"].as_str().unwrap().to_string();
    app.post_message(&alice, room, "page test stored after the first page")
        .await;
    let (_, second) = search(&app, &alice, "page test", &format!("&limit=3&before={next}")).await;
    assert_eq!(
        texts(&second).len(),
        2,
        "the snapshot of the first page: {second}"
    );
    assert!(second["next"].is_null());
    let mut all = texts(&first);
    all.extend(texts(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5);

    // Deleted messages are not found.
    let id = app.post_message(&alice, room, "ephemeral words").await["id"]
        .as_i64()
        .unwrap();
    app.delete(&format!("/v1/chat/rooms/{room}/messages/{id}"), Some(&alice))
        .await;
    let (_, page) = search(&app, &alice, "ephemeral", "").await;
    assert_eq!(texts(&page), Vec::<String>::new());

    // Hostile or odd queries: a clear answer, never a 500.
    for q in ["' OR 1=1 --", "!!!&&||", "<script>", "the", "a:*", "\\"] {
        let (status, body) = search(&app, &alice, q, "").await;
        assert_eq!(status, 200, "{q}: {body}");
    }
    for (q, field) in [
        ("", "q"),
        ("q=%20", "q"),
        ("q=x&limit=0", "limit"),
        ("q=x&limit=51", "limit"),
        ("q=x&before=1.2", "before"),
        ("q=x&room_id=-1", "room_id"),
    ] {
        let (status, body) = app.get(&format!("/v1/search?{q}"), Some(&alice)).await;
        assert_eq!(status, 422, "{q}: {body}");
        assert!(body["errors"][field].is_string(), "{q}: {body}");
    }
    let long = "x".repeat(201);
    let (status, _) = app.get(&format!("/v1/search?q={long}"), Some(&alice)).await;
    assert_eq!(status, 422);
    let (status, _) = app.get("/v1/search?q=x&room_id=999999", Some(&alice)).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/v1/search?q=x", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn members_leave_and_the_creators_topic_and_name() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob, carol] = app.tokens(["alice", "bob", "carol"]).await;
    let room = app.create_room(&alice, "club").await;
    app.post_message(&bob, room, "hi").await;
    let mut ws = app.ws(&carol).await;
    ws.join(room, None).await;
    let (status, members) = app
        .get(&format!("/v1/chat/rooms/{room}/members"), Some(&bob))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        members,
        json!([
            {"username": "alice", "online": false},
            {"username": "bob", "online": false},
            {"username": "carol", "online": true}
        ])
    );

    // Leaving: out of the members and out of bob's room list.
    let (status, _) = app
        .delete(&format!("/v1/chat/rooms/{room}/members/me"), Some(&bob))
        .await;
    assert_eq!(status, 204);
    let (_, members) = app
        .get(&format!("/v1/chat/rooms/{room}/members"), Some(&bob))
        .await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&bob)).await;
    assert!(rooms.as_array().unwrap().iter().all(|r| r["id"] != room));
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&alice)).await;
    assert!(rooms.as_array().unwrap().iter().any(|r| r["id"] == room));
    // Posting again makes bob a member again.
    app.post_message(&bob, room, "back").await;
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&bob)).await;
    assert!(rooms.as_array().unwrap().iter().any(|r| r["id"] == room));

    // Topic and name: the creator only; every socket hears of it.
    let path = format!("/v1/chat/rooms/{room}");
    let (status, _) = app.patch(&path, Some(&bob), json!({"topic": "mine"})).await;
    assert_eq!(status, 403);
    let (status, body) = app
        .patch(&path, Some(&alice), json!({"topic": "x".repeat(251)}))
        .await;
    assert_eq!((status, body["errors"]["topic"].is_string()), (422, true));
    let (status, body) = app.patch(&path, Some(&alice), json!({})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .patch(
            &path,
            Some(&alice),
            json!({"topic": "  stocks and bonds ", "name": "Club 2"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["topic"].as_str(), body["name"].as_str()),
        (Some("stocks and bonds"), Some("Club 2"))
    );
    assert_eq!(body["created_by"], "alice");
    let v = ws.next_where(|v| v["type"] == 14).await;
    assert_eq!(v["room"]["topic"], "stocks and bonds");
    let other = app.create_room(&alice, "other").await;
    let (status, _) = app
        .patch(
            &format!("/v1/chat/rooms/{other}"),
            Some(&alice),
            json!({"name": "club 2"}),
        )
        .await;
    assert_eq!(status, 409, "names stay unique");
    let (status, _) = app
        .patch("/v1/chat/rooms/999999", Some(&alice), json!({"topic": "x"}))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn mentions_are_kept_on_the_server_newest_first_and_counted_unread() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let room = app.create_room(&alice, "mentions").await;
    let first = app.post_message(&alice, room, "hello").await["id"]
        .as_i64()
        .unwrap();
    // bob opens the room (which makes him a member), reads it, and goes away.
    let mut ws = app.ws(&bob).await;
    ws.join(room, None).await;
    drop(ws);
    app.put(
        &format!("/v1/chat/rooms/{room}/read"),
        Some(&bob),
        json!({"last_read_id": first}),
    )
    .await;
    app.post_message(&alice, room, "@bob look at this").await;
    app.post_message(&alice, room, "no mention here, bobby").await;
    app.post_message(&alice, room, "and again @bob").await;
    app.post_message(&alice, room, "`@bob` in code still counts on the server")
        .await;

    // After a reload: the room list says how many unread messages mention bob.
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&bob)).await;
    let entry = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap();
    assert_eq!(
        (entry["unread"].as_i64(), entry["unread_mentions"].as_i64()),
        (Some(4), Some(3))
    );
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&alice)).await;
    let entry = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap();
    assert_eq!(entry["unread_mentions"], 0, "alice's own room: never opened");

    // The Mentions list: newest first.
    let (status, page) = search(&app, &bob, "@bob", "&order=newest").await;
    assert_eq!(status, 200);
    assert_eq!(
        texts(&page),
        vec![
            "`@bob` in code still counts on the server",
            "and again @bob",
            "@bob look at this"
        ]
    );
    let (status, body) = search(&app, &bob, "@bob", "&order=oldest").await;
    assert_eq!((status, body["errors"]["order"].is_string()), (422, true));
}
