//! Login throttling (issue #12): per account and per client address, stored in PostgreSQL so
//! it holds across instances, answered 429 with `Retry-After` before any hashing.

mod common;

use common::TestApp;
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
    login_with(app, http, username, password, None).await
}

async fn login_with(
    app: &TestApp,
    http: &reqwest::Client,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> (u16, Option<u64>) {
    let mut req = http
        .post(app.url("/v1/auth/login"))
        .json(&json!({"username": username, "password": password}));
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
async fn the_eleventh_wrong_password_is_429_on_every_instance_even_with_the_right_one() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    a.signup("alice").await;
    a.signup("bob").await;
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
    assert!((50..=60).contains(&retry), "Retry-After {retry}");
    // The count is in PostgreSQL: the other instance refuses too, even the right password,
    // from anywhere (the account is throttled), and without hashing it.
    let owner = client_from("127.0.0.3");
    assert_eq!(login(&b, &owner, "alice", "password123").await.0, 429);
    // The attacker's address is throttled for every account; others' addresses are not.
    assert_eq!(login(&b, &attacker, "bob", "password123").await.0, 429);
    assert_eq!(login(&b, &owner, "bob", "password123").await.0, 200);
    let (status, body) = a
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "alice", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["status"], 429);
    // The original API's login is throttled by the same counts, says so in its own envelope,
    // and gives the delay as /v1 does.
    let resp = owner
        .post(b.url("/api/auth_token"))
        .json(&json!({"username": "alice", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: serde_json::Value = resp.json().await.unwrap();
    let said = body["error"]["errors"]["message"].as_str().unwrap();
    assert!(said.starts_with("too many requests; wait"), "{body}");
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_throttled_and_a_success_resets_the_count() {
    let app = TestApp::spawn(&[]).await;
    app.signup("carol").await;
    let guesser = client_from("127.0.0.4");
    for i in 0..10 {
        let (status, _) = login(&app, &guesser, &format!("nobody{i}"), "guess").await;
        assert_eq!(status, 401, "unknown users count like wrong passwords");
    }
    assert_eq!(login(&app, &guesser, "nobody99", "guess").await.0, 429);
    assert_eq!(
        login(&app, &client_from("127.0.0.5"), "carol", "password123")
            .await
            .0,
        200
    );

    // Nine failures, a success, nine more: never throttled, the success started a new count.
    let carol = client_from("127.0.0.6");
    for _ in 0..9 {
        assert_eq!(login(&app, &carol, "carol", "typo").await.0, 401);
    }
    assert_eq!(login(&app, &carol, "carol", "password123").await.0, 200);
    for _ in 0..9 {
        assert_eq!(login(&app, &carol, "carol", "typo").await.0, 401);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let app = TestApp::spawn(&["--trusted-proxies=127.0.0.7"]).await;
    let proxy = client_from("127.0.0.7");
    for i in 0..10 {
        let (status, _) = login_with(
            &app,
            &proxy,
            &format!("ghost{i}"),
            "x",
            Some("198.51.100.1, 203.0.113.9"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let blocked = login_with(&app, &proxy, "ghost", "x", Some("203.0.113.9"))
        .await
        .0;
    assert_eq!(blocked, 429, "the address the proxy saw is throttled");
    let other = login_with(&app, &proxy, "ghost", "x", Some("203.0.113.10"))
        .await
        .0;
    assert_eq!(other, 401, "another client behind the same proxy is not");
    // Not from the proxy: the header is the client's own claim and is ignored.
    let direct = client_from("127.0.0.8");
    let (status, _) = login_with(&app, &direct, "ghost", "x", Some("203.0.113.9")).await;
    assert_eq!(
        status, 401,
        "claiming the throttled address from elsewhere changes nothing"
    );
}
