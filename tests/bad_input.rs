//! Bad input that used to reach PostgreSQL or fall through the router: NUL characters and
//! `null` in every text field are field errors, invalid UTF-8 on a socket closes it with 1007,
//! unknown paths are 404 whatever the method, and 405 names what is allowed.

mod common;

use std::time::Duration;

use common::TestApp;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

#[tokio::test]
async fn nul_characters_and_nulls_are_422_naming_the_field_and_store_nothing() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "Lobby").await;
    let cases = [
        (
            "/v1/auth/login",
            json!({"email": "a\u{0}b@example.com", "password": "x"}),
            "email",
        ),
        (
            "/v1/auth/login",
            json!({"username": "bo\u{0}b", "password": "x"}),
            "username",
        ),
        (
            "/v1/auth/signup",
            json!({"username": "ca\u{0}rl", "email": "carl@example.com", "password": "long enough password"}),
            "username",
        ),
        (
            "/v1/auth/signup",
            json!({"username": null, "email": "dan@example.com", "password": "long enough password"}),
            "username",
        ),
        ("/v1/chat/rooms", json!({"name": "x\u{0}y"}), "name"),
        ("/v1/chat/rooms", json!({"name": null}), "name"),
        (
            &format!("/v1/chat/rooms/{room}/messages"),
            json!({"chatmessage": "hi\u{0}"}),
            "chatmessage",
        ),
        (
            &format!("/v1/chat/rooms/{room}/messages"),
            json!({"chatmessage": "hi", "client_id": null}),
            "client_id",
        ),
        (
            &format!("/v1/chat/rooms/{room}/messages"),
            json!({"chatmessage": "hi", "client_id": "c\u{0}"}),
            "client_id",
        ),
        ("/v1/chat/threads/alice", json!({"message": "a\u{0}"}), "message"),
    ];
    for (path, body, field) in cases {
        let (status, problem) = app.post(path, Some(&t), body.clone()).await;
        assert_eq!(status, 422, "{path} {body}: {problem}");
        assert!(
            problem["errors"][field].is_string(),
            "{path} names {field}: {problem}"
        );
    }
    assert!(app.stored_ids(&t, room).await.is_empty(), "nothing was stored");
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&t)).await;
    assert_eq!(rooms.as_array().unwrap().len(), 1, "no room was created");
    // The original API answers field errors with 400 in its envelope.
    let (status, body) = app
        .post(
            "/api/register",
            None,
            json!({"username": "e\u{0}ve", "email": "eve@example.com", "password": "long enough password"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("NUL"), "{body}");
}

#[tokio::test]
async fn a_socket_answers_nul_and_null_fields_with_an_error_and_stays_open() {
    let app = TestApp::spawn(&[]).await;
    let (t, room, mut ws) = app.user_in_room("alice", "Lobby").await;
    for frame in [
        json!({"type": 4, "recipient": "bo\u{0}b", "message": "hi", "client_id": "d1"}),
        json!({"type": 1, "chatroomId": room, "chatmessage": "a\u{0}", "client_id": "m1"}),
        json!({"type": 1, "chatroomId": room, "chatmessage": null, "client_id": "m2"}),
    ] {
        ws.send(frame.clone()).await;
        let err = ws
            .next_where(|v| v.get("error").is_some() || v["type"] == 6)
            .await;
        let text = err.to_string();
        assert!(!text.contains("internal"), "{frame} -> {text}");
        assert!(text.contains("NUL") || text.contains("null"), "{frame} -> {text}");
    }
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "still here", "client_id": "ok"}))
        .await;
    let stored = ws.next_where(|v| v["client_id"] == "ok").await;
    assert_eq!(stored["chatmessage"], "still here");
    assert_eq!(app.stored_ids(&t, room).await.len(), 1);
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let mut ws = app.ws(&t).await;
    let bad = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.stream.send(Message::Frame(bad)).await.unwrap();
    let code = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(msg) = ws.stream.next().await {
            if let Ok(Message::Close(frame)) = msg {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("closed within 5 s");
    assert_eq!(code, Some(1007));
}

#[tokio::test]
async fn unknown_paths_are_404_for_every_method_and_405_says_what_is_allowed() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let send = |method: &str, path: &str| {
        app.http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    for (method, path) in [
        ("POST", "/v1/nope"),
        ("PUT", "/v1/nope"),
        ("DELETE", "/"),
        ("POST", "/v1/chat/rooms/99999999999999999999/messages"),
        ("GET", "/v1/chat/rooms/abc"),
        ("PATCH", "/v1/chat/rooms/abc/messages"),
    ] {
        let resp = send(method, path).await.unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert!(resp.headers().get("allow").is_none());
    }
    for (method, path, allow) in [
        ("DELETE", "/v1/chat/rooms", "POST, GET"),
        ("PUT", "/v1/chat/rooms/1/messages", "GET, POST"),
        ("POST", "/v1/auth/token", "DELETE"),
        ("HEAD", "/healthz", "GET"),
    ] {
        let resp = send(method, path).await.unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
    }
    // The original API: its envelope, the same statuses.
    let resp = send("POST", "/api/inbox").await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "fail", "{body}");
    let resp = send("DELETE", "/api/nope").await.unwrap();
    assert_eq!(resp.status(), 404);
    // A served route refusing its own body is still that route's answer (413), not 404/405.
    let resp = app
        .http
        .post(app.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

/// NUL bytes in every text field: each string field of each request body and socket frame, one
/// at a time, with a NUL in an otherwise valid request. Every one is refused naming that field
/// (422 on /v1, 400 in the /api envelope, an error frame on a socket), and nothing is stored.
#[tokio::test]
async fn a_nul_in_any_text_field_of_any_request_is_refused_naming_that_field() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    app.token("bob").await;
    let room = app.create_room(&t, "Lobby").await;
    let messages = format!("/v1/chat/rooms/{room}/messages");
    let bodies = [
        (
            "/v1/auth/signup",
            json!({"username": "carl", "email": "carl@example.com", "password": "long enough password",
                   "first_name": "Carl", "last_name": "Sagan", "phone": "+1 555 0100"}),
        ),
        (
            "/v1/auth/login",
            json!({"email": "alice@example.com", "password": "wrong password"}),
        ),
        (
            "/v1/auth/login",
            json!({"username": "alice", "password": "wrong password"}),
        ),
        ("/v1/auth/refresh", json!({"refresh_token": "not a token"})),
        ("/v1/chat/rooms", json!({"name": "Kitchen"})),
        (&messages, json!({"chatmessage": "hi", "client_id": "c1"})),
        (
            "/v1/chat/threads/bob",
            json!({"message": "hi", "client_id": "d1"}),
        ),
        (
            "/api/register",
            json!({"first_name": "Eve", "last_name": "Adams", "username": "eve", "password": "password123",
                   "email": "eve@example.com", "phone": "+1 555 0101"}),
        ),
        (
            "/api/auth_token",
            json!({"username": "alice", "password": "wrong password"}),
        ),
    ];
    let mut checked = 0;
    for (path, body) in &bodies {
        for field in body.as_object().unwrap().keys() {
            let mut bad = body.clone();
            bad[field] = json!(format!("x\u{0}{}", body[field].as_str().unwrap()));
            let (status, problem) = app.post(path, Some(&t), bad.clone()).await;
            if path.starts_with("/api/") {
                assert_eq!(status, 400, "{path} {field}: {problem}");
                let text = problem.to_string();
                assert!(
                    text.contains(field.as_str()) && text.contains("NUL"),
                    "{path} {field}: {text}"
                );
            } else {
                assert_eq!(status, 422, "{path} {field}: {problem}");
                assert!(
                    problem["errors"][field]
                        .as_str()
                        .is_some_and(|m| m.contains("NUL")),
                    "{path} names {field}: {problem}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 24, "every field of every body was tried");
    // A name in the path is text too: a NUL there is a user that cannot exist.
    for path in ["/v1/chat/threads/bo%00b", "/api/thread/bo%00b"] {
        let (status, body) = app.get(path, Some(&t)).await;
        assert!(matches!(status, 401 | 404 | 422), "{path}: {status} {body}");
    }

    let mut ws = app.ws(&t).await;
    ws.join(room, None).await;
    let frames = [
        json!({"type": 1, "chatroomId": room, "chatmessage": "hi", "client_id": "w1"}),
        json!({"type": 4, "recipient": "bob", "message": "hi", "client_id": "w2"}),
    ];
    for frame in &frames {
        for field in ["chatmessage", "client_id", "recipient", "message"] {
            let Some(value) = frame[field].as_str() else {
                continue;
            };
            let mut bad = frame.clone();
            bad[field] = json!(format!("{value}\u{0}"));
            ws.send(bad.clone()).await;
            let err = ws.next_where(|v| v["type"] == 6).await;
            let text = err.to_string();
            assert!(text.contains(field) && text.contains("NUL"), "{bad} -> {text}");
        }
    }
    assert!(app.stored_ids(&t, room).await.is_empty(), "no message stored");
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&t)).await;
    assert_eq!(rooms.as_array().unwrap().len(), 1, "no room created");
    let (_, inbox) = app.get("/v1/chat/inbox", Some(&t)).await;
    assert_eq!(
        inbox.as_array().map(Vec::len),
        Some(0),
        "no direct message: {inbox}"
    );
    let (status, _) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "carl", "password": "long enough password"}),
        )
        .await;
    assert_eq!(status, 401, "carl was not signed up");
}

/// One HTTP/1.1 request over a plain socket, so the test controls the framing (reqwest always
/// adds `Content-Length`): `body` is sent as is after the head. Returns the status and the
/// rest of the response.
async fn raw_request(app: &TestApp, head: &str, token: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut req = format!(
        "{head}\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Connection: close\r\n\r\n",
        app.addr
    )
    .into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, resp)
}

/// `data` as a chunked body, in chunks of at most 16 KiB.
fn chunked(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in data.chunks(16 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A body is read however it is framed. No body and no `Content-Length` (`curl -X POST` without
/// `-d`) is an empty body, which a route that needs JSON refuses as such; a chunked body is read
/// like any other, and is still refused past 64 KiB (413) with nothing stored. Nothing answers
/// 411, on either API.
#[tokio::test]
async fn bodies_are_read_with_or_without_content_length_and_stay_bounded() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let room = app.create_room(&t, "Lobby").await;
    let messages = format!("POST /v1/chat/rooms/{room}/messages HTTP/1.1");

    let (status, resp) = raw_request(&app, &messages, &t, b"").await;
    assert_eq!(status, 400, "{resp}");
    assert!(resp.contains("request body must be a JSON object"), "{resp}");

    let (status, resp) = raw_request(
        &app,
        "POST /v1/chat/rooms HTTP/1.1\r\nTransfer-Encoding: chunked",
        &t,
        &chunked(br#"{"name": "Chunked"}"#),
    )
    .await;
    assert_eq!(status, 201, "{resp}");
    let (_, rooms) = app.get("/v1/chat/rooms", Some(&t)).await;
    assert!(rooms.to_string().contains("Chunked"), "{rooms}");

    let big = format!(r#"{{"text": "{}"}}"#, "x".repeat(70 * 1024));
    let (status, resp) = raw_request(
        &app,
        &format!("{messages}\r\nTransfer-Encoding: chunked"),
        &t,
        &chunked(big.as_bytes()),
    )
    .await;
    assert_eq!(status, 413, "{resp}");
    assert!(resp.contains("request body larger than 65536 bytes"), "{resp}");
    assert!(app.room_texts(&t, room).await.is_empty());

    // The original API, in its envelope.
    let (status, resp) = raw_request(
        &app,
        "POST /api/auth_token HTTP/1.1\r\nTransfer-Encoding: chunked",
        &t,
        &chunked(big.as_bytes()),
    )
    .await;
    assert_eq!(status, 413, "{resp}");
    assert!(resp.contains("request body too large"), "{resp}");
}
