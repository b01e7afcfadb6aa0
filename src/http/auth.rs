//! Accounts and sessions: signup, login, refresh (rotating), logout, me.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{bearer, body, json, parse_json, respond, with_app};
use crate::app::App;
use crate::auth::{password, token};
use crate::broker::Event;
use crate::domain::{Email, OptionalField, Password, Username};
use crate::error::{ApiError, FieldErrors};
use crate::store::{self, users::User};

pub fn routes(app: Arc<App>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let signup = warp::path!("v1" / "auth" / "signup")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(body())
        .and_then(|app, b| async move { respond(signup(app, b).await) });
    let login = warp::path!("v1" / "auth" / "login")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(body())
        .and_then(|app, b| async move { respond(login(app, b).await) });
    let refresh = warp::path!("v1" / "auth" / "refresh")
        .and(warp::post())
        .and(with_app(app.clone()))
        .and(body())
        .and_then(|app, b| async move { respond(refresh(app, b).await) });
    let logout = warp::path!("v1" / "auth" / "token")
        .and(warp::delete())
        .and(with_app(app.clone()))
        .and(bearer())
        .and_then(|app, t| async move { respond(logout(app, t).await) });
    let me = warp::path!("v1" / "auth" / "me")
        .and(warp::get())
        .and(with_app(app))
        .and(bearer())
        .and_then(|app, t| async move { respond(me(app, t).await) });
    signup
        .or(login)
        .unify()
        .or(refresh)
        .unify()
        .or(logout)
        .unify()
        .or(me)
        .unify()
}

/// What signup, login and refresh return: the user plus fresh tokens.
#[derive(Serialize)]
struct SessionReply {
    #[serde(flatten)]
    user: User,
    token: String,
    refresh_token: String,
    #[serde(serialize_with = "crate::ws::protocol::micros")]
    expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct SignupBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

fn required<T>(
    errors: &mut FieldErrors,
    field: &'static str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    match raw {
        None => {
            errors.insert(field, "required".into());
            None
        }
        Some(v) => parse(v).map_err(|e| errors.insert(field, e)).ok(),
    }
}

fn optional(errors: &mut FieldErrors, field: &'static str, raw: Option<&str>, max: usize) -> Option<String> {
    OptionalField::parse(raw, max)
        .map_err(|e| errors.insert(field, e))
        .ok()
        .flatten()
}

async fn signup(app: Arc<App>, body: Bytes) -> Result<Response, ApiError> {
    let b: SignupBody = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let username = required(&mut errors, "username", b.username.as_deref(), Username::parse);
    let email = required(&mut errors, "email", b.email.as_deref(), Email::parse);
    let password = required(&mut errors, "password", b.password.as_deref(), Password::parse);
    let first_name = optional(&mut errors, "first_name", b.first_name.as_deref(), 64);
    let last_name = optional(&mut errors, "last_name", b.last_name.as_deref(), 64);
    let phone = optional(&mut errors, "phone", b.phone.as_deref(), 32);
    let (Some(username), Some(email), Some(password), true) = (username, email, password, errors.is_empty())
    else {
        return Err(ApiError::Invalid(errors));
    };
    let password_hash = password::hash(password.expose().to_string()).await?;
    let user = store::users::insert(
        &app.db,
        &store::users::NewUser {
            username,
            email,
            password_hash,
            first_name,
            last_name,
            phone,
        },
    )
    .await?;
    tracing::info!(user_id = user.id, username = %user.username, "signed up");
    let reply = start_session(&app, user).await?;
    Ok(json(StatusCode::CREATED, &reply))
}

#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

async fn login(app: Arc<App>, body: Bytes) -> Result<Response, ApiError> {
    let b: LoginBody = parse_json(&body)?;
    let mut errors = FieldErrors::new();
    let login = match (
        b.email.as_deref().map(str::trim),
        b.username.as_deref().map(str::trim),
    ) {
        (Some(e), _) if !e.is_empty() => Some((e.to_string(), true)),
        (_, Some(u)) if !u.is_empty() => Some((u.to_string(), false)),
        _ => {
            errors.insert("email", "email or username is required".into());
            None
        }
    };
    let password = b.password.filter(|p| !p.is_empty());
    if password.is_none() {
        errors.insert("password", "required".into());
    }
    let (Some((login, by_email)), Some(password)) = (login, password) else {
        return Err(ApiError::Invalid(errors));
    };
    let found = store::users::credentials(&app.db, &login, by_email).await?;
    let (user, stored) = match found {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    // Same work and same answer whether the user is unknown or the password wrong.
    if !password::verify(password, stored).await? {
        tracing::info!(by_email, "login refused");
        return Err(ApiError::Unauthorized("invalid credentials"));
    }
    let user = user.ok_or(ApiError::Unauthorized("invalid credentials"))?;
    tracing::info!(user_id = user.id, "logged in");
    Ok(json(StatusCode::OK, &start_session(&app, user).await?))
}

async fn start_session(app: &App, user: User) -> Result<SessionReply, ApiError> {
    let session_id = Uuid::new_v4();
    let (refresh_token, hash) = token::new_refresh_token();
    let expires = Utc::now()
        + chrono::Duration::from_std(app.config.refresh_token_ttl()).unwrap_or(chrono::Duration::days(30));
    store::sessions::create(&app.db, session_id, user.id, &hash, expires).await?;
    let (token, expires_at) = app.keys.issue(user.id, &user.username, session_id);
    Ok(SessionReply {
        user,
        token,
        refresh_token,
        expires_at,
    })
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: Option<String>,
}

async fn refresh(app: Arc<App>, body: Bytes) -> Result<Response, ApiError> {
    let b: RefreshBody = parse_json(&body)?;
    let old = b
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid("refresh_token", "required"))?;
    let (refresh_token, new_hash) = token::new_refresh_token();
    let (session_id, user_id) = store::sessions::rotate(&app.db, &token::refresh_hash(&old), &new_hash)
        .await?
        .ok_or(ApiError::Unauthorized("invalid or expired refresh token"))?;
    let user = store::users::by_id(&app.db, user_id)
        .await?
        .ok_or(ApiError::Unauthorized("invalid or expired refresh token"))?;
    let (token, expires_at) = app.keys.issue(user.id, &user.username, session_id);
    Ok(json(
        StatusCode::OK,
        &SessionReply {
            user,
            token,
            refresh_token,
            expires_at,
        },
    ))
}

async fn logout(app: Arc<App>, bearer: Option<String>) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    store::sessions::revoke(&app.db, me.session_id).await?;
    // Close this session's sockets on every instance (locally too if the broker is down).
    app.publish_or_local(Event::SessionRevoked {
        session_id: me.session_id,
    })
    .await;
    tracing::info!(user_id = me.user_id, "logged out");
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

async fn me(app: Arc<App>, bearer: Option<String>) -> Result<Response, ApiError> {
    let me = app.authenticate(bearer.as_deref()).await?;
    let user = store::users::by_id(&app.db, me.user_id)
        .await?
        .ok_or(ApiError::Unauthorized("user no longer exists"))?;
    Ok(json(StatusCode::OK, &user))
}
