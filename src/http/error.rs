//! The HTTP boundary's one error type, mapped once to an RFC 9457 problem-details reply.
//! Errors of the layers below (`ChatError`, and through it `StoreError`) become an `ApiError`
//! here and nowhere else.

use serde::Serialize;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::chat::ChatError;
use crate::domain::FieldErrors;
use crate::store::Taken;

/// Everything a handler can fail with. Internal causes are logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    Conflict { detail: String, errors: FieldErrors },
    #[error("request body larger than {max} bytes", max = super::MAX_BODY)]
    PayloadTooLarge,
    /// The body did not arrive within the body-read timeout: 408, and the connection closes.
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("invalid fields")]
    Invalid(FieldErrors),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// A cap on what a client may hold open at once (429 without `Retry-After`: it lasts until
    /// the client closes something).
    #[error("{0}")]
    TooMany(String),
    /// The path exists, with other methods (the caller adds `Allow`).
    #[error("method not allowed here; allowed: {0}")]
    MethodNotAllowed(String),
    #[error("{0} unavailable")]
    Unavailable(&'static str),
    /// Overloaded for a moment (password checks queued): 429 with `Retry-After: 1`.
    #[error("{0}")]
    Busy(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field, message.into());
        ApiError::Invalid(errors)
    }

    pub fn conflict(field: &'static str, detail: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field, "taken".into());
        ApiError::Conflict {
            detail: detail.into(),
            errors,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // Busy: a burst beyond the hashing capacity is the client's to slow down, not a
            // fault of the server's (a load balancer must not take 5xx for an outage).
            ApiError::RateLimited { .. } | ApiError::TooMany(_) | ApiError::Busy(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response {
        let (status, body) = self.render();
        let mut resp = problem_response(status, body);
        match self {
            ApiError::RateLimited { retry_after_secs } => {
                resp.headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after_secs.max(1)));
            }
            ApiError::Busy(_) => {
                resp.headers_mut().insert("retry-after", HeaderValue::from(1));
            }
            ApiError::BodyTimeout => {
                resp.headers_mut()
                    .insert("connection", HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }

    /// Status and problem-details body; logs internal causes instead of returning them.
    fn render(&self) -> (StatusCode, Vec<u8>) {
        let status = self.status();
        let (detail, errors) = match &self {
            ApiError::Internal(cause) => {
                // The cause stays in the log; the client learns only that it was our fault.
                tracing::error!(error = %cause, "internal error");
                ("internal server error".to_string(), None)
            }
            ApiError::Unavailable(what) => {
                tracing::warn!(dependency = what, "dependency unavailable");
                (self.to_string(), None)
            }
            ApiError::Conflict { errors, .. } | ApiError::Invalid(errors) => {
                (self.to_string(), Some(errors.clone()))
            }
            _ => (self.to_string(), None),
        };
        (status, problem_body(status, &detail, errors))
    }
}

impl From<ChatError> for ApiError {
    fn from(err: ChatError) -> Self {
        match err {
            ChatError::Invalid(errors) => ApiError::Invalid(errors),
            ChatError::Text { field, error } => ApiError::invalid(field, error.message()),
            ChatError::UnknownRoom => ApiError::NotFound("unknown room".into()),
            ChatError::UnknownUser => ApiError::NotFound("unknown user".into()),
            ChatError::NotFound(what) => ApiError::NotFound(what),
            ChatError::Forbidden(why) => ApiError::Forbidden(why),
            ChatError::Conflict(why) => ApiError::Conflict {
                detail: why.into(),
                errors: FieldErrors::new(),
            },
            ChatError::Taken(Taken::Username) => ApiError::conflict("username", "username already taken"),
            ChatError::Taken(Taken::Email) => ApiError::conflict("email", "email already registered"),
            ChatError::Taken(Taken::ClientId) => {
                ApiError::conflict("client_id", "client_id already used for a different message")
            }
            ChatError::Taken(Taken::RoomName) => {
                ApiError::conflict("name", "a room with that name already exists")
            }
            ChatError::Unauthorized(why) => ApiError::Unauthorized(why),
            ChatError::RateLimited { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
            ChatError::Unavailable => ApiError::Unavailable("database"),
            ChatError::Busy(why) => ApiError::Busy(why),
            ChatError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<FieldErrors>,
}

/// Builds an `application/problem+json` response.
pub fn problem(status: StatusCode, detail: &str) -> Response {
    problem_response(status, problem_body(status, detail, None))
}

pub(crate) fn problem_body(status: StatusCode, detail: &str, errors: Option<FieldErrors>) -> Vec<u8> {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail,
        errors,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

fn problem_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(bytes::Bytes::from(body).into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let (status, body) = ApiError::Internal("password_hash column exploded".into()).render();
        assert_eq!(status, 500);
        let body = String::from_utf8(body).unwrap();
        assert!(!body.contains("password_hash"));
        assert!(body.contains("internal server error"));
    }

    #[test]
    fn rate_limited_sets_retry_after() {
        let resp = ApiError::RateLimited { retry_after_secs: 3 }.into_response();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");
    }

    #[test]
    fn invalid_lists_the_fields() {
        let err = ApiError::invalid("name", "too long");
        let (_, body) = err.render();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"]["name"], "too long");
        assert_eq!(v["status"], 422);
        assert_eq!(v["title"], "Unprocessable Entity");
        let resp = err.into_response();
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
