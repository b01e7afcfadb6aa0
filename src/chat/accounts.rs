//! Accounts and sessions: sign-up, login, refresh (rotating), logout, and turning a bearer token
//! into the caller. Every failure to authenticate is the same "invalid" answer, so a client
//! cannot tell an unknown user from a wrong password or a forged token from a revoked one.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::throttle::LoginKeys;
use super::{Chat, ChatError};
use crate::auth::keys::{self, NewKey};
use crate::auth::{AuthUser, password, token};
use crate::domain::{Email, FieldErrors, Password, Username};
use crate::store::{self, users::User};

/// A validated sign-up: the HTTP layer parses the request into this, field by field.
#[derive(Debug)]
pub struct SignUp {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// A logged-in session as the client receives it: the user plus fresh tokens.
#[derive(Debug, Serialize)]
pub struct Session {
    #[serde(flatten)]
    pub user: User,
    /// The access token (a short-lived JWT).
    pub token: String,
    /// Opaque, single-use: each refresh returns a new one and retires this one.
    pub refresh_token: String,
    /// When `token` expires.
    #[serde(serialize_with = "crate::domain::time::micros")]
    pub expires_at: DateTime<Utc>,
}

/// A new `/api` access key, as its owner receives it: the only time the secret leaves the
/// server.
#[derive(Debug)]
pub struct ApiCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The key's session's refresh token (usable at `/v1/auth/refresh`).
    pub refresh_token: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const INVALID_TOKEN: &str = "invalid or expired token";
const INVALID_CREDENTIALS: &str = "invalid credentials";
const INVALID_REFRESH: &str = "invalid or expired refresh token";

/// A replaced refresh token presented again within this many seconds is refused without
/// revoking its session (a race between two tabs, not a leak).
pub const REUSE_GRACE_SECS: f64 = 10.0;

impl Chat {
    /// Resolves `Authorization: Bearer` (or a bare token) to the caller: signature, expiry, and
    /// the session not being revoked: a database read, unless this instance found the session
    /// active within the last few seconds *and* is connected to the broker, through which every
    /// logout is announced (and drops the session from the cache at once).
    pub async fn authenticate(&self, token: Option<&str>) -> Result<AuthUser, ChatError> {
        let token = bare_token(token)?;
        let claims = self
            .keys
            .verify(token)
            .ok_or(ChatError::Unauthorized(INVALID_TOKEN))?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| ChatError::Unauthorized(INVALID_TOKEN))?;
        let cached = self.bus.is_up() && self.sessions.is_fresh(claims.sid);
        if !cached {
            if !store::sessions::is_active(&self.db, claims.sid).await? {
                return Err(ChatError::Unauthorized(INVALID_TOKEN));
            }
            self.sessions.remember(claims.sid);
        }
        Ok(AuthUser {
            user_id,
            username: claims.name,
            session_id: claims.sid,
        })
    }

    /// The `/api` rule: a JWT the client signed with the secret of the access key its header
    /// names (`access_key`), that key unexpired and its session live. A token without
    /// `access_key` is taken as a `/v1` access token.
    pub async fn authenticate_api(&self, token: Option<&str>) -> Result<AuthUser, ChatError> {
        let bare = bare_token(token)?;
        let Some(key_id) = keys::access_key_of(bare) else {
            return self.authenticate(Some(bare)).await;
        };
        let key = crate::store::api_keys::lookup(&self.db, &key_id)
            .await?
            .filter(|k| k.active)
            .ok_or(ChatError::Unauthorized(INVALID_TOKEN))?;
        let secret = self
            .sealer
            .unseal(&key_id, &key.secret_sealed)
            .ok_or(ChatError::Unauthorized(INVALID_TOKEN))?;
        if !keys::verify_client_token(bare, &secret) {
            return Err(ChatError::Unauthorized(INVALID_TOKEN));
        }
        Ok(AuthUser {
            user_id: key.user_id,
            username: key.username,
            session_id: key.session_id,
        })
    }

    /// Creates the account (the password hashed off the async workers) and logs it in.
    /// `from`: the client's address, for the sign-up limit per address.
    pub async fn sign_up(&self, new: SignUp, from: Option<IpAddr>) -> Result<Session, ChatError> {
        let user = self.create_account(new, from).await?;
        self.start_session(user).await
    }

    /// Creates the account and gives it an `/api` access key (`POST /api/register`).
    pub async fn register_with_key(
        &self,
        new: SignUp,
        from: Option<IpAddr>,
    ) -> Result<(User, ApiCredentials), ChatError> {
        let user = self.create_account(new, from).await?;
        let key = self.issue_api_key(&user).await?;
        Ok((user, key))
    }

    /// In order of cost: the address's sign-up budget (one upsert), a taken username or email
    /// (one indexed lookup), and only then the password's hash, in the small queue of new
    /// passwords (`password::MAX_WAITING_NEW`): a flood of sign-ups costs no hashing beyond its
    /// budget, and never crowds out logins.
    async fn create_account(&self, new: SignUp, from: Option<IpAddr>) -> Result<User, ChatError> {
        self.signup_attempt(from).await?;
        if let Some(taken) = store::users::taken(&self.db, new.username.as_str(), new.email.as_str()).await? {
            return Err(ChatError::Taken(taken));
        }
        let password_hash = password::hash(new.password.expose().to_string()).await?;
        let user = store::users::insert(
            &self.db,
            &store::users::NewUser {
                username: new.username,
                email: new.email,
                password_hash,
                first_name: new.first_name,
                last_name: new.last_name,
                phone: new.phone,
            },
        )
        .await?;
        tracing::info!(user_id = user.id, username = %user.username, "signed up");
        Ok(user)
    }

    /// Logs in by email (`by_email`) or username. Unknown users cost the same Argon2 work as
    /// wrong passwords and get the same answer.
    /// `from`: the client's address, for throttling (`throttle`).
    pub async fn log_in(
        &self,
        login: &str,
        by_email: bool,
        password: String,
        from: Option<IpAddr>,
    ) -> Result<Session, ChatError> {
        let user = self.check_password(login, by_email, password, from).await?;
        self.start_session(user).await
    }

    /// Logs in by username and hands out a new `/api` access key (`POST /api/auth_token`).
    pub async fn log_in_with_key(
        &self,
        username: &str,
        password: String,
        from: Option<IpAddr>,
    ) -> Result<ApiCredentials, ChatError> {
        let user = self.check_password(username, false, password, from).await?;
        self.issue_api_key(&user).await
    }

    /// Every field is length-checked before any lookup (too long: 422, counted against the
    /// address); then the attempt is counted (`throttle`: 429 once a budget is spent, before
    /// any hashing); a success gives the attempt back.
    async fn check_password(
        &self,
        login: &str,
        by_email: bool,
        password: String,
        from: Option<IpAddr>,
    ) -> Result<User, ChatError> {
        let mut errors = FieldErrors::new();
        if login.chars().count() > MAX_LOGIN_CHARS {
            let field = if by_email { "email" } else { "username" };
            errors.insert(field, format!("must be at most {MAX_LOGIN_CHARS} characters"));
        }
        if password.chars().count() > MAX_PASSWORD_CHARS {
            errors.insert(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            );
        }
        if !errors.is_empty() {
            metrics::counter!("tickertalk_logins_total", "result" => "failure").increment(1);
            self.login_malformed(from).await.inspect_err(throttled)?;
            return Err(ChatError::Invalid(errors));
        }
        let found = store::users::credentials(&self.db, login, by_email).await?;
        let keys = LoginKeys::new(found.as_ref().map(|c| c.user.id).ok_or(login), from);
        self.login_attempt(&keys).await.inspect_err(throttled)?;
        let (user, stored) = match found {
            // An account without a password hash (`stockbot`'s '!') cannot log in.
            Some(c) if c.password_hash.starts_with('$') => (Some(c.user), Some(c.password_hash)),
            Some(_) | None => (None, None),
        };
        // An unknown user costs the same hashing as a wrong password (no stored hash: a dummy).
        if !password::verify(password, stored).await? {
            return refuse_login(by_email);
        }
        let Some(user) = user else {
            return refuse_login(by_email);
        };
        self.login_succeeded(&keys).await?;
        metrics::counter!("tickertalk_logins_total", "result" => "success").increment(1);
        tracing::info!(user_id = user.id, "logged in");
        Ok(user)
    }

    async fn start_session(&self, user: User) -> Result<Session, ChatError> {
        let (session_id, refresh_token, _) = self.new_session_row(&user).await?;
        Ok(self.session(user, session_id, refresh_token))
    }

    /// A session row: its id, its refresh token (given out once) and its expiry.
    async fn new_session_row(&self, user: &User) -> Result<(Uuid, String, DateTime<Utc>), ChatError> {
        let session_id = Uuid::new_v4();
        let (refresh_token, hash) = token::new_refresh_token();
        let expires =
            Utc::now() + chrono::Duration::from_std(self.refresh_ttl).unwrap_or(chrono::Duration::days(30));
        store::sessions::create(&self.db, session_id, user.id, &hash, expires).await?;
        Ok((session_id, refresh_token, expires))
    }

    /// A new session for `user` with an access key: revoking the session revokes the key.
    async fn issue_api_key(&self, user: &User) -> Result<ApiCredentials, ChatError> {
        let (session_id, refresh_token, expires) = self.new_session_row(user).await?;
        let key = NewKey::generate();
        let sealed = self.sealer.seal(&key.access_key_id, &key.secret_access_key);
        let row = store::api_keys::insert(
            &self.db,
            &key.access_key_id,
            session_id,
            user.id,
            &sealed,
            expires,
        )
        .await?;
        tracing::info!(user_id = user.id, "api access key issued");
        Ok(ApiCredentials {
            access_key_id: key.access_key_id,
            secret_access_key: key.secret_access_key,
            refresh_token,
            created_at: row.created_at,
            modified_at: row.modified_at,
            expires_at: row.expires_at,
        })
    }

    /// A fresh access token for `user` in `session_id`, with the refresh token just stored.
    fn session(&self, user: User, session_id: Uuid, refresh_token: String) -> Session {
        let (token, expires_at) = self.keys.issue(user.id, &user.username, session_id);
        Session {
            user,
            token,
            refresh_token,
            expires_at,
        }
    }

    /// Trades a refresh token for new tokens. The swap is one statement, so two concurrent
    /// refreshes with the same token cannot both win.
    ///
    /// A token a refresh already replaced, presented again, means two parties hold the session
    /// (the token leaked and one of them refreshed first): the whole session is revoked, every
    /// token derived from it included, and its sockets close (OAuth 2.0 Security BCP). Within
    /// `REUSE_GRACE_SECS` of its retirement it is only refused: two tabs of one browser
    /// refreshing at the same moment are not an attack.
    pub async fn refresh(&self, old: &str) -> Result<Session, ChatError> {
        let (refresh_token, new_hash) = token::new_refresh_token();
        let old_hash = token::refresh_hash(old);
        let Some((session_id, user_id)) = store::sessions::rotate(&self.db, &old_hash, &new_hash).await?
        else {
            if let Some((session_id, ago)) = store::sessions::retired_by(&self.db, &old_hash).await?
                && ago > REUSE_GRACE_SECS
            {
                tracing::warn!(%session_id, "a replaced refresh token was used again; the session is revoked");
                metrics::counter!("tickertalk_refresh_reuse_total").increment(1);
                store::sessions::revoke(&self.db, session_id).await?;
                self.sessions_ended(&[session_id]).await;
            }
            return Err(ChatError::Unauthorized(INVALID_REFRESH));
        };
        let user = store::users::by_id(&self.db, user_id)
            .await?
            .ok_or(ChatError::Unauthorized(INVALID_REFRESH))?;
        Ok(self.session(user, session_id, refresh_token))
    }

    /// Changes the caller's password (the current one must be right; the attempt is throttled
    /// like a login) and ends every other session of theirs, closing their sockets on every
    /// instance. The caller's own session goes on.
    pub async fn change_password(
        &self,
        me: &AuthUser,
        current: String,
        new: Password,
        from: Option<IpAddr>,
    ) -> Result<(), ChatError> {
        let wrong = || {
            let mut errors = FieldErrors::new();
            errors.insert("current_password", "does not match".into());
            ChatError::Invalid(errors)
        };
        if current.chars().count() > MAX_PASSWORD_CHARS {
            return Err(wrong());
        }
        let keys = LoginKeys::new(Ok(me.user_id), from);
        self.login_attempt(&keys).await.inspect_err(throttled)?;
        let stored = store::users::password_hash(&self.db, me.user_id)
            .await?
            .filter(|h| h.starts_with('$'));
        if !password::verify(current, stored).await? {
            tracing::info!(
                user_id = me.user_id,
                "password change refused: wrong current password"
            );
            return Err(wrong());
        }
        self.login_succeeded(&keys).await?;
        let hash = password::hash(new.expose().to_string()).await?;
        store::users::set_password_hash(&self.db, me.user_id, &hash).await?;
        let ended = self.end_sessions(me.user_id, Some(me.session_id)).await?;
        tracing::info!(user_id = me.user_id, sessions_ended = ended, "password changed");
        Ok(())
    }

    /// "Log out everywhere": every session of the caller ends, this one included, and their
    /// sockets close on every instance.
    pub async fn log_out_everywhere(&self, me: &AuthUser) -> Result<(), ChatError> {
        let ended = self.end_sessions(me.user_id, None).await?;
        tracing::info!(
            user_id = me.user_id,
            sessions_ended = ended,
            "logged out everywhere"
        );
        Ok(())
    }

    /// Ends every session of `user_id` but `keep` (all of them without it) on every instance;
    /// how many ended.
    async fn end_sessions(&self, user_id: i64, keep: Option<Uuid>) -> Result<usize, ChatError> {
        let ended = store::sessions::revoke_all(&self.db, user_id, keep).await?;
        self.sessions_ended(&ended).await;
        Ok(ended.len())
    }

    /// Revokes the caller's session and closes its sockets on every instance.
    pub async fn log_out(&self, me: &AuthUser) -> Result<(), ChatError> {
        store::sessions::revoke(&self.db, me.session_id).await?;
        self.sessions_ended(&[me.session_id]).await;
        tracing::info!(user_id = me.user_id, "logged out");
        Ok(())
    }

    /// Tells every instance that these sessions ended (their sockets close, their cached
    /// validity goes). Returns once every live instance has acknowledged: none of them still
    /// trusts a session from its cache when the client hears the answer.
    async fn sessions_ended(&self, ids: &[Uuid]) {
        let mut live = store::presence::live_instances(&self.db)
            .await
            .unwrap_or_default();
        live.insert(self.instance_id());
        for &id in ids {
            self.sessions.forget(id);
        }
        // Together: each waits for every instance's acknowledgement (at most 2 s).
        futures_util::future::join_all(
            ids.iter()
                .map(|&id| self.bus.announce_revocation(id, live.clone())),
        )
        .await;
    }

    /// QA routes only: an access token for the caller's session that expired an hour ago,
    /// signed with the server's key (so it fails on expiry, not on its signature).
    pub fn expired_token(&self, me: &AuthUser) -> (String, DateTime<Utc>) {
        let exp = Utc::now() - chrono::Duration::hours(1);
        (
            self.keys
                .issue_until(me.user_id, &me.username, me.session_id, exp),
            exp,
        )
    }

    /// QA routes only: deletes the caller's account with the rooms it created, every message in
    /// them and its own messages elsewhere; its sessions end on every instance.
    pub async fn delete_account(&self, me: &AuthUser) -> Result<(), ChatError> {
        let sessions = store::users::delete_account(&self.db, me.user_id).await?;
        self.sessions_ended(&sessions).await;
        tracing::info!(user_id = me.user_id, "account deleted (QA route)");
        Ok(())
    }

    /// The caller's own account.
    pub async fn me(&self, me: &AuthUser) -> Result<User, ChatError> {
        store::users::by_id(&self.db, me.user_id)
            .await?
            .ok_or(ChatError::Unauthorized("user no longer exists"))
    }
}

/// A wrong password or an unknown login (its attempt stays counted).
fn refuse_login<T>(by_email: bool) -> Result<T, ChatError> {
    tracing::info!(by_email, "login refused");
    metrics::counter!("tickertalk_logins_total", "result" => "failure").increment(1);
    Err(ChatError::Unauthorized(INVALID_CREDENTIALS))
}

/// Counts a throttled login in the metrics.
fn throttled(e: &ChatError) {
    if matches!(e, ChatError::RateLimited { .. }) {
        metrics::counter!("tickertalk_logins_total", "result" => "throttled").increment(1);
    }
}

/// The longest login (an email address's longest) and password anyone can have: longer ones
/// are refused before any lookup.
pub const MAX_LOGIN_CHARS: usize = 254;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// `Bearer <token>`, `bearer <token>` or a bare token, trimmed; an absent or empty one is the
/// "missing" 401.
fn bare_token(token: Option<&str>) -> Result<&str, ChatError> {
    token
        .map(|t| {
            t.strip_prefix("Bearer ")
                .or_else(|| t.strip_prefix("bearer "))
                .unwrap_or(t)
                .trim()
        })
        .filter(|t| !t.is_empty())
        .ok_or(ChatError::Unauthorized("missing bearer token"))
}
