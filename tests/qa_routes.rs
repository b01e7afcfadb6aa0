//! The test-only `/v1/qa` routes the Postman collection uses: off unless
//! `QA_ROUTES` is set; an expired token refused for its expiry; an account deleted with what it
//! made, and nothing else touched.

mod common;

use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn qa_routes_are_404_unless_configured() {
    let app = TestApp::spawn(&[]).await;
    let token = app.token("quinn").await;
    let (status, body) = app.post("/v1/qa/expired-token", Some(&token), json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = app.delete("/v1/qa/account", Some(&token)).await;
    assert_eq!(status, 404);
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.0,
        200,
        "nothing was deleted"
    );
    // Indistinguishable from an unknown path: anonymous callers and other methods get the same
    // plain 404, not a 401 or a 405 that would tell the route exists.
    let unknown = app.post("/v1/qa/no-such-thing", None, json!({})).await;
    assert_eq!(unknown.0, 404);
    for (status, body) in [
        app.post("/v1/qa/expired-token", None, json!({})).await,
        app.get("/v1/qa/expired-token", None).await,
        app.get("/v1/qa/account", Some(&token)).await,
        app.delete("/v1/qa/account", None).await,
    ] {
        assert_eq!((status, &body), (404, &unknown.1));
    }
}

#[tokio::test]
async fn the_expired_token_is_refused_for_its_expiry_only() {
    let app = TestApp::spawn(&["--qa-routes"]).await;
    let token = app.token("quinn").await;
    let (status, body) = app.post("/v1/qa/expired-token", Some(&token), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let expired = body["token"].as_str().unwrap();
    let exp = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert!(exp < chrono::Utc::now() - chrono::Duration::minutes(30), "{body}");
    // Same session, same key: only the expiry differs from a working token.
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(expired)
        .unwrap()
        .claims;
    let mine = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .unwrap()
        .claims;
    assert_eq!(claims["sid"], mine["sid"]);
    let (status, body) = app.get("/v1/auth/me", Some(expired)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        app.get("/v1/auth/me", Some(&token)).await.0,
        200,
        "the session lives on"
    );
}

#[tokio::test]
async fn deleting_an_account_removes_what_it_made_and_nothing_else() {
    let app = TestApp::spawn(&["--qa-routes"]).await;
    let [qa, other] = app.tokens(["qa_run", "carol"]).await;
    let qa_room = app.create_room(&qa, "QA Room 1").await;
    let carols = app.create_room(&other, "Carol's").await;
    let post = |token: &str, room: i64, text: &str| {
        let path = format!("/v1/chat/rooms/{room}/messages");
        let token = token.to_string();
        let text = text.to_string();
        let app = &app;
        async move {
            let (status, body) = app.post(&path, Some(&token), json!({"chatmessage": text})).await;
            assert_eq!(status, 201, "{body}");
        }
    };
    post(&qa, qa_room, "flood 1").await;
    post(&other, qa_room, "carol in the QA room").await;
    post(&qa, carols, "qa in carol's room").await;
    post(&other, carols, "carol at home").await;
    let (status, _) = app
        .post(
            "/v1/chat/threads/carol",
            Some(&qa),
            json!({"message": "hi carol"}),
        )
        .await;
    assert_eq!(status, 201);

    let (status, body) = app.delete("/v1/qa/account", Some(&qa)).await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(app.get("/v1/auth/me", Some(&qa)).await.0, 401, "its token ended");
    let (status, _) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "qa_run", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 401, "the account is gone");
    assert_eq!(
        app.get(&format!("/v1/chat/rooms/{qa_room}"), Some(&other))
            .await
            .0,
        404
    );
    let (status, rooms) = app.get("/v1/chat/rooms", Some(&other)).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"QA Room 1") && names.contains(&"Carol's"),
        "{rooms}"
    );
    assert_eq!(app.room_texts(&other, carols).await, ["carol at home"]);
    let (_, inbox) = app.get("/v1/chat/inbox", Some(&other)).await;
    assert_eq!(inbox, json!([]), "{inbox}");
    let (_, found) = app.get("/v1/users?prefix=qa_", Some(&other)).await;
    assert_eq!(found["users"], json!([]), "{found}");
}
