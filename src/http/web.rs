//! The browser client: `web/` embedded into the binary at build time, so one executable serves
//! everything (no separate front-end server, no build step).

use rust_embed::RustEmbed;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub fn routes() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let index = warp::path::end()
        .and(warp::get())
        .and_then(|| serve("index.html"));
    let file = warp::path::tail()
        .and(warp::get())
        .and_then(|tail: warp::path::Tail| serve_owned(tail.as_str().to_string()));
    index.or(file).unify()
}

async fn serve_owned(path: String) -> Result<Response, Rejection> {
    serve(&path).await
}

async fn serve(path: &str) -> Result<Response, Rejection> {
    let asset = Assets::get(path).ok_or_else(warp::reject::not_found)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut resp = Response::new(bytes::Bytes::from(asset.data.into_owned()).into());
    let headers = resp.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_str(mime.as_ref()).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // Small files, and a new build must reach browsers at once: revalidate every time.
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    Ok(resp)
}
