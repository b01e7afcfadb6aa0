//! What every HTTP request leaves behind: a `tracing` span (method, route, request id, then
//! status and latency), the `X-Request-Id` header on the answer, and the request metrics
//! (`tickertalk_http_requests_total`, `tickertalk_http_request_duration_seconds`). The listener
//! wraps each request in `Observed`; handlers read the id from `RequestId` (a `/stock=` command
//! carries it to the bot and back).

use std::time::{Duration, Instant};

use tracing::Span;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::routes;

/// The request's id: the client's `X-Request-Id` when it is a sane one, else a new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// Longest client-chosen id kept; a longer or stranger one is replaced, so logs and
    /// headers never carry arbitrary client bytes.
    const MAX: usize = 64;

    pub fn of(headers: &HeaderMap) -> RequestId {
        headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= Self::MAX
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
            })
            .map_or_else(RequestId::new, |id| RequestId(id.to_string()))
    }

    /// A new id (a random UUID, simple form).
    pub fn new() -> RequestId {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

/// One request being answered.
pub struct Observed {
    pub id: RequestId,
    pub span: Span,
    method: &'static str,
    route: Option<&'static str>,
    started: Instant,
}

impl Observed {
    pub fn start(method: &Method, path: &str, headers: &HeaderMap) -> Observed {
        let id = RequestId::of(headers);
        let method = method_label(method);
        let route = routes::pattern_of(path);
        let span = tracing::info_span!(
            "http",
            %method,
            route = %route.unwrap_or("-"),
            request_id = %id.0,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        Observed {
            id,
            span,
            method,
            route,
            started: Instant::now(),
        }
    }

    /// Records the answer: metrics, the span's status and latency, one log line (debug for a
    /// success, info for a client error, warn for a server error), and the id header.
    pub fn finish(self, status: StatusCode, headers: &mut HeaderMap) {
        let elapsed = self.started.elapsed();
        let route = self.route.unwrap_or(match status {
            StatusCode::NOT_FOUND => "unmatched",
            _ => "static",
        });
        record(self.method, route, status, elapsed);
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        self.span.record("status", status.as_u16());
        self.span.record("latency_ms", latency_ms);
        // The line names the request itself too: under `RUST_LOG=warn` the (info) span is off,
        // and a 5xx line must still say which request it was.
        let _in = self.span.enter();
        let (method, id, code) = (self.method, self.id.0.as_str(), status.as_u16());
        if status.is_server_error() {
            tracing::warn!(
                %method,
                %route,
                request_id = %id,
                status = code,
                latency_ms,
                "request failed"
            );
        } else if status.is_client_error() {
            tracing::info!(
                %method,
                %route,
                request_id = %id,
                status = code,
                latency_ms,
                "request refused"
            );
        } else {
            tracing::debug!(
                %method,
                %route,
                request_id = %id,
                status = code,
                latency_ms,
                "request"
            );
        }
        if let Ok(v) = HeaderValue::from_str(&self.id.0) {
            headers.insert("x-request-id", v);
        }
    }
}

fn record(method: &'static str, route: &'static str, status: StatusCode, elapsed: Duration) {
    metrics::counter!(
        "tickertalk_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status_label(status),
    )
    .increment(1);
    metrics::histogram!(
        "tickertalk_http_request_duration_seconds",
        "method" => method,
        "route" => route,
    )
    .record(elapsed.as_secs_f64());
}

/// Methods as labels: the ones HTTP defines, anything else `OTHER` (label values stay bounded).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// A status code as a static label (no allocation per request).
fn status_label(status: StatusCode) -> &'static str {
    const CODES: &[&str] = &[
        "100", "101", "200", "201", "202", "204", "206", "301", "302", "304", "307", "308", "400", "401",
        "403", "404", "405", "406", "408", "409", "411", "413", "414", "415", "422", "426", "429", "431",
        "500", "501", "502", "503", "504",
    ];
    let code = status.as_str();
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or(match status.as_u16() {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_str(id).unwrap());
        h
    }

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced() {
        assert_eq!(RequestId::of(&headers("qa-run:7.a_b")).0, "qa-run:7.a_b");
        for odd in ["", "has space", "semi;colon", &"x".repeat(65), "quote\"d"] {
            let id = RequestId::of(&headers(odd)).0;
            assert_ne!(id, odd);
            assert_eq!(id.len(), 32, "a fresh id replaces {odd:?}");
        }
        assert_eq!(RequestId::of(&HeaderMap::new()).0.len(), 32);
    }

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(status_label(StatusCode::CREATED), "201");
        assert_eq!(status_label(StatusCode::IM_A_TEAPOT), "4xx");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
        assert_eq!(
            routes::pattern_of("/v1/chat/rooms/12/messages"),
            Some("/v1/chat/rooms/{id}/messages")
        );
        assert_eq!(routes::pattern_of("/v1/chat/rooms/x/messages"), None);
    }
}
