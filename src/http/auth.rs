//! Accounts and sessions: signup, login, refresh (rotating), logout, me. This module parses the
//! request fields into domain values (each bad field reported by name); `chat::accounts` does
//! the rest.

use std::sync::Arc;

use serde::Deserialize;
use warp::http::StatusCode;

use super::error::ApiError;
use super::routes::{HandlerResult, Request};
use super::{AppState, json};
use crate::auth::AuthUser;
use crate::chat::SignUp;
use crate::domain::{Email, FieldErrors, OptionalField, Password, Username};

#[derive(Deserialize)]
struct SignupBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

/// Parses field `field`: "required" when it is absent, else `parse`'s message when it fails;
/// either way the error goes into `errors`. `/api/register` uses it too.
pub(super) fn required<T>(
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

pub async fn signup(state: Arc<AppState>, req: Request) -> HandlerResult {
    let b: SignupBody = req.json()?;
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
    let from = req.client_addr(&state.trusted_proxies);
    let session = state
        .chat
        .sign_up(
            SignUp {
                username,
                email,
                password,
                first_name,
                last_name,
                phone,
            },
            from,
        )
        .await?;
    Ok(json(StatusCode::CREATED, &session))
}

#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub async fn login(state: Arc<AppState>, req: Request) -> HandlerResult {
    let b: LoginBody = req.json()?;
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
    let from = req.client_addr(&state.trusted_proxies);
    let session = state.chat.log_in(&login, by_email, password, from).await?;
    Ok(json(StatusCode::OK, &session))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: Option<String>,
}

pub async fn refresh(state: Arc<AppState>, req: Request) -> HandlerResult {
    let b: RefreshBody = req.json()?;
    let old = b
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid("refresh_token", "required"))?;
    Ok(json(StatusCode::OK, &state.chat.refresh(&old).await?))
}

pub async fn logout(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    state.chat.log_out(&me).await?;
    Ok(super::no_content())
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// `POST /v1/auth/password` `{current_password, new_password}`: 204; every other session of the
/// caller ends and its sockets close.
pub async fn change_password(state: Arc<AppState>, me: AuthUser, req: Request) -> HandlerResult {
    let b: PasswordBody = req.json()?;
    let mut errors = FieldErrors::new();
    let current = b.current_password.filter(|p| !p.is_empty());
    if current.is_none() {
        errors.insert("current_password", "required".into());
    }
    let new = required(
        &mut errors,
        "new_password",
        b.new_password.as_deref(),
        Password::parse,
    );
    let (Some(current), Some(new), true) = (current, new, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let from = req.client_addr(&state.trusted_proxies);
    state.chat.change_password(&me, current, new, from).await?;
    Ok(super::no_content())
}

/// `DELETE /v1/auth/sessions`: 204; every session of the caller ends ("log out everywhere").
pub async fn log_out_everywhere(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    state.chat.log_out_everywhere(&me).await?;
    Ok(super::no_content())
}

pub async fn me(state: Arc<AppState>, me: AuthUser, _req: Request) -> HandlerResult {
    Ok(json(StatusCode::OK, &state.chat.me(&me).await?))
}
