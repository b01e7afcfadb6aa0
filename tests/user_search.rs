//! `GET /v1/users` (issue #13): find someone to write to by the start of their name, in pages.

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
    let (status, page) = app.get("/v1/users?prefix=AL&limit=2", Some(&alice)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["Alan", "albert"]);
    assert_eq!(page["next"], "albert");
    let (_, page) = app
        .get("/v1/users?prefix=al&limit=2&after=albert", Some(&alice))
        .await;
    assert_eq!(names(&page), ["alice"]);
    assert_eq!(page["next"], json!(null));
    let (_, all) = app.get("/v1/users", Some(&alice)).await;
    assert_eq!(
        names(&all),
        ["Alan", "albert", "alice", "bob"],
        "the bot is nobody to write to"
    );
    let (_, none) = app.get("/v1/users?prefix=stock", Some(&alice)).await;
    assert!(names(&none).is_empty());
    // Search text is data, not a pattern.
    let (_, wild) = app.get("/v1/users?prefix=%25", Some(&alice)).await;
    assert!(names(&wild).is_empty(), "{wild}");
    for bad in ["/v1/users?limit=0", "/v1/users?limit=51", "/v1/users?prefix=a%00"] {
        let (status, problem) = app.get(bad, Some(&alice)).await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
    assert_eq!(app.get("/v1/users?prefix=al", None).await.0, 401);
}
