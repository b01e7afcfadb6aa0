//! `AMQP_URL` as a list of cluster nodes: `amqp://…@rabbit1:5672/%2f,amqp://…@rabbit2:5672/%2f`.
//!
//! A process connects to one node at a time. The list is rotated by a random amount per process
//! (so instances spread over the nodes instead of all piling onto the first), and every failure,
//! to connect or of a connection that worked, moves to the next node: a dead node costs one
//! failed attempt, not a retry loop against the same corpse. Parsing is strict: a list with one
//! malformed entry is refused at start-up, naming the entry by position (never by its text, which
//! may hold a password).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The nodes of one `AMQP_URL`, and which one to try next.
#[derive(Debug)]
pub struct Nodes {
    urls: Vec<String>,
    /// Index (modulo `urls.len()`) of the node to connect to next.
    next: AtomicUsize,
}

impl Nodes {
    /// Parses a comma-separated list of `amqp://` or `amqps://` URLs (spaces around commas are
    /// allowed; empty entries are not), starting at a random one.
    pub fn parse(list: &str) -> Result<Nodes, String> {
        let mut nodes = Self::parse_in_order(list)?;
        let start = uuid::Uuid::new_v4().as_u128() as usize % nodes.urls.len();
        nodes.next = AtomicUsize::new(start);
        Ok(nodes)
    }

    /// As `parse`, starting at the first node (tests, and tools that want the order as given).
    pub fn parse_in_order(list: &str) -> Result<Nodes, String> {
        let urls: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
        let several = urls.len() > 1;
        for (i, raw) in urls.iter().enumerate() {
            let which = if several {
                format!("entry {} of the list", i + 1)
            } else {
                "the URL".to_string()
            };
            if raw.is_empty() {
                return Err(format!("{which} is empty"));
            }
            let u = url::Url::parse(raw).map_err(|e| format!("{which} is not a valid URL ({e})"))?;
            if !matches!(u.scheme(), "amqp" | "amqps") {
                return Err(format!("{which}: scheme must be amqp or amqps"));
            }
            if u.host_str().is_none_or(str::is_empty) {
                return Err(format!("{which} has no host"));
            }
        }
        Ok(Nodes {
            urls,
            next: AtomicUsize::new(0),
        })
    }

    pub fn len(&self) -> usize {
        self.urls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The node to connect to now: its URL (secret-bearing) and `host:port` (for logs).
    pub fn current(&self) -> (&str, String) {
        let url = &self.urls[self.next.load(Ordering::Relaxed) % self.urls.len()];
        (url, endpoint(url))
    }

    /// Moves on to the next node: the current one failed, or a connection to it was lost.
    pub fn advance(&self) {
        self.next.fetch_add(1, Ordering::Relaxed);
    }

    /// Every node's `host:port`, in list order (for a log line).
    pub fn endpoints(&self) -> String {
        self.urls
            .iter()
            .map(|u| endpoint(u))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `host:port` of an AMQP URL (no user, no password), or a placeholder.
pub fn endpoint(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            let port = u
                .port()
                .unwrap_or(if u.scheme() == "amqps" { 5671 } else { 5672 });
            Some(format!("{}:{port}", u.host_str()?))
        })
        .unwrap_or_else(|| "(unparsable URL)".into())
}

/// Each URL of a list with its password replaced, for logs and `Debug` output.
pub fn redact_list(list: &str) -> String {
    list.split(',')
        .map(|u| crate::redact_url(u.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: &str = "amqp://g:p@a:5681/%2f, amqp://g:p@b:5682/%2f,amqp://g:p@c/%2f";

    #[test]
    fn a_list_is_walked_round_and_round_from_where_it_starts() {
        let nodes = Nodes::parse_in_order(THREE).unwrap();
        assert_eq!(nodes.len(), 3);
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(nodes.current().1);
            nodes.advance();
        }
        assert_eq!(seen, ["a:5681", "b:5682", "c:5672", "a:5681"]);
        assert_eq!(nodes.endpoints(), "a:5681,b:5682,c:5672");
    }

    #[test]
    fn processes_start_at_different_nodes() {
        let starts: std::collections::HashSet<String> = (0..200)
            .map(|_| Nodes::parse(THREE).unwrap().current().1)
            .collect();
        assert_eq!(starts.len(), 3, "200 processes all started at {starts:?}");
    }

    #[test]
    fn a_bad_entry_is_refused_by_position_without_echoing_it() {
        for (list, want) in [
            (
                "amqp://g:p@a/%2f,,amqp://g:p@b/%2f",
                "entry 2 of the list is empty",
            ),
            (
                "amqp://g:p@a/%2f,http://g:secret@b/",
                "entry 2 of the list: scheme",
            ),
            (
                "amqp://g:secret@a/%2f,nope",
                "entry 2 of the list is not a valid URL",
            ),
            ("", "the URL is empty"),
        ] {
            let err = Nodes::parse(list).unwrap_err();
            assert!(err.starts_with(want), "{list}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn every_password_of_a_list_is_redacted() {
        assert_eq!(
            redact_list("amqp://g:one@a/%2f,amqp://g:two@b/%2f"),
            "amqp://g:***@a/%2f,amqp://g:***@b/%2f"
        );
    }
}
