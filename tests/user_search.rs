//! `GET /v1/users`: find someone to write to by the start of their name, in pages.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn users_are_found_by_prefix_in_name_order_and_paged() {
    let app = TestApp::spawn(&[]).await;
    let [alice, ..] = app.tokens(["alice", "Alan", "albert", "bob"]).await;
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    app.tokens(["alabama", "alamo"]).await;
    let (status, page) = app.get("/v1/users?prefix=AL&limit=2", Some(&alice)).await;
    assert_eq!(status, 422, "two letters are not enough: {page}");
    let (status, page) = app.get("/v1/users?prefix=ALa&limit=2", Some(&alice)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["alabama", "alamo"]);
    assert_eq!(page["next"], "alamo");
    let (_, page) = app
        .get("/v1/users?prefix=ala&limit=2&after=alamo", Some(&alice))
        .await;
    assert_eq!(names(&page), ["Alan"]);
    assert_eq!(page["next"], json!(null));
    let (_, page) = app.get("/v1/users?prefix=alb", Some(&alice)).await;
    assert_eq!(names(&page), ["albert"]);
    let (_, none) = app.get("/v1/users?prefix=stockbot", Some(&alice)).await;
    assert!(names(&none).is_empty(), "the bot is nobody to write to");
    // Search text is data, not a pattern.
    let (_, wild) = app.get("/v1/users?prefix=%25%25%25", Some(&alice)).await;
    assert!(names(&wild).is_empty(), "{wild}");
    for bad in [
        "/v1/users",
        "/v1/users?prefix=a",
        "/v1/users?prefix=alb&limit=0",
        "/v1/users?prefix=alb&limit=51",
        "/v1/users?prefix=al%00",
    ] {
        let (status, problem) = app.get(bad, Some(&alice)).await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
    assert_eq!(app.get("/v1/users?prefix=al", None).await.0, 401);
}
