//! 100 concurrent wrong logins (they once took the server from 234 MB to 2.1 GB and 103
//! threads). Hashing runs one per core with reused work areas, at most `MAX_WAITING` requests
//! wait, the rest get 429 with `Retry-After` (never a 5xx: a burst is the client's to slow
//! down). Login throttling is off here: this is about hashing capacity. Its own test binary,
//! so the process's threads and memory are this test's.

mod common;

use common::TestApp;
use futures_util::future::join_all;
use serde_json::json;
use tickertalk::auth::password::MAX_WAITING;

fn status_field(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
}

#[tokio::test]
async fn a_hundred_concurrent_wrong_logins_keep_threads_and_memory_bounded() {
    let app = TestApp::spawn(&["--login-free-failures=0"]).await;
    app.signup("alice").await;
    // Warm up: one hash has allocated its work area and the blocking pool its thread.
    app.post(
        "/v1/auth/login",
        None,
        json!({"username": "alice", "password": "password123"}),
    )
    .await;
    let (threads_before, rss_before) = (status_field("Threads:"), status_field("VmRSS:"));
    let attempts = (0..100).map(|i| {
        let http = reqwest::Client::new();
        let url = app.url("/v1/auth/login");
        async move {
            let resp = http
                .post(url)
                .json(&json!({"username": format!("user{i}"), "password": "wrong password"}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.headers().contains_key("retry-after"))
        }
    });
    let results = join_all(attempts).await;
    let (threads_after, rss_after) = (status_field("Threads:"), status_field("VmRSS:"));
    let count = |s: u16| results.iter().filter(|(status, _)| *status == s).count();
    assert_eq!(
        count(401) + count(429),
        100,
        "only refusals, never a 5xx: {results:?}"
    );
    assert!(count(429) > 0, "more than {MAX_WAITING} waiting were turned away");
    assert!(
        results.iter().filter(|(s, _)| *s == 429).all(|(_, retry)| *retry),
        "every 429 says when to retry"
    );
    assert!(
        threads_after <= threads_before + 8,
        "threads {threads_before} -> {threads_after}"
    );
    assert!(
        rss_after <= rss_before + 100 * 1024,
        "RSS {rss_before} KiB -> {rss_after} KiB"
    );
    eprintln!(
        "401: {}, 429: {}, 503: {}; threads {threads_before} -> {threads_after}; RSS {} -> {} MiB",
        count(401),
        count(429),
        count(503),
        rss_before / 1024,
        rss_after / 1024
    );
}
