//! Which browser pages may open a WebSocket. A browser names the page's origin in `Origin`; the
//! server accepts it when it is the server's own address as the browser used it (the request's
//! `Host`, so any host name, LAN address or domain works without configuration), or when
//! `ALLOWED_ORIGINS` lists it. Behind a reverse proxy the `Host` the server sees may be the
//! proxy's upstream name: `X-Forwarded-Host` (or `Forwarded: host=`) is believed only from
//! `TRUSTED_PROXIES`, as `X-Forwarded-For` is.
//!
//! Why same-origin is safe as the default: a page can only open a socket that authenticates
//! with a token it holds, and tokens live in the page's own origin's storage, never in cookies.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use warp::http::{HeaderMap, StatusCode};

use super::routes::{HandlerResult, Request};
use super::{AppState, json};

/// The address (host and port, lowercase, default port left out) the client used to reach us.
pub fn public_host(req: &Request, trusted: &[IpAddr]) -> Option<String> {
    let from_proxy = req.conn.as_ref().is_some_and(|c| trusted.contains(&c.addr));
    let forwarded = from_proxy.then(|| forwarded_host(&req.headers)).flatten();
    let host = forwarded.or_else(|| {
        req.headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })?;
    Some(normalize(&host, None))
}

/// The host a trusted proxy says the client asked for: the last `X-Forwarded-Host` entry (the
/// one our proxy added), else the last `host=` of `Forwarded`.
fn forwarded_host(headers: &HeaderMap) -> Option<String> {
    let last = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty())
            .map(str::to_string)
    };
    last("x-forwarded-host").or_else(|| {
        let element = last("forwarded")?;
        element.split(';').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("host")
                .then(|| v.trim().trim_matches('"').to_string())
        })
    })
}

/// `host[:port]` in lowercase, without the scheme's default port.
fn normalize(authority: &str, scheme: Option<&str>) -> String {
    let a = authority.trim().to_ascii_lowercase();
    let default = match scheme {
        Some("https") | Some("wss") => Some(":443"),
        Some("http") | Some("ws") => Some(":80"),
        // A Host header does not say its scheme: either default port is left out.
        _ => [":80", ":443"].into_iter().find(|p| a.ends_with(p)),
    };
    match default {
        Some(port) if a.ends_with(port) => a[..a.len() - port.len()].to_string(),
        _ => a,
    }
}

/// Whether a page at `origin` may open a socket on a request that reached us as `host`.
pub fn allowed(origin: &str, host: Option<&str>, listed: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    if listed.contains(&origin) {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null" (a sandboxed page or a file) and anything else that is no origin
    };
    host.is_some_and(|h| normalize(authority, Some(scheme)) == h)
}

/// `GET /v1/ws/check?origin=<origin>`: whether a page at `origin` may open a socket here, and
/// the address the server sees, so a client refused at the handshake (browsers do not show it
/// the 403) can say why in words a user can act on.
pub async fn check(state: Arc<AppState>, req: Request) -> HandlerResult {
    let host = public_host(&req, &state.trusted_proxies);
    let origin = req.query.get("origin").cloned().unwrap_or_default();
    let ok = allowed(&origin, host.as_deref(), &state.origins);
    Ok(json(
        StatusCode::OK,
        &json!({"origin": origin, "allowed": ok, "server_host": host}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_is_the_host_as_the_browser_used_it() {
        let none: Vec<String> = vec![];
        assert!(allowed(
            "http://192.168.1.20:8080",
            Some("192.168.1.20:8080"),
            &none
        ));
        assert!(allowed(
            "https://Chat.Example.com",
            Some("chat.example.com"),
            &none
        ));
        assert!(allowed(
            "https://chat.example.com",
            Some(&normalize("chat.example.com:443", None)),
            &none
        ));
        assert!(allowed("http://localhost:8080/", Some("localhost:8080"), &none));
        assert!(!allowed("http://evil.example", Some("chat.example.com"), &none));
        assert!(!allowed(
            "http://chat.example.com:8081",
            Some("chat.example.com:8080"),
            &none
        ));
        assert!(!allowed("null", Some("null"), &none));
        assert!(!allowed("http://chat.example.com", None, &none));
        let listed = vec!["https://app.example.com".to_string()];
        assert!(allowed(
            "https://app.example.com/",
            Some("api.example.com"),
            &listed
        ));
    }

    #[test]
    fn a_proxy_names_the_host_in_either_header() {
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-host",
            "spoofed.example, chat.example.com".parse().unwrap(),
        );
        assert_eq!(forwarded_host(&h).as_deref(), Some("chat.example.com"));
        let mut h = HeaderMap::new();
        h.append(
            "forwarded",
            "for=1.2.3.4;host=\"chat.example.com\";proto=https"
                .parse()
                .unwrap(),
        );
        assert_eq!(forwarded_host(&h).as_deref(), Some("chat.example.com"));
    }
}
