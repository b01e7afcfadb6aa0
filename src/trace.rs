//! The id of the request being served, for the work it causes elsewhere: the HTTP listener
//! runs each request inside `scope` with its `X-Request-Id`, and a `/stock=` command takes the
//! id from here to the bot and back (its answer is logged under the same id). Work that does
//! not come from an HTTP request (a socket frame) has none, and gets a new one where it needs
//! one.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `work` with `id` as its request id.
pub async fn scope<F: Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The request id of the work in progress, if it came from an HTTP request.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The current request id, or a new one (a random UUID, simple form).
pub fn current_or_new() -> String {
    current().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope("req-1".into(), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("req-1"));
        assert_eq!(current_or_new().len(), 32);
    }
}
