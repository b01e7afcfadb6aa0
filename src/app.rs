//! The application state every handler and socket shares.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use crate::auth::{AuthUser, TokenKeys};
use crate::broker::Broker;
use crate::config::Config;
use crate::error::ApiError;
use crate::ratelimit::RateLimiter;
use crate::store;
use crate::ws::Hub;

pub struct App {
    pub config: Config,
    pub db: PgPool,
    pub hub: Arc<Hub>,
    pub broker: Arc<Broker>,
    pub keys: TokenKeys,
    pub limiter: RateLimiter,
    /// This process's id in the presence table and in logs.
    pub instance_id: Uuid,
    /// Lower-cased `Origin` values allowed to open WebSockets.
    pub origins: Vec<String>,
    /// Flips to true when the server begins shutting down; sockets close on it.
    pub shutdown: watch::Receiver<bool>,
    /// Each socket task holds a clone of the sender; shutdown takes the original out and
    /// waits until every clone is dropped. `None` once shutdown began.
    pub socket_guard: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl App {
    /// A guard for a new socket task, or `None` when the server is shutting down.
    pub fn socket_guard(&self) -> Option<mpsc::Sender<()>> {
        self.socket_guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops handing out guards; returns the original so the caller can drop it.
    pub fn close_socket_guard(&self) -> Option<mpsc::Sender<()>> {
        self.socket_guard.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Resolves `Authorization: Bearer` (or a bare token) to the caller: signature, expiry and
    /// the session not being revoked. Every failure is the same 401.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<AuthUser, ApiError> {
        let token = token
            .map(|t| {
                t.strip_prefix("Bearer ")
                    .or_else(|| t.strip_prefix("bearer "))
                    .unwrap_or(t)
                    .trim()
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized("missing bearer token"))?;
        let claims = self
            .keys
            .verify(token)
            .ok_or(ApiError::Unauthorized("invalid or expired token"))?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ApiError::Unauthorized("invalid or expired token"))?;
        if !store::sessions::is_active(&self.db, claims.sid).await? {
            return Err(ApiError::Unauthorized("invalid or expired token"));
        }
        Ok(AuthUser {
            user_id,
            username: claims.name,
            session_id: claims.sid,
        })
    }
}
