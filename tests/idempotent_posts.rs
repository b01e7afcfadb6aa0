//! Resend without duplicates: posting is idempotent per user and `client_id`, over
//! the socket and HTTP, also when the retry reaches another instance. The retry gets the stored
//! message back (with its `client_id`), nothing new is stored, and nobody else sees it twice.

mod common;

use std::time::Duration;

use common::{Pair, TestApp, pair_in_room};
use serde_json::json;

#[tokio::test]
async fn a_socket_retry_on_the_other_instance_returns_the_stored_message_and_stores_nothing() {
    let Pair {
        a,
        b,
        alice,
        bob: _,
        room,
        mut wa,
        mut wb,
    } = pair_in_room("Retry").await;
    let post = json!({"type": 1, "chatroomId": room, "chatmessage": "only once", "client_id": "r-1"});
    wa.send(post.clone()).await;
    let ack = wa.next_where(|v| v["type"] == 1).await;
    assert_eq!(ack["client_id"], "r-1");
    assert_eq!(wb.next_where(|v| v["type"] == 1).await["id"], ack["id"]);

    // The author's connection dropped before the ack (as far as it knows): it reconnects to
    // the other instance and sends the same frame again.
    drop(wa);
    let mut again = b.ws(&alice).await;
    again.send(post.clone()).await;
    let repeat = again.next_where(|v| v["type"] == 1).await;
    assert_eq!(
        (&repeat["id"], &repeat["client_id"], &repeat["chatmessage"]),
        (&ack["id"], &json!("r-1"), &json!("only once"))
    );
    // Also through the first instance, over HTTP.
    let (status, body) = a
        .post(
            &format!("/v1/chat/rooms/{room}/messages"),
            Some(&alice),
            json!({"chatmessage": "only once", "client_id": "r-1"}),
        )
        .await;
    assert_eq!((status, &body["id"]), (200, &ack["id"]), "{body}");
    assert_eq!(body["client_id"], "r-1");

    let others: Vec<_> = wb
        .drain(Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|v| v["type"] == 1)
        .collect();
    assert!(others.is_empty(), "bob saw a retry: {others:?}");
    assert_eq!(a.stored_ids(&alice, room).await.len(), 1);
}

#[tokio::test]
async fn http_posting_is_201_then_200_and_a_reused_client_id_is_409() {
    let app = TestApp::spawn(&[]).await;
    let t = app.token("alice").await;
    let (r1, r2) = (app.create_room(&t, "One").await, app.create_room(&t, "Two").await);
    let path = format!("/v1/chat/rooms/{r1}/messages");
    let (status, first) = app
        .post(&path, Some(&t), json!({"chatmessage": "hi", "client_id": "h-1"}))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["client_id"], "h-1");
    let (status, again) = app
        .post(&path, Some(&t), json!({"chatmessage": "hi", "client_id": "h-1"}))
        .await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");
    for (room, text) in [(r1, "different text"), (r2, "hi")] {
        let (status, problem) = app
            .post(
                &format!("/v1/chat/rooms/{room}/messages"),
                Some(&t),
                json!({"chatmessage": text, "client_id": "h-1"}),
            )
            .await;
        assert_eq!(status, 409, "{problem}");
        assert!(problem["errors"]["client_id"].is_string(), "{problem}");
    }
    // Without a client_id every post is new.
    for _ in 0..2 {
        let (status, _) = app.post(&path, Some(&t), json!({"chatmessage": "hi"})).await;
        assert_eq!(status, 201);
    }
    assert_eq!(app.stored_ids(&t, r1).await.len(), 3);
    assert!(app.stored_ids(&t, r2).await.is_empty());

    // On a socket, a reuse is a type 6 error naming the problem.
    let mut ws = app.ws(&t).await;
    ws.send(json!({"type": 1, "chatroomId": r1, "chatmessage": "third text", "client_id": "h-1"}))
        .await;
    let err = ws.next_where(|v| v["type"] == 6).await;
    assert_eq!(err["error"]["code"], "client_id_reused", "{err}");
    assert_eq!(err["client_id"], "h-1");
}

#[tokio::test]
async fn the_same_post_racing_through_both_instances_is_stored_once() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let t = a.token("alice").await;
    let room = a.create_room(&t, "Race").await;
    let path = format!("/v1/chat/rooms/{room}/messages");
    for i in 0..10 {
        let body = json!({"chatmessage": format!("race {i}"), "client_id": format!("race-{i}")});
        let (x, y) = tokio::join!(
            a.post(&path, Some(&t), body.clone()),
            b.post(&path, Some(&t), body.clone())
        );
        let mut statuses = [x.0, y.0];
        statuses.sort();
        assert_eq!(statuses, [200, 201], "{x:?} {y:?}");
        assert_eq!(x.1["id"], y.1["id"]);
    }
    assert_eq!(a.stored_ids(&t, room).await.len(), 10);
}

#[tokio::test]
async fn direct_messages_are_idempotent_too_over_http_and_the_socket() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let mut wbob = b.ws(&bob).await;
    let (status, first) = a
        .post(
            "/v1/chat/threads/bob",
            Some(&alice),
            json!({"message": "psst", "client_id": "d-1"}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["client_id"], "d-1");
    assert_eq!(wbob.next_where(|v| v["type"] == 4).await["id"], first["id"]);
    let (status, again) = b
        .post(
            "/v1/chat/threads/bob",
            Some(&alice),
            json!({"message": "psst", "client_id": "d-1"}),
        )
        .await;
    assert_eq!((status, &again["id"]), (200, &first["id"]), "{again}");
    let mut walice = b.ws(&alice).await;
    walice
        .send(json!({"type": 4, "recipient": "bob", "message": "psst", "client_id": "d-1"}))
        .await;
    let repeat = walice.next_where(|v| v["type"] == 4).await;
    assert_eq!(
        (&repeat["id"], &repeat["client_id"]),
        (&first["id"], &json!("d-1"))
    );
    let (status, problem) = a
        .post(
            "/v1/chat/threads/bob",
            Some(&alice),
            json!({"message": "something else", "client_id": "d-1"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    let seen: Vec<_> = wbob
        .drain(Duration::from_millis(500))
        .await
        .into_iter()
        .filter(|v| v["type"] == 4)
        .collect();
    assert!(seen.is_empty(), "bob saw a retry: {seen:?}");
    let (_, thread) = a.get("/v1/chat/threads/alice", Some(&bob)).await;
    assert_eq!(thread.as_array().map(Vec::len), Some(1), "{thread}");
}
