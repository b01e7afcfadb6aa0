//! The stock bot end to end: a real server (real PostgreSQL, real RabbitMQ, its own broker
//! prefix), the bot (in-process through `worker::run`, or the real binary where a process has to
//! die) and a fake quote service speaking real HTTP on 127.0.0.1.

mod common;
mod fake_quotes;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestApp, amqp_url};
use fake_quotes::*;
use lapin::{Connection, ConnectionProperties};
use serde_json::{Value, json};
use tickertalk_wire::topology::STOCK_KEY;
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_reaches_the_askers_room_only_and_the_command_is_not_stored() {
    let app = TestApp::spawn(&[]).await;
    let quotes = FakeQuotes::start(|hit: Hit| async move {
        match hit.symbol.as_str() {
            "aapl.us" => Answer::quote("AAPL.US", "93.42"),
            other => Answer::no_data(other),
        }
    })
    .await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &[]);
    // The server answers "bot offline" when no bot consumes yet: wait for it.
    wait_consumers(&app.env.prefix, 1).await;

    let [alice, bob, carol] = app.tokens(["alice", "bob", "carol"]).await;
    let room_a = app.create_room(&alice, "Lobby").await;
    let room_b = app.create_room(&bob, "Elsewhere").await;
    let mut wa = app.ws(&alice).await;
    wa.join(room_a, None).await;
    let mut wc = app.ws(&carol).await;
    wc.join(room_a, None).await;
    let mut wb = app.ws(&bob).await;
    wb.join(room_b, None).await;

    wa.send(json!({"type": 1, "chatroomId": room_a, "chatmessage": "hello"}))
        .await;
    assert_eq!(wa.messages(room_a, 1).await[0]["chatmessage"], "hello");

    let accepted = command(&mut wa, room_a, "/stock=aapl.us", "c-1").await;
    assert_eq!(accepted["command"], "stock", "{accepted}");
    assert!(
        accepted["request_id"].as_str().is_some_and(|r| r.len() == 36),
        "{accepted}"
    );
    assert_eq!(
        bot_reply(&mut wa, room_a).await,
        "AAPL.US quote is $93.42 per share"
    );
    assert_eq!(
        bot_reply(&mut wc, room_a).await,
        "AAPL.US quote is $93.42 per share",
        "every member of the room gets it"
    );

    let elsewhere = wb.drain(Duration::from_secs(1)).await;
    assert!(
        elsewhere.iter().all(|v| v["type"] != 1),
        "room B saw room A's traffic: {elsewhere:?}"
    );

    // The service was asked once, with the lower-case code in stooq's query shape.
    let hits = quotes.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(
        hits[0].query.starts_with("s=aapl.us&f=sd2t2ohlcv&h&e=csv"),
        "{hits:?}"
    );

    // The command is not stored; the answer is, after the ordinary message, naming the asker.
    let stored = stored_bodies(&app, &alice, room_a).await;
    let bodies: Vec<&str> = stored
        .iter()
        .map(|m| m["chatmessage"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["hello", "AAPL.US quote is $93.42 per share"],
        "{stored:?}"
    );
    let answer = &stored[1];
    assert_eq!(
        (
            &answer["chatuser"],
            &answer["bot"],
            &answer["asked_by"],
            &answer["command"],
            &answer["outcome"]
        ),
        (
            &json!("stockbot"),
            &json!(true),
            &json!("alice"),
            &json!("/stock=aapl.us"),
            &json!("quote")
        ),
        "{answer}"
    );
    let mut quote = answer["quote"].clone();
    let history = quote.as_object_mut().unwrap().remove("history").expect("history");
    assert_eq!(
        quote,
        json!({"symbol": "AAPL.US", "date": "2024-05-03", "time": "22:00:09", "open": "92.11",
               "high": "94.10", "low": "91.50", "close": "93.42", "volume": "163224109",
               "time_zone": "Europe/Warsaw", "at": "2024-05-03T22:00:09+02:00",
               "previous_close": "91.80"})
    );
    // The month before the quote's day (weekdays from 2024-04-02), then the quote's own close.
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 24, "{history:?}");
    assert_eq!(history[0], json!({"date": "2024-04-02", "close": "89.60"}));
    assert_eq!(history[22], json!({"date": "2024-05-02", "close": "91.80"}));
    assert_eq!(history[23], json!({"date": "2024-05-03", "close": "93.42"}));
    assert_eq!(quotes.history_hits_for("aapl.us"), 1);
    assert!(stored_bodies(&app, &bob, room_b).await.is_empty());

    bot.stop().await;
    // Clients leave before the server stops.
    drop((wa, wb, wc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_symbol_in_any_case_is_answered_from_the_cache() {
    let app = TestApp::spawn(&[]).await;
    let quotes = FakeQuotes::start(|hit: Hit| async move { Answer::quote(&hit.symbol, "93.42") }).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &["--quote-cache-secs=60"]);
    // The server answers "bot offline" when no bot consumes yet: wait for it.
    wait_consumers(&app.env.prefix, 1).await;
    let (_, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    command(&mut ws, room, "/stock=aapl.us", "c-1").await;
    assert_eq!(
        bot_reply(&mut ws, room).await,
        "AAPL.US quote is $93.42 per share"
    );
    command(&mut ws, room, "/STOCK=AAPL.US", "c-2").await;
    assert_eq!(
        bot_reply(&mut ws, room).await,
        "AAPL.US quote is $93.42 per share"
    );
    assert_eq!(
        quotes.hits_for("aapl.us"),
        1,
        "second answer comes from the cache: {:?}",
        quotes.hits()
    );

    bot.stop().await;
    // Clients leave before the server stops.
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_quote_service_failure_gets_a_reply() {
    let app = TestApp::spawn(&[]).await;
    let flaky_calls = Arc::new(Mutex::new(0u32));
    let quotes = FakeQuotes::start(move |hit: Hit| {
        let flaky_calls = flaky_calls.clone();
        async move {
            match hit.symbol.as_str() {
                "zzzz.us" => Answer::no_data("zzzz.us"),
                "boom.us" => Answer::status(500, "<html><body>Internal Server Error</body></html>"),
                "slow.us" => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    Answer::quote("SLOW.US", "1.00")
                }
                "html.us" => Answer::status(200, HTML_PAGE),
                "limit.us" => Answer {
                    status: 200,
                    content_type: "text/plain",
                    body: "Exceeded the daily hits limit".into(),
                },
                "empty.us" => Answer::ok_csv(String::new()),
                // One 503 (transient), then the quote: the retry hides the hiccup.
                "flaky.us" => {
                    let n = {
                        let mut c = flaky_calls.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    if n == 1 {
                        Answer::status(503, "busy")
                    } else {
                        Answer::quote("FLAKY.US", "12.5")
                    }
                }
                other => Answer::status(404, &format!("no rule for {other}")),
            }
        }
    })
    .await;
    let bot = Bot::start(
        &app.env.prefix,
        &quotes.url("a"),
        &["--quote-cache-secs=0", "--quote-timeout-ms=300"],
    );
    // The server answers "bot offline" when no bot consumes yet: wait for it.
    wait_consumers(&app.env.prefix, 1).await;
    let (_, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    let cases = [
        ("zzzz.us", "ZZZZ.US quote is not available".to_string()),
        ("boom.us", failure("BOOM.US", "HTTP 500")),
        ("html.us", failure("HTML.US", "unexpected response")),
        ("limit.us", failure("LIMIT.US", "unexpected response")),
        ("empty.us", failure("EMPTY.US", "unexpected response")),
        ("flaky.us", "FLAKY.US quote is $12.5 per share".to_string()),
    ];
    for (i, (symbol, expected)) in cases.iter().enumerate() {
        command(&mut ws, room, &format!("/stock={symbol}"), &format!("c-{i}")).await;
        assert_eq!(&bot_reply(&mut ws, room).await, expected, "/stock={symbol}");
    }
    assert_eq!(quotes.hits_for("boom.us"), 1, "a 500 is not retried");
    assert_eq!(quotes.hits_for("flaky.us"), 2, "a 503 is retried once");

    // Past the timeout: the bot gives up at 300 ms and says so, long before the service answers.
    let asked = Instant::now();
    command(&mut ws, room, "/stock=slow.us", "c-slow").await;
    assert_eq!(bot_reply(&mut ws, room).await, failure("SLOW.US", "timed out"));
    let took = asked.elapsed();
    assert!(
        took < Duration::from_millis(1800),
        "timed-out reply took {took:?}"
    );
    assert_eq!(quotes.hits_for("slow.us"), 1, "a timeout is not retried");

    // One reply per command, no stragglers.
    let extra = ws.drain(Duration::from_millis(700)).await;
    assert!(extra.iter().all(|v| !is_bot_reply(v, room)), "{extra:?}");

    bot.stop().await;
    // Clients leave before the server stops.
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_quote_service_gets_a_failure_reply() {
    let app = TestApp::spawn(&[]).await;
    // A port nobody listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let bot = Bot::start(
        &app.env.prefix,
        &format!("http://{closed}/q/l/?s={{symbol}}&f=sd2t2ohlcv&h&e=csv"),
        &["--quote-cache-secs=0", "--quote-retries=1"],
    );
    // The server answers "bot offline" when no bot consumes yet: wait for it.
    wait_consumers(&app.env.prefix, 1).await;
    let (_, room, mut ws) = app.user_in_room("alice", "Lobby").await;
    command(&mut ws, room, "/stock=aapl.us", "c-1").await;
    assert_eq!(bot_reply(&mut ws, room).await, failure("AAPL.US", "unreachable"));

    bot.stop().await;
    // Clients leave before the server stops.
    drop(ws);
}

/// A malformed command is answered with usage, to the typist alone: their sockets in the room
/// on every instance get it, nobody else does, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_codes_and_unknown_commands_get_usage_for_the_typist_only() {
    let app = TestApp::spawn(&[]).await;
    let peer = app.spawn_peer(&[]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;
    // Alice's second socket, on another instance, in the same room; Bob in the room too.
    let mut other_tab = peer.ws(&alice).await;
    other_tab.join(room, None).await;
    let bob = app.token("bob").await;
    let mut bobs = app.ws(&bob).await;
    bobs.join(room, None).await;
    let typos = [
        "/stock=",
        "/stock=aa;pl",
        "/stock=<script>",
        "/weather=rome",
        "/stock=a,b,c,d,e,f",
    ];
    for (i, text) in typos.iter().enumerate() {
        let accepted = command(&mut ws, room, text, &format!("c-{i}")).await;
        assert_eq!(accepted["command"], "help", "{text}: {accepted}");
        let reply = bot_reply(&mut ws, room).await;
        assert!(reply.contains("Usage: /stock=CODE"), "{text}: {reply}");
        let there = bot_reply(&mut other_tab, room).await;
        assert_eq!(there, reply, "the typist's other socket hears it too");
    }
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "visible", "client_id": "v"}))
        .await;
    let between = seen_before(&mut bobs, "visible").await;
    assert!(
        between.is_empty(),
        "Bob saw neither the typos nor the usage: {between:?}"
    );
    assert_eq!(
        stored_texts(&app, &alice, room).await,
        ["visible"],
        "commands and usage replies are never stored"
    );
    // Clients leave before the servers stop.
    drop((ws, other_tab, bobs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_answer_fifty_commands_exactly_once_each() {
    const N: usize = 50;
    let app = TestApp::spawn(&["--rate-limit-messages=1000", "--quotes-per-minute=1000"]).await;
    // The close price encodes the symbol, so a reply can't be matched to the wrong command.
    let quotes = FakeQuotes::start(|hit: Hit| async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let n: u32 = hit
            .symbol
            .trim_start_matches('s')
            .trim_end_matches(".us")
            .parse()
            .unwrap_or(0);
        Answer::quote(&hit.symbol, &format!("{n}.{n:02}"))
    })
    .await;
    let bot_a = Bot::start(
        &app.env.prefix,
        &quotes.url("a"),
        &["--prefetch=4", "--quote-cache-secs=0"],
    );
    let bot_b = Bot::start(
        &app.env.prefix,
        &quotes.url("b"),
        &["--prefetch=4", "--quote-cache-secs=0"],
    );
    wait_consumers(&app.env.prefix, 2).await;

    let (alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    let posts = (1..=N).map(|i| {
        let (app, alice) = (&app, &alice);
        async move {
            let (status, body) = app
                .post(
                    &format!("/v1/chat/rooms/{room}/messages"),
                    Some(alice),
                    json!({"chatmessage": format!("/stock=s{i}.us")}),
                )
                .await;
            assert_eq!(
                (status, &body["command"]),
                (202, &json!("stock")),
                "/stock=s{i}.us: {body}"
            );
        }
    });
    futures_util::future::join_all(posts).await;

    let mut replies: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = 0;
    while got < N {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = ws
            .next_within(left)
            .await
            .unwrap_or_else(|| panic!("only {got} of {N} replies: {replies:?}"));
        if is_bot_reply(&v, room) {
            *replies
                .entry(v["chatmessage"].as_str().unwrap().to_string())
                .or_default() += 1;
            got += 1;
        }
    }
    // Settle: anything answered twice would show up now.
    for v in ws.drain(Duration::from_millis(1500)).await {
        if is_bot_reply(&v, room) {
            *replies
                .entry(v["chatmessage"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let expected: HashMap<String, usize> = (1..=N)
        .map(|i| (format!("S{i}.US quote is ${i}.{i:02} per share"), 1))
        .collect();
    assert_eq!(
        replies, expected,
        "each command answered exactly once, with its own price"
    );

    let by_bot = |tag: &str| {
        quotes
            .hits()
            .iter()
            .filter(|h| h.query.ends_with(&format!("bot={tag}")))
            .count()
    };
    let (a, b) = (by_bot("a"), by_bot("b"));
    assert!(a > 0 && b > 0, "both bots share the work (a: {a}, b: {b})");
    assert_eq!(a + b, N, "one fetch per command");

    bot_a.stop().await;
    bot_b.stop().await;
    // Clients leave before the server stops.
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_in_flight_when_the_bot_is_killed_is_answered_by_the_next_bot() {
    let app = TestApp::spawn(&[]).await;
    // The first request hangs (the bot that made it gets killed meanwhile); later ones answer.
    let (first_tx, mut first_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let seen = Arc::new(Mutex::new(0u32));
    let quotes = FakeQuotes::start(move |hit: Hit| {
        let (first_tx, seen) = (first_tx.clone(), seen.clone());
        async move {
            let n = {
                let mut s = seen.lock().unwrap();
                *s += 1;
                *s
            };
            if n == 1 {
                let _ = first_tx.send(());
                std::future::pending::<()>().await;
            }
            Answer::quote(&hit.symbol, "93.42")
        }
    })
    .await;
    let (_, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    let mut first = BotProcess::spawn(&app.env.prefix, &quotes.url("first"), "bot-first");
    wait_consumers(&app.env.prefix, 1).await;
    command(&mut ws, room, "/stock=aapl.us", "c-1").await;
    tokio::time::timeout(Duration::from_secs(10), first_rx.recv())
        .await
        .unwrap_or_else(|_| panic!("the first bot never fetched; its log:\n{}", first.log()))
        .unwrap();

    // The command is in the bot's hands (fetched, not answered, not acked): kill it.
    let status = first.kill();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the first bot died of SIGKILL, not on its own: {status:?}"
        );
    }
    let early = ws.drain(Duration::from_millis(300)).await;
    assert!(
        early.iter().all(|v| !is_bot_reply(v, room)),
        "the killed bot answered: {early:?}"
    );

    let mut second = BotProcess::spawn(&app.env.prefix, &quotes.url("second"), "bot-second");
    let reply = bot_reply_within(&mut ws, room, Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("no reply after the restart; second bot's log:\n{}", second.log()));
    assert_eq!(reply, "AAPL.US quote is $93.42 per share");
    let hits = quotes.hits();
    assert_eq!(hits.len(), 2, "asked once by each bot: {hits:?}");
    assert!(hits[1].query.ends_with("bot=second"), "{hits:?}");
    let extra = ws.drain(Duration::from_secs(1)).await;
    assert!(
        extra.iter().all(|v| !is_bot_reply(v, room)),
        "answered more than once: {extra:?}"
    );

    // The survivor stops cleanly on SIGTERM.
    let status = second.terminate(Duration::from_secs(20)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "bot exit on SIGTERM: {status:?}\n{}",
        second.log()
    );

    // Clients leave before the server stops.
    drop(ws);
    // The logs are kept only when the test fails (the panic messages print them).
    let _ = std::fs::remove_file(&first.log);
    let _ = std::fs::remove_file(&second.log);
}

/// Publishes raw bytes to an exchange of the test's prefix, as the bot or an expired message
/// would arrive (`expiration` in ms for a per-message TTL).
/// Records `request_id` as a command of `username`'s waiting for its answer, as the server does
/// before it queues a command: only such an answer is stored.
async fn record_waiting(app: &TestApp, request_id: uuid::Uuid, room: i64, username: &str, command: &str) {
    sqlx::query(
        "INSERT INTO stock_requests (request_id, room_id, user_id, username, command) \
         SELECT $1, $2, id, username, $4 FROM users WHERE username = $3",
    )
    .bind(request_id)
    .bind(room)
    .bind(username)
    .bind(command)
    .execute(&app.db)
    .await
    .unwrap();
}

/// Anything that can publish on the answer queue could post into any room as `stockbot`: the
/// server stores only an answer to a request that waits, in its room, with a valid text, and
/// takes who asked from the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_answers_are_refused_and_a_real_one_names_the_real_asker() {
    let app = TestApp::spawn(&[]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Forged").await;
    let other = app.create_room(&alice, "Elsewhere").await;
    let asked = uuid::Uuid::new_v4();
    record_waiting(&app, asked, room, "alice", "/stock=aapl.us").await;
    let answer = |request_id: uuid::Uuid, room_id: i64, text: &str| {
        json!({
            "request_id": request_id, "room_id": room_id, "text": text,
            "meta": {"asked_by": "mallory", "command": "/stock=evil", "outcome": "quote"},
            "answered_at": "2026-11-22T10:00:00Z"
        })
        .to_string()
    };
    let key = tickertalk_wire::topology::ANSWER_KEY;
    let commands = format!("{}.commands", app.env.prefix);
    for forged in [
        // Nobody asked.
        answer(
            uuid::Uuid::new_v4(),
            room,
            "RESET YOUR PASSWORD AT HTTP://EVIL.EXAMPLE",
        ),
        // Asked, but in another room.
        answer(asked, other, "AAPL.US quote is $1.00 per share"),
        // Asked, but not a message anyone could post.
        answer(asked, room, &"A".repeat(100_000)),
    ] {
        publish_raw(&commands, key, forged.as_bytes(), None).await;
    }
    publish_raw(
        &commands,
        key,
        answer(asked, room, "AAPL.US quote is $93.42 per share").as_bytes(),
        None,
    )
    .await;
    let frame = bot_frame(&mut ws, room).await;
    assert_eq!(
        frame["chatmessage"], "AAPL.US quote is $93.42 per share",
        "{frame}"
    );
    assert_eq!(
        (&frame["asked_by"], &frame["command"]),
        (&json!("alice"), &json!("/stock=aapl.us")),
        "from the request, not the answer"
    );
    // Answered: the same request cannot be answered again.
    publish_raw(
        &commands,
        key,
        answer(asked, room, "AAPL.US quote is $0.01 per share").as_bytes(),
        None,
    )
    .await;
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "after", "client_id": "a1"}))
        .await;
    let between = seen_before(&mut ws, "after").await;
    assert!(between.is_empty(), "nothing forged came between: {between:?}");
    assert_eq!(
        stored_texts(&app, &alice, room).await,
        ["AAPL.US quote is $93.42 per share", "after"]
    );
    assert!(stored_bodies(&app, &alice, other).await.is_empty());
}

async fn publish_raw(exchange: &str, key: &str, payload: &[u8], expiration: Option<&str>) {
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .expect("amqp");
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut props = lapin::BasicProperties::default().with_delivery_mode(2);
    if let Some(ms) = expiration {
        props = props.with_expiration(ms.into());
    }
    ch.basic_publish(
        sname(exchange),
        sname(key),
        lapin::options::BasicPublishOptions::default(),
        payload,
        props,
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(200, sname("bye")).await;
}

/// A command nobody answered within its lifetime is dead-lettered, and the server answers the
/// room instead of leaving the asker in silence; the bot's answer arriving after that (twice)
/// is not shown as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_command_is_answered_once_even_if_the_bot_answers_late() {
    let app = TestApp::spawn(&[]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Dead letters").await;
    let prefix = &app.env.prefix;
    // No bot consumes: the command expires after 200 ms and RabbitMQ dead-letters it.
    let request_id = uuid::Uuid::new_v4();
    let cmd = json!({
        "request_id": request_id, "room_id": room, "user_id": 1, "username": "alice",
        "symbol": "aapl.us", "requested_at": "2026-11-22T10:00:00Z"
    });
    // Recorded as waiting, as the server records the commands it queues itself.
    record_waiting(&app, request_id, room, "alice", "/stock=aapl.us").await;
    publish_raw(
        &format!("{prefix}.commands"),
        STOCK_KEY,
        cmd.to_string().as_bytes(),
        Some("200"),
    )
    .await;
    let text = bot_reply_within(&mut ws, room, Duration::from_secs(15))
        .await
        .expect("the dead-lettered command is answered");
    assert_eq!(
        text,
        "AAPL.US quote is unavailable right now (the quote bot did not answer in time); please try again shortly."
    );
    // Stored, naming the asker, like any answer.
    let stored = stored_bodies(&app, &alice, room).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (&stored[0]["asked_by"], &stored[0]["outcome"]),
        (&json!("alice"), &json!("unanswered"))
    );
    // The bot's own answer to the same request, arriving late (twice, as a retried publish):
    // the request is answered already, so neither is stored or shown.
    let late = json!({
        "request_id": request_id, "room_id": room, "text": "AAPL.US quote is $1.00 per share",
        "meta": {"asked_by": "alice", "command": "/stock=aapl.us", "outcome": "quote"},
        "answered_at": "2026-11-22T10:00:01Z"
    });
    for _ in 0..2 {
        publish_raw(
            &format!("{prefix}.commands"),
            tickertalk_wire::topology::ANSWER_KEY,
            late.to_string().as_bytes(),
            None,
        )
        .await;
    }
    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "after", "client_id": "a1"}))
        .await;
    let shown = seen_before(&mut ws, "after").await;
    assert!(
        shown.is_empty(),
        "nothing came before the next message: {shown:?}"
    );
    assert_eq!(
        stored_texts(&app, &alice, room).await,
        [text.as_str(), "after"],
        "the late answer was not stored"
    );
}

/// A stock answer is a stored message. It reaches both instances with an id, the asker's name,
/// the command and the quote's fields; it is in history and in `since` replay; an answer
/// delivered twice (the bot's retried publish) is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_answer_reaches_both_instances_and_history_and_replay_once() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let quotes = FakeQuotes::start(|hit: Hit| async move { Answer::quote(&hit.symbol, "93.42") }).await;
    let bot = Bot::start(&a.env.prefix, &quotes.url("a"), &[]);
    wait_consumers(&a.env.prefix, 1).await;
    let [alice, bob] = a.tokens(["alice", "bob"]).await;
    let room = a.create_room(&alice, "Quotes").await;
    let mut wa = a.ws(&alice).await;
    wa.join(room, None).await;
    let mut wb = b.ws(&bob).await;
    wb.join(room, None).await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "before", "client_id": "m0"}))
        .await;
    let before = wa.messages(room, 1).await.remove(0);

    let accepted = command(&mut wa, room, "/stock=AAPL.US", "q-1").await;
    let (fa, fb) = (bot_frame(&mut wa, room).await, bot_frame(&mut wb, room).await);
    assert_eq!(fa["id"], fb["id"], "one stored message: {fa} {fb}");
    assert_eq!(
        (&fb["asked_by"], &fb["command"], &fb["quote"]["close"]),
        (&json!("alice"), &json!("/stock=AAPL.US"), &json!("93.42"))
    );
    assert!(
        fb.get("client_id").is_none(),
        "the request id is not shown as a client_id: {fb}"
    );

    // The bot's answer published a second time (a retry after a lost confirm): stored once.
    let again = json!({
        "request_id": accepted["request_id"], "room_id": room,
        "text": "AAPL.US quote is $93.42 per share",
        "meta": {"asked_by": "alice", "command": "/stock=AAPL.US", "outcome": "quote"},
        "answered_at": "2026-11-22T10:00:00Z"
    });
    publish_raw(
        &format!("{}.commands", a.env.prefix),
        tickertalk_wire::topology::ANSWER_KEY,
        again.to_string().as_bytes(),
        None,
    )
    .await;
    wa.send(json!({"type": 1, "chatroomId": room, "chatmessage": "after", "client_id": "m1"}))
        .await;
    let after = wb.next_where(|v| v["type"] == 1).await;
    assert_eq!(after["chatmessage"], "after", "nothing came between: {after}");

    for (app, token) in [(&a, &alice), (&b, &bob)] {
        assert_eq!(
            stored_texts(app, token, room).await,
            ["before", "AAPL.US quote is $93.42 per share", "after"]
        );
    }
    let mut wc = b.ws(&bob).await;
    let replay = wc.join(room, before["id"].as_i64()).await;
    assert_eq!(replay.len(), 2, "{replay:?}");
    assert_eq!(replay[0]["id"], fa["id"]);
    assert_eq!(replay[0]["asked_by"], "alice");
    bot.stop().await;
    drop((wa, wb, wc));
}

/// Answers wait in their durable queue while no server runs, and the next server instance to
/// start stores them; an answer delivered twice is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_made_while_no_server_runs_are_stored_by_the_next_one() {
    let a = TestApp::spawn(&[]).await;
    let env = a.env.clone();
    let (alice, room, ws) = a.user_in_room("alice", "Later").await;
    drop(ws);
    let alice_id = a.get("/v1/auth/me", Some(&alice)).await.1["id"].clone();
    let quotes = FakeQuotes::start(|hit: Hit| async move { Answer::quote(&hit.symbol, "12.50") }).await;
    let bot = Bot::start(&env.prefix, &quotes.url("a"), &["--quote-cache-secs=0"]);
    wait_consumers(&env.prefix, 1).await;
    let request_id = uuid::Uuid::new_v4();
    record_waiting(&a, request_id, room, "alice", "/stock=msft.us").await;
    a.stop().await;

    let cmd = json!({
        "request_id": request_id, "room_id": room, "user_id": alice_id, "username": "alice",
        "symbol": "msft.us", "requested_at": "2026-11-22T10:00:00Z", "command": "/stock=msft.us"
    });
    for _ in 0..2 {
        // The same command twice (a redelivery): two answers, one request id.
        publish_raw(
            &format!("{}.commands", env.prefix),
            STOCK_KEY,
            cmd.to_string().as_bytes(),
            None,
        )
        .await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while quotes.hits().len() < 2 {
        assert!(Instant::now() < deadline, "the bot did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bot.stop().await;

    let b = TestApp::spawn_in(env, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored = loop {
        let stored = stored_bodies(&b, &alice, room).await;
        if !stored.is_empty() {
            break stored;
        }
        assert!(Instant::now() < deadline, "the queued answer was never stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored_again = stored_bodies(&b, &alice, room).await;
    assert_eq!(stored_again.len(), 1, "stored once: {stored_again:?}");
    assert_eq!(
        (
            &stored[0]["chatmessage"],
            &stored[0]["asked_by"],
            &stored[0]["command"]
        ),
        (
            &json!("MSFT.US quote is $12.50 per share"),
            &json!("alice"),
            &json!("/stock=msft.us")
        )
    );
}

/// `tickertalk-bot healthcheck` (the container health check): not ready while no bot
/// consumes the prefix's command queue, ready once one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_healthcheck_says_whether_a_bot_consumes_the_command_queue() {
    let app = TestApp::spawn(&[]).await; // declares the topology
    let check = |prefix: String| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        Command::new(common::bot_binary())
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AMQP_URL", amqp_url())
            .env("BROKER_PREFIX", prefix)
            .arg("healthcheck")
            .output()
            .expect("bot binary runs")
    };
    let out = check(app.env.prefix.clone());
    assert_eq!(out.status.code(), Some(1), "no bot yet");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no bot is consuming"), "{err}");

    let quotes = FakeQuotes::start(|hit: Hit| async move { Answer::quote(&hit.symbol, "1.00") }).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &[]);
    wait_consumers(&app.env.prefix, 1).await;
    let out = check(app.env.prefix.clone());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ready");
    bot.stop().await;
}

/// The HTTP request's id (`X-Request-Id`) travels with the `/stock=` command, so that one request
/// can be followed through server and bot: the bot logs its work under it and hands it back on
/// the answer. The bot's own `/metrics` counts the command, the answer's outcome, the cache miss
/// and the fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_reaches_the_bot_and_comes_back_on_its_answer() {
    let app = TestApp::spawn(&[]).await;
    let env = app.env.clone();
    let (alice, room, mut ws) = app.user_in_room("alice", "Traced").await;
    let quotes = FakeQuotes::start(|hit: Hit| async move { Answer::quote(&hit.symbol, "93.42") }).await;
    let metrics_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let bot = BotProcess::spawn_with(
        &env.prefix,
        &quotes.url("traced"),
        "bot-traced",
        &[("METRICS_ADDR", &metrics_addr)],
    );
    wait_consumers(&env.prefix, 1).await;

    let resp = app
        .http
        .post(app.url(&format!("/v1/chat/rooms/{room}/messages")))
        .bearer_auth(&alice)
        .header("x-request-id", "qa-trace-1")
        .json(&json!({"chatmessage": "/stock=aapl.us"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(
        resp.headers()["x-request-id"],
        "qa-trace-1",
        "the id comes back on the response"
    );
    assert_eq!(
        bot_reply(&mut ws, room).await,
        "AAPL.US quote is $93.42 per share"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let replied = loop {
        let log = bot.log();
        if let Some(line) = log.lines().find(|l| l.contains("replied")) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the bot never logged its reply:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        replied.contains("request_id=qa-trace-1"),
        "the bot's reply is logged under the id: {replied}"
    );

    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "tickertalk_bot_commands_total 1",
        "tickertalk_bot_answers_total{outcome=\"quote\"} 1",
        "tickertalk_bot_quote_cache_total{result=\"miss\"} 1",
        "tickertalk_bot_quote_fetch_seconds_count 1",
        "tickertalk_bot_consuming 1",
        "tickertalk_bot_broker_connected 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from the bot's /metrics:\n{text}"
        );
    }

    // The way back: with no server to take it, the answer waits in the answer queue, and it
    // carries the command's id.
    app.stop().await;
    let cmd = json!({
        "request_id": uuid::Uuid::new_v4(), "room_id": room, "user_id": 1, "username": "alice",
        "symbol": "msft.us", "requested_at": "2026-11-22T10:00:00Z", "command": "/stock=msft.us",
        "trace_id": "qa-trace-2"
    });
    publish_raw(
        &format!("{}.commands", env.prefix),
        STOCK_KEY,
        cmd.to_string().as_bytes(),
        None,
    )
    .await;
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("{}.stock.answers", env.prefix);
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer: Value = loop {
        if let Some(m) = ch
            .basic_get(sname(&queue), lapin::options::BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            break serde_json::from_slice(&m.delivery.data).unwrap();
        }
        assert!(Instant::now() < deadline, "no answer reached {queue}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer["trace_id"], "qa-trace-2", "{answer}");
    assert_eq!(answer["meta"]["outcome"], "quote", "{answer}");
    let _ = conn.close(200, sname("bye")).await;
}
