//! `/api/*`: the original direct-message server's API, as its clients use it, on two instances
//! with real PostgreSQL and RabbitMQ. The client here signs its own JWTs, as those clients do.

mod common;

use std::time::Duration;

use common::{TestApp, Ws};
use serde_json::{Value, json};

/// An `/api` client's credentials, as `/api/auth_token` hands them out.
struct Key {
    id: String,
    secret: String,
}

impl Key {
    fn of(token: &Value) -> Key {
        Key {
            id: token["access_key_id"].as_str().unwrap().to_string(),
            secret: token["secret_access_key"].as_str().unwrap().to_string(),
        }
    }

    /// A JWT signed the way the original clients sign them: HS256 with the secret key, the key
    /// id in the header as `access_key`.
    fn jwt(&self) -> String {
        sign(&self.id, &self.secret, "HS256")
    }
}

fn sign(key_id: &str, secret: &str, alg: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    common::client_jwt(key_id, secret, alg, &json!({"iat": now, "exp": now + 600}))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn person(name: &str) -> Vec<(String, String)> {
    [
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("username", name),
        ("password", "password123"),
        ("email", &format!("{name}@example.com")),
        ("phone", "+44 20 7946 0000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn send_form(app: &TestApp, method: reqwest::Method, path: &str, body: String) -> (u16, Value) {
    let resp = app
        .http
        .request(method, app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    common::read(resp).await
}

/// Registers `name` with a form-encoded body; returns the reply's data entry.
async fn register(app: &TestApp, name: &str) -> Value {
    let pairs = person(name);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body) = send_form(app, reqwest::Method::POST, "/api/register", form(&pairs)).await;
    assert_eq!(status, 200, "{body}");
    body["data"][0].clone()
}

/// Logs `name` in at `/api/auth_token` and returns its key.
async fn log_in(app: &TestApp, name: &str) -> Key {
    let (status, body) = app
        .post(
            "/api/auth_token",
            None,
            json!({"username": name, "password": "password123"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    Key::of(&body["data"][0])
}

async fn get_with(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    app.get(path, Some(token)).await
}

fn assert_fail(body: &Value, code: u16, message: &str) {
    assert_eq!(body["status"], "fail", "{body}");
    assert_eq!(body["data"], json!([]), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
}

#[tokio::test]
async fn register_takes_forms_and_json_and_names_each_bad_field() {
    let app = TestApp::spawn(&[]).await;
    let data = register(&app, "ada").await;
    assert_eq!(data["username"], "ada");
    assert_eq!(data["phone_number"], "+44 20 7946 0000");
    assert_eq!(data["token"]["is_refreshable"], true);
    let key = Key::of(&data["token"]);
    assert_eq!(key.id.len(), 52, "32 bytes in base32 without padding");

    let mut json_body: serde_json::Map<String, Value> = person("grace")
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let (status, body) = app
        .post("/api/register", None, Value::Object(json_body.clone()))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["error"], json!({"code": 200, "errors": null, "message": ""}));

    for field in [
        "first_name",
        "last_name",
        "username",
        "password",
        "email",
        "phone",
    ] {
        let mut missing = json_body.clone();
        missing.remove(field);
        missing.insert("username".into(), json!("someone"));
        missing.insert("email".into(), json!("someone@example.com"));
        if field == "username" || field == "email" {
            missing.remove(field);
        }
        let (status, body) = app.post("/api/register", None, Value::Object(missing)).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert_fail(&body, 400, "Form error");
        assert_eq!(body["error"]["errors"][field], "required", "{field}: {body}");
    }
    json_body.insert("email".into(), json!("not an email"));
    json_body.insert("username".into(), json!("hopper"));
    let (_, body) = app.post("/api/register", None, Value::Object(json_body)).await;
    assert_fail(&body, 400, "Form error");
    assert!(body["error"]["errors"]["email"].is_string(), "{body}");

    let pairs = person("ADA");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, body) = send_form(&app, reqwest::Method::POST, "/api/register", form(&pairs)).await;
    assert_eq!(status, 400, "{body}");
    assert_fail(&body, 400, "User error");
    assert_eq!(body["error"]["errors"]["username"], "taken");
}

#[tokio::test]
async fn client_signed_tokens_work_in_the_header_and_the_query_and_bad_ones_never() {
    let app = TestApp::spawn(&[]).await;
    register(&app, "ada").await;
    let key = log_in(&app, "ada").await;

    let (status, body) = get_with(&app, "/api/inbox", &key.jwt()).await;
    assert_eq!((status, &body["status"]), (200, &json!("success")), "{body}");
    let (status, _) = app
        .get(&format!("/api/inbox?access_token={}", key.jwt()), None)
        .await;
    assert_eq!(status, 200);
    // A /v1 token works on /api too.
    let v1 = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "ada", "password": "password123"}),
        )
        .await
        .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get_with(&app, "/api/inbox", &v1).await.0, 200);

    let wrong_key = sign(&key.id, "not-the-secret", "HS256");
    let unsigned = sign(&key.id, &key.secret, "none");
    let unknown = sign(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &key.secret,
        "HS256",
    );
    for (what, token) in [
        ("wrong key", wrong_key),
        ("alg none", unsigned),
        ("unknown key", unknown),
    ] {
        let (status, body) = get_with(&app, "/api/inbox", &token).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_fail(&body, 401, "Authentication error");
    }
    let (_, body) = app.get("/api/inbox", None).await;
    assert_fail(&body, 401, "Authentication error");

    let (_, wrong_password) = app
        .post(
            "/api/auth_token",
            None,
            json!({"username": "ada", "password": "nope-nope-nope"}),
        )
        .await;
    assert_fail(&wrong_password, 401, "Authentication error");

    let resp = app
        .http
        .delete(app.url("/api/auth_token"))
        .bearer_auth(key.jwt())
        .send()
        .await
        .unwrap();
    let (status, body) = common::read(resp).await;
    assert_eq!((status, &body["data"]), (200, &json!([])), "{body}");
    let (status, body) = get_with(&app, "/api/inbox", &key.jwt()).await;
    assert_eq!(status, 401, "a deleted key stops working: {body}");
    assert_fail(&body, 401, "Authentication error");
}

#[tokio::test]
async fn the_same_users_and_messages_are_seen_through_both_apis() {
    let app = TestApp::spawn(&[]).await;
    register(&app, "ada").await;
    // Registered at /v1, logs in at /api; registered at /api, logs in at /v1.
    let bob_v1 = app.token("bob").await;
    let bob_key = log_in(&app, "bob").await;
    let (status, _) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "ada", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 200);
    let ada_key = log_in(&app, "ada").await;

    let (status, _) = app
        .post(
            "/v1/chat/threads/ada",
            Some(&bob_v1),
            json!({"message": "hello from v1"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, inbox) = get_with(&app, "/api/inbox", &ada_key.jwt()).await;
    assert_eq!(
        inbox["data"],
        json!([{"author_username": "bob", "latest_message": "hello from v1",
                "created_at": inbox["data"][0]["created_at"]}])
    );
    let (_, thread) = get_with(&app, "/api/thread/ada", &bob_key.jwt()).await;
    assert_eq!(thread["data"][0]["author"], "bob");
    assert_eq!(thread["data"][0]["recipient"], "ada");
    assert_eq!(thread["data"][0]["message_type"], 0);
}

#[tokio::test]
async fn threads_page_by_rows_newest_first() {
    let app = TestApp::spawn(&["--rate-limit-messages=1000"]).await;
    register(&app, "ada").await;
    let bob = app.token("bob").await;
    let ada = log_in(&app, "ada").await;
    for i in 1..=25 {
        let (status, _) = app
            .post(
                "/v1/chat/threads/ada",
                Some(&bob),
                json!({"message": format!("m{i}")}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (status, body) = get_with(
            &app,
            &format!("/api/thread/bob?page={page}&per_page=10"),
            &ada.jwt(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["page"].as_i64(), body["current_page"].as_i64()),
            (Some(page), Some(page))
        );
        assert_eq!(body["per_page"], 10);
        let texts: Vec<String> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message"].as_str().unwrap().to_string())
            .collect();
        seen.extend(texts);
    }
    let expected: Vec<String> = (1..=25).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(
        seen, expected,
        "pages 1-3 are rows 0-9, 10-19, 20-24, newest first"
    );
    let (_, empty) = get_with(&app, "/api/thread/bob?page=4&per_page=10", &ada.jwt()).await;
    assert_eq!(empty["data"], json!([]));
    let (status, body) = get_with(&app, "/api/thread/bob?per_page=101", &ada.jwt()).await;
    assert_eq!(status, 400);
    assert_fail(&body, 400, "Form error");
    let (status, _) = get_with(&app, "/api/thread/nobody", &ada.jwt()).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_oversized_body_is_413_and_a_form_body_may_carry_the_token() {
    let app = TestApp::spawn(&[]).await;
    let huge = form(&[("username", &"x".repeat(70 * 1024)), ("password", "password123")]);
    let (status, body) = send_form(&app, reqwest::Method::POST, "/api/auth_token", huge).await;
    assert_eq!(status, 413, "{body}");
    assert_fail(&body, 413, "Form error");

    register(&app, "ada").await;
    let key = log_in(&app, "ada").await;
    let (status, body) = send_form(
        &app,
        reqwest::Method::DELETE,
        "/api/auth_token",
        form(&[("access_token", &key.jwt())]),
    )
    .await;
    assert_eq!((status, &body["status"]), (200, &json!("success")), "{body}");
    assert_eq!(get_with(&app, "/api/inbox", &key.jwt()).await.0, 401);
}

#[tokio::test]
async fn unknown_routes_under_api_are_404_and_other_methods_405_in_the_envelope() {
    let app = TestApp::spawn(&[]).await;
    for (method, path, status, allow) in [
        (reqwest::Method::GET, "/api/nope", 404, None),
        (reqwest::Method::DELETE, "/api/nope", 404, None),
        (reqwest::Method::GET, "/api/register", 405, Some("POST")),
        (reqwest::Method::PUT, "/api/inbox", 405, Some("GET")),
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let allowed = resp
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let (got, body) = common::read(resp).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(allowed.as_deref(), allow, "{method} {path}");
        assert_fail(&body, status, "User error");
    }
}

#[tokio::test]
async fn api_and_v1_sockets_on_two_instances_chat_both_ways_and_authors_cannot_be_forged() {
    let a = TestApp::spawn(&[]).await;
    let b = a.spawn_peer(&[]).await;
    register(&a, "ada").await;
    let bob = a.token("bob").await;
    a.token("mallory").await;
    let ada = log_in(&a, "ada").await;

    let mut ada_ws = Ws::open(a.addr, &format!("/api/ws?access_token={}", ada.jwt())).await;
    let mut ada_other = Ws::open(b.addr, &format!("/api/ws?access_token={}", ada.jwt())).await;
    let mut bob_ws = b.ws(&bob).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // both registered in their hubs

    // /api -> /v1, with a forged author: sent as ada all the same.
    ada_ws
        .send(json!({"author": "mallory", "recipient": "bob", "message": "hi bob"}))
        .await;
    let got = bob_ws.next_where(|v| v["type"] == 4).await;
    assert_eq!(
        (got["author"].as_str(), got["message"].as_str()),
        (Some("ada"), Some("hi bob"))
    );
    for ws in [&mut ada_ws, &mut ada_other] {
        let echo = ws.next().await;
        assert_eq!(
            (
                echo["author"].as_str(),
                echo["recipient"].as_str(),
                echo["message"].as_str()
            ),
            (Some("ada"), Some("bob"), Some("hi bob")),
            "the sender's sockets (both instances) get the copy"
        );
        assert_eq!(echo["message_type"], 0);
        assert!(echo.get("type").is_none(), "the original frame shape: {echo}");
    }

    // /v1 -> /api.
    bob_ws
        .send(json!({"type": 4, "recipient": "ada", "message": "hi ada", "client_id": "c1"}))
        .await;
    for ws in [&mut ada_ws, &mut ada_other] {
        let got = ws.next().await;
        assert_eq!(
            (got["author"].as_str(), got["message"].as_str()),
            (Some("bob"), Some("hi ada"))
        );
    }

    // A bad packet gets an envelope error and the socket goes on.
    ada_ws.send(json!({"message": "to nobody"})).await;
    let err = ada_ws.next().await;
    assert_fail(&err, 400, "Form error");
    assert_eq!(err["error"]["errors"]["recipient"], "required");
    ada_ws
        .send(json!({"recipient": "bob", "message": "still here"}))
        .await;
    let got = bob_ws
        .next_where(|v| v["type"] == 4 && v["author"] == "ada")
        .await;
    assert_eq!(got["message"], "still here");

    // Deleting the key closes its sockets, on both instances.
    let resp = a
        .http
        .delete(a.url("/api/auth_token"))
        .bearer_auth(ada.jwt())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for ws in [&mut ada_ws, &mut ada_other] {
        assert_eq!(ws.close_code(Duration::from_secs(5)).await, Some(4001));
    }
}

#[tokio::test]
async fn a_v1_socket_opened_with_dm_since_gets_what_it_missed_first() {
    let app = TestApp::spawn(&[]).await;
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let first = app
        .post("/v1/chat/threads/bob", Some(&alice), json!({"message": "one"}))
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    for text in ["two", "three"] {
        app.post("/v1/chat/threads/bob", Some(&alice), json!({"message": text}))
            .await;
    }
    let mut ws = Ws::open(app.addr, &format!("/v1/ws?token={bob}&dm_since={first}")).await;
    let replayed: Vec<Value> = vec![ws.next().await, ws.next().await];
    let texts: Vec<&str> = replayed.iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(texts, ["two", "three"]);
    app.post("/v1/chat/threads/bob", Some(&alice), json!({"message": "four"}))
        .await;
    assert_eq!(ws.next().await["message"], "four", "then live, nothing twice");
    assert!(ws.drain(Duration::from_millis(300)).await.is_empty());
    let (status, _) = app.get(&format!("/v1/ws?token={bob}&dm_since=x"), None).await;
    assert_eq!(status, 422);
}

/// A NUL in either field of an `/api/ws` frame is a 400 form error naming the field (it used to
/// reach PostgreSQL and come back as a 500), and the socket stays usable.
#[tokio::test]
async fn an_api_socket_refuses_a_nul_in_either_field_naming_it() {
    let app = TestApp::spawn(&[]).await;
    register(&app, "ada").await;
    let bob = app.token("bob").await;
    let ada = log_in(&app, "ada").await;
    let mut ws = Ws::open(app.addr, &format!("/api/ws?access_token={}", ada.jwt())).await;
    for (frame, field) in [
        (json!({"recipient": "bo\u{0}b", "message": "hi"}), "recipient"),
        (json!({"recipient": "bob", "message": "h\u{0}i"}), "message"),
    ] {
        ws.send(frame.clone()).await;
        let err = ws.next().await;
        assert_eq!(err["error"]["code"], 400, "{frame} -> {err}");
        assert!(
            err["error"]["errors"][field]
                .as_str()
                .is_some_and(|m| m.contains("NUL")),
            "{frame} -> {err}"
        );
    }
    ws.send(json!({"recipient": "bob", "message": "hi bob"})).await;
    assert_eq!(ws.next().await["message"], "hi bob");
    let (_, thread) = app.get("/v1/chat/threads/ada", Some(&bob)).await;
    assert_eq!(thread.as_array().map(Vec::len), Some(1), "{thread}");
}
