//! `GET /metrics`: Prometheus text that parses, names that follow the conventions,
//! and counters that move with real traffic (HTTP, logins, posts, deliveries, direct messages,
//! sockets), plus the request id every HTTP answer carries.
//!
//! One test function: the metrics are the process's, so tests running beside it in this binary
//! would move the same counters.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::TestApp;
use serde_json::json;

/// One scrape: series (name with its labels, as written) to value, and each family's type.
struct Scrape {
    values: HashMap<String, f64>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn get(&self, series: &str) -> f64 {
        self.values.get(series).copied().unwrap_or(0.0)
    }
}

/// Parses the text exposition format strictly enough to catch what Prometheus would refuse:
/// every sample belongs to a family with a `# TYPE`, labels are `name="value"` pairs, and values
/// are numbers.
fn parse(text: &str) -> Scrape {
    let mut values = HashMap::new();
    let mut types = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE line");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line: {line}");
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').expect("labels end with }");
                for pair in split_labels(labels) {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("label: {line}"));
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "label name {k:?}: {line}"
                    );
                    assert!(v.starts_with('"') && v.ends_with('"'), "label value: {line}");
                }
                name
            }
            None => series,
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name: {line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no # TYPE for {family}: {line}");
        values.insert(series.to_string(), value);
    }
    Scrape { values, types }
}

/// `a="x",b="y,z"` into its pairs (a comma inside quotes does not split).
fn split_labels(labels: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        out.push(&labels[start..]);
    }
    out
}

async fn scrape(app: &TestApp) -> (String, Scrape) {
    let at = app.metrics_addr.expect("METRICS_ADDR is set");
    let resp = app.http.get(format!("http://{at}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    let parsed = parse(&text);
    (text, parsed)
}

/// When `promtool` (Prometheus's own checker, installed by `make check-monitoring`) is on the
/// PATH, it lints the scrape too: naming conventions, HELP texts, histogram shape.
fn promtool_check(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not found: `make check-monitoring` installs it; skipping its lint");
        return;
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_real_traffic() {
    let app = TestApp::spawn(&[]).await;
    let (_, before) = scrape(&app).await;

    // Traffic: a sign-up, a login, a wrong login, a room with two sockets and three posts, a
    // direct message, a 404.
    let [alice, bob] = app.tokens(["alice", "bob"]).await;
    let (status, _) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "alice", "password": "password123"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .post(
            "/v1/auth/login",
            None,
            json!({"username": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, 401);
    let room = app.create_room(&alice, "Metered").await;
    let mut wa = app.ws(&alice).await;
    wa.join(room, None).await;
    let mut wb = app.ws(&bob).await;
    wb.join(room, None).await;
    for i in 0..3 {
        let (status, _) = app
            .post(
                &format!("/v1/chat/rooms/{room}/messages"),
                Some(&alice),
                json!({"chatmessage": format!("m{i}")}),
            )
            .await;
        assert_eq!(status, 201);
    }
    for ws in [&mut wa, &mut wb] {
        for i in 0..3 {
            let f = ws.next_where(|v| v["type"] == 1).await;
            assert_eq!(f["chatmessage"], format!("m{i}"));
        }
    }
    let (status, _) = app
        .post("/v1/chat/threads/bob", Some(&alice), json!({"message": "hi"}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.get("/v1/no/such/route", None).await.0, 404);
    // Delivery counts are taken as the socket task writes; give the last batch a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (text, after) = scrape(&app).await;
    promtool_check(&text);
    let moved = |series: &str| after.get(series) - before.get(series);
    assert_eq!(moved("tickertalk_logins_total{result=\"success\"}"), 1.0);
    assert_eq!(moved("tickertalk_logins_total{result=\"failure\"}"), 1.0);
    assert_eq!(moved("tickertalk_messages_stored_total{kind=\"room\"}"), 3.0);
    assert_eq!(moved("tickertalk_messages_stored_total{kind=\"direct\"}"), 1.0);
    assert_eq!(moved("tickertalk_deliveries_total"), 6.0, "3 posts to 2 sockets");
    // One latency sample per socket write that carried room messages (its oldest one's).
    let writes = moved("tickertalk_delivery_latency_seconds_count");
    assert!((2.0..=6.0).contains(&writes), "{writes} writes");
    assert!(
        after.get("tickertalk_delivery_latency_seconds_bucket{le=\"+Inf\"}")
            >= after.get("tickertalk_delivery_latency_seconds_bucket{le=\"0.1\"}")
    );
    assert_eq!(
        moved(
            "tickertalk_http_requests_total{method=\"POST\",route=\"/v1/chat/rooms/{id}/messages\",status=\"201\"}"
        ),
        3.0
    );
    assert_eq!(
        moved("tickertalk_http_requests_total{method=\"POST\",route=\"/v1/auth/login\",status=\"401\"}"),
        1.0
    );
    assert_eq!(
        moved("tickertalk_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"),
        1.0
    );
    assert_eq!(
        moved("tickertalk_http_requests_total{method=\"GET\",route=\"/v1/ws\",status=\"101\"}"),
        2.0
    );
    assert!(
        moved("tickertalk_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/auth/signup\"}")
            >= 2.0
    );
    assert_eq!(after.get("tickertalk_websockets_open"), 2.0);
    assert_eq!(after.get("tickertalk_room_memberships"), 2.0);
    assert_eq!(after.get("tickertalk_broker_connected"), 1.0);
    assert_eq!(after.get("tickertalk_db_pool_max_connections"), 8.0);
    assert!(after.get("tickertalk_db_pool_connections{state=\"idle\"}") >= 1.0);
    assert!(
        moved("tickertalk_broker_confirm_seconds_count") >= 1.0,
        "published events were confirmed"
    );

    // Conventions: counters end in _total, every family is ours and typed.
    for (family, kind) in &after.types {
        assert!(family.starts_with("tickertalk_"), "{family}");
        assert_eq!(kind == "counter", family.ends_with("_total"), "{family}: {kind}");
        if family.ends_with("_seconds") {
            assert_eq!(kind, "histogram", "{family}");
        }
    }

    // A socket going away: the gauges follow.
    drop(wb);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, later) = scrape(&app).await;
    assert_eq!(later.get("tickertalk_websockets_open"), 1.0);
    assert_eq!(later.get("tickertalk_room_memberships"), 1.0);

    request_ids(&app).await;
}

/// Every answer carries an `X-Request-Id`: the client's when it is a sane one, else a new one.
async fn request_ids(app: &TestApp) {
    let id_of = |resp: &reqwest::Response| resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let plain = app.http.get(app.url("/healthz")).send().await.unwrap();
    let fresh = id_of(&plain);
    assert_eq!(fresh.len(), 32, "{fresh}");
    let again = id_of(&app.http.get(app.url("/healthz")).send().await.unwrap());
    assert_ne!(fresh, again, "a new id per request");
    let kept = app
        .http
        .get(app.url("/v1/auth/me"))
        .header("x-request-id", "qa-42.b")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 401, "errors carry it too");
    assert_eq!(id_of(&kept), "qa-42.b");
    let odd = app
        .http
        .get(app.url("/no-such-page"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 404);
    assert_ne!(id_of(&odd), "<script>", "a strange id is replaced, not echoed");
}
