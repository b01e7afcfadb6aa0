//! The batch writer (src/chat/writer.rs): many messages per commit, one publish per
//! batch, and the same guarantees as one insert per message: per-room order with consecutive
//! `seq`s, a bad row failing only itself, nothing acknowledged lost when the broker connection
//! or the database connections die mid-batch.

mod common;

use std::time::Duration;

use common::TestApp;
use futures_util::future::join_all;
use serde_json::json;
use tickertalk::chat::writer::Writer;
use tickertalk::store::StoreError;
use tickertalk::store::messages::{self, NewMessage, Outcome};
use tickertalk_wire::RoomMessage;

fn row(room_id: i64, user_id: i64, body: &str) -> NewMessage {
    NewMessage {
        room_id,
        user_id,
        body: body.into(),
        client_id: None,
        bot: None,
        reply_to: None,
    }
}

/// The message a row stored, if it stored one.
fn new(o: &Outcome) -> Option<&RoomMessage> {
    match o {
        Outcome::New(m) => Some(m),
        _ => None,
    }
}

async fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get("/v1/auth/me", Some(token)).await.1["id"]
        .as_i64()
        .expect("me")
}

#[tokio::test]
async fn a_batch_numbers_each_room_in_batch_order_and_skips_unknown_rooms() {
    let app = TestApp::spawn(&[]).await;
    let alice = app.token("alice").await;
    let me = user_id(&app, &alice).await;
    let (r1, r2) = (
        app.create_room(&alice, "One").await,
        app.create_room(&alice, "Two").await,
    );
    let db = &app.db;
    let out = messages::insert_batch(
        db,
        &[
            row(r1, me, "a"),
            row(r2, me, "b"),
            row(r1, me, "c"),
            row(999_999, me, "nowhere"),
            row(r2, me, "d"),
        ],
    )
    .await
    .unwrap();
    let got: Vec<Option<(i64, i64, &str)>> = out
        .iter()
        .map(|o| new(o).map(|m| (m.room_id, m.seq, m.body.as_str())))
        .collect();
    assert_eq!(
        got,
        vec![
            Some((r1, 1, "a")),
            Some((r2, 1, "b")),
            Some((r1, 2, "c")),
            None,
            Some((r2, 2, "d")),
        ]
    );
    assert_eq!(out[3], Outcome::NoRoom);
    let (a, c) = (new(&out[0]).unwrap(), new(&out[2]).unwrap());
    assert!(
        a.id < c.id && a.created_at <= c.created_at,
        "ids and times grow with seq"
    );
    assert_eq!(a.username, "alice");

    // The next batch (and a single insert) go on from there, and history sees the order.
    let next = messages::insert_batch(db, &[row(r1, me, "e")]).await.unwrap();
    assert_eq!(new(&next[0]).unwrap().seq, 3);
    let single = messages::insert(db, &row(r1, me, "f")).await.unwrap();
    assert_eq!(new(&single).unwrap().seq, 4);
    let history: Vec<String> = messages::latest(db, r1, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(history, ["a", "c", "e", "f"]);
}

/// Posting is idempotent per author and `client_id`, within a batch and across batches (a
/// client's resend is not stored twice), and the room's numbering has no hole where a repeat
/// was left out.
#[tokio::test]
async fn a_client_id_is_stored_once_per_author_and_a_reuse_for_other_text_is_refused() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let (me, other) = (user_id(&app, &alice).await, user_id(&app, &bob).await);
    let (r1, r2) = (
        app.create_room(&alice, "One").await,
        app.create_room(&alice, "Two").await,
    );
    let keyed = |room, user, body: &str, cid: &str| NewMessage {
        client_id: Some(cid.into()),
        ..row(room, user, body)
    };
    let db = &app.db;
    let out = messages::insert_batch(
        db,
        &[
            keyed(r1, me, "hello", "c1"),
            keyed(r1, me, "hello", "c1"),      // the same post twice in one batch
            keyed(r1, me, "other text", "c1"), // the id reused for another text
            keyed(r1, other, "hello", "c1"),   // another author's c1
            row(r1, me, "no id"),
        ],
    )
    .await
    .unwrap();
    let first = new(&out[0]).expect("stored").clone();
    assert_eq!(out[1], Outcome::Repeat(first.clone()));
    assert_eq!(out[2], Outcome::Reused);
    assert_eq!(new(&out[3]).map(|m| m.seq), Some(2));
    assert_eq!(new(&out[4]).map(|m| m.seq), Some(3), "no hole in seq");

    // A later batch: the retry finds the stored message; another room is a reuse.
    let later = messages::insert_batch(
        db,
        &[
            keyed(r1, me, "hello", "c1"),
            keyed(r2, me, "hello", "c1"),
            keyed(r1, me, "after", "c2"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(later[0], Outcome::Repeat(first));
    assert_eq!(later[1], Outcome::Reused);
    assert_eq!(new(&later[2]).map(|m| m.seq), Some(4));
    let history: Vec<String> = messages::latest(db, r1, None, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(history, ["hello", "hello", "no id", "after"]);
    assert!(messages::latest(db, r2, None, 50).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_row_the_database_refuses_fails_only_its_own_post() {
    let app = TestApp::spawn(&[]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Batch").await;
    let me = user_id(&app, &alice).await;
    let stop = tickertalk::shutdown::ShutdownSignal::new();
    let writer = Writer::spawn(app.db.clone(), app.bus().clone(), &stop);
    // Queued together, so the writer takes them as one batch; user -1 breaks the foreign key,
    // which fails the whole transaction, and the writer then stores row by row.
    let posts = [
        row(room, me, "one"),
        row(room, -1, "orphan"),
        row(room, me, "two"),
        row(room, me, "three"),
    ];
    let results = join_all(posts.into_iter().map(|r| writer.store(r))).await;
    let bodies: Vec<Result<&str, ()>> = results
        .iter()
        .map(|r| match r {
            Ok(Outcome::New(m)) => Ok(m.body.as_str()),
            Err(StoreError::Other(_)) => Err(()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(bodies, [Ok("one"), Err(()), Ok("two"), Ok("three")]);
    // Stored with consecutive seqs (the refused row took none) and delivered, in order.
    let seqs: Vec<i64> = results.iter().flatten().filter_map(new).map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    let got: Vec<String> = ws
        .messages(room, 3)
        .await
        .iter()
        .map(|v| v["chatmessage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, ["one", "two", "three"]);
}

/// Posts `n` messages over HTTP, `at_once` in flight at a time; returns the ids of those the
/// server acknowledged (201) and how many it refused.
async fn post_many(app: &TestApp, token: &str, room: i64, n: usize, at_once: usize) -> (Vec<i64>, usize) {
    let path = format!("/v1/chat/rooms/{room}/messages");
    let mut acked = Vec::new();
    let mut refused = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(at_once) {
        let replies = join_all(
            chunk
                .iter()
                .map(|i| app.post(&path, Some(token), json!({"chatmessage": format!("m{i}")}))),
        )
        .await;
        for (status, body) in replies {
            match status {
                201 => acked.push(body["id"].as_i64().expect("id")),
                _ => refused += 1,
            }
        }
    }
    (acked, refused)
}

/// Two instances without a message limit: alice's socket on the first (where she posts) and
/// bob's on the second, both in a new room.
async fn across_two_instances(room_name: &str) -> (TestApp, TestApp, String, i64, common::Ws, common::Ws) {
    let app = TestApp::spawn(&["--rate-limit-messages=100000"]).await;
    let peer = app.spawn_peer(&[]).await;
    let (alice, room, local) = app.user_in_room("alice", room_name).await;
    let bob = peer.token("bob").await;
    let mut remote = peer.ws(&bob).await;
    remote.join(room, None).await;
    (app, peer, alice, room, local, remote)
}

/// The ids of the next `n` room messages a socket receives.
async fn ids(ws: &mut common::Ws, room: i64, n: usize) -> Vec<i64> {
    ws.messages(room, n)
        .await
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}

/// Messages stored while the posting instance cannot reach the broker never reach other
/// instances through it, and no later message may come to show the gap: the posting instance
/// announces each room's tip once it is back, and the other instance reads the rest from
/// PostgreSQL. The fault is driven at a fixed point (the bus is held down before the posts and
/// released after them), so every publish of the second part fails, every time.
#[tokio::test]
async fn confirms_lost_mid_batch_still_deliver_every_stored_message_in_order() {
    let (app, _peer, alice, room, mut local, mut remote) = across_two_instances("Confirms").await;

    let (first, refused) = post_many(&app, &alice, room, 20, 20).await;
    assert_eq!(refused, 0);
    assert_eq!(ids(&mut local, room, 20).await.len(), 20);
    assert_eq!(ids(&mut remote, room, 20).await.len(), 20, "through the broker");

    app.bus().hold_down().await;
    let (rest, refused) = post_many(&app, &alice, room, 100, 20).await;
    assert_eq!(refused, 0, "posting does not depend on the broker");
    // Delivered here at once, broker or not.
    let mut rest_sorted = rest.clone();
    rest_sorted.sort_unstable();
    assert_eq!(
        ids(&mut local, room, 100).await,
        rest_sorted,
        "local socket, in order"
    );
    app.bus().release();
    app.wait_broker_up().await;

    let stored = app.stored_ids(&alice, room).await;
    assert_eq!(stored.len(), 120);
    let mut acked: Vec<i64> = first.into_iter().chain(rest).collect();
    acked.sort_unstable();
    assert_eq!(acked, stored);
    assert_eq!(
        ids(&mut remote, room, 100).await,
        stored[20..],
        "the other instance: every stored message, once, in order"
    );
    assert!(
        remote
            .drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|v| v["type"] != 1),
        "and nothing twice"
    );
}

/// The broker connection drops while batches are in flight (after the first 20 messages, at
/// a point the test chooses; whether each later publish fails, or goes through the new
/// connection, is up to the race): both sockets still get every stored message once, in order.
#[tokio::test]
async fn a_connection_dropped_while_batches_are_in_flight_loses_nothing() {
    let (app, _peer, alice, room, mut local, mut remote) = across_two_instances("InFlight").await;

    let (_, refused) = post_many(&app, &alice, room, 20, 20).await;
    assert_eq!(refused, 0);
    assert_eq!(ids(&mut remote, room, 20).await.len(), 20);
    let posting = post_many(&app, &alice, room, 100, 20);
    let ((_, refused), ()) = tokio::join!(posting, app.bus().drop_connection());
    assert_eq!(refused, 0, "posting does not depend on the broker");
    app.wait_broker_up().await;

    let stored = app.stored_ids(&alice, room).await;
    assert_eq!(stored.len(), 120);
    assert_eq!(ids(&mut local, room, 120).await, stored, "local socket");
    assert_eq!(ids(&mut remote, room, 100).await, stored[20..], "remote socket");
}

#[tokio::test]
async fn database_connections_killed_mid_batch_lose_nothing_acknowledged() {
    let app = TestApp::spawn(&["--rate-limit-messages=100000"]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Restart").await;

    // Every connection of the server's pool is terminated while posts are in flight, as a
    // PostgreSQL restart would: posts may be refused (503), but each one acknowledged is stored,
    // and the socket receives exactly the stored messages, in order.
    let admin = sqlx::PgPool::connect(&common::admin_url()).await.unwrap();
    let posting = post_many(&app, &alice, room, 150, 25);
    let killing = async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            common::kill_connections(&admin, &app.env.db_name).await;
        }
    };
    let ((acked, refused), ()) = tokio::join!(posting, killing);
    assert_eq!(acked.len() + refused, 150);

    let stored = app.stored_ids(&alice, room).await;
    for id in &acked {
        assert!(stored.contains(id), "acknowledged message {id} is stored");
    }
    let ids: Vec<i64> = ws
        .messages(room, stored.len())
        .await
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, stored, "the socket got every stored message, once, in order");
    assert!(
        ws.drain(Duration::from_millis(300))
            .await
            .iter()
            .all(|v| v["type"] != 1),
        "and nothing else"
    );
    eprintln!(
        "{} acknowledged, {refused} refused, {} stored",
        acked.len(),
        stored.len()
    );
}

/// A message whose broker event never reached this instance (stored, then its publish lost,
/// as when the broker failed in flight) is read back from PostgreSQL when the next message
/// shows the gap, and still acknowledges its author: the `client_id` is stored with it.
#[tokio::test]
async fn a_message_rebuilt_from_the_database_still_acknowledges_its_author() {
    let app = TestApp::spawn(&[]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Gap").await;
    let me = user_id(&app, &alice).await;
    // Stored as the writer stores it, and never published.
    let lost = NewMessage {
        client_id: Some("lost-1".into()),
        ..row(room, me, "published into a broken broker")
    };
    let stored = messages::insert(&app.db, &lost).await.unwrap();
    let stored = new(&stored).unwrap();
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "next", "client_id": "next-1"}))
        .await;
    let first = ws.next_where(|v| v["type"] == 1).await;
    assert_eq!(first["id"], stored.id, "the gap is filled first, in order");
    assert_eq!(
        first["client_id"], "lost-1",
        "the rebuilt copy acknowledges the author"
    );
    let second = ws.next_where(|v| v["type"] == 1).await;
    assert_eq!(second["client_id"], "next-1");
}

#[tokio::test]
async fn presence_entries_in_one_batch_get_the_room_list_and_first_flags() {
    use tickertalk::store::presence;
    use uuid::Uuid;
    let app = TestApp::spawn(&[]).await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    let (a, b) = (user_id(&app, &alice).await, user_id(&app, &bob).await);
    let room = app.create_room(&alice, "Storm").await;
    let db = &app.db;
    let me = app.chat.instance_id();
    let (c1, c2, c3, c4) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let rows = presence::enter_batch(db, me, &[(c1, room, a), (c2, room, b), (c3, room, a)])
        .await
        .unwrap();
    let both = vec!["alice".to_string(), "bob".to_string()];
    // Both of alice's sockets read the snapshot from before the batch: both "first" (the chat
    // layer announces only the earlier one).
    assert_eq!(
        rows,
        vec![(true, both.clone()), (true, both.clone()), (true, both.clone())]
    );
    let again = presence::enter_batch(db, me, &[(c4, room, b)]).await.unwrap();
    assert_eq!(
        again,
        vec![(false, both.clone())],
        "bob already has a socket here"
    );
    assert_eq!(presence::users_in(db, room).await.unwrap(), both);

    // A batch over two rooms: each entry gets its own room's list, and a repeated conn/room
    // pair (already recorded) is not "first" again.
    let other = app.create_room(&alice, "Calm").await;
    let c5 = Uuid::new_v4();
    let mixed = presence::enter_batch(db, me, &[(c5, other, b), (c1, room, a), (c4, room, b)])
        .await
        .unwrap();
    assert_eq!(
        mixed,
        vec![
            (true, vec!["bob".to_string()]),
            (false, both.clone()),
            (false, both.clone())
        ]
    );
}

#[tokio::test]
async fn presence_exits_in_one_batch_announce_each_user_who_has_no_socket_left_once() {
    use tickertalk::store::presence;
    use uuid::Uuid;
    let app = TestApp::spawn(&[]).await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    let (a, b) = (user_id(&app, &alice).await, user_id(&app, &bob).await);
    let (room, other) = (
        app.create_room(&alice, "Storm").await,
        app.create_room(&alice, "Calm").await,
    );
    let db = &app.db;
    let me = app.chat.instance_id();
    let (a1, a2, b1, b2, a3) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    presence::enter_batch(
        db,
        me,
        &[
            (a1, room, a),
            (a2, room, a),
            (b1, room, b),
            (b2, room, b),
            (a3, other, a),
        ],
    )
    .await
    .unwrap();

    // Both of alice's sockets in `room` and one of bob's leave in one batch, with a socket
    // that was never there: alice is gone from `room` (once), bob is not, and alice stays in
    // `other`.
    let gone = presence::leave_batch(db, &[(a1, room), (b1, room), (a2, room), (Uuid::new_v4(), room)])
        .await
        .unwrap();
    assert_eq!(gone, vec![(room, a)]);
    assert_eq!(
        presence::users_in(db, room).await.unwrap(),
        vec!["bob".to_string()]
    );
    assert_eq!(
        presence::users_in(db, other).await.unwrap(),
        vec!["alice".to_string()]
    );

    // Leaving again is nothing; the last sockets of two rooms in one batch are both gone.
    assert!(presence::leave_batch(db, &[(a1, room)]).await.unwrap().is_empty());
    let mut gone = presence::leave_batch(db, &[(b2, room), (a3, other)])
        .await
        .unwrap();
    gone.sort();
    let mut want = vec![(room, b), (other, a)];
    want.sort();
    assert_eq!(gone, want);
}
