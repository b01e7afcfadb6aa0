//! `/v1/qa/*`: routes for QA's Postman runs, answered only when `QA_ROUTES` is set (404
//! otherwise, as for any unknown route). An already-expired token lets the collection check
//! the expiry refusal without knowing the server's secret; deleting the caller's account lets
//! a run leave nothing behind that real users would see.

use std::sync::Arc;

use serde_json::json;
use warp::Reply;
use warp::http::StatusCode;

use super::routes::{HandlerResult, Request};
use super::{AppState, json};
use crate::auth::AuthUser;

/// `POST /v1/qa/expired-token`: `{"token","expires_at"}`, a token of the caller's session that
/// expired an hour ago.
pub async fn expired_token(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    let (token, expires_at) = state.chat.expired_token(&me);
    Ok(json(
        StatusCode::OK,
        &json!({"token": token, "expires_at": crate::domain::time::timestamp(&expires_at)}),
    ))
}

/// `DELETE /v1/qa/account`: 204; the caller's account, the rooms it created with all their
/// messages, and its messages elsewhere are gone, and its sessions have ended everywhere.
pub async fn delete_account(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    state.chat.delete_account(&me).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
