//! A flood of sign-ups costs no hashing beyond its budget and never fails a login. Its own
//! test binary: it counts the process's password hashes, which other tests would add to.

mod common;

use std::time::Instant;

use common::TestApp;
use futures_util::future::join_all;
use serde_json::json;
use tickertalk::auth::password;

#[tokio::test]
async fn duplicate_sign_ups_hash_nothing_and_logins_keep_working_meanwhile() {
    let app = TestApp::spawn(&[]).await;
    app.signup("alice").await;
    app.signup("bob").await;
    let before = password::new_hashes();
    let stop = std::sync::atomic::AtomicBool::new(false);
    // 16 loops of duplicate sign-ups (a taken username, then a taken email), as fast as they go.
    let flood = join_all((0..16).map(|i| {
        let stop = &stop;
        let app = &app;
        async move {
            let http = reqwest::Client::new();
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = if i % 2 == 0 {
                    json!({"username": "alice", "email": format!("x{i}@example.com"), "password": "password123"})
                } else {
                    json!({"username": format!("other{i}"), "email": "alice@example.com", "password": "password123"})
                };
                let resp = http.post(app.url("/v1/auth/signup")).json(&body).send().await.unwrap();
                statuses.push(resp.status().as_u16());
            }
            statuses
        }
    }));
    let logins = async {
        let http = reqwest::Client::new();
        let mut took = Vec::new();
        for _ in 0..20 {
            let started = Instant::now();
            let resp = http
                .post(app.url("/v1/auth/login"))
                .json(&json!({"username": "bob", "password": "password123"}))
                .send()
                .await
                .unwrap();
            took.push(started.elapsed());
            assert_eq!(resp.status(), 200, "a normal login during the flood");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        took
    };
    let (statuses, mut took) = tokio::join!(flood, logins);
    let statuses: Vec<u16> = statuses.into_iter().flatten().collect();
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| *s == 409),
        "every duplicate is a 409: {statuses:?}"
    );
    assert_eq!(password::new_hashes(), before, "and none was hashed");
    took.sort();
    eprintln!(
        "{} duplicate sign-ups; logins meanwhile: median {:?}, max {:?}",
        statuses.len(),
        took[took.len() / 2],
        took.last().unwrap()
    );
}
