//! The one table of routes. The router is built from it, `tickertalk routes` prints it, and the
//! OpenAPI check compares `docs/openapi.yaml` with that printout: adding a row is all it takes
//! to serve, list and be made to document a route.
//!
//! A path is written the way the OpenAPI document writes it, with each parameter's type where
//! it is declared: `/v1/chat/rooms/{id:int}` (an integer: any other segment there is not this
//! route, 404) or `/v1/chat/threads/{username}` (any non-empty segment). Handlers read them by
//! name (`req.int("id")`, `req.text("username")`). One matcher (`match_path`) serves the router,
//! the 404/405 answers and the metrics' route label.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
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
use super::{
    AppState, MAX_BODY, auth, changes, compat, dms, health, origin, parse_json, qa, rooms, search, socket,
    users,
};
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
    /// The path pattern, with typed parameters (see the module comment).
    pub path: &'static str,
    pub api: Api,
    pub handler: Handler,
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
    }
}

/// An `/api` route.
const fn classic(method: Method, path: &'static str, handler: Handler) -> Route {
    Route {
        method,
        path,
        api: Api::Classic,
        handler,
    }
}

/// Every route the server answers in production, apart from the static files of the web
/// client.
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
    route(Method::GET, "/v1/chat/rooms/{id:int}", user!(rooms::get)),
    route(
        Method::GET,
        "/v1/chat/rooms/{id:int}/messages",
        user!(rooms::history),
    ),
    route(
        Method::POST,
        "/v1/chat/rooms/{id:int}/messages",
        user!(rooms::post),
    ),
    route(
        Method::PUT,
        "/v1/chat/rooms/{id:int}/read",
        user!(rooms::mark_read),
    ),
    route(Method::PATCH, "/v1/chat/rooms/{id:int}", user!(rooms::update)),
    route(
        Method::GET,
        "/v1/chat/rooms/{id:int}/members",
        user!(rooms::members),
    ),
    route(
        Method::DELETE,
        "/v1/chat/rooms/{id:int}/members/me",
        user!(rooms::leave),
    ),
    route(
        Method::GET,
        "/v1/chat/rooms/{id:int}/watchlist",
        user!(rooms::watchlist),
    ),
    route(
        Method::PATCH,
        "/v1/chat/rooms/{id:int}/messages/{mid:int}",
        user!(changes::edit_room),
    ),
    route(
        Method::DELETE,
        "/v1/chat/rooms/{id:int}/messages/{mid:int}",
        user!(changes::delete_room),
    ),
    route(
        Method::PUT,
        "/v1/chat/rooms/{id:int}/messages/{mid:int}/reactions/{emoji}",
        user!(changes::react_room),
    ),
    route(
        Method::DELETE,
        "/v1/chat/rooms/{id:int}/messages/{mid:int}/reactions/{emoji}",
        user!(changes::unreact_room),
    ),
    // The original README documented /v1/api/chat/...; both paths serve the same history.
    route(
        Method::GET,
        "/v1/api/chat/rooms/{id:int}/messages",
        user!(rooms::history),
    ),
    route(Method::GET, "/v1/chat/inbox", user!(dms::inbox)),
    route(Method::GET, "/v1/users", user!(users::search)),
    route(Method::GET, "/v1/search", user!(search::search)),
    route(Method::GET, "/v1/chat/threads/{username}", user!(dms::thread)),
    route(Method::POST, "/v1/chat/threads/{username}", user!(dms::send)),
    route(
        Method::PUT,
        "/v1/chat/threads/{username}/read",
        user!(dms::mark_read),
    ),
    route(
        Method::PATCH,
        "/v1/chat/threads/{username}/messages/{mid:int}",
        user!(changes::edit_direct),
    ),
    route(
        Method::DELETE,
        "/v1/chat/threads/{username}/messages/{mid:int}",
        user!(changes::delete_direct),
    ),
    route(
        Method::PUT,
        "/v1/chat/threads/{username}/messages/{mid:int}/reactions/{emoji}",
        user!(changes::react_direct),
    ),
    route(
        Method::DELETE,
        "/v1/chat/threads/{username}/messages/{mid:int}/reactions/{emoji}",
        user!(changes::unreact_direct),
    ),
    route(Method::GET, "/v1/ws", public!(socket::upgrade)),
    route(Method::GET, "/v1/ws/check", public!(origin::check)),
    // The original direct-message server's API (http::compat).
    classic(Method::POST, "/api/register", public!(compat::register)),
    classic(Method::POST, "/api/auth_token", public!(compat::create_token)),
    classic(Method::DELETE, "/api/auth_token", user!(compat::delete_token)),
    classic(Method::GET, "/api/inbox", user!(compat::inbox)),
    classic(Method::GET, "/api/thread/{username}", user!(compat::thread)),
    classic(Method::GET, "/api/ws", public!(compat::ws)),
];

/// Test-only routes (`http::qa`), served only when `QA_ROUTES` is set. Not in `ROUTES`: with
/// the setting off such a path is not routed at all, a plain 404 like any unknown path (not a
/// 401 or a 405 that would tell it exists).
pub static QA_ROUTES: &[Route] = &[
    route(Method::POST, "/v1/qa/expired-token", user!(qa::expired_token)),
    route(Method::DELETE, "/v1/qa/account", user!(qa::delete_account)),
];

/// Every route of both tables (what `tickertalk routes` lists and the OpenAPI document
/// describes).
pub fn all() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().chain(QA_ROUTES)
}

/// A path's parameters by name, as sent (already checked against their types).
pub type Params = Vec<(&'static str, String)>;

/// One segment of a path pattern.
#[derive(Debug, PartialEq)]
enum Segment {
    Literal(&'static str),
    /// `{name:int}`: an `i64`.
    Int(&'static str),
    /// `{name}`: any non-empty segment.
    Text(&'static str),
}

fn segments(pattern: &'static str) -> impl Iterator<Item = Segment> {
    pattern.trim_start_matches('/').split('/').map(move |s| {
        match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(p) => match p.split_once(':') {
                Some((name, "int")) => Segment::Int(name),
                Some((_, kind)) => panic!("unknown parameter type {kind} in {pattern}"),
                None => Segment::Text(p),
            },
            None => Segment::Literal(s),
        }
    })
}

/// The one path matcher: `path`'s parameters if it is one of `pattern`'s paths.
pub fn match_path(pattern: &'static str, path: &str) -> Option<Params> {
    let mut got = path.strip_prefix('/')?.split('/');
    let mut params = Vec::new();
    for want in segments(pattern) {
        let g = got.next()?;
        match want {
            Segment::Literal(w) if w == g => {}
            Segment::Int(name) if g.parse::<i64>().is_ok() => params.push((name, g.to_string())),
            Segment::Text(name) if !g.is_empty() => params.push((name, g.to_string())),
            _ => return None,
        }
    }
    got.next().is_none().then_some(params)
}

impl Route {
    /// The path as the OpenAPI document writes it: `/v1/chat/rooms/{id}`.
    pub fn template(&self) -> &'static str {
        static TEMPLATES: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
            all()
                .map(|r| {
                    let t: String = segments(r.path)
                        .map(|s| match s {
                            Segment::Literal(l) => format!("/{l}"),
                            Segment::Int(n) | Segment::Text(n) => format!("/{{{n}}}"),
                        })
                        .collect();
                    // Made once for each route of the static tables.
                    (r.path, &*Box::leak(t.into_boxed_str()))
                })
                .collect()
        });
        TEMPLATES[self.path]
    }
}

/// What a handler gets of the request, gathered once by the router.
pub struct Request {
    /// Path parameters by name.
    params: Params,
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
    fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("the route declares no parameter {name}"))
    }

    /// Path parameter `{name}`, as sent.
    pub fn text(&self, name: &str) -> &str {
        self.param(name)
    }

    /// Path parameter `{name:int}` (the router already refused anything but an integer).
    pub fn int(&self, name: &str) -> i64 {
        self.param(name)
            .parse()
            .expect("the router checked that the parameter is an integer")
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
                    no_nul_in(&query)?;
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

/// The query parameters handlers read, so a refusal can name the field.
const QUERY_FIELDS: &[&str] = &[
    "q", "after", "before", "limit", "room_id", "order", "prefix", "dm_since", "page", "per_page", "since",
];

/// PostgreSQL text cannot hold U+0000: a query parameter a handler reads holding one is refused
/// (422) before the handler can pass it to a query, which would fail it as a 500.
fn no_nul_in(query: &HashMap<String, String>) -> Result<(), ApiError> {
    // Parameters no handler reads are ignored, as they always were, NUL or not.
    match QUERY_FIELDS
        .iter()
        .find(|f| query.get(**f).is_some_and(|v| v.contains('\0')))
    {
        Some(field) => Err(ApiError::invalid(field, "must not contain NUL characters")),
        None => Ok(()),
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

/// The routes this server answers: the production table, and the test-only one if `qa_routes`.
pub fn served(qa_routes: bool) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().chain(QA_ROUTES.iter().filter(move |_| qa_routes))
}

/// Every route served, tried in order.
pub fn api(state: Arc<AppState>) -> BoxedFilter<(Response,)> {
    served(state.qa_routes)
        .map(|r| r.filter(state.clone()))
        .reduce(|a, b| a.or(b).unify().boxed())
        .expect("the table has routes")
}

/// The table's pattern for `path` (`/v1/chat/rooms/{id}` for `/v1/chat/rooms/7`), whatever
/// the method: the `route` label of request metrics and spans, so its values are bounded.
pub fn pattern_of(path: &str) -> Option<&'static str> {
    all()
        .find(|r| match_path(r.path, path).is_some())
        .map(Route::template)
}

/// The methods served at `path`; empty when nothing is served there.
pub fn methods_at(path: &str, qa_routes: bool) -> Vec<Method> {
    let mut methods: Vec<Method> = Vec::new();
    for r in served(qa_routes).filter(|r| match_path(r.path, path).is_some()) {
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

/// The route's path (`match_path`) as a filter: its parameters, or a rejection (404).
fn path(pattern: &'static str) -> BoxedFilter<(Params,)> {
    warp::path::full()
        .and_then(move |full: FullPath| async move {
            match_path(pattern, full.as_str()).ok_or_else(warp::reject::not_found)
        })
        .boxed()
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
        for r in all() {
            assert!(
                seen.insert((r.method.clone(), r.template())),
                "{} {} twice",
                r.method,
                r.path
            );
            assert!(r.path.starts_with('/') && !r.path.ends_with('/'), "{}", r.path);
        }
    }

    #[test]
    fn path_parameters_are_named_and_typed_where_declared() {
        let messages = "/v1/chat/rooms/{id:int}/messages";
        assert_eq!(
            match_path(messages, "/v1/chat/rooms/42/messages"),
            Some(vec![("id", "42".to_string())])
        );
        for wrong in [
            "/v1/chat/rooms/abc/messages",
            "/v1/chat/rooms/42",
            "/v1/chat/rooms/42/messages/",
            "/v1/chat/rooms/42/messages/x",
            "v1/chat/rooms/42/messages",
        ] {
            assert_eq!(match_path(messages, wrong), None, "{wrong}");
        }
        let thread = "/v1/chat/threads/{username}";
        assert_eq!(
            match_path(thread, "/v1/chat/threads/bob"),
            Some(vec![("username", "bob".to_string())])
        );
        assert_eq!(match_path(thread, "/v1/chat/threads/"), None);
    }

    #[test]
    fn templates_are_the_openapi_paths() {
        let get = ROUTES
            .iter()
            .find(|r| r.path == "/v1/chat/rooms/{id:int}")
            .unwrap();
        assert_eq!(get.template(), "/v1/chat/rooms/{id}");
        assert_eq!(
            pattern_of("/v1/chat/threads/ann/read"),
            Some("/v1/chat/threads/{username}/read")
        );
    }

    #[tokio::test]
    async fn the_router_uses_the_same_matcher() {
        let f = path("/v1/chat/rooms/{id:int}/messages");
        let got = warp::test::request()
            .path("/v1/chat/rooms/42/messages?before=3")
            .filter(&f)
            .await
            .unwrap();
        assert_eq!(got, vec![("id", "42".to_string())]);
        assert!(
            !warp::test::request()
                .path("/v1/chat/rooms/abc/messages")
                .matches(&f)
                .await
        );
    }

    #[test]
    fn test_only_routes_are_served_only_when_asked() {
        assert!(served(false).all(|r| !r.path.starts_with("/v1/qa/")));
        assert_eq!(served(true).count(), ROUTES.len() + QA_ROUTES.len());
    }
}
