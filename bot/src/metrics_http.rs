//! The bot's own small HTTP port (`METRICS_ADDR`): `GET /metrics` in the Prometheus text
//! format, `GET /healthz` for a liveness probe, 404 for anything else. hyper, because the bot
//! already links it through reqwest; nothing of the server's HTTP stack comes with it.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Binds `addr` (an error names `METRICS_ADDR`); the returned listener is served by `serve`.
pub async fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("METRICS_ADDR: cannot listen on {addr} ({e})"))
}

/// Answers on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, mut stop: watch::Receiver<bool>) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
    }
    loop {
        let stopped = async {
            let _ = stop.wait_for(|s| *s).await;
        };
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            () = stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        tokio::spawn(async move {
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(answer));
            if let Err(e) = conn.await {
                tracing::debug!(client = %peer.ip(), error = %e, "metrics connection ended");
            }
        });
    }
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            tickertalk_wire::prometheus::CONTENT_TYPE,
            tickertalk_wire::prometheus::render(),
        ),
        (&Method::GET, "/healthz") => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics\n".to_string(),
        ),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a static response is valid"))
}
