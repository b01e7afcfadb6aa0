//! Accounts and sessions over real HTTP against a real PostgreSQL.

mod common;

use common::{SECRET, TestApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

#[tokio::test]
async fn signup_returns_the_user_and_working_tokens() {
    let app = TestApp::spawn(&[]).await;
    let body = app.signup("alice").await;
    assert_eq!(body["username"], "alice");
    assert_eq!(body["email"], "alice@example.com");
    assert!(body["id"].as_i64().unwrap() > 0);
    assert!(body.get("password_hash").is_none() && body.get("password").is_none());
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
    assert!(body["expires_at"].is_string());
    let (status, me) = app.get("/v1/auth/me", body["token"].as_str()).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn duplicate_usernames_and_emails_are_409_ignoring_case() {
    let app = TestApp::spawn(&[]).await;
    app.signup("bob").await;
    let (status, body) = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"username": "BOB", "email": "other@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"]["username"], "taken");
    let (status, body) = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"username": "bobby", "email": "Bob@Example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"]["email"], "taken");
}

#[tokio::test]
async fn invalid_fields_are_422_with_an_error_per_field() {
    let app = TestApp::spawn(&[]).await;
    let (status, body) = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"username": "1x", "email": "nope", "password": "short"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    for field in ["username", "email", "password"] {
        assert!(body["errors"][field].is_string(), "{field} missing in {body}");
    }
    let (status, body) = app.post("/v1/auth/signup", None, json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"]["username"], "required");
    let (status, _) = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"username": "stockbot", "email": "s@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 422, "the bot's name is reserved");
}

#[tokio::test]
async fn malformed_json_is_400_and_says_why() {
    let app = TestApp::spawn(&[]).await;
    let (status, body) = app.post_raw("/v1/auth/signup", None, "{\"username\": ").await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().starts_with("malformed JSON"),
        "{body}"
    );
}

#[tokio::test]
async fn login_works_by_email_or_username_and_wrong_passwords_get_the_same_401_as_unknown_users() {
    let app = TestApp::spawn(&[]).await;
    app.signup("carol").await;
    let (s1, _) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "CAROL@example.com", "password": "password123"}),
        )
        .await;
    let (s2, b2) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "carol", "password": "password123"}),
        )
        .await;
    assert_eq!((s1, s2), (200, 200));
    assert!(b2["token"].is_string());
    let (s3, wrong) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "carol", "password": "password124"}),
        )
        .await;
    let (s4, unknown) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "password123"}),
        )
        .await;
    assert_eq!((s3, s4), (401, 401));
    assert_eq!(wrong, unknown, "no hint whether the user exists");
}

#[tokio::test]
async fn missing_garbage_expired_and_foreign_tokens_are_401() {
    let app = TestApp::spawn(&[]).await;
    let user = app.signup("dave").await;
    assert_eq!(app.get("/v1/auth/me", None).await.0, 401);
    assert_eq!(app.get("/v1/auth/me", Some("garbage")).await.0, 401);
    let sid = {
        let claims =
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(user["token"].as_str().unwrap())
                .unwrap()
                .claims;
        claims["sid"].as_str().unwrap().to_string()
    };
    let sign = |secret: &str, exp: i64| {
        let claims = json!({"sub": user["id"].to_string(), "sid": sid, "name": "dave", "iat": 0, "exp": exp});
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        app.get("/v1/auth/me", Some(&sign(SECRET, now + 600))).await.0,
        200,
        "control: a valid token works"
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&sign(SECRET, now - 60))).await.0,
        401,
        "expired"
    );
    assert_eq!(
        app.get("/v1/auth/me", Some(&sign("some-other-secret-123", now + 600)))
            .await
            .0,
        401,
        "foreign key"
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_stops_working() {
    let app = TestApp::spawn(&[]).await;
    let user = app.signup("erin").await;
    let old = user["refresh_token"].as_str().unwrap();
    let (status, fresh) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": old}))
        .await;
    assert_eq!(status, 200, "{fresh}");
    assert_ne!(fresh["refresh_token"], user["refresh_token"]);
    assert_eq!(app.get("/v1/auth/me", fresh["token"].as_str()).await.0, 200);
    let (status, _) = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": old}))
        .await;
    assert_eq!(status, 401, "a rotated refresh token is dead");
    let (status, _) = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": fresh["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200, "the new one works once");
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens_of_that_session_only() {
    let app = TestApp::spawn(&[]).await;
    let first = app.signup("frank").await;
    let (_, second) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "frank", "password": "password123"}),
        )
        .await;
    let resp = app
        .http
        .delete(app.url("/v1/auth/token"))
        .bearer_auth(first["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        app.get("/v1/auth/me", first["token"].as_str()).await.0,
        401,
        "revoked access token"
    );
    let (status, _) = app
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401, "revoked refresh token");
    assert_eq!(
        app.get("/v1/auth/me", second["token"].as_str()).await.0,
        200,
        "other sessions live on"
    );
}

#[tokio::test]
async fn a_logout_on_one_instance_stops_the_token_at_once_on_another_that_cached_it() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    let session = a.signup("gina").await;
    let token = session["token"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(
            b.get("/v1/auth/me", Some(token)).await.0,
            200,
            "B caches the session"
        );
    }
    let resp = a
        .http
        .delete(a.url("/v1/auth/token"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        b.get("/v1/auth/me", Some(token)).await.0,
        401,
        "the revocation event dropped it from B's cache"
    );
    assert_eq!(a.get("/v1/auth/me", Some(token)).await.0, 401);
}

/// The cache is real, and bounded: a session revoked behind the server's back (no event, as
/// when the revoking instance had lost the broker) is still accepted until its entry expires,
/// and at once when the cache is off.
#[tokio::test]
async fn a_revocation_no_instance_heard_of_holds_only_for_the_cache_lifetime() {
    let cached = TestApp::spawn(&["--session-cache-secs=1"]).await;
    let uncached = cached.spawn_peer(&["--session-cache-secs=0"]).await;
    let session = cached.signup("hank").await;
    let token = session["token"].as_str().unwrap();
    assert_eq!(cached.get("/v1/auth/me", Some(token)).await.0, 200);
    sqlx::query("UPDATE sessions SET revoked_at = now()")
        .execute(&cached.db)
        .await
        .unwrap();
    assert_eq!(uncached.get("/v1/auth/me", Some(token)).await.0, 401);
    assert_eq!(
        cached.get("/v1/auth/me", Some(token)).await.0,
        200,
        "still trusted from the cache"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        cached.get("/v1/auth/me", Some(token)).await.0,
        401,
        "entry expired"
    );
}
