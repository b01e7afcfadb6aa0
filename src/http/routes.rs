//! The one table of routes. The router is built from it, `tickertalk routes` prints it, and the
//! OpenAPI check compares `docs/openapi.yaml` with that printout: adding a row is all it takes
//! to serve, list and be made to document a route.
//!
//! A path is written the way the OpenAPI document writes it (`/v1/chat/rooms/{id}`). A
//! parameter named `id` must be an integer: any other segment there is not this route (404),
//! as with warp's own typed segments.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use serde::de::DeserializeOwned;
use warp::filters::BoxedFilter;
use warp::filters::path::FullPath;
use warp::http::{HeaderMap, HeaderValue, Method};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::ApiError;
use super::listener::ConnInfo;
use super::{AppState, MAX_BODY, auth, compat, dms, health, origin, parse_json, qa, rooms, socket, users};
use crate::auth::AuthUser;

/// What every handler returns; `Err` becomes the error reply of the route's `Api`.
pub type HandlerResult = Result<Response, ApiError>;

/// A handler's future. Boxed, so the table can hold plain function pointers.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;

/// Which API a route belongs to: how its caller is authenticated and how its errors read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// This server's API: `Authorization: Bearer` with a `/v1` access token; errors as
    /// problem details.
    V1,
    /// `/api/*`, the original direct-message server's (`http::compat`): a client-signed JWT
    /// naming its access key, or a `/v1` token, from the header, the query or a form field;
    /// errors in that API's envelope.
    Classic,
}

/// Who may call a route, and so what its handler is given.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Anyone. The WebSocket upgrades are such routes: they take their token from the query
    /// string too, and must refuse a foreign Origin before looking at the token.
    Public(fn(Arc<AppState>, Request) -> HandlerFuture),
    /// A caller authenticated by its route's `Api` rules; the handler receives it. A request
    /// without one never reaches the handler (401).
    User(fn(Arc<AppState>, AuthUser, Request) -> HandlerFuture),
}

/// One row of the table.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub api: Api,
    pub handler: Handler,
    /// Test-only (`QA_ROUTES`): not in the router at all unless enabled, so that with the
    /// setting off such a path is a plain 404 like any unknown path (not a 401 or a 405 that
    /// would tell it exists).
    pub test_only: bool,
}

macro_rules! public {
    ($f:path) => {
        Handler::Public(|state, req| Box::pin($f(state, req)))
    };
}

macro_rules! user {
    ($f:path) => {
        Handler::User(|state, me, req| Box::pin($f(state, me, req)))
    };
}

/// A `/v1` (or health) route.
const fn route(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        api: Api::V1,
        handler,
        test_only: false,
    }
}

/// A test-only `/v1/qa` route (`QA_ROUTES`).
const fn qa_route(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        api: Api::V1,
        handler,
        test_only: true,
    }
}

/// An `/api` route.
const fn classic(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        api: Api::Classic,
        handler,
        test_only: false,
    }
}

/// Every route the server answers, apart from the static files of the web client.
pub static ROUTES: &[Route] = &[
    route(Method::GET, "/healthz", public!(health::healthz)),
    route(Method::GET, "/readyz", public!(health::readyz)),
    route(Method::GET, "/v1/openapi.yaml", public!(health::openapi)),
    route(Method::POST, "/v1/auth/signup", public!(auth::signup)),
    route(Method::POST, "/v1/auth/login", public!(auth::login)),
    route(Method::POST, "/v1/auth/refresh", public!(auth::refresh)),
    route(Method::DELETE, "/v1/auth/token", user!(auth::logout)),
    route(Method::GET, "/v1/auth/me", user!(auth::me)),
    route(Method::POST, "/v1/auth/password", user!(auth::change_password)),
    route(
        Method::DELETE,
        "/v1/auth/sessions",
        user!(auth::log_out_everywhere),
    ),
    route(Method::POST, "/v1/chat/rooms", user!(rooms::create)),
    route(Method::GET, "/v1/chat/rooms", user!(rooms::list)),
    route(Method::GET, "/v1/chat/rooms/{id}", user!(rooms::get)),
    route(Method::GET, "/v1/chat/rooms/{id}/messages", user!(rooms::history)),
    route(Method::POST, "/v1/chat/rooms/{id}/messages", user!(rooms::post)),
    route(Method::PUT, "/v1/chat/rooms/{id}/read", user!(rooms::mark_read)),
    // The original README documented /v1/api/chat/...; both paths serve the same history.
    route(
        Method::GET,
        "/v1/api/chat/rooms/{id}/messages",
        user!(rooms::history),
    ),
    route(Method::GET, "/v1/chat/inbox", user!(dms::inbox)),
    route(Method::GET, "/v1/users", user!(users::search)),
    route(Method::GET, "/v1/chat/threads/{username}", user!(dms::thread)),
    route(Method::POST, "/v1/chat/threads/{username}", user!(dms::send)),
    route(
        Method::PUT,
        "/v1/chat/threads/{username}/read",
        user!(dms::mark_read),
    ),
    route(Method::GET, "/v1/ws", public!(socket::upgrade)),
    route(Method::GET, "/v1/ws/check", public!(origin::check)),
    // Test-only, 404 unless QA_ROUTES is set (http::qa).
    qa_route(Method::POST, "/v1/qa/expired-token", user!(qa::expired_token)),
    qa_route(Method::DELETE, "/v1/qa/account", user!(qa::delete_account)),
    // The original direct-message server's API (http::compat).
    classic(Method::POST, "/api/register", public!(compat::register)),
    classic(Method::POST, "/api/auth_token", public!(compat::create_token)),
    classic(Method::DELETE, "/api/auth_token", user!(compat::delete_token)),
    classic(Method::GET, "/api/inbox", user!(compat::inbox)),
    classic(Method::GET, "/api/thread/{username}", user!(compat::thread)),
    classic(Method::GET, "/api/ws", public!(compat::ws)),
];

/// What a handler gets of the request, gathered once by the router.
pub struct Request {
    /// Path parameters, in the order the path names them.
    params: Vec<String>,
    /// The query string as a map; a malformed one is empty (fields are validated later).
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    /// The body, at most `MAX_BODY` bytes (larger is 413 before any handler runs), with or
    /// without `Content-Length`. Empty for `/v1` methods without a body.
    pub body: Bytes,
    /// Present when the connection can be upgraded (the WebSocket handshake).
    pub upgrade: Option<OnUpgrade>,
    /// The client's address and the connection's place in the connection counts (`listener`);
    /// absent only for requests that did not come through the listener (warp's test requests).
    pub conn: Option<ConnInfo>,
}

impl Request {
    /// Path parameter `i`, as sent.
    pub fn param(&self, i: usize) -> &str {
        &self.params[i]
    }

    /// The client's address: the connection's peer, or for a connection from a trusted proxy
    /// the last `X-Forwarded-For` entry (the one that proxy added). `None` for requests that
    /// did not come through the listener.
    pub fn client_addr(&self, trusted: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
        let peer = self.conn.as_ref()?.addr;
        if !trusted.contains(&peer) {
            return Some(peer);
        }
        let forwarded = self
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .next_back();
        Some(forwarded.unwrap_or(peer))
    }

    /// Path parameter `i` as an integer (the router already refused anything else).
    pub fn id(&self, i: usize) -> i64 {
        self.params[i]
            .parse()
            .expect("the router checked that {id} is an integer")
    }

    /// The body as a JSON object of type `T` (400 when it is not JSON, 422 for a wrong field).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json(&self.body)
    }
}

impl Route {
    /// This route as a warp filter. Path and method are matched first, so a request for
    /// another route is rejected (404/405) before anything is read; once they match, the
    /// route always answers: an auth failure is a 401 response, not a rejection warp would
    /// turn into a misleading 404 or 405 of another route.
    fn filter(&'static self, state: Arc<AppState>) -> BoxedFilter<(Response,)> {
        let request = path(self.path)
            .and(method(&self.method))
            .and(
                warp::query::<HashMap<String, String>>()
                    .or(warp::any().map(HashMap::new))
                    .unify(),
            )
            .and(warp::header::headers_cloned())
            .and(self.body(state.body_timeout))
            .and(warp::ext::optional::<OnUpgrade>())
            .and(warp::ext::optional::<ConnInfo>())
            .map(
                |params, query, headers, body: Result<Bytes, ApiError>, upgrade, conn| {
                    body.map(|body| Request {
                        params,
                        query,
                        headers,
                        body,
                        upgrade,
                        conn,
                    })
                },
            );
        let (api, handler) = (self.api, self.handler);
        request
            .then(move |req| serve(state.clone(), api, handler, req))
            .boxed()
    }
}

/// Answers one request of a route: authenticate if the route asks for it, run the handler,
/// and write any error the way the route's API writes errors. A body the router refused
/// (too large, or unreadable) arrives here as `Err` (see `Route::body`).
async fn serve(state: Arc<AppState>, api: Api, handler: Handler, req: Result<Request, ApiError>) -> Response {
    let result = async {
        let req = req?;
        match handler {
            Handler::Public(f) => f(state, req).await,
            Handler::User(f) => {
                let me = authenticate(&state, api, &req).await?;
                f(state, me, req).await
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| match api {
        Api::V1 => e.into_response(),
        Api::Classic => compat::envelope_error(e),
    })
}

/// The routes this server answers: the table, less the test-only routes unless `qa_routes`.
pub fn served(qa_routes: bool) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |r| qa_routes || !r.test_only)
}

/// Every route served, tried in order.
pub fn api(state: Arc<AppState>) -> BoxedFilter<(Response,)> {
    served(state.qa_routes)
        .map(|r| r.filter(state.clone()))
        .reduce(|a, b| a.or(b).unify().boxed())
        .expect("the table has routes")
}

/// Whether `path` is one of `pattern`'s paths (an `{id}` must be an integer, as the router
/// requires).
fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.trim_start_matches('/').split('/');
    let mut got = path.trim_start_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) => {
                let ok = match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    Some("id") => g.parse::<i64>().is_ok(),
                    Some(_) => !g.is_empty(),
                    None => w == g,
                };
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The table's pattern for `path` (`/v1/chat/rooms/{id}` for `/v1/chat/rooms/7`), whatever
/// the method: the `route` label of request metrics and spans, so its values are bounded.
pub fn pattern_of(path: &str) -> Option<&'static str> {
    ROUTES.iter().find(|r| path_matches(r.path, path)).map(|r| r.path)
}

/// The methods served at `path`; empty when nothing is served there.
pub fn methods_at(path: &str, qa_routes: bool) -> Vec<Method> {
    let mut methods: Vec<Method> = Vec::new();
    for r in served(qa_routes).filter(|r| path_matches(r.path, path)) {
        if !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    methods
}

/// Requests no route (nor a web file) took: 404 for a path nothing is served at, whatever the
/// method; 405 with `Allow` for a path served with other methods; under `/api`, in that API's
/// envelope. A request whose method *is* served at its path but that no route took (a
/// rejection of warp's own) is passed on to `recover`.
pub fn unmatched(qa_routes: bool) -> BoxedFilter<(Response,)> {
    warp::method()
        .and(warp::path::full())
        .and_then(move |method: Method, path: FullPath| async move {
            let path = path.as_str();
            let allowed = methods_at(path, qa_routes);
            if allowed.contains(&method) {
                return Err(warp::reject::not_found());
            }
            let classic = path == "/api" || path.starts_with("/api/");
            if allowed.is_empty() {
                return Ok(if classic {
                    compat::not_found()
                } else {
                    ApiError::NotFound("no such route".into()).into_response()
                });
            }
            let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let err = ApiError::MethodNotAllowed(allow.clone());
            let mut resp = if classic {
                compat::envelope_error(err)
            } else {
                err.into_response()
            };
            resp.headers_mut().insert(
                "allow",
                HeaderValue::from_str(&allow).expect("method names are header-safe"),
            );
            Ok::<_, Rejection>(resp)
        })
        .boxed()
}

/// The one place an HTTP request's caller is authenticated, for every `Handler::User` route:
/// `/v1` resolves `Authorization: Bearer <token>` (signature, expiry and a live session); `/api`
/// takes that API's token from wherever its clients put it (`compat::token_of`).
async fn authenticate(state: &AppState, api: Api, req: &Request) -> Result<AuthUser, ApiError> {
    let caller = match api {
        Api::V1 => {
            let bearer = req.headers.get("authorization").and_then(|v| v.to_str().ok());
            state.chat.authenticate(bearer).await
        }
        Api::Classic => {
            state
                .chat
                .authenticate_api(compat::token_of(req).as_deref())
                .await
        }
    };
    Ok(caller?)
}

/// Matches a path written like `/v1/chat/rooms/{id}` and extracts its parameters.
fn path(pattern: &'static str) -> BoxedFilter<(Vec<String>,)> {
    let mut filter = warp::any().map(Vec::new).boxed();
    for segment in pattern.trim_start_matches('/').split('/') {
        filter = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let integer = name == "id";
                filter
                    .and(warp::path::param::<String>())
                    .and_then(move |mut params: Vec<String>, value: String| async move {
                        if integer && value.parse::<i64>().is_err() {
                            return Err(warp::reject::not_found());
                        }
                        params.push(value);
                        Ok::<_, Rejection>(params)
                    })
                    .boxed()
            }
            None => filter.and(warp::path(segment)).boxed(),
        };
    }
    filter.and(warp::path::end()).boxed()
}

fn method(method: &Method) -> BoxedFilter<()> {
    match *method {
        Method::GET => warp::get().boxed(),
        Method::POST => warp::post().boxed(),
        Method::PUT => warp::put().boxed(),
        Method::PATCH => warp::patch().boxed(),
        Method::DELETE => warp::delete().boxed(),
        ref other => panic!("no route uses {other}"),
    }
}

impl Route {
    /// The body, at most `MAX_BODY` bytes, as `Err(PayloadTooLarge)` when larger (handed on,
    /// never a rejection: a rejection would fall through to the other routes and the
    /// catch-alls and come out as a misleading 404 or 405).
    ///
    /// `/v1` reads it only for methods that carry one. `/api` reads it for every method,
    /// because its clients may put `access_token` in a form body even on DELETE.
    fn body(&self, timeout: Duration) -> BoxedFilter<(Result<Bytes, ApiError>,)> {
        let reads =
            self.api == Api::Classic || matches!(self.method, Method::POST | Method::PUT | Method::PATCH);
        if reads {
            read_body(timeout)
        } else {
            warp::any().map(|| Ok(Bytes::new())).boxed()
        }
    }
}

/// A request body of at most `MAX_BODY` bytes, however it is framed: a `Content-Length` over
/// the limit is refused before anything is read, a chunked body is read until it passes the
/// limit, and a request with neither header has no body (RFC 9112 §6.3), so `curl -X POST`
/// without `-d` works like any other client.
/// The whole body must arrive within `timeout` (a stalled one is `BodyTimeout`: 408, and the
/// connection closes).
fn read_body(timeout: Duration) -> BoxedFilter<(Result<Bytes, ApiError>,)> {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .then(move |length, body| async move {
            tokio::time::timeout(timeout, read_bounded(length, body))
                .await
                .unwrap_or(Err(ApiError::BodyTimeout))
        })
        .boxed()
}

async fn read_bounded<B: bytes::Buf>(
    length: Option<u64>,
    body: impl futures_util::Stream<Item = Result<B, warp::Error>>,
) -> Result<Bytes, ApiError> {
    use bytes::BufMut;
    use futures_util::StreamExt;

    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut read = bytes::BytesMut::with_capacity(length.unwrap_or(0) as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if (read.len() + chunk.remaining()) as u64 > MAX_BODY {
            return Err(ApiError::PayloadTooLarge);
        }
        read.put(chunk);
    }
    Ok(read.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_with_a_path_the_router_can_match() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method.clone(), r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert!(r.path.starts_with('/') && !r.path.ends_with('/'), "{}", r.path);
        }
    }

    #[tokio::test]
    async fn path_parameters_are_extracted_and_ids_must_be_integers() {
        let f = path("/v1/chat/rooms/{id}/messages");
        let got = warp::test::request()
            .path("/v1/chat/rooms/42/messages")
            .filter(&f)
            .await
            .unwrap();
        assert_eq!(got, vec!["42".to_string()]);
        assert!(
            !warp::test::request()
                .path("/v1/chat/rooms/abc/messages")
                .matches(&f)
                .await
        );
        assert!(!warp::test::request().path("/v1/chat/rooms/42").matches(&f).await);
        let by_name = path("/v1/chat/threads/{username}");
        let got = warp::test::request()
            .path("/v1/chat/threads/bob")
            .filter(&by_name)
            .await
            .unwrap();
        assert_eq!(got, vec!["bob".to_string()]);
    }
}
