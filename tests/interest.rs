//! Routing by interest (`src/bus/interest.rs`): an instance receives the events of the rooms its
//! sockets are in and not the others', and joins and leaves under churn, with the bindings
//! coming and going under them, neither lose nor repeat a message.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{TestApp, Ws};
use serde_json::{Value, json};

/// The ids of the room messages of `room` among `frames`.
fn seqs(frames: &[Value], room: i64) -> Vec<i64> {
    frames
        .iter()
        .filter(|v| v["type"] == 1 && v["chatroomId"] == room && v.get("id").is_some())
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}

/// Whether `got` is a run of consecutive entries of `stored` (nothing skipped, nothing twice).
fn is_run_of(got: &[i64], stored: &[i64]) -> bool {
    let Some(first) = got.first() else { return true };
    let Some(at) = stored.iter().position(|id| id == first) else {
        return false;
    };
    stored.get(at..at + got.len()) == Some(got)
}

#[tokio::test]
async fn an_instance_receives_the_rooms_of_its_sockets_and_not_the_others() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [ann, bob] = a.tokens(["ann", "bob"]).await;
    let here = a.create_room(&ann, "on a").await;
    let there = a.create_room(&ann, "on b").await;
    let mut wa = a.ws(&ann).await;
    wa.join(here, None).await;
    let mut wb = b.ws(&bob).await;
    wb.join(there, None).await;
    let (a0, b0) = (a.bus().interest.items(), b.bus().interest.items());

    // Posted through the other instance each time, so every delivery crosses the broker.
    for i in 0..10 {
        b.post_message(&bob, here, &format!("here {i}")).await;
        a.post_message(&ann, there, &format!("there {i}")).await;
    }
    assert_eq!(
        seqs(&wa.messages(here, 10).await, here),
        a.stored_ids(&ann, here).await
    );
    assert_eq!(
        seqs(&wb.messages(there, 10).await, there),
        a.stored_ids(&ann, there).await
    );

    let (a1, b1) = (a.bus().interest.items(), b.bus().interest.items());
    // Before routing by interest, each instance received all 20 (and used 10).
    assert_eq!(
        (a1.0 - a0.0, a1.1 - a0.1),
        (10, 10),
        "instance a: (received, needed)"
    );
    assert_eq!(
        (b1.0 - b0.0, b1.1 - b0.1),
        (10, 10),
        "instance b: (received, needed)"
    );
}

#[tokio::test]
async fn a_shard_unbound_while_idle_is_bound_again_by_the_next_join() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let [ann, bob] = a.tokens(["ann", "bob"]).await;
    let room = a.create_room(&ann, "comes and goes").await;
    let mut wb = b.ws(&bob).await;
    wb.join(room, None).await;
    assert_eq!(b.bus().interest.bound(), 1);
    wb.send(json!({"type": 3, "chatroomId": room})).await;
    wb.next_where(|v| v["type"] == 3 && v["chatroomId"] == room).await;
    // Long after the linger: the shard is unbound.
    b.bus()
        .sweep_bindings(Instant::now() + tickertalk::bus::LINGER)
        .await;
    assert_eq!(b.bus().interest.bound(), 0, "unbound once idle");
    a.post_message(&ann, room, "while nobody on b listens").await;
    wb.join(room, None).await;
    assert_eq!(b.bus().interest.bound(), 1, "bound again by the join");
    a.post_message(&ann, room, "after the join").await;
    let got = wb.messages(room, 1).await;
    assert_eq!(got[0]["chatmessage"], "after the join");
}

/// Sockets on instance b hop between rooms (join, read a little, leave) while instance a posts
/// into every room, and the test unbinds idle shards every few milliseconds, so joins race
/// unbinds as well as each other. Every stay in a room must see a run of its stored messages
/// (no gap it did not fill, no repeat), and at the end every socket must hold its room's last.
#[tokio::test]
async fn joins_and_leaves_under_churn_lose_and_repeat_nothing() {
    const ROOMS: usize = 6;
    // `make bench` (scenario churn) runs this with more sockets for longer.
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let hoppers_n = env("CHURN_SOCKETS", 24) as usize;
    let run_for = Duration::from_secs(env("CHURN_SECS", 6));
    let a = TestApp::spawn(&["--rate-limit-messages", "100000"]).await;
    // The hoppers' joins and leaves are frames too: lift the message rate limit on b as well
    // (the per-user budget of joins and leaves, 120 per 10 s, still applies).
    let b = a.spawn_peer(&["--rate-limit-messages", "100000"]).await;
    let poster = a.token("poster").await;
    let mut rooms = Vec::new();
    for r in 0..ROOMS {
        rooms.push(a.create_room(&poster, &format!("churn {r}")).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicU64::new(0));

    // The poster: round-robin over the rooms, as fast as the server takes it.
    let posting = {
        let (stop, posted, rooms, poster) = (stop.clone(), posted.clone(), rooms.clone(), poster.clone());
        let (http, url) = (a.http.clone(), a.url(""));
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let room = rooms[i % rooms.len()];
                let resp = http
                    .post(format!("{url}/v1/chat/rooms/{room}/messages"))
                    .bearer_auth(&poster)
                    .json(&json!({"chatmessage": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                posted.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };

    // The unbinder: what 60 s of idleness would do, every 5 ms.
    let unbinding = {
        let (stop, bus) = (stop.clone(), b.bus().clone());
        tokio::spawn(async move {
            let mut sweeps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                bus.sweep_bindings(Instant::now() + tickertalk::bus::LINGER).await;
                sweeps += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sweeps
        })
    };

    let ops = Arc::new(AtomicU64::new(0));
    let mut hoppers = Vec::new();
    for h in 0..hoppers_n {
        let token = b.token(&format!("hopper{h}")).await;
        let ws = b.ws(&token).await;
        let (stop, ops, rooms) = (stop.clone(), ops.clone(), rooms.clone());
        hoppers.push(tokio::spawn(hop(ws, rooms, h, stop, ops)));
    }

    tokio::time::sleep(run_for).await;
    stop.store(true, Ordering::Relaxed);
    posting.await.unwrap();
    let sweeps = unbinding.await.unwrap();
    // One more message in every room, posted after every final join: each final stay must get
    // it (a final stay that began after a room's last post would otherwise have nothing to see).
    for &room in &rooms {
        a.post_message(&poster, room, "the last").await;
    }
    let posted = posted.load(Ordering::Relaxed);
    let ops = ops.load(Ordering::Relaxed);

    // Each room's stored ids; each stay must be a run of them, and each hopper must reach the
    // last one in its final room.
    let mut stored: HashMap<i64, Vec<i64>> = HashMap::new();
    for &room in &rooms {
        stored.insert(room, a.stored_ids(&poster, room).await);
    }
    let last = |room: i64| stored[&room].last().copied().unwrap_or(0);
    let mut stays = 0usize;
    for h in hoppers {
        let (mut ws, room, history) = h.await.unwrap();
        stays += history.len();
        for (i, (r, got)) in history.iter().enumerate() {
            assert!(
                is_run_of(got, &stored[r]),
                "stay {i} in room {r}: not a run of the stored messages: {got:?}"
            );
        }
        // The final stay: read on until the room's last message.
        let mut got = history.last().map(|(_, g)| g.clone()).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.last().copied().unwrap_or(0) < last(room) {
            assert!(
                Instant::now() < deadline,
                "room {room}: stopped at {:?} of {}",
                got.last(),
                last(room)
            );
            if let Some(v) = ws.next_within(Duration::from_secs(1)).await {
                got.extend(seqs(&[v], room));
            }
        }
        assert!(is_run_of(&got, &stored[&room]), "final stay: {got:?}");
    }
    eprintln!(
        "churn: {hoppers_n} sockets, {posted} posts, {ops} joins and leaves ({:.0}/s), {stays} stays, {sweeps} unbind sweeps in {run_for:?}: none lost or repeated",
        ops as f64 / run_for.as_secs_f64()
    );
    assert!(stays >= hoppers_n * 3, "the hoppers barely hopped: {stays} stays");
}

/// One hopper: join a room, read for a few ms, leave, next room; returns the socket still in
/// its last room, that room, and the seqs seen in each stay.
async fn hop(
    mut ws: Ws,
    rooms: Vec<i64>,
    h: usize,
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
) -> (Ws, i64, Vec<(i64, Vec<i64>)>) {
    let mut history = Vec::new();
    let mut i = h;
    loop {
        let room = rooms[i % rooms.len()];
        i += 1 + h % 2;
        ws.send(json!({"type": 2, "chatroomId": room})).await;
        let mut got = Vec::new();
        // Until the presence list that completes the join (an error frame fails the test).
        loop {
            let v = ws.next().await;
            assert_ne!(v["type"], 6, "hopper {h}: {v}");
            if v["type"] == 7 && v["chatroomId"] == room && v.get("users").is_some() {
                break;
            }
            got.extend(seqs(std::slice::from_ref(&v), room));
        }
        ops.fetch_add(1, Ordering::Relaxed);
        // 250-310 ms: a user's joins and leaves share a budget of 120 per 10 s.
        let dwell = Duration::from_millis(250 + ((i * 7) % 60) as u64);
        let until = tokio::time::Instant::now() + dwell;
        while let Ok(Some(v)) = tokio::time::timeout_at(until, ws.next_within(dwell)).await {
            got.extend(seqs(&[v], room));
        }
        if stop.load(Ordering::Relaxed) {
            history.push((room, got));
            return (ws, room, history);
        }
        ws.send(json!({"type": 3, "chatroomId": room})).await;
        // Until the leave is acknowledged: whatever came before it belongs to this stay.
        loop {
            let v = ws.next().await;
            assert_ne!(v["type"], 6, "hopper {h}: {v}");
            got.extend(seqs(std::slice::from_ref(&v), room));
            if v["type"] == 3 && v["chatroomId"] == room {
                break;
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
        history.push((room, got));
    }
}
