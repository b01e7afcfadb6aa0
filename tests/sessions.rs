//! Tokens and sessions: `/api` client-signed JWTs need a bounded `exp` and no future `nbf`; a
//! replaced refresh token used again revokes its whole session; changing the password and
//! "log out everywhere" end sessions (and close their sockets) on every instance.

mod common;

use std::time::Duration;

use common::TestApp;
use serde_json::{Value, json};

/// An `/api` JWT with these claims, signed with the access key's secret.
fn client_jwt(key: &Value, claims: Value) -> String {
    let id = key["access_key_id"].as_str().unwrap();
    let secret = key["secret_access_key"].as_str().unwrap();
    common::client_jwt(id, secret, "HS256", &claims)
}

async fn login(app: &TestApp, name: &str, password: &str) -> (u16, Value) {
    app.post(
        "/v1/auth/login",
        None,
        json!({"username": name, "password": password}),
    )
    .await
}

#[tokio::test]
async fn api_tokens_need_an_exp_at_most_an_hour_ahead_and_no_future_nbf() {
    let app = TestApp::spawn(&[]).await;
    app.signup("ada").await;
    let (status, body) = app
        .post(
            "/api/auth_token",
            None,
            json!({"username": "ada", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let key = body["data"][0].clone();
    let now = chrono::Utc::now().timestamp();
    let inbox = |claims: Value| {
        let token = client_jwt(&key, claims);
        let app = &app;
        async move { app.get("/api/inbox", Some(&token)).await.0 }
    };
    assert_eq!(inbox(json!({"iat": now, "exp": now + 300})).await, 200);
    for (why, claims) in [
        ("no claims at all", json!({})),
        ("no exp", json!({"iat": now})),
        ("exp a day ahead", json!({"iat": now, "exp": now + 86_400})),
        (
            "nbf an hour ahead",
            json!({"iat": now, "exp": now + 300, "nbf": now + 3600}),
        ),
        ("expired", json!({"iat": now - 600, "exp": now - 300})),
    ] {
        assert_eq!(inbox(claims).await, 401, "{why}");
    }
}

#[tokio::test]
async fn a_replaced_refresh_token_used_again_revokes_the_whole_session() {
    let app = TestApp::spawn(&[]).await;
    let first = app.signup("bob").await;
    let old = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": old}))
        .await;
    assert_eq!(status, 200, "{second}");
    let newer = second["refresh_token"].as_str().unwrap().to_string();
    let access = second["token"].as_str().unwrap().to_string();
    let mut ws = app.ws(&access).await;

    // At once (two tabs refreshing together): refused, the session lives on.
    let (status, _) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": old}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(app.get("/v1/auth/me", Some(&access)).await.0, 200);

    // Later: someone else holds the session. Everything derived from it stops working.
    sqlx::query("UPDATE retired_refresh_tokens SET retired_at = now() - interval '1 minute'")
        .execute(&app.db)
        .await
        .unwrap();
    let (status, _) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": old}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        app.get("/v1/auth/me", Some(&access)).await.0,
        401,
        "the derived access token"
    );
    let (status, _) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": newer}))
        .await;
    assert_eq!(status, 401, "the derived refresh token");
    assert_eq!(
        ws.close_code(Duration::from_secs(5)).await,
        Some(4001),
        "its socket closes"
    );
    // Other sessions of the user are not touched.
    assert_eq!(login(&app, "bob", "password123").await.0, 200);
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_on_every_instance() {
    let app = TestApp::spawn(&[]).await;
    let peer = app.spawn_peer(&[]).await;
    let mine = app.signup("carol").await["token"].as_str().unwrap().to_string();
    let (_, other) = login(&peer, "carol", "password123").await;
    let theirs = other["token"].as_str().unwrap().to_string();
    let mut their_socket = peer.ws(&theirs).await;
    let mut my_socket = app.ws(&mine).await;

    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let app = &app;
        let mine = &mine;
        async move { app.post("/v1/auth/password", Some(mine), body).await }
    };
    let (status, body) = change("wrong password", "n3w password").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"]["current_password"], "does not match");
    let (status, body) = change("password123", "short").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["errors"]["new_password"].is_string());
    assert_eq!(
        peer.get("/v1/auth/me", Some(&theirs)).await.0,
        200,
        "nothing changed yet"
    );

    let (status, body) = change("password123", "n3w password").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(their_socket.close_code(Duration::from_secs(5)).await, Some(4001));
    assert_eq!(peer.get("/v1/auth/me", Some(&theirs)).await.0, 401);
    assert_eq!(app.get("/v1/auth/me", Some(&mine)).await.0, 200, "mine goes on");
    assert!(
        my_socket.drain(Duration::from_millis(300)).await.is_empty(),
        "my socket stays open"
    );
    assert_eq!(login(&app, "carol", "password123").await.0, 401);
    assert_eq!(login(&app, "carol", "n3w password").await.0, 200);
}

#[tokio::test]
async fn log_out_everywhere_ends_every_session() {
    let app = TestApp::spawn(&[]).await;
    let peer = app.spawn_peer(&[]).await;
    let first = app.signup("dave").await;
    let mine = first["token"].as_str().unwrap().to_string();
    let (_, other) = login(&peer, "dave", "password123").await;
    let theirs = other["token"].as_str().unwrap().to_string();
    let mut sockets = [app.ws(&mine).await, peer.ws(&theirs).await];
    let (status, _) = app.delete("/v1/auth/sessions", Some(&mine)).await;
    assert_eq!(status, 204);
    for ws in &mut sockets {
        assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(4001));
    }
    assert_eq!(app.get("/v1/auth/me", Some(&mine)).await.0, 401);
    assert_eq!(peer.get("/v1/auth/me", Some(&theirs)).await.0, 401);
    let refresh = first["refresh_token"].as_str().unwrap();
    let (status, _) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        login(&app, "dave", "password123").await.0,
        200,
        "a new login works"
    );
}
