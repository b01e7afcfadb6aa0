//! A graceful stop with work in flight: every background task has finished when `run`
//! returns, and nothing they held was dropped unanswered: each post queued for the message
//! writer got an answer, and every message the server acknowledged reached the broker (its
//! publish confirmed before the connection closed).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{TestApp, amqp_url};
use futures_util::StreamExt;
use futures_util::future::join_all;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use tickertalk::chat::{ChatError, Posted};
use tickertalk_wire::Event;

fn sname(s: &str) -> ShortString {
    ShortString::from(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_answers_every_queued_post_and_publishes_every_acknowledged_one() {
    let app = TestApp::spawn(&["--rate-limit-messages=100000"]).await;
    let token = app.token("alice").await;
    let room = app.create_room(&token, "Closing time").await;
    let alice = app
        .chat
        .authenticate(Some(&format!("Bearer {token}")))
        .await
        .unwrap();

    // Every room message this instance publishes, as another instance would receive it.
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = ch
        .queue_declare(
            sname(""),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.queue_bind(
        queue.name().clone(),
        sname(&format!("{}.events", app.env.prefix)),
        sname("shard.*.messages"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut published = ch
        .basic_consume(
            queue.name().clone(),
            sname("shutdown-test"),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    // 300 posts handed to the use case at once, then the stop: some are queued for the writer,
    // some being committed, some being published when it begins.
    let chat = app.chat.clone();
    let posts: Vec<_> = (0..300)
        .map(|i| {
            let (chat, alice) = (chat.clone(), alice.clone());
            tokio::spawn(async move {
                chat.post_room_message(&alice, room, &format!("m{i}"), None, None)
                    .await
            })
        })
        .collect();
    tokio::task::yield_now().await;
    let env = app.env.clone();
    let stopped = app.stop().await;
    assert!(stopped.is_clean(), "{stopped:?}");

    let mut acknowledged = HashSet::new();
    for result in join_all(posts).await {
        match result.expect("no post panicked or was dropped") {
            Ok(Posted::Stored(m)) => {
                acknowledged.insert(m.id);
            }
            // Refused once the writer stopped taking posts: nothing was stored.
            Err(ChatError::Unavailable) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(!acknowledged.is_empty(), "some posts were stored before the stop");
    // A post refused is not stored; a post stored was acknowledged.
    let db = sqlx::PgPool::connect(&env.db_url).await.unwrap();
    let stored: Vec<i64> = sqlx::query_scalar("SELECT id FROM room_messages WHERE room_id = $1")
        .bind(room)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(stored.into_iter().collect::<HashSet<_>>(), acknowledged);
    db.close().await;

    let mut seen = HashSet::new();
    while !acknowledged.is_subset(&seen) {
        let delivery = tokio::time::timeout(Duration::from_secs(10), published.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} acknowledged messages never reached the broker",
                    acknowledged.difference(&seen).count()
                )
            })
            .expect("consumer open")
            .expect("delivery");
        if let Ok(Event::RoomMessages { messages }) = serde_json::from_slice(&delivery.data) {
            seen.extend(messages.iter().map(|p| p.message.id));
        }
    }
    let _ = conn.close(200, sname("bye")).await;
}
