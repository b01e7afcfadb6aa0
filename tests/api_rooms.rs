//! Rooms and room history over real HTTP against a real PostgreSQL.

mod common;

use common::{TestApp, admin_url};
use serde_json::json;
use tickertalk::store::admin::url_with_db;

#[tokio::test]
async fn rooms_are_created_listed_and_fetched() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let (status, room) = app
        .post("/v1/chat/rooms", Some(&t), json!({"name": "  Lobby  "}))
        .await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(room["name"], "Lobby", "names are trimmed");
    assert!(room["created_at"].is_string());
    let (status, list) = app.get("/v1/chat/rooms", Some(&t)).await;
    assert_eq!(status, 200);
    assert!(list.as_array().unwrap().iter().any(|r| r["name"] == "Lobby"));
    let (status, one) = app.get(&format!("/v1/chat/rooms/{}", room["id"]), Some(&t)).await;
    assert_eq!((status, &one["name"]), (200, &json!("Lobby")));
}

#[tokio::test]
async fn room_names_follow_the_rules() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    app.create_room(&t, "General").await;
    let (status, body) = app
        .post("/v1/chat/rooms", Some(&t), json!({"name": "general"}))
        .await;
    assert_eq!(status, 409, "duplicate ignoring case: {body}");
    for bad in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(65)}),
        json!({}),
    ] {
        let (status, body) = app.post("/v1/chat/rooms", Some(&t), bad.clone()).await;
        assert_eq!(status, 422, "{bad} -> {body}");
        assert!(body["errors"]["name"].is_string());
    }
    assert_eq!(
        app.post("/v1/chat/rooms", Some(&t), json!({"name": "y".repeat(64)}))
            .await
            .0,
        201
    );
    assert_eq!(
        app.post("/v1/chat/rooms", None, json!({"name": "NoAuth"}))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn unknown_rooms_are_404() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    assert_eq!(app.get("/v1/chat/rooms/999999", Some(&t)).await.0, 404);
    let (status, body) = app.get("/v1/chat/rooms/999999/messages", Some(&t)).await;
    assert_eq!((status, &body["detail"]), (404, &json!("unknown room")));
    let (status, body) = app.get("/v1/chat/rooms/999999/messages?before=5", Some(&t)).await;
    assert_eq!((status, &body["detail"]), (404, &json!("unknown room")));
    // An existing room with no message yet is an empty page, not a 404.
    let empty = app.create_room(&t, "Quiet").await;
    let (status, body) = app
        .get(&format!("/v1/chat/rooms/{empty}/messages"), Some(&t))
        .await;
    assert_eq!((status, body), (200, json!([])));
    assert_eq!(
        app.post(
            "/v1/chat/rooms/999999/messages",
            Some(&t),
            json!({"chatmessage": "hi"})
        )
        .await
        .0,
        404
    );
    let (status, body) = app.get("/v1/chat/rooms/abc", Some(&t)).await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404, "problem details even for unmatched routes");
}

#[tokio::test]
async fn latest_returns_exactly_the_newest_50_of_60_oldest_first_at_both_paths() {
    let app = TestApp::spawn(&["--rate-limit-messages=1000"]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "History").await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let (status, m) = app
            .post(
                &format!("/v1/chat/rooms/{room}/messages"),
                Some(&t),
                json!({"chatmessage": format!("m{i}")}),
            )
            .await;
        assert_eq!(status, 201, "{m}");
        ids.push(m["id"].as_i64().unwrap());
    }
    for path in [
        format!("/v1/chat/rooms/{room}/messages"),
        format!("/v1/api/chat/rooms/{room}/messages"),
    ] {
        let (status, list) = app.get(&path, Some(&t)).await;
        assert_eq!(status, 200);
        let texts: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["chatmessage"].as_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = (10..60).map(|i| format!("m{i}")).collect();
        assert_eq!(texts, expected, "{path}");
        assert_eq!(list[0]["chatuser"], "alice");
        assert_eq!(list[0]["chatroomId"], room);
    }
    // Paging backwards from the oldest message shown.
    let (status, older) = app
        .get(
            &format!("/v1/chat/rooms/{room}/messages?before={}&limit=7", ids[10]),
            Some(&t),
        )
        .await;
    assert_eq!(status, 200);
    let got: Vec<i64> = older
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, ids[3..10].to_vec());
    let (status, _) = app
        .get(&format!("/v1/chat/rooms/{room}/messages?limit=0"), Some(&t))
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .get(
            &format!("/v1/chat/rooms/{room}/messages?before=999999999"),
            Some(&t),
        )
        .await;
    assert_eq!(status, 404, "before must be a message of this room");
}

/// The latest page is cached per instance and checked against the room's
/// `last_seq` in PostgreSQL on every read: a message posted through another instance is in the
/// very next read here. The cache is shown to be real by changing a stored body behind the
/// server's back (nothing in tickertalk edits messages): the cached page still has the old one
/// until a new message moves `last_seq`.
#[tokio::test]
async fn the_cached_latest_page_is_never_older_than_the_database() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let t = a.token("alice").await;
    let room = a.create_room(&t, "Cached").await;
    let texts = |list: &serde_json::Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|m| m["chatmessage"].as_str().unwrap().to_string())
            .collect()
    };
    let page = format!("/v1/chat/rooms/{room}/messages");
    let (status, empty) = b.get(&page, Some(&t)).await;
    assert_eq!((status, texts(&empty)), (200, vec![]));
    a.post_message(&t, room, "first").await;
    assert_eq!(
        texts(&b.get(&page, Some(&t)).await.1),
        ["first"],
        "posted through A, read on B"
    );

    sqlx::query("UPDATE room_messages SET body = 'edited behind the server' WHERE room_id = $1")
        .bind(room)
        .execute(&a.db)
        .await
        .unwrap();
    assert_eq!(
        texts(&b.get(&page, Some(&t)).await.1),
        ["first"],
        "served from B's cache"
    );
    let (_, limited) = b.get(&format!("{page}?limit=1"), Some(&t)).await;
    assert_eq!(
        texts(&limited),
        ["edited behind the server"],
        "another limit is another page"
    );

    a.post_message(&t, room, "second").await;
    assert_eq!(
        texts(&b.get(&page, Some(&t)).await.1),
        ["edited behind the server", "second"],
        "a new message makes B read the page again"
    );
    let (status, _) = b.get("/v1/chat/rooms/999999/messages", Some(&t)).await;
    assert_eq!(status, 404, "an unknown room is still unknown");
}

#[tokio::test]
async fn sql_looking_and_html_text_is_stored_and_returned_verbatim() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "Weird").await;
    let texts = [
        "'; DROP TABLE room_messages; --",
        "<script>alert('x')</script>",
        "<img src=x onerror=\"alert(1)\">",
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "emoji 🎉 and unicode ü ∑",
    ];
    for text in texts {
        let (status, m) = app
            .post(
                &format!("/v1/chat/rooms/{room}/messages"),
                Some(&t),
                json!({"chatmessage": text}),
            )
            .await;
        assert_eq!(status, 201, "{m}");
        assert_eq!(m["chatmessage"], text);
    }
    assert_eq!(app.room_texts(&t, room).await, texts.to_vec());
    let (status, body) = app
        .post(
            &format!("/v1/chat/rooms/{room}/messages"),
            Some(&t),
            json!({"chatmessage": "nul\u{0000}byte"}),
        )
        .await;
    assert_eq!(
        status, 422,
        "PostgreSQL cannot store NUL: a clear error, not a 500: {body}"
    );
    let (status, _) = app.get("/v1/chat/rooms", Some(&t)).await;
    assert_eq!(status, 200, "tables still there");
}

#[tokio::test]
async fn empty_and_too_long_messages_are_422_and_oversized_bodies_413() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "Limits").await;
    let path = format!("/v1/chat/rooms/{room}/messages");
    assert_eq!(
        app.post(&path, Some(&t), json!({"chatmessage": "   "})).await.0,
        422
    );
    assert_eq!(
        app.post(&path, Some(&t), json!({"chatmessage": "x".repeat(2001)}))
            .await
            .0,
        422
    );
    assert_eq!(
        app.post(&path, Some(&t), json!({"chatmessage": "x".repeat(2000)}))
            .await
            .0,
        201
    );
    let (status, body) = app
        .post_raw(
            &path,
            Some(&t),
            format!("{{\"chatmessage\":\"{}\"}}", "x".repeat(70_000)),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    let (_, list) = app.get(&path, Some(&t)).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing else stored");
}

#[tokio::test]
async fn posting_over_the_rate_limit_is_429_with_retry_after_and_not_stored() {
    let app = TestApp::spawn(&["--rate-limit-messages=3", "--rate-limit-window-secs=60"]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "Fast").await;
    let path = format!("/v1/chat/rooms/{room}/messages");
    for i in 0..3 {
        assert_eq!(
            app.post(&path, Some(&t), json!({"chatmessage": format!("ok {i}")}))
                .await
                .0,
            201
        );
    }
    let resp = app
        .http
        .post(app.url(&path))
        .bearer_auth(&t)
        .json(&json!({"chatmessage": "too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let (_, list) = app.get(&path, Some(&t)).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn health_is_up_and_readyz_turns_503_when_the_database_goes_away() {
    let app = TestApp::spawn(&[]).await;
    let (status, body) = app.get("/healthz", None).await;
    assert_eq!((status, &body["status"]), (200, &json!("ok")));
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, 200, "{body}");

    // Make this test's database unreachable: refuse new connections and kill the pool's.
    let admin = sqlx::PgPool::connect(&url_with_db(&admin_url(), "postgres").unwrap())
        .await
        .unwrap();
    let su = std::process::Command::new("su")
        .args([
            "postgres",
            "-c",
            &format!(
                "psql -qc \"ALTER DATABASE {} ALLOW_CONNECTIONS false\"",
                app.env.db_name
            ),
        ])
        .status();
    let blocked = su.map(|s| s.success()).unwrap_or(false);
    if !blocked {
        // Without superuser access, the owner can still do it (tickertalk owns its test DBs).
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            app.env.db_name
        )))
        .execute(&admin)
        .await
        .unwrap();
    }
    common::kill_connections(&admin, &app.env.db_name).await;
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("database"), "{body}");
    assert_eq!(app.get("/healthz", None).await.0, 200, "the process is still up");

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        app.env.db_name
    )))
    .execute(&admin)
    .await
    .unwrap();
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/readyz", None).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again once the database is back");
    admin.close().await;
}

/// Commands are never stored, but the answer to `/stock` is: here the server's own "the bot is
/// offline" (no bot runs in this test), naming the asker. Usage help is not stored.
#[tokio::test]
async fn commands_posted_over_http_are_accepted_but_never_stored() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "Cmd").await;
    let path = format!("/v1/chat/rooms/{room}/messages");
    let (status, body) = app
        .post(&path, Some(&t), json!({"chatmessage": "/stock=aapl.us"}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["command"], "stock");
    assert!(body["request_id"].is_string());
    let (status, body) = app
        .post(&path, Some(&t), json!({"chatmessage": "/weather"}))
        .await;
    assert_eq!((status, &body["command"]), (202, &json!("help")));
    let (_, list) = app.get(&path, Some(&t)).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "only the stock answer: {list:?}");
    assert_eq!(
        (
            &list[0]["chatuser"],
            &list[0]["asked_by"],
            &list[0]["command"],
            &list[0]["outcome"]
        ),
        (
            &json!("stockbot"),
            &json!("alice"),
            &json!("/stock=aapl.us"),
            &json!("unanswered")
        )
    );
    assert!(!list[0]["chatmessage"].as_str().unwrap().starts_with('/'));
}

#[tokio::test]
async fn direct_message_errors_name_the_message_field_and_the_reason() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    app.signup("bob").await;
    let (status, body) = app
        .post("/v1/chat/threads/bob", Some(&t), json!({"message": "  "}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"]["message"], "message must not be empty");
    let (status, body) = app
        .post(
            "/v1/chat/threads/bob",
            Some(&t),
            json!({"message": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["errors"]["message"],
        "message must be at most 2000 characters"
    );
    assert_eq!(
        app.post("/v1/chat/threads/nobody", Some(&t), json!({"message": "hi"}))
            .await
            .0,
        404
    );
    let (status, body) = app
        .post("/v1/chat/rooms/1/messages", Some(&t), json!({"chatmessage": ""}))
        .await;
    assert_eq!(
        (status, &body["errors"]["chatmessage"]),
        (422, &json!("message must not be empty"))
    );
}

/// `SEED_ROOMS` (so that compose starts with General and Random): created on start, once,
/// however many instances start.
#[tokio::test]
async fn seed_rooms_creates_general_and_random_once() {
    let a = TestApp::spawn(&["--seed-rooms"]).await;
    let b = a.spawn_peer(&["--seed-rooms"]).await;
    let t = a.token("alice").await;
    let (_, rooms) = b.get("/v1/chat/rooms", Some(&t)).await;
    let names: Vec<&str> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["General", "Random"]);
}
