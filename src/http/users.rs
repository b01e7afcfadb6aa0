//! `GET /v1/users`: find people to write to, by the start of their username.

use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, json};
use crate::auth::AuthUser;
use crate::domain::FieldErrors;

/// The shortest prefix answered: every username is at least this long, so a whole name always
/// works, and the directory cannot be listed a letter at a time.
pub const PREFIX_MIN: usize = 3;

/// `?prefix=<start of a username, at least 3 characters>&limit=1..50&after=<last username of the
/// previous page>`: `{"users":[{"username"}],"next":<the `after` of the next page, or null>}`,
/// by name.
pub async fn search(state: Arc<AppState>, _me: AuthUser, req: Request) -> HandlerResult {
    let mut errors = FieldErrors::new();
    let text = |name: &'static str, errors: &mut FieldErrors| {
        let v = req.query.get(name).map(String::as_str).unwrap_or("");
        if v.chars().count() > 64 {
            errors.insert(name, "at most 64 characters".into());
        } else if v.contains('\0') {
            errors.insert(name, crate::domain::fields::NUL_CHAR.into());
        }
        v.trim().to_string()
    };
    let prefix = text("prefix", &mut errors);
    if prefix.chars().count() < PREFIX_MIN && !errors.contains_key("prefix") {
        errors.insert("prefix", format!("at least {PREFIX_MIN} characters"));
    }
    let after = text("after", &mut errors);
    let limit = super::limit_param(&req.query, 20, 50, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let after = (!after.is_empty()).then_some(after);
    let mut users = state
        .chat
        .find_users(&prefix, after.as_deref(), limit + 1)
        .await?;
    let more = users.len() as i64 > limit;
    users.truncate(limit as usize);
    let next = if more { users.last().cloned() } else { None };
    let list: Vec<_> = users.iter().map(|u| json!({"username": u})).collect();
    Ok(json(StatusCode::OK, &json!({"users": list, "next": next})))
}
