//! `/api/*`: the API of the original direct-message server, served so its clients work
//! unchanged, on the same users and the same direct messages as `/v1`.
//!
//! Everything here speaks that API's dialect: form-encoded or JSON bodies, every answer in one
//! envelope (`{"status","data":[…],"error":{…},"page","per_page","current_page"}`), access keys
//! whose secret the client signs its own JWTs with (`auth::keys`), and `/api/ws` frames. What the
//! requests *do* is the same use cases `/v1` calls; nothing below this module knows the dialect
//! except the socket's frame shapes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::required;
use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, json};
use crate::auth::AuthUser;
use crate::chat::{ApiCredentials, SignUp};
use crate::domain::time::micros;
use crate::domain::{Email, FieldErrors, OptionalField, Password, Username, fields};
use crate::realtime::protocol::ClassicDirect;
use crate::realtime::{Dialect, Opening};

/// Most rows one page may ask for.
const MAX_PER_PAGE: i64 = 100;
const DEFAULT_PER_PAGE: i64 = 10;

/// The envelope every `/api` answer travels in.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    status: &'static str,
    data: &'a [T],
    error: EnvelopeError,
    page: i64,
    per_page: i64,
    current_page: i64,
}

#[derive(Serialize)]
struct EnvelopeError {
    code: u16,
    errors: Option<Value>,
    message: &'static str,
}

/// Which page a request asked for. `page` counts from 1; page N holds rows
/// `(N-1) * per_page` onward (the original server skipped by page number, not by rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    page: i64,
    per_page: i64,
}

impl Page {
    fn parse(q: &HashMap<String, String>) -> Result<Page, ApiError> {
        let mut errors = FieldErrors::new();
        let mut number =
            |field: &'static str, default: i64, max: i64| match q.get(field).map(|v| v.trim().parse::<i64>())
            {
                None => default,
                Some(Ok(v)) if (1..=max).contains(&v) => v,
                Some(_) => {
                    errors.insert(field, format!("must be an integer from 1 to {max}"));
                    default
                }
            };
        let page = number("page", 1, i64::MAX / (MAX_PER_PAGE + 1));
        let per_page = number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE);
        if errors.is_empty() {
            Ok(Page { page, per_page })
        } else {
            Err(ApiError::Invalid(errors))
        }
    }

    fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// A success envelope around `data`.
fn success<T: Serialize>(status: StatusCode, data: &[T], page: Page) -> Response {
    json(
        status,
        &Envelope {
            status: "success",
            data,
            error: EnvelopeError {
                code: status.as_u16(),
                errors: None,
                message: "",
            },
            page: page.page,
            per_page: page.per_page,
            current_page: page.page,
        },
    )
}

/// An answer that is not a list page: page 1 of whatever it holds.
const SINGLE: Page = Page {
    page: 1,
    per_page: DEFAULT_PER_PAGE,
};

/// Renders an error the `/api` way: the envelope, with the same HTTP status as its `code`.
/// "Form error" for fields, "Authentication error" for tokens, "User error" for the rest of the
/// client's mistakes; internal causes are logged, never sent.
pub fn envelope_error(err: ApiError) -> Response {
    // That API answered field and "user" errors with 400, not /v1's 422 and 409.
    let status = match &err {
        ApiError::Invalid(_) | ApiError::Conflict { .. } => StatusCode::BAD_REQUEST,
        other => other.status(),
    };
    // A delay the client should wait out, as /v1 says it (posting and login throttling alike).
    let retry_after = match &err {
        ApiError::RateLimited { retry_after_secs } => Some((*retry_after_secs).max(1)),
        _ => None,
    };
    let (message, errors): (&'static str, Value) = match err {
        ApiError::Invalid(fields) => ("Form error", json!(fields)),
        ApiError::BadRequest(why) => ("Form error", json!({ "body": why })),
        ApiError::PayloadTooLarge => ("Form error", json!({ "body": "request body too large" })),
        ApiError::BodyTimeout => (
            "Form error",
            json!({ "body": "request body did not arrive in time" }),
        ),
        ApiError::Unauthorized(why) => ("Authentication error", json!({ "token": why })),
        ApiError::Forbidden(why) => ("Authentication error", json!({ "origin": why })),
        ApiError::Conflict { errors, .. } => ("User error", json!(errors)),
        ApiError::NotFound(what) => ("User error", json!({ "resource": what })),
        ApiError::RateLimited { retry_after_secs } => (
            "User error",
            json!({ "message": format!("too many requests; wait {retry_after_secs} s") }),
        ),
        ApiError::TooMany(why) => ("User error", json!({ "message": why })),
        ApiError::Busy(why) => ("User error", json!({ "message": why })),
        ApiError::MethodNotAllowed(allowed) => (
            "User error",
            json!({ "method": format!("not allowed here; allowed: {allowed}") }),
        ),
        ApiError::Unavailable(what) => {
            tracing::warn!(dependency = what, "dependency unavailable");
            ("Server error", json!({ "server": format!("{what} unavailable") }))
        }
        ApiError::Internal(cause) => {
            tracing::error!(error = %cause, "internal error");
            ("Server error", json!({ "server": "internal server error" }))
        }
    };
    let mut resp = json(
        status,
        &Envelope::<Value> {
            status: "fail",
            data: &[],
            error: EnvelopeError {
                code: status.as_u16(),
                errors: Some(errors),
                message,
            },
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            current_page: 1,
        },
    );
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert("retry-after", warp::http::HeaderValue::from(secs));
    }
    resp
}

/// Any other path under `/api`: 404 in the envelope, whatever the method.
pub fn not_found() -> Response {
    envelope_error(ApiError::NotFound("no such route".into()))
}

/// The request's fields, from a JSON object or a form-encoded body (chosen by `Content-Type`;
/// without one, a body starting with `{` is JSON). Only string values are accepted.
fn fields(req: &Request) -> Result<HashMap<String, String>, ApiError> {
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = req.body.as_ref();
    let is_json = content_type.starts_with("application/json")
        || (content_type.is_empty() && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'));
    // Only fields this API reads are named (FieldErrors keys are `'static`).
    let known = |k: &str| {
        REGISTER_FIELDS
            .iter()
            .chain(&["access_token"])
            .find(|f| **f == k)
            .copied()
    };
    let mut errors = FieldErrors::new();
    let out: HashMap<String, String> = if is_json {
        let map: serde_json::Map<String, Value> = super::parse_json(body)?;
        let mut out = HashMap::new();
        for (k, v) in map {
            match (v, known(&k)) {
                (Value::String(s), _) => {
                    out.insert(k, s);
                }
                (Value::Null, Some(field)) => {
                    errors.insert(field, fields::NULL.into());
                }
                (_, Some(field)) => {
                    errors.insert(field, "must be a string".into());
                }
                (_, None) => {}
            }
        }
        out
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    };
    for (k, v) in &out {
        if let Some(field) = known(k)
            && v.contains('\0')
        {
            errors.insert(field, fields::NUL_CHAR.into());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

/// The caller's token: `Authorization: Bearer`, else `access_token` in the query, else in a
/// form body (the original clients used all three).
pub fn token_of(req: &Request) -> Option<String> {
    if let Some(h) = req.headers.get("authorization").and_then(|v| v.to_str().ok()) {
        return Some(h.to_string());
    }
    if let Some(t) = req.query.get("access_token") {
        return Some(t.clone());
    }
    fields(req).ok()?.remove("access_token")
}

/// The access-key object of `/api/register` and `/api/auth_token`.
#[derive(Serialize)]
struct TokenView<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    refresh_token: &'a str,
    #[serde(serialize_with = "micros")]
    created_at: &'a DateTime<Utc>,
    #[serde(serialize_with = "micros")]
    modified_at: &'a DateTime<Utc>,
    #[serde(serialize_with = "micros")]
    expires_at: &'a DateTime<Utc>,
    is_refreshable: bool,
}

impl<'a> TokenView<'a> {
    fn of(k: &'a ApiCredentials) -> Self {
        TokenView {
            access_key_id: &k.access_key_id,
            secret_access_key: &k.secret_access_key,
            refresh_token: &k.refresh_token,
            created_at: &k.created_at,
            modified_at: &k.modified_at,
            expires_at: &k.expires_at,
            is_refreshable: true,
        }
    }
}

/// The fields `/api/register` requires, in the order its errors are reported.
const REGISTER_FIELDS: [&str; 6] = [
    "first_name",
    "last_name",
    "username",
    "password",
    "email",
    "phone",
];

/// `POST /api/register`: every field required. Missing (or blank) fields are reported first,
/// alone; then each present field is parsed as `/v1` signup parses it.
pub async fn register(state: Arc<AppState>, req: Request) -> HandlerResult {
    let f = fields(&req)?;
    let raw = |field: &str| f.get(field).map(String::as_str).filter(|v| !v.trim().is_empty());
    let missing: FieldErrors = REGISTER_FIELDS
        .into_iter()
        .filter(|field| raw(field).is_none())
        .map(|field| (field, "required".to_string()))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::Invalid(missing));
    }
    let mut errors = FieldErrors::new();
    // Names must be there (checked above) and are bounded like /v1's optional profile fields.
    let name = |max| move |v: &str| OptionalField::parse(Some(v), max).map(Option::unwrap_or_default);
    let first_name = required(&mut errors, "first_name", raw("first_name"), name(64));
    let last_name = required(&mut errors, "last_name", raw("last_name"), name(64));
    let username = required(
        &mut errors,
        "username",
        raw("username").map(str::trim),
        Username::parse,
    );
    // The password is taken as sent (not trimmed), like `/v1`.
    let password = required(&mut errors, "password", raw("password"), Password::parse);
    let email = required(&mut errors, "email", raw("email").map(str::trim), Email::parse);
    let phone = required(&mut errors, "phone", raw("phone"), name(32));
    let (Some(first_name), Some(last_name), Some(username), Some(password), Some(email), Some(phone)) =
        (first_name, last_name, username, password, email, phone)
    else {
        return Err(ApiError::Invalid(errors));
    };
    let from = req.client_addr(&state.trusted_proxies);
    let (user, key) = state
        .chat
        .register_with_key(
            SignUp {
                username,
                email,
                password,
                first_name: Some(first_name),
                last_name: Some(last_name),
                phone: Some(phone),
            },
            from,
        )
        .await?;
    let data = json!({
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone_number": user.phone,
        "token": TokenView::of(&key),
        "username": user.username,
    });
    // 200, not 201: the original server answered every success with HTTP 200 and `"code": 200`,
    // and its clients may check either.
    Ok(success(StatusCode::OK, &[data], SINGLE))
}

/// `POST /api/auth_token`: a new access key for `username` and `password`.
pub async fn create_token(state: Arc<AppState>, req: Request) -> HandlerResult {
    let f = fields(&req)?;
    let mut errors = FieldErrors::new();
    let username = f.get("username").map(|v| v.trim()).filter(|v| !v.is_empty());
    let password = f.get("password").filter(|v| !v.is_empty());
    if username.is_none() {
        errors.insert("username", "required".into());
    }
    if password.is_none() {
        errors.insert("password", "required".into());
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::Invalid(errors));
    };
    let from = req.client_addr(&state.trusted_proxies);
    let key = state
        .chat
        .log_in_with_key(username, password.clone(), from)
        .await?;
    Ok(success(StatusCode::OK, &[TokenView::of(&key)], SINGLE))
}

/// `DELETE /api/auth_token`: revokes the caller's key (its session), closing its sockets on
/// every instance.
pub async fn delete_token(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    state.chat.log_out(&me).await?;
    Ok(success::<Value>(StatusCode::OK, &[], SINGLE))
}

#[derive(Serialize)]
struct InboxView<'a> {
    author_username: &'a str,
    latest_message: &'a str,
    #[serde(serialize_with = "micros")]
    created_at: &'a DateTime<Utc>,
}

/// `GET /api/inbox`: one entry per conversation, newest first.
pub async fn inbox(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let page = Page::parse(&req.query)?;
    let rows = state.chat.inbox_page(&me, page.offset(), page.per_page).await?;
    let data: Vec<InboxView> = rows
        .iter()
        .map(|r| InboxView {
            author_username: &r.username,
            latest_message: &r.latest_message,
            created_at: &r.created_at,
        })
        .collect();
    Ok(success(StatusCode::OK, &data, page))
}

/// `GET /api/thread/{username}`: the conversation, newest first.
pub async fn thread(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let page = Page::parse(&req.query)?;
    let rows = state
        .chat
        .thread_newest_first(&me, req.text("username"), page.offset(), page.per_page)
        .await?;
    let data: Vec<ClassicDirect> = rows.iter().map(ClassicDirect::of).collect();
    Ok(success(StatusCode::OK, &data, page))
}

/// `GET /api/ws`: the original socket. The token comes as `Authorization` or `access_token`.
pub async fn ws(state: Arc<AppState>, req: Request) -> HandlerResult {
    let token = req.query.get("access_token").cloned();
    let opening = Opening {
        dialect: Dialect::Classic,
        dm_since: None,
    };
    super::socket::accept(state, req, token, opening).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn page_n_starts_at_row_n_minus_one_times_per_page() {
        let p = Page::parse(&q(&[("page", "3"), ("per_page", "10")])).unwrap();
        assert_eq!((p.offset(), p.per_page), (20, 10));
        assert_eq!(
            Page::parse(&q(&[])).unwrap(),
            Page {
                page: 1,
                per_page: 10
            }
        );
        for bad in [
            ("page", "0"),
            ("page", "x"),
            ("per_page", "101"),
            ("per_page", "0"),
        ] {
            assert!(Page::parse(&q(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn errors_travel_in_the_envelope_with_the_same_status() {
        let resp = envelope_error(ApiError::invalid("email", "required"));
        assert_eq!(resp.status(), 400);
        let resp = envelope_error(ApiError::Unauthorized("invalid or expired token"));
        assert_eq!(resp.status(), 401);
    }
}
