//! Accepting connections. This is the loop `warp::serve` would run, plus what it
//! lacks against a client that holds connections open without using them:
//!
//! * a header-read timeout: hyper's, which only runs with a timer (warp sets none). It starts
//!   whenever the connection waits for a request head, so it closes both a slow sender and an
//!   idle keep-alive connection.
//! * a cap per client address (429 and close), counting HTTP connections and the WebSockets
//!   upgraded from them (the socket task keeps the connection's place).
//! * a cap for the whole instance below the open-file limit. At the cap the connection that has
//!   waited longest for a request head is closed to make room, so `/healthz` and real users get
//!   in while idle connections are what goes; with none idle the new connection gets 503.
//! * out of file descriptors anyway (EMFILE), `accept` closes the longest-idle connection and
//!   backs off briefly instead of spinning or stalling for a second.
//!
//! It must not know about routes: requests go to the filter it is given, with the client's
//! address and the connection's place (`ConnInfo`) in their extensions.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service as _, service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tracing::Instrument;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::problem_body;
use super::limits::{Taken, Tally};
use super::observe::Observed;

/// Connections kept out of the instance cap: the database pool, the broker, files.
pub const RESERVED_FDS: usize = 256;

/// How long the drain waits for HTTP connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(5);

/// Pause after `accept` failed for lack of file descriptors.
const EMFILE_PAUSE: Duration = Duration::from_millis(20);

/// The limits a listener enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    /// Connections per client address (0: no cap).
    pub per_address: usize,
    /// Connections of the whole instance.
    pub total: usize,
}

impl Limits {
    /// `total` 0 means: the open-file limit less `RESERVED_FDS` (at least 64).
    pub fn new(header_timeout: Duration, per_address: usize, total: usize, file_limit: u64) -> Limits {
        let total = if total > 0 {
            total
        } else {
            usize::try_from(file_limit)
                .unwrap_or(usize::MAX)
                .saturating_sub(RESERVED_FDS)
                .max(64)
        };
        Limits {
            header_timeout: header_timeout.max(Duration::from_millis(100)),
            per_address,
            total,
        }
    }
}

/// Raises the soft open-file limit to the hard one; returns the soft limit now in force.
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// What a request knows of its connection: the client's address, and the connection's place in
/// the counts (a WebSocket upgraded from it keeps the place by holding a clone).
#[derive(Clone)]
pub struct ConnInfo {
    pub addr: IpAddr,
    pub place: Arc<Place>,
}

/// One connection counted against the instance and its address; given back on drop.
pub struct Place {
    registry: Arc<Registry>,
    _address: Taken<IpAddr>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.registry.lock().total -= 1;
    }
}

/// The connections of one listener.
struct Registry {
    limits: Limits,
    per_address: Arc<Tally<IpAddr>>,
    state: Mutex<Counts>,
}

struct Counts {
    total: usize,
    /// Connections waiting for a request head, oldest first, by the order they started waiting.
    idle: BTreeMap<u64, Arc<Notify>>,
    next: u64,
}

enum Admission {
    In(Arc<Place>),
    AddressFull,
    Full,
}

impl Registry {
    fn new(limits: Limits) -> Arc<Registry> {
        Arc::new(Registry {
            limits,
            per_address: Tally::new(limits.per_address),
            state: Mutex::new(Counts {
                total: 0,
                idle: BTreeMap::new(),
                next: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(self: &Arc<Self>, addr: IpAddr) -> Admission {
        let Some(address) = self.per_address.take(addr) else {
            return Admission::AddressFull;
        };
        let mut counts = self.lock();
        if counts.total >= self.limits.total {
            // The evicted connection gives its place back when its task ends, a moment later.
            match counts.idle.pop_first() {
                Some((_, close)) => close.notify_one(),
                None => return Admission::Full,
            }
        }
        counts.total += 1;
        Admission::In(Arc::new(Place {
            registry: self.clone(),
            _address: address,
        }))
    }

    /// Closes the connection that has waited longest for a request head; false if none waits.
    fn evict_one(&self) -> bool {
        match self.lock().idle.pop_first() {
            Some((_, close)) => {
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// One connection's idle state: while it waits for a request head it may be evicted.
struct Conn {
    registry: Arc<Registry>,
    close: Arc<Notify>,
    idle_key: Mutex<Option<u64>>,
}

impl Conn {
    fn idle(&self) {
        let mut key = self.idle_key.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts = self.registry.lock();
        if let Some(old) = key.take() {
            counts.idle.remove(&old);
        }
        let k = counts.next;
        counts.next += 1;
        counts.idle.insert(k, self.close.clone());
        *key = Some(k);
    }

    fn busy(&self) {
        let mut key = self.idle_key.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = key.take() {
            self.registry.lock().idle.remove(&old);
        }
    }
}

/// Serves `filter` on `listener` until `shutdown` resolves, then lets requests in flight finish
/// (at most `DRAIN`). Upgraded WebSockets are not waited for here: they have their own drain.
pub async fn serve(
    listener: TcpListener,
    filter: BoxedFilter<(Response,)>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Registry::new(limits);
    tracing::info!(
        header_timeout_ms = limits.header_timeout.as_millis() as u64,
        per_address = limits.per_address,
        total = limits.total,
        "connection limits"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_at: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(&e, &registry, &mut warned_at).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match registry.admit(peer.ip()) {
            Admission::In(place) => {
                let conn = Conn {
                    registry: registry.clone(),
                    close: Arc::new(Notify::new()),
                    idle_key: Mutex::new(None),
                };
                // Evictable from the moment it is counted: were it registered by its task, a
                // burst of accepts could fill the instance with connections none of which is
                // evictable yet, and a real request would get 503 (seen in CI).
                conn.idle();
                tokio::spawn(connection(
                    stream,
                    peer,
                    place,
                    conn,
                    filter.clone(),
                    stop_rx.clone(),
                    done_tx.clone(),
                ));
            }
            Admission::AddressFull => {
                tracing::info!(client = %peer.ip(), "connection refused: too many from this address");
                tokio::spawn(refuse(
                    stream,
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many connections from this address",
                ));
            }
            Admission::Full => {
                tracing::warn!(
                    total = limits.total,
                    "connection refused: instance at its connection limit"
                );
                tokio::spawn(refuse(
                    stream,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server at its connection limit, try again shortly",
                ));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    // Every connection task holds a sender: recv() ends when the last one has finished.
    let _ = tokio::time::timeout(DRAIN, done_rx.recv()).await;
}

async fn accept_failed(e: &std::io::Error, registry: &Registry, warned_at: &mut Option<Instant>) {
    use std::io::ErrorKind::*;
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or buffers. Free one by closing the
    // longest-idle connection so the pending client can get in, and pause a little.
    let exhausted = matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12));
    let evicted = exhausted && registry.evict_one();
    if warned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
        tracing::warn!(error = %e, evicted, "accept failed (logged at most every 10 s)");
        *warned_at = Some(Instant::now());
    }
    tokio::time::sleep(if exhausted {
        EMFILE_PAUSE
    } else {
        Duration::from_millis(100)
    })
    .await;
}

/// Answers a refused connection with a problem response and closes it, without reading it.
async fn refuse(mut stream: TcpStream, status: StatusCode, detail: &str) {
    let body = problem_body(status, detail, None);
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    place: Arc<Place>,
    conn: Conn,
    filter: BoxedFilter<(Response,)>,
    mut stop: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
) {
    let conn = Arc::new(conn);
    let info = ConnInfo {
        addr: peer.ip(),
        place,
    };
    let inner = TowerToHyperService::new(warp::service(filter));
    // Whether a request has started on this connection: one that never sends a byte is closed
    // after the header timeout by the watch below, whatever hyper's timer does (it may not run
    // before the first byte arrives).
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let svc = {
        let conn = conn.clone();
        let started = started.clone();
        service_fn(move |mut req: hyper::Request<Incoming>| {
            started.store(true, std::sync::atomic::Ordering::Relaxed);
            let observed = Observed::start(req.method(), req.uri().path(), req.headers());
            req.extensions_mut().insert(info.clone());
            conn.busy();
            let answer =
                crate::trace::scope(observed.id.0.clone(), inner.call(req)).instrument(observed.span.clone());
            let conn = conn.clone();
            async move {
                let mut resp = answer.await;
                if let Ok(r) = &mut resp {
                    let status = r.status();
                    observed.finish(status, r.headers_mut());
                }
                // An upgraded connection is a WebSocket now, never idle in the HTTP sense.
                if !matches!(&resp, Ok(r) if r.status() == StatusCode::SWITCHING_PROTOCOLS) {
                    conn.idle();
                }
                resp
            }
        })
    };
    let header_timeout = conn.registry.limits.header_timeout;
    let silent = async {
        tokio::time::sleep(header_timeout).await;
        if started.load(std::sync::atomic::Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    let http = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades();
    let mut http = std::pin::pin!(http);
    tokio::select! {
        result = http.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(client = %peer.ip(), error = %e, "connection ended");
            }
        }
        () = conn.close.notified() => {
            tracing::debug!(client = %peer.ip(), "idle connection closed to make room");
        }
        () = silent => {
            tracing::debug!(client = %peer.ip(), "connection closed: no request within the header timeout");
        }
        () = async { let _ = stop.wait_for(|stop| *stop).await; } => {
            http.as_mut().graceful_shutdown();
            let _ = http.await;
        }
    }
    conn.busy();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize, total: usize) -> Limits {
        Limits::new(Duration::from_secs(1), per_address, total, 0)
    }

    #[test]
    fn the_instance_cap_defaults_to_the_file_limit_less_the_reserve() {
        assert_eq!(
            Limits::new(Duration::ZERO, 0, 0, 20_000).total,
            20_000 - RESERVED_FDS
        );
        assert_eq!(Limits::new(Duration::ZERO, 0, 0, 100).total, 64, "never below 64");
        assert_eq!(
            Limits::new(Duration::ZERO, 0, 500, 20_000).total,
            500,
            "configured wins"
        );
    }

    #[test]
    fn an_address_over_its_cap_is_refused_and_others_are_not() {
        let registry = Registry::new(limits(2, 100));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let _a1 = registry.admit(a);
        let a2 = registry.admit(a);
        assert!(matches!(registry.admit(a), Admission::AddressFull));
        assert!(matches!(registry.admit(b), Admission::In(_)));
        drop(a2);
        assert!(
            matches!(registry.admit(a), Admission::In(_)),
            "a place given back"
        );
    }

    #[test]
    fn at_the_instance_cap_the_longest_idle_connection_makes_room() {
        let registry = Registry::new(limits(0, 2));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let conn = || Conn {
            registry: registry.clone(),
            close: Arc::new(Notify::new()),
            idle_key: Mutex::new(None),
        };
        let Admission::In(_p1) = registry.admit(ip) else {
            panic!()
        };
        let Admission::In(_p2) = registry.admit(ip) else {
            panic!()
        };
        let (first, second) = (conn(), conn());
        first.idle();
        second.idle();
        second.busy();
        assert!(
            matches!(registry.admit(ip), Admission::In(_)),
            "one idle made room"
        );
        assert!(
            first.close.notified().now_or_never_is_ready(),
            "the idle one was told to close"
        );
        assert!(
            matches!(registry.admit(ip), Admission::Full),
            "none idle left: the newest is refused"
        );
    }

    trait NowOrNever {
        fn now_or_never_is_ready(self) -> bool;
    }

    impl<F: Future> NowOrNever for F {
        fn now_or_never_is_ready(self) -> bool {
            let waker = std::task::Waker::noop();
            let mut cx = std::task::Context::from_waker(waker);
            let mut f = std::pin::pin!(self);
            f.as_mut().poll(&mut cx).is_ready()
        }
    }
}
