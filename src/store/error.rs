//! The store's one error type. SQL code reports what went wrong in database terms; the HTTP
//! boundary (`http::error`) and the socket boundary decide what a client is told, once.

/// A unique constraint that refused a row: the store knows its constraint names, callers get a
/// meaning instead of a string to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Username,
    Email,
    RoomName,
    /// The author already used this `client_id` for a different message.
    ClientId,
}

/// Everything a query can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (pool timeout, I/O, pool closed). Nothing was written;
    /// retrying later may work, so clients get 503 rather than 500.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A unique value is already in use.
    #[error("{0:?} already taken")]
    Taken(Taken),
    /// A row the caller named (a paging anchor) does not exist where it should.
    #[error("{0}")]
    NotFound(String),
    /// Anything else: a bug or a schema mismatch. Logged with its cause, never shown.
    #[error("database error: {0}")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(err)
            }
            // The server is shutting down or restarting (class 57P: admin shutdown, crash
            // shutdown, cannot connect now) or the connection broke (class 08).
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                StoreError::Unavailable(err)
            }
            _ => StoreError::Other(err),
        }
    }
}

impl StoreError {
    /// Maps a unique violation on `constraint` to `Taken(taken)`; any other error as usual.
    pub(crate) fn on_constraint(err: sqlx::Error, constraint: &str, taken: Taken) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() && db.constraint() == Some(constraint) => {
                StoreError::Taken(taken)
            }
            _ => err.into(),
        }
    }
}

/// What every store function returns.
pub type StoreResult<T> = Result<T, StoreError>;
