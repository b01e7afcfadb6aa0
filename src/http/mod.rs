//! The HTTP boundary: one module per resource, the route table (`routes`), the one error type
//! (`error`), and the WebSocket upgrade (`socket`). Handlers turn a request into a call to the
//! chat use cases and the answer into JSON; what anything *means* is decided in `chat`.
//!
//! Handlers never reject: every outcome, errors included, is a finished `Response`, so warp's
//! route combination cannot turn an auth failure into a misleading 404/405. Only requests no
//! route matches reach `recover`.
//!
//! Layer 5 (docs/architecture.md): it may use everything below it; only `startup` uses it.

pub mod auth;
mod changes;
pub mod compat;
pub mod dms;
pub mod error;
pub mod health;
pub mod limits;
pub mod listener;
pub mod observe;
pub mod origin;
pub mod pages;
pub mod qa;
pub mod rooms;
pub mod routes;
mod search;
pub mod socket;
pub mod users;
pub mod web;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::chat::Chat;
use crate::domain::{ClientId, FieldErrors};
use crate::realtime::{Hub, SocketSettings};
use crate::shutdown::Shutdown;
use error::{ApiError, problem};
pub use routes::{QA_ROUTES, ROUTES, Route};

/// Largest JSON body accepted; larger ones get 413.
pub const MAX_BODY: u64 = 64 * 1024;

/// What every handler can reach: plain data, built once by `startup`.
pub struct AppState {
    /// The use cases.
    pub chat: Arc<Chat>,
    /// This instance's sockets; the upgrade registers new ones here.
    pub hub: Arc<Hub>,
    pub sockets: SocketSettings,
    /// Lower-cased `Origin` values allowed to open WebSockets.
    pub origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// WebSockets open per user on this instance, capped (`MAX_SOCKETS_PER_USER`).
    pub user_sockets: Arc<limits::Tally<i64>>,
    /// Latest history pages, reused while their room has no newer message.
    pub pages: pages::LatestPages,
    /// Handed to each socket task: they close with 1001 on it, and the drain waits for them.
    pub shutdown: Shutdown,
    /// `QA_ROUTES`: whether `/v1/qa/*` answers (`qa`).
    pub qa_routes: bool,
    /// How long a request body may take to arrive (`HTTP_BODY_TIMEOUT_SECS`).
    pub body_timeout: std::time::Duration,
}

/// `METRICS_ADDR`'s surface: `GET /metrics` in the Prometheus text format, 404 for anything else.
/// It holds the hub and the use cases, not the whole state: it serves until the last phase of
/// a stop, and the state's socket handle would hold up the first.
pub fn metrics_router(state: &AppState) -> BoxedFilter<(Response,)> {
    let (chat, hub) = (state.chat.clone(), state.hub.clone());
    warp::path!("metrics")
        .and(warp::get())
        .map(move || health::metrics(&chat, &hub))
        .or(warp::any().map(|| ApiError::NotFound("no such route: try /metrics".into()).into_response()))
        .unify()
        .boxed()
}

/// The whole HTTP surface, with problem-details for unmatched requests and security headers.
pub fn router(state: Arc<AppState>) -> BoxedFilter<(Response,)> {
    let qa_routes = state.qa_routes;
    routes::api(state)
        .or(web::routes())
        .unify()
        .or(routes::unmatched(qa_routes))
        .unify()
        .recover(handle_rejection)
        .unify()
        .with(warp::reply::with::headers(security_headers()))
        .map(Reply::into_response)
        .boxed()
}

fn security_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h
}

/// Maps requests no route took (or warp's own checks refused) to problem details.
async fn handle_rejection(err: Rejection) -> Result<Response, Infallible> {
    let (status, detail) = if err.is_not_found() {
        (StatusCode::NOT_FOUND, "no such route".to_string())
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed on this route".to_string(),
        )
    } else if err.find::<warp::reject::InvalidHeader>().is_some()
        || err.find::<warp::reject::MissingHeader>().is_some()
    {
        (StatusCode::BAD_REQUEST, "missing or invalid header".to_string())
    } else {
        tracing::debug!(?err, "unhandled rejection");
        (StatusCode::BAD_REQUEST, "bad request".to_string())
    };
    Ok(problem(status, &detail))
}

/// Parses a JSON body: 400 when it is not JSON (saying where), 422 when a field has the
/// wrong type.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("request body must be a JSON object".into()));
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::BadRequest("request body must be a JSON object".into()));
    };
    whole_numbers_as_integers(object);
    crate::domain::fields::check::<T>(object).map_err(ApiError::Invalid)?;
    serde_json::from_value(value).map_err(|e| ApiError::invalid("body", e.to_string()))
}

/// `1.0` is the integer 1 to JSON (and to JSON Schema, so to the OpenAPI document): a field
/// holding a whole number written with a fraction is read as that integer. Only exact ones, in
/// the range where a double holds every integer.
fn whole_numbers_as_integers(object: &mut serde_json::Map<String, serde_json::Value>) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    for v in object.values_mut() {
        if let Some(f) = v.as_f64().filter(|_| v.is_f64())
            && f.fract() == 0.0
            && f.abs() <= EXACT
        {
            *v = serde_json::Value::from(f as i64);
        }
    }
}

/// A JSON response with a status.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// 204, no body.
pub fn no_content() -> Response {
    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
}

/// A response whose JSON body is already encoded (a cached history page).
pub fn json_bytes(status: StatusCode, body: bytes::Bytes) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A request body's optional `client_id`, validated (`ClientId`): posting a room message and
/// sending a direct message read it the same way.
pub fn client_id(raw: Option<String>) -> Result<Option<String>, ApiError> {
    raw.map(|c| ClientId::parse(&c).map(|c| c.as_str().to_string()))
        .transpose()
        .map_err(|e| ApiError::invalid("client_id", e))
}

/// `before` and `limit` query parameters, shared by room and thread history.
pub struct Paging {
    pub before: Option<i64>,
    pub limit: i64,
}

impl Paging {
    pub fn parse(q: &HashMap<String, String>) -> Result<Paging, ApiError> {
        let mut errors = FieldErrors::new();
        let before = match q.get("before").map(|v| v.parse::<i64>()) {
            None => None,
            Some(Ok(v)) if v > 0 => Some(v),
            Some(_) => {
                errors.insert("before", "must be a message id".into());
                None
            }
        };
        let limit = limit_param(q, 50, 100, &mut errors);
        if errors.is_empty() {
            Ok(Paging { before, limit })
        } else {
            Err(ApiError::Invalid(errors))
        }
    }
}

/// The `limit` query parameter: `default` when absent, else an integer from 1 to `max`
/// (otherwise a field error, and `default`). History and the user search page the same way.
pub fn limit_param(q: &HashMap<String, String>, default: i64, max: i64, errors: &mut FieldErrors) -> i64 {
    match q.get("limit").map(|v| v.parse::<i64>()) {
        None => default,
        Some(Ok(v)) if (1..=max).contains(&v) => v,
        Some(_) => {
            errors.insert("limit", format!("must be an integer from 1 to {max}"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_written_with_a_fraction_are_integers() {
        #[derive(serde::Deserialize, Debug)]
        struct B {
            id: Option<i64>,
        }
        assert_eq!(parse_json::<B>(br#"{"id":7.0}"#).unwrap().id, Some(7));
        assert_eq!(parse_json::<B>(br#"{"id":7}"#).unwrap().id, Some(7));
        assert!(parse_json::<B>(br#"{"id":7.5}"#).is_err());
        assert!(parse_json::<B>(br#"{"id":1e300}"#).is_err());
    }

    #[test]
    fn json_bodies_distinguish_malformed_from_invalid() {
        #[derive(serde::Deserialize, Debug)]
        struct B {
            #[allow(dead_code)]
            name: Option<String>,
        }
        assert!(matches!(parse_json::<B>(b"{nope"), Err(ApiError::BadRequest(m)) if m.contains("line 1")));
        assert!(matches!(parse_json::<B>(b""), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_json::<B>(b"[]"), Err(ApiError::BadRequest(_))));
        assert!(matches!(
            parse_json::<B>(br#"{"name":5}"#),
            Err(ApiError::Invalid(_))
        ));
        assert!(parse_json::<B>(br#"{"name":"x"}"#).is_ok());
    }

    #[test]
    fn paging_defaults_and_bounds() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = Paging::parse(&q(&[])).unwrap();
        assert_eq!((p.before, p.limit), (None, 50));
        assert!(Paging::parse(&q(&[("limit", "0")])).is_err());
        assert!(Paging::parse(&q(&[("limit", "101")])).is_err());
        assert!(Paging::parse(&q(&[("before", "abc")])).is_err());
        assert_eq!(
            Paging::parse(&q(&[("before", "9"), ("limit", "5")]))
                .unwrap()
                .limit,
            5
        );
    }
}
