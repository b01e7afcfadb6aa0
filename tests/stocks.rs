//! Stocks beyond a price (issue 27, docs/stocks.md), end to end: real servers, real PostgreSQL
//! and RabbitMQ, the bot in-process, the fake quote service (tests/fake_quotes) with history.
//! Every command form, cashtags, suggestions, history and its failures, watchlists refreshed
//! once per period whatever the number of servers and bots, alerts that fire exactly once and
//! survive restarts. Scheduled refreshes are driven by hand (`force_refresh`): the period is
//! an hour, and a test moves the schedule to "due" and ticks.

mod common;
mod fake_quotes;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestApp, Ws};
use fake_quotes::*;
use serde_json::{Value, json};
use tickertalk_wire::{PriceReport, QuoteFields};

/// Scheduled refreshes only when a test asks (`force_refresh`).
const HOURLY: &str = "--watch-refresh-secs=3600";

/// A fake whose AAPL.US price the test sets; TSLA.US and MSFT.US fixed, anything else `N/D`.
async fn market(aapl: Arc<Mutex<String>>) -> FakeQuotes {
    FakeQuotes::start(move |hit: Hit| {
        let aapl = aapl.lock().unwrap().clone();
        async move {
            match hit.symbol.as_str() {
                "aapl.us" => Answer::quote("AAPL.US", &aapl),
                "tsla.us" => Answer::quote("TSLA.US", "171.05"),
                "msft.us" => Answer::quote("MSFT.US", "406.66"),
                other => Answer::no_data(other),
            }
        }
    })
    .await
}

fn price(p: &str) -> Arc<Mutex<String>> {
    Arc::new(Mutex::new(p.to_string()))
}

/// Makes the scheduled refresh due now and ticks this server (another server's own tick may
/// win it instead: either way, one refresh).
async fn force_refresh(app: &TestApp) {
    sqlx::query("UPDATE stock_schedule SET due_at = now()")
        .execute(&app.db)
        .await
        .unwrap();
    app.chat.tick_prices().await.unwrap();
}

/// The next ticker frame for `room` in which `symbol` has the price `close`.
async fn ticker_priced(ws: &mut Ws, room: i64, symbol: &str, close: &str) -> Value {
    ws.next_where(|v| {
        v["type"] == 15
            && v["chatroomId"] == room
            && v["symbols"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|i| i["symbol"] == symbol && i["quote"]["close"] == close)
            })
    })
    .await
}

/// Waits until `symbol`'s price was stored by a refresh later than `after`; when that was.
async fn refreshed_after(
    app: &TestApp,
    symbol: &str,
    after: Option<chrono::DateTime<chrono::Utc>>,
) -> chrono::DateTime<chrono::Utc> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let at: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT refreshed_at FROM stock_prices WHERE symbol = $1")
                .bind(symbol)
                .fetch_optional(&app.db)
                .await
                .unwrap();
        if let Some(at) = at.filter(|at| after.is_none_or(|after| *at > after)) {
            return at;
        }
        assert!(std::time::Instant::now() < deadline, "{symbol} not refreshed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Two servers and two bots on one database and broker prefix, AAPL.US at 93.42 until the
/// test moves it, no quote cache (every refresh fetches).
struct Pair {
    app: TestApp,
    peer: TestApp,
    aapl: Arc<Mutex<String>>,
    quotes: FakeQuotes,
    bots: [Bot; 2],
}

impl Pair {
    async fn start() -> Pair {
        let app = TestApp::spawn(&[HOURLY]).await;
        let peer = app.spawn_peer(&[HOURLY]).await;
        let aapl = price("93.42");
        let quotes = market(aapl.clone()).await;
        let bots = [
            Bot::start(&app.env.prefix, &quotes.url("a"), &["--quote-cache-secs=0"]),
            Bot::start(&app.env.prefix, &quotes.url("b"), &["--quote-cache-secs=0"]),
        ];
        wait_consumers(&app.env.prefix, 2).await;
        Pair {
            app,
            peer,
            aapl,
            quotes,
            bots,
        }
    }
}

/// The stored messages of `room` that are fired alerts.
async fn alert_messages(app: &TestApp, token: &str, room: i64) -> Vec<Value> {
    stored_bodies(app, token, room)
        .await
        .into_iter()
        .filter(|m| m["outcome"] == "alert")
        .collect()
}

/// The typist-only reply (unstored bot frame) to a command.
async fn usage_reply(ws: &mut Ws, room: i64, text: &str, client_id: &str) -> String {
    command(ws, room, text, client_id).await;
    let v = ws
        .next_where(|v| is_bot_reply(v, room) && v.get("id").is_none())
        .await;
    v["chatmessage"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_form_asks_for_the_same_quote_and_several_symbols_get_one_answer_each() {
    let app = TestApp::spawn(&[HOURLY]).await;
    let quotes = market(price("93.42")).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &["--quote-cache-secs=0"]);
    wait_consumers(&app.env.prefix, 1).await;
    let (_alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    for (i, form) in ["/stock aapl.us", "/stock=AAPL", "/stock aapl", "/Stock= aapl"]
        .iter()
        .enumerate()
    {
        let accepted = command(&mut ws, room, form, &format!("f-{i}")).await;
        assert_eq!(accepted["command"], "stock", "{form}: {accepted}");
        let answer = bot_frame(&mut ws, room).await;
        assert_eq!(
            answer["chatmessage"], "AAPL.US quote is $93.42 per share",
            "{form}"
        );
        assert_eq!(answer["command"], *form, "the command as typed");
    }
    assert_eq!(quotes.hits_for("aapl.us"), 4, "every form asked for aapl.us");

    command(&mut ws, room, "/stock=msft.us,tsla.us", "multi").await;
    let mut texts = vec![bot_reply(&mut ws, room).await, bot_reply(&mut ws, room).await];
    texts.sort();
    assert_eq!(
        texts,
        [
            "MSFT.US quote is $406.66 per share",
            "TSLA.US quote is $171.05 per share"
        ]
    );
    // Six symbols is too many: usage, nothing asked.
    let before = quotes.hits().len();
    let reply = usage_reply(&mut ws, room, "/stock=a,b,c,d,e,f", "six").await;
    assert!(reply.contains("At most 5 symbols"), "{reply}");
    assert_eq!(quotes.hits().len(), before);

    bot.stop().await;
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashtags_are_quoted_after_the_message_once_per_room_and_within_the_budget() {
    let app = TestApp::spawn(&[HOURLY, "--quotes-per-minute=4"]).await;
    let quotes = market(price("93.42")).await;
    // One command at a time, in queue order: an answer that comes proves every earlier
    // command was handled first.
    let bot = Bot::start(
        &app.env.prefix,
        &quotes.url("a"),
        &["--quote-cache-secs=0", "--prefetch=1"],
    );
    wait_consumers(&app.env.prefix, 1).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    ws.send(json!({"type": 1, "chatroomId": room, "chatmessage": "$TSLA and $aapl, not $100 or US$5; $TSLA!", "client_id": "m1"}))
        .await;
    let first = ws.next_where(|v| v["type"] == 1).await;
    assert_eq!(first["chatuser"], "alice", "the message comes first: {first}");
    let a = bot_frame(&mut ws, room).await;
    let b = bot_frame(&mut ws, room).await;
    assert_eq!(
        (&a["chatmessage"], &a["command"], &b["chatmessage"], &b["command"]),
        (
            &json!("TSLA.US quote is $171.05 per share"),
            &json!("$TSLA"),
            &json!("AAPL.US quote is $93.42 per share"),
            &json!("$aapl")
        )
    );

    // $TSLA again in this room within five minutes: not asked again. MSFT is new.
    app.post_message(&alice, room, "$TSLA again, and $MSFT").await;
    let next = bot_frame(&mut ws, room).await;
    assert_eq!(next["chatmessage"], "MSFT.US quote is $406.66 per share");
    assert_eq!(quotes.hits_for("tsla.us"), 1, "TSLA was quoted once");

    // Three quotes of four spent: $NVDA takes the last, /stock has none left.
    app.post_message(&alice, room, "$NVDA").await;
    bot_frame(&mut ws, room).await;
    let (status, body) = app
        .post(
            &format!("/v1/chat/rooms/{room}/messages"),
            Some(&alice),
            json!({"chatmessage": "/stock=aapl"}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    // Over the budget a cashtag message is still stored, just not quoted.
    let stored = app.post_message(&alice, room, "$AMD is quiet").await;
    assert_eq!(stored["chatmessage"], "$AMD is quiet");
    assert_eq!(quotes.hits_for("amd.us"), 0);
    // Pinning needs no budget: the symbol waits for the next scheduled refresh.
    let pinned = usage_reply(&mut ws, room, "/watch=msft", "w").await;
    assert!(
        pinned.starts_with("MSFT.US is on this room's ticker (1 of 10)"),
        "{pinned}"
    );

    bot.stop().await;
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_gets_a_suggestion_and_help_lists_every_command_to_the_typist() {
    let app = TestApp::spawn(&[HOURLY]).await;
    let quotes = market(price("93.42")).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &[]);
    wait_consumers(&app.env.prefix, 1).await;
    let (_alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    command(&mut ws, room, "/stock=APPL", "typo").await;
    let answer = bot_frame(&mut ws, room).await;
    assert_eq!(
        answer["chatmessage"],
        "APPL.US quote is not available. Did you mean AAPL.US (Apple)? Try /stock=aapl.us"
    );
    assert_eq!(
        (&answer["outcome"], &answer["suggestion"]),
        (&json!("no_data"), &json!("AAPL.US"))
    );
    command(&mut ws, room, "/stock=zzzz", "none").await;
    let answer = bot_frame(&mut ws, room).await;
    assert_eq!(answer["chatmessage"], "ZZZZ.US quote is not available");
    assert!(answer.get("suggestion").is_none(), "{answer}");

    let help = usage_reply(&mut ws, room, "/help", "h").await;
    for c in [
        "/stock=",
        "$AAPL",
        "/watch=",
        "/unwatch=",
        "/alert=",
        "/alerts",
        "/unalert=",
    ] {
        assert!(help.contains(c), "{c}: {help}");
    }
    bot.stop().await;
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_cached_and_its_failures_still_give_the_price() {
    let app = TestApp::spawn(&[HOURLY]).await;
    let quotes = market(price("93.42")).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &["--quote-cache-secs=0"]);
    wait_consumers(&app.env.prefix, 1).await;
    let (_alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;

    command(&mut ws, room, "/stock=aapl", "1").await;
    let q = bot_frame(&mut ws, room).await["quote"].clone();
    assert_eq!(q["previous_close"], "91.80");
    assert_eq!(q["history"].as_array().unwrap().len(), 24);
    command(&mut ws, room, "/stock=aapl", "2").await;
    assert_eq!(bot_frame(&mut ws, room).await["quote"]["previous_close"], "91.80");
    assert_eq!(
        (quotes.hits_for("aapl.us"), quotes.history_hits_for("aapl.us")),
        (2, 1),
        "the quote is fetched each time here, the history once (cached)"
    );

    for (i, (symbol, mode)) in [
        ("tsla", HistoryMode::Status(500)),
        ("msft", HistoryMode::Garbage),
        ("tsla", HistoryMode::Slow(Duration::from_secs(30))),
    ]
    .into_iter()
    .enumerate()
    {
        // TSLA's history is not cached: its first ask failed.
        quotes.set_history(mode);
        command(&mut ws, room, &format!("/stock={symbol}"), &format!("h{i}")).await;
        let answer = bot_frame(&mut ws, room).await;
        assert_eq!(answer["outcome"], "quote", "{mode:?}: {answer}");
        let q = &answer["quote"];
        assert!(q["close"].is_string(), "{q}");
        assert!(
            q.get("history").is_none() && q.get("previous_close").is_none(),
            "{mode:?}: {q}"
        );
        assert_eq!(q["time_zone"], "Europe/Warsaw");
    }
    bot.stop().await;
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchlists_refresh_once_per_period_with_two_servers_and_two_bots() {
    let Pair {
        app,
        peer,
        aapl,
        quotes,
        bots,
    } = Pair::start().await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let rooms = [
        app.create_room(&alice, "One").await,
        app.create_room(&alice, "Two").await,
        app.create_room(&alice, "Three").await,
    ];
    let mut wa = app.ws(&alice).await;
    let mut wb = peer.ws(&bob).await;
    for room in rooms {
        wa.join(room, None).await;
        wb.join(room, None).await;
    }

    // Each /watch prices its symbol at once; both instances' sockets see the strip.
    for (i, room) in rooms.iter().enumerate() {
        assert!(
            usage_reply(&mut wa, *room, "/watch=aapl", &format!("w{i}"))
                .await
                .starts_with("AAPL.US is on this room's ticker (1 of 10)")
        );
        ticker_priced(&mut wb, *room, "AAPL.US", "93.42").await;
    }
    let again = usage_reply(&mut wa, rooms[0], "/watch=AAPL.US", "again").await;
    assert_eq!(again, "AAPL.US is already on this room's ticker.");
    usage_reply(&mut wa, rooms[0], "/watch=tsla", "w-t").await;
    let t = ticker_priced(&mut wb, rooms[0], "TSLA.US", "171.05").await;
    let shown: Vec<&Value> = t["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["symbol"])
        .collect();
    assert_eq!(
        shown,
        [&json!("AAPL.US"), &json!("TSLA.US")],
        "in the order pinned"
    );
    assert_eq!(t["symbols"][0]["quote"]["previous_close"], "91.80");
    assert!(
        t["symbols"][0]["quote"].get("history").is_none(),
        "the strip carries no history"
    );

    // One scheduled refresh, ticked on both servers at once: AAPL fetched once for three rooms.
    let before = (quotes.hits_for("aapl.us"), quotes.hits_for("tsla.us"));
    *aapl.lock().unwrap() = "95.00".into();
    sqlx::query("UPDATE stock_schedule SET due_at = now()")
        .execute(&app.db)
        .await
        .unwrap();
    let (a, b) = tokio::join!(app.chat.tick_prices(), peer.chat.tick_prices());
    assert!(
        u8::from(a.unwrap()) + u8::from(b.unwrap()) <= 1,
        "at most one server asked (none when a background tick came first)"
    );
    for room in rooms {
        ticker_priced(&mut wa, room, "AAPL.US", "95.00").await;
        ticker_priced(&mut wb, room, "AAPL.US", "95.00").await;
    }
    assert_eq!(
        (quotes.hits_for("aapl.us"), quotes.hits_for("tsla.us")),
        (before.0 + 1, before.1 + 1),
        "one fetch per symbol for every room watching it, with two bots"
    );
    // Not due again: a tick now asks nothing.
    assert!(!app.chat.tick_prices().await.unwrap());

    // The route shows the same; /unwatch takes it off everywhere.
    let (status, list) = app
        .get(&format!("/v1/chat/rooms/{}/watchlist", rooms[0]), Some(&bob))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["symbols"][0]["quote"]["close"], "95.00", "{list}");
    usage_reply(&mut wa, rooms[0], "/unwatch=tsla", "u").await;
    let t = wb
        .next_where(|v| {
            v["type"] == 15
                && v["chatroomId"] == rooms[0]
                && v["symbols"].as_array().is_some_and(|s| s.len() == 1)
        })
        .await;
    assert_eq!(t["symbols"][0]["symbol"], "AAPL.US", "{t}");
    let (status, _) = app.get("/v1/chat/rooms/999999/watchlist", Some(&bob)).await;
    assert_eq!(status, 404);

    for bot in bots {
        bot.stop().await;
    }
    drop((wa, wb));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_fires_once_when_a_refresh_crosses_it_and_is_listed_and_cancellable() {
    let Pair {
        app,
        peer,
        aapl,
        quotes: _quotes,
        bots,
    } = Pair::start().await;
    let (alice, room, mut wa) = app.user_in_room("alice", "Lobby").await;
    let bob = app.token("bob").await;
    let mut wb = peer.ws(&bob).await;
    wb.join(room, None).await;

    let set = usage_reply(&mut wa, room, "/alert=aapl>100", "a1").await;
    assert!(
        set.starts_with("Alert 1 set: #1 AAPL.US above 100 (alice)"),
        "{set}"
    );
    let cancel_me = usage_reply(&mut wa, room, "/alert=tsla<5", "a2").await;
    assert!(cancel_me.starts_with("Alert 2 set"), "{cancel_me}");
    let move_alert = usage_reply(&mut wa, room, "/alert=msft%50", "a3").await;
    assert!(move_alert.starts_with("Alert 3 set"), "{move_alert}");
    wb.next_where(|v| v["type"] == 15 && v["alerts"].as_array().is_some_and(|a| a.len() == 3))
        .await;
    // Setting asks for the price at once: 93.42 is not above 100.
    refreshed_after(&app, "aapl.us", None).await;

    // Bob may not cancel Alice's alert; she may.
    let mut bob_ws = app.ws(&bob).await;
    bob_ws.join(room, None).await;
    let no = usage_reply(&mut bob_ws, room, "/unalert=2", "b").await;
    assert!(no.starts_with("No active alert 2 of yours"), "{no}");
    assert_eq!(
        usage_reply(&mut wa, room, "/unalert=2", "c").await,
        "Alert 2 cancelled."
    );
    let listed = usage_reply(&mut wa, room, "/alerts", "l").await;
    assert!(
        listed.contains("#1 AAPL.US above 100 (alice)") && !listed.contains("#2"),
        "{listed}"
    );

    // The price crosses: one refresh fires it, on the one server that takes the report.
    *aapl.lock().unwrap() = "101.50".into();
    force_refresh(&app).await;
    let fired = wb.next_where(|v| v["type"] == 1 && v["outcome"] == "alert").await;
    assert_eq!(
        fired["chatmessage"],
        "Alert: AAPL.US is $101.50, above 100 (set by alice)."
    );
    assert_eq!(fired["alert"]["id"], 1, "{fired}");
    assert_eq!(fired["quote"]["close"], "101.50", "{fired}");
    // Refreshed again (AAPL is not tracked any more, MSFT's alert still is): no second
    // message, and the strip no longer lists the fired alert.
    let last = refreshed_after(&app, "msft.us", None).await;
    force_refresh(&peer).await;
    refreshed_after(&app, "msft.us", Some(last)).await;
    peer.chat.sweep_alerts().await.unwrap();
    let (_, t) = app
        .get(&format!("/v1/chat/rooms/{room}/watchlist"), Some(&bob))
        .await;
    let ids: Vec<&Value> = t["alerts"].as_array().unwrap().iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&json!(3)], "{t}");
    assert_eq!(alert_messages(&app, &alice, room).await.len(), 1);

    for bot in bots {
        bot.stop().await;
    }
    drop((wa, wb, bob_ws));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_prices_stored_by_two_servers_at_once_fire_an_alert_once_and_forgeries_fire_nothing() {
    let app = TestApp::spawn(&["--watch-refresh-secs=0"]).await;
    let peer = app.spawn_peer(&[HOURLY]).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;
    // No bot: the alert's price is asked and nobody answers; reports are made here.
    command(&mut ws, room, "/alert=aapl<90", "a").await;
    let refresh_id = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO stock_refreshes (refresh_id, symbols) VALUES ($1, ARRAY['aapl.us'])")
        .bind(refresh_id)
        .execute(&app.db)
        .await
        .unwrap();
    let quote = |close: &str| QuoteFields {
        symbol: "AAPL.US".into(),
        close: close.into(),
        ..Default::default()
    };
    // A report for a refresh nobody asked, and one for a symbol not asked: nothing fires.
    let forged = PriceReport {
        refresh_id: uuid::Uuid::new_v4(),
        prices: vec![quote("1")],
        answered_at: chrono::Utc::now(),
    };
    app.chat.store_prices(forged).await.unwrap();
    let other = PriceReport {
        refresh_id,
        prices: vec![QuoteFields {
            symbol: "TSLA.US".into(),
            ..quote("1")
        }],
        answered_at: chrono::Utc::now(),
    };
    app.chat.store_prices(other).await.unwrap();
    let garbage = PriceReport {
        refresh_id,
        prices: vec![quote("<b>1</b>")],
        answered_at: chrono::Utc::now(),
    };
    app.chat.store_prices(garbage).await.unwrap();
    assert!(alert_messages(&app, &alice, room).await.is_empty());

    // The real report, delivered to both servers at once (a redelivery, a second bot).
    let report = PriceReport {
        refresh_id,
        prices: vec![quote("89.10")],
        answered_at: chrono::Utc::now(),
    };
    let (a, b) = tokio::join!(
        app.chat.store_prices(report.clone()),
        peer.chat.store_prices(report)
    );
    a.unwrap();
    b.unwrap();
    let fired = alert_messages(&app, &alice, room).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(
        fired[0]["chatmessage"],
        "Alert: AAPL.US is $89.10, below 90 (set by alice)."
    );
    // AAPL is tracked by nothing now: its price goes once it is a day old, not before.
    let prune = || tickertalk::store::tickers::prune_prices(&app.db, 86_400.0);
    assert_eq!(prune().await.unwrap(), 0);
    sqlx::query("UPDATE stock_prices SET refreshed_at = now() - interval '2 days'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(prune().await.unwrap(), 1);
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_survive_a_restart_of_every_process() {
    let app = TestApp::spawn(&[HOURLY]).await;
    let aapl = price("93.42");
    let quotes = market(aapl.clone()).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("a"), &["--quote-cache-secs=0"]);
    wait_consumers(&app.env.prefix, 1).await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;
    usage_reply(&mut ws, room, "/alert=aapl>95", "a").await;
    usage_reply(&mut ws, room, "/watch=aapl", "w").await;
    ticker_priced(&mut ws, room, "AAPL.US", "93.42").await;
    drop(ws);

    // Everything stops: the bot, the server.
    bot.stop().await;
    let env = app.env.clone();
    app.stop().await;
    *aapl.lock().unwrap() = "96.25".into();

    let app = TestApp::spawn_in(env, &[HOURLY]).await;
    let bot = Bot::start(&app.env.prefix, &quotes.url("b"), &["--quote-cache-secs=0"]);
    wait_consumers(&app.env.prefix, 1).await;
    let mut ws = app.ws(&alice).await;
    ws.join(room, None).await;
    force_refresh(&app).await;
    let fired = ws.next_where(|v| v["type"] == 1 && v["outcome"] == "alert").await;
    assert_eq!(
        fired["chatmessage"],
        "Alert: AAPL.US is $96.25, above 95 (set by alice)."
    );
    assert_eq!(alert_messages(&app, &alice, room).await.len(), 1);
    bot.stop().await;
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fired_alert_left_unposted_by_a_crash_is_posted_once_by_the_sweep() {
    let app = TestApp::spawn(&[HOURLY]).await;
    let (alice, room, ws) = app.user_in_room("alice", "Lobby").await;
    drop(ws);
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'alice'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // As a server that died between firing and posting would leave it.
    sqlx::query(
        "INSERT INTO stock_alerts (room_id, user_id, symbol, op, threshold, fired_at, fired_price) \
         VALUES ($1, $2, 'aapl.us', '>', 100, now(), 101)",
    )
    .bind(room)
    .bind(user_id)
    .execute(&app.db)
    .await
    .unwrap();
    let peer = app.spawn_peer(&[HOURLY]).await;
    let (a, b) = tokio::join!(app.chat.sweep_alerts(), peer.chat.sweep_alerts());
    a.unwrap();
    b.unwrap();
    app.chat.sweep_alerts().await.unwrap();
    let fired = alert_messages(&app, &alice, room).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(
        fired[0]["chatmessage"],
        "Alert: AAPL.US is $101, above 100 (set by alice)."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_holds_ten_symbols_and_twenty_alerts_and_a_user_twenty_alerts() {
    // No bot and no budget: only the bounds on what one user can pile up are under test.
    let app = TestApp::spawn(&[
        "--watch-refresh-secs=0",
        "--quotes-per-minute=0",
        "--rate-limit-messages=1000",
    ])
    .await;
    let (alice, room, mut ws) = app.user_in_room("alice", "Lobby").await;
    let symbols = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for (i, s) in symbols.iter().enumerate() {
        let reply = usage_reply(&mut ws, room, &format!("/watch={s}"), &format!("w{i}")).await;
        assert!(reply.contains(&format!("({} of 10)", i + 1)), "{reply}");
    }
    let full = usage_reply(&mut ws, room, "/watch=k", "w-full").await;
    assert!(
        full.starts_with("This room's ticker is full (10 symbols)"),
        "{full}"
    );
    for i in 1..=20 {
        let reply = usage_reply(&mut ws, room, &format!("/alert=aapl>{i}"), &format!("a{i}")).await;
        assert!(reply.starts_with(&format!("Alert {i} set")), "{reply}");
    }
    let too_many = usage_reply(&mut ws, room, "/alert=aapl>21", "a21").await;
    assert!(too_many.starts_with("Too many alerts"), "{too_many}");
    // The per-user bound holds in another room too.
    let other = app.create_room(&alice, "Elsewhere").await;
    ws.join(other, None).await;
    let elsewhere = usage_reply(&mut ws, other, "/alert=aapl>22", "a22").await;
    assert!(elsewhere.starts_with("Too many alerts"), "{elsewhere}");
    let (_, list) = app
        .get(&format!("/v1/chat/rooms/{room}/watchlist"), Some(&alice))
        .await;
    assert_eq!(
        (
            list["symbols"].as_array().unwrap().len(),
            list["alerts"].as_array().unwrap().len()
        ),
        (10, 20)
    );
    drop(ws);
}
