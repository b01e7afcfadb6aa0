//! `tickertalk routes` (http::routes::all(), which `make check-openapi` compares with docs/openapi.yaml)
//! must be the routes the router really answers.

mod common;

use common::TestApp;
use serde_json::json;
use tickertalk::http::routes;

#[tokio::test]
async fn every_listed_route_is_served_and_unlisted_paths_are_404() {
    // With the test-only routes on, so that every route of the table is served.
    let app = TestApp::spawn(&["--qa-routes"]).await;
    for route in routes::all() {
        let method = &route.method;
        let path = route
            .template()
            .replace("{id}", "1")
            .replace("{mid}", "1")
            .replace("{emoji}", "%F0%9F%91%8D")
            .replace("{username}", "someone");
        let req = app
            .http
            .request(method.clone(), app.url(&path))
            .header("content-type", "application/json");
        let req = if method == "POST" { req.body("{}") } else { req };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        // 404 is fine for an unknown room/user, but never "no such route"; 405 never. (A 200
        // may say "no such route": the OpenAPI document quotes it.)
        assert!(
            !(status == 404 && body.contains("no such route")) && status != 405,
            "{method} {path} -> {status} {body}"
        );
    }
    for path in ["/v1/nope", "/v1/chat/roomz", "/v1/auth/signout"] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["detail"], "no such route");
    }
    let (status, _) = app.get("/v1/openapi.yaml", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_client_is_served_with_a_strict_content_security_policy() {
    let app = TestApp::spawn(&[]).await;
    let resp = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("<script type=\"module\""), "the client is served");
}

/// `/metrics` tells whether logins are being throttled, among much else: it is served on
/// `METRICS_ADDR` only, and the public listener answers it like any unknown path.
#[tokio::test]
async fn metrics_are_not_on_the_public_listener() {
    let app = TestApp::spawn(&[]).await;
    let (status, body) = app.get("/metrics", None).await;
    assert_eq!((status, &body["detail"]), (404, &json!("no such route")));
    let at = app.metrics_addr.expect("METRICS_ADDR is set");
    let other = app
        .http
        .get(format!("http://{at}/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "only /metrics there");
    // Off when empty.
    let off = TestApp::spawn(&["--metrics-addr="]).await;
    assert_eq!(off.metrics_addr, None);
}
