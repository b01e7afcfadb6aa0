//! Login throttling and sign-up limits, against real servers on one database: budgets per
//! account and address, per address, per account (docs/security.md), counted before any
//! hashing and atomically, answered 429 with `Retry-After`.

mod common;

use common::TestApp;
use futures_util::future::join_all;
use serde_json::json;

/// A client whose connections come from the loopback address `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from.parse().unwrap()))
        .build()
        .unwrap()
}

/// POST /v1/auth/login as `username`: the status and `Retry-After`.
async fn login(app: &TestApp, http: &reqwest::Client, username: &str, password: &str) -> (u16, Option<u64>) {
    login_body(
        app,
        http,
        json!({"username": username, "password": password}),
        None,
    )
    .await
}

async fn login_body(
    app: &TestApp,
    http: &reqwest::Client,
    body: serde_json::Value,
    forwarded_for: Option<&str>,
) -> (u16, Option<u64>) {
    let mut req = http.post(app.url("/v1/auth/login")).json(&body);
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    let resp = req.send().await.unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (resp.status().as_u16(), retry)
}

#[tokio::test]
async fn the_eleventh_guess_from_one_address_is_429_everywhere_and_the_owner_still_logs_in() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    a.signup("alice").await;
    let attacker = client_from("127.0.0.2");
    for i in 0..10 {
        assert_eq!(
            login(&a, &attacker, "alice", "wrong").await.0,
            401,
            "attempt {}",
            i + 1
        );
    }
    let (status, retry) = login(&a, &attacker, "alice", "wrong").await;
    assert_eq!(status, 429);
    let retry = retry.expect("Retry-After");
    assert!(
        (800..=900).contains(&retry),
        "Retry-After {retry}: the window's end"
    );
    // The count is in PostgreSQL: the other instance refuses the attacker too, even with the
    // right password (it is not evaluated).
    assert_eq!(login(&b, &attacker, "alice", "password123").await.0, 429);
    // The owner, at another address, is not locked out by someone else's guesses.
    let owner = client_from("127.0.0.3");
    assert_eq!(login(&b, &owner, "alice", "password123").await.0, 200);
    // The original API's login is throttled by the same budgets, and says so in its envelope.
    let resp = attacker
        .post(b.url("/api/auth_token"))
        .json(&json!({"username": "alice", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    let said = body["error"]["errors"]["message"].as_str().unwrap();
    assert!(said.starts_with("too many requests; wait"), "{body}");
}

#[tokio::test]
async fn own_good_logins_between_guesses_do_not_reset_the_address_budget() {
    let app = TestApp::spawn(&[]).await;
    app.signup("mallory").await;
    let guesser = client_from("127.0.0.4");
    let mut evaluated = 0;
    let mut throttled = 0;
    for i in 0..60 {
        if i % 3 == 0 {
            // The attacker's own account, logging in between guesses.
            let (status, _) = login(&app, &guesser, "mallory", "password123").await;
            assert!(status == 200 || status == 429, "{status}");
            continue;
        }
        match login(&app, &guesser, &format!("victim{i}"), "guess").await.0 {
            401 => evaluated += 1,
            429 => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        evaluated, 20,
        "two tight budgets' worth from one address, whatever succeeds"
    );
    assert_eq!(throttled, 20);
    // Someone else's address is not affected.
    assert_eq!(
        login(&app, &client_from("127.0.0.5"), "mallory", "password123")
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn concurrent_guesses_for_one_account_evaluate_only_the_free_budget() {
    let app = TestApp::spawn(&[]).await;
    app.signup("alice").await;
    let attacker = client_from("127.0.0.6");
    let results = join_all((0..100).map(|_| login(&app, &attacker, "alice", "wrong"))).await;
    let count = |s: u16| results.iter().filter(|(status, _)| *status == s).count();
    assert_eq!(
        count(401),
        10,
        "exactly the free budget is evaluated: {results:?}"
    );
    assert_eq!(count(429), 90, "the rest are refused before hashing: {results:?}");
    assert!(
        results.iter().filter(|r| r.0 == 429).all(|r| r.1.is_some()),
        "Retry-After"
    );
}

#[tokio::test]
async fn a_victim_attacked_from_ten_addresses_still_logs_in_from_their_own() {
    let app = TestApp::spawn(&[]).await;
    app.signup("alice").await;
    for n in 10..20 {
        let attacker = client_from(&format!("127.0.0.{n}"));
        for _ in 0..10 {
            assert_eq!(login(&app, &attacker, "alice", "wrong").await.0, 401);
        }
        assert_eq!(login(&app, &attacker, "alice", "wrong").await.0, 429);
    }
    let owner = client_from("127.0.0.30");
    assert_eq!(login(&app, &owner, "alice", "password123").await.0, 200);
    // A wider attack (twice as many addresses) spends the account-wide budget: then every
    // address waits, at most 5 min, and more guesses do not make it longer.
    for n in 20..30 {
        let attacker = client_from(&format!("127.0.0.{n}"));
        for _ in 0..10 {
            assert_eq!(login(&app, &attacker, "alice", "wrong").await.0, 401);
        }
    }
    let (status, retry_now) = login(&app, &owner, "alice", "password123").await;
    assert_eq!(status, 429);
    let retry_now = retry_now.expect("Retry-After");
    assert!((1..=300).contains(&retry_now), "at most 5 minutes: {retry_now}");
    for n in 32..36 {
        let (status, retry) = login(&app, &client_from(&format!("127.0.0.{n}")), "alice", "x").await;
        assert_eq!(status, 429);
        assert!(retry.unwrap() <= retry_now, "not renewed by more guesses");
    }
}

#[tokio::test]
async fn username_and_email_name_one_account_with_one_budget() {
    let app = TestApp::spawn(&[]).await;
    app.signup("alice").await;
    let attacker = client_from("127.0.0.40");
    for i in 0..10 {
        let body = if i % 2 == 0 {
            json!({"username": "ALICE", "password": "wrong"})
        } else {
            json!({"email": "alice@example.com", "password": "wrong"})
        };
        assert_eq!(login_body(&app, &attacker, body, None).await.0, 401);
    }
    let by_email = json!({"email": "Alice@Example.com", "password": "wrong"});
    assert_eq!(login_body(&app, &attacker, by_email, None).await.0, 429);
    assert_eq!(login(&app, &attacker, "alice", "wrong").await.0, 429);
}

#[tokio::test]
async fn oversized_login_fields_are_422_before_any_lookup_and_still_count() {
    let app = TestApp::spawn(&[]).await;
    let prober = client_from("127.0.0.41");
    let long = "a".repeat(3000);
    let mut statuses = Vec::new();
    for i in 0..21 {
        let body = match i % 3 {
            0 => json!({"username": long, "password": "x"}),
            1 => json!({"email": format!("{long}@example.com"), "password": "x"}),
            _ => json!({"username": "alice", "password": long}),
        };
        statuses.push(login_body(&app, &prober, body, None).await.0);
    }
    assert!(statuses[..20].iter().all(|s| *s == 422), "{statuses:?}");
    assert_eq!(statuses[20], 429, "counted against the address");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let app = TestApp::spawn(&["--trusted-proxies=127.0.0.7"]).await;
    let proxy = client_from("127.0.0.7");
    let guess = |name: String| json!({"username": name, "password": "x"});
    for i in 0..20 {
        let (status, _) = login_body(
            &app,
            &proxy,
            guess(format!("ghost{i}")),
            Some("198.51.100.1, 203.0.113.9"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let blocked = login_body(&app, &proxy, guess("ghost".into()), Some("203.0.113.9")).await;
    assert_eq!(blocked.0, 429, "the address the proxy saw is throttled");
    let other = login_body(&app, &proxy, guess("ghost".into()), Some("203.0.113.10")).await;
    assert_eq!(other.0, 401, "another client behind the same proxy is not");
    // Not from the proxy: the header is the client's own claim and is ignored.
    let direct = client_from("127.0.0.8");
    let (status, _) = login_body(&app, &direct, guess("ghost".into()), Some("203.0.113.9")).await;
    assert_eq!(
        status, 401,
        "claiming the throttled address from elsewhere changes nothing"
    );
}

#[tokio::test]
async fn sign_ups_per_address_are_limited() {
    let app = TestApp::spawn(&["--signups-per-address=3"]).await;
    let from = client_from("127.0.0.50");
    let signup = |http: &reqwest::Client, name: &str| {
        http.post(app.url("/v1/auth/signup"))
            .json(
                &json!({"username": name, "email": format!("{name}@example.com"), "password": "password123"}),
            )
            .send()
    };
    for name in ["ann", "ben", "cat"] {
        assert_eq!(signup(&from, name).await.unwrap().status(), 201);
    }
    let resp = signup(&from, "dan").await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&retry), "Retry-After {retry}");
    // The original API's sign-up shares the budget.
    let resp = from
        .post(app.url("/api/register"))
        .json(
            &json!({"username": "eve", "email": "eve@example.com", "password": "password123",
                      "first_name": "E", "last_name": "V", "phone": "1"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let elsewhere = client_from("127.0.0.51");
    assert_eq!(signup(&elsewhere, "dan").await.unwrap().status(), 201);
}

#[tokio::test]
async fn the_throttle_table_is_pruned() {
    let app = TestApp::spawn(&[]).await;
    sqlx::query(
        "INSERT INTO rate_budgets (key, spent, window_end) VALUES \
         ('login-address:192.0.2.1', 3, now() - interval '1 second'), \
         ('login-address:192.0.2.2', 3, now() + interval '1 hour')",
    )
    .execute(&app.db)
    .await
    .unwrap();
    // The heartbeat prunes too, and may get there first: what counts is what is left.
    app.chat.prune_budgets().await.unwrap();
    let (left,): (Vec<String>,) = sqlx::query_as("SELECT array_agg(key) FROM rate_budgets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, ["login-address:192.0.2.2"]);
}
