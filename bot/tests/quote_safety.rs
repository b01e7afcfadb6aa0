//! What a hostile or broken quote service can do to the bot's answers (which people must be
//! able to trust): the bot's `QuoteSource` against a fake quote service speaking raw
//! HTTP/1.1 on 127.0.0.1. No broker and no server: what comes back from `answer` is exactly what
//! the bot would publish (`text` into the room, `quote` as `meta.quote`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tickertalk_bot::fetch::{Answer, FetchConfig, QuoteSource};
use tickertalk_wire::StockCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HEADER: &str = "Symbol,Date,Time,Open,High,Low,Close,Volume\r\n";
const HOSTILE: &str = "AAPL.US QUOTE IS $1. RESET YOUR PASSWORD AT HTTP://EVIL.EXAMPLE/LOGIN";

// ---------------------------------------------------------------------------------------------
// Fake quote service
// ---------------------------------------------------------------------------------------------

/// One accepted request: its target, and the connection to answer it on.
struct Conn {
    target: String,
    stream: TcpStream,
    written: Arc<AtomicU64>,
}

impl Conn {
    /// Writes raw bytes, counting them in the service's `written`.
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.written.fetch_add(bytes.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    /// A whole response with a Content-Length, then the connection is closed.
    async fn respond(mut self, status: &str, headers: &[(&str, String)], body: &str) {
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let _ = self.write(head.as_bytes()).await;
        let _ = self.write(body.as_bytes()).await;
        let _ = self.stream.shutdown().await;
    }

    async fn csv(self, body: &str) {
        self.respond("200 OK", &[("Content-Type", "text/csv".into())], body)
            .await
    }

    async fn redirect(self, location: String) {
        self.respond("302 Found", &[("Location", location)], "").await
    }
}

type Handler = Arc<dyn Fn(Conn) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A minimal HTTP/1.1 server: one request per connection, answered by `handler`.
struct FakeQuotes {
    addr: SocketAddr,
    /// Request targets (path and query), in order.
    hits: Arc<Mutex<Vec<String>>>,
    /// Bytes written to the bot, headers included.
    written: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeQuotes {
    async fn start<F, Fut>(handler: F) -> FakeQuotes
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        FakeQuotes::start_on("127.0.0.1:0", handler).await.unwrap()
    }

    async fn start_on<F, Fut>(bind: &str, handler: F) -> std::io::Result<FakeQuotes>
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |conn| Box::pin(handler(conn)));
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (hits, written) = (hits.clone(), written.clone());
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (handler, hits, written) = (handler.clone(), hits.clone(), written.clone());
                    tokio::spawn(async move {
                        if let Some(conn) = read_request(stream, written).await {
                            hits.lock().unwrap().push(conn.target.clone());
                            handler(conn).await;
                        }
                    });
                }
            }
        });
        Ok(FakeQuotes {
            addr,
            hits,
            written,
            task,
        })
    }

    /// A `QUOTE_URL` shaped like stooq's.
    fn url(&self) -> String {
        format!("http://{}/q/l/?s={{symbol}}&f=sd2t2ohlcv&h&e=csv", self.addr)
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
}

impl Drop for FakeQuotes {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(mut stream: TcpStream, written: Arc<AtomicU64>) -> Option<Conn> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let target = head.lines().next()?.split_whitespace().nth(1)?.to_string();
    Some(Conn {
        target,
        stream,
        written,
    })
}

// ---------------------------------------------------------------------------------------------
// The bot's side
// ---------------------------------------------------------------------------------------------

fn config(url: String, total_timeout: Duration) -> FetchConfig {
    FetchConfig {
        url,
        // History is tested on its own (below): these tests are about the quote.
        history_url: String::new(),
        connect_timeout: Duration::from_secs(1),
        total_timeout,
        retries: 2,
        cache_ttl: Duration::ZERO,
        history_cache_ttl: Duration::ZERO,
        zone: chrono_tz::Europe::Warsaw,
    }
}

async fn ask(url: String, symbol: &str) -> Answer {
    ask_within(url, symbol, Duration::from_secs(5)).await
}

async fn ask_within(url: String, symbol: &str, total_timeout: Duration) -> Answer {
    let source = QuoteSource::new(config(url, total_timeout)).unwrap();
    let code = StockCode::parse(symbol).unwrap();
    // Far beyond any bound the bot keeps: a hang here is a failure, not a stuck test run.
    tokio::time::timeout(Duration::from_secs(60), source.answer(&code))
        .await
        .expect("the bot never answered")
}

fn failure(symbol: &str, why: &str) -> String {
    format!("Sorry, the quote service failed for {symbol} ({why}). Please try again later.")
}

fn assert_no_hostile_text(answer: &Answer) {
    let shown = format!("{} {:?}", answer.text, answer.quote).to_ascii_lowercase();
    for bad in ["evil", "password", "reset", "$1.", "http", "<", "click"] {
        assert!(!shown.contains(bad), "{bad:?} reached the room: {answer:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Text from the quote service
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_hostile_symbol_column_is_never_echoed_into_the_room() {
    let quotes = FakeQuotes::start(|conn: Conn| async move {
        conn.csv(&format!(
            "{HEADER}{HOSTILE},2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109\r\n"
        ))
        .await
    })
    .await;
    let answer = ask(quotes.url(), "aapl.us").await;
    // A Symbol column naming something else than what was asked is garbage, not a quote.
    assert_eq!(answer.text, failure("AAPL.US", "unexpected response"));
    assert_eq!((answer.outcome, &answer.quote), ("failed", &None));
    assert_no_hostile_text(&answer);

    // The same with "no data" in every other field: still garbage, still not echoed.
    let quotes = FakeQuotes::start(|conn: Conn| async move {
        conn.csv(&format!("{HEADER}{HOSTILE},N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n"))
            .await
    })
    .await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, failure("AAPL.US", "unexpected response"));
    assert_no_hostile_text(&answer);
}

#[tokio::test]
async fn the_answer_names_the_requested_symbol_and_reformats_the_numbers() {
    // Another case and padding around the fields: the symbol is the one asked for, upper-cased;
    // numbers and dates are re-written from their parsed values.
    let quotes = FakeQuotes::start(|conn: Conn| async move {
        conn.csv(&format!(
            "{HEADER}aApL.uS , 2024-05-03 , 22:00:09 , 092.11 , 94.10 , 91.5 , 93.42 , 163224109\r\n"
        ))
        .await
    })
    .await;
    let answer = ask(quotes.url(), "AAPL.us").await;
    assert_eq!(answer.text, "AAPL.US quote is $93.42 per share");
    assert_eq!(answer.outcome, "quote");
    let q = answer.quote.expect("a quote");
    assert_eq!(
        [
            &q.symbol, &q.date, &q.time, &q.open, &q.high, &q.low, &q.close, &q.volume
        ],
        [
            "AAPL.US",
            "2024-05-03",
            "22:00:09",
            "92.11",
            "94.10",
            "91.5",
            "93.42",
            "163224109"
        ]
    );

    let quotes = FakeQuotes::start(|conn: Conn| async move {
        conn.csv(&format!("{HEADER}ZZZZ.US,N/D,N/D,N/D,N/D,N/D,N/D,N/D\r\n"))
            .await
    })
    .await;
    let answer = ask(quotes.url(), "zzzz.us").await;
    assert_eq!(answer.text, "ZZZZ.US quote is not available");
}

#[tokio::test]
async fn text_in_any_other_column_never_reaches_the_quote_object() {
    let rows = [
        // date, time, open, high, low, close, volume
        "<a href=http://evil.example>click</a>,22:00:09,92.11,94.10,91.50,93.42,163224109",
        "2024-05-03,RESET YOUR PASSWORD,92.11,94.10,91.50,93.42,163224109",
        "2024-05-03,22:00:09,http://evil.example,94.10,91.50,93.42,163224109",
        "2024-05-03,22:00:09,92.11,NaN,91.50,93.42,163224109",
        "2024-05-03,22:00:09,92.11,94.10,inf,93.42,163224109",
        "2024-05-03,22:00:09,92.11,94.10,91.50,93.42,1e3 click http://evil.example",
        "2024-05-03,22:00:09,92.11,94.10,91.50,1e1,163224109",
        "2024-13-45,22:00:09,92.11,94.10,91.50,93.42,163224109",
        "2024-05-03,25:61:00,92.11,94.10,91.50,93.42,163224109",
    ];
    for row in rows {
        let body = format!("{HEADER}AAPL.US,{row}\r\n");
        let quotes = FakeQuotes::start(move |conn: Conn| {
            let body = body.clone();
            async move { conn.csv(&body).await }
        })
        .await;
        let answer = ask(quotes.url(), "aapl.us").await;
        assert_eq!(
            answer.text,
            failure("AAPL.US", "unexpected response"),
            "row {row:?}"
        );
        assert_eq!(answer.quote, None, "row {row:?}");
        assert_no_hostile_text(&answer);
    }
}

// ---------------------------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------------------------

const FIFTY_MB: u64 = 50 * 1024 * 1024;

/// A quote CSV whose row goes on for 50 MB, with or without a Content-Length.
async fn huge(mut conn: Conn, content_length: bool) {
    let mut head = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n".to_string();
    if content_length {
        head.push_str(&format!("Content-Length: {FIFTY_MB}\r\n"));
    }
    head.push_str("\r\n");
    if conn.write(head.as_bytes()).await.is_err() {
        return;
    }
    let start = format!("{HEADER}AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,1");
    if conn.write(start.as_bytes()).await.is_err() {
        return;
    }
    let zeros = vec![b'0'; 64 * 1024];
    let mut sent = start.len() as u64;
    while sent < FIFTY_MB {
        let n = zeros.len().min((FIFTY_MB - sent) as usize);
        if conn.write(&zeros[..n]).await.is_err() {
            return; // the bot hung up
        }
        sent += n as u64;
    }
    let _ = conn.stream.shutdown().await;
}

async fn a_50_mb_answer_is_refused(content_length: bool) {
    let quotes = FakeQuotes::start(move |conn: Conn| huge(conn, content_length)).await;
    let asked = Instant::now();
    let answer = ask(quotes.url(), "aapl.us").await;
    let took = asked.elapsed();
    assert_eq!(answer.text, failure("AAPL.US", "response too large"));
    assert_eq!(answer.quote, None);
    // The bot hung up long before the end: what the service managed to write is the cap plus
    // what the socket buffers hold, far from 50 MB.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = quotes.written();
    assert!(
        written < 16 * 1024 * 1024,
        "the bot let the service write {written} bytes (Content-Length: {content_length}) in {took:?}"
    );
    assert_eq!(quotes.hits().len(), 1, "a refused body is not retried");
}

#[tokio::test]
async fn a_50_mb_answer_with_a_content_length_is_refused_early() {
    a_50_mb_answer_is_refused(true).await;
}

#[tokio::test]
async fn a_50_mb_answer_without_a_content_length_is_cut_at_the_cap() {
    a_50_mb_answer_is_refused(false).await;
}

#[tokio::test]
async fn an_answer_just_under_the_cap_is_still_read() {
    // Padding after the row (spaces are trimmed): about 60 KiB in all, under the 64 KiB cap.
    let quotes = FakeQuotes::start(|conn: Conn| async move {
        let padding = " ".repeat(60 * 1024);
        conn.csv(&format!(
            "{HEADER}AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109{padding}\r\n"
        ))
        .await
    })
    .await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, "AAPL.US quote is $93.42 per share");
}

// ---------------------------------------------------------------------------------------------
// History: the same limits; whatever it does, the price still goes out
// ---------------------------------------------------------------------------------------------

const QUOTE_ROW: &str = "AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109\r\n";

/// The service's quote at `/q/l/`, and `history` answering `/q/d/l/`.
async fn with_history<F, Fut>(history: F) -> FakeQuotes
where
    F: Fn(Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let history = Arc::new(history);
    FakeQuotes::start(move |conn: Conn| {
        let history = history.clone();
        async move {
            if conn.target.starts_with("/q/d/l/") {
                history(conn).await
            } else {
                conn.csv(&format!("{HEADER}{QUOTE_ROW}")).await
            }
        }
    })
    .await
}

async fn ask_with_history(quotes: &FakeQuotes) -> Answer {
    let mut cfg = config(quotes.url(), Duration::from_secs(5));
    cfg.history_url = format!("http://{}/q/d/l/?s={{symbol}}&i=d", quotes.addr);
    let source = QuoteSource::new(cfg).unwrap();
    let code = StockCode::parse("aapl.us").unwrap();
    tokio::time::timeout(Duration::from_secs(60), source.answer(&code))
        .await
        .expect("the bot never answered")
}

#[tokio::test]
async fn decades_of_history_are_streamed_and_only_their_end_kept() {
    // About 11,000 rows (AAPL since 1984 is about that), 500 KiB: read whole, kept as a tail.
    let quotes = with_history(|conn: Conn| async move {
        let mut body = String::from("Date,Open,High,Low,Close,Volume\r\n");
        let mut d = chrono::NaiveDate::from_ymd_opt(1984, 9, 7).unwrap();
        while d < chrono::NaiveDate::from_ymd_opt(2024, 5, 3).unwrap() {
            body.push_str(&format!("{d},1.0,1.0,1.0,90.5,1000\r\n"));
            d = d.succ_opt().unwrap();
        }
        conn.csv(&body).await
    })
    .await;
    let answer = ask_with_history(&quotes).await;
    let q = answer.quote.expect("a quote");
    assert_eq!(q.previous_close, "90.5");
    assert_eq!(q.history.len(), 32, "a month of days, then the quote's");
    assert_eq!(q.history.last().unwrap().close, "93.42");
    assert_eq!(q.at, "2024-05-03T22:00:09+02:00");
}

#[tokio::test]
async fn an_endless_or_hostile_history_never_holds_back_or_taints_the_price() {
    let quotes = with_history(|conn: Conn| huge(conn, false)).await;
    let answer = ask_with_history(&quotes).await;
    assert_eq!(answer.text, "AAPL.US quote is $93.42 per share");
    let q = answer.quote.expect("a quote");
    assert!(q.history.is_empty() && q.previous_close.is_empty(), "{q:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        quotes.written() < 16 * 1024 * 1024,
        "the bot read {} bytes of history",
        quotes.written()
    );

    let quotes = with_history(|conn: Conn| async move {
        conn.csv(&format!(
            "Date,Close\r\n{HOSTILE},1\r\n2024-05-02,<script>1</script>\r\n2024-05-01,90\r\n2024-05-02,91\r\n"
        ))
        .await
    })
    .await;
    let answer = ask_with_history(&quotes).await;
    assert_no_hostile_text(&answer);
    let q = answer.quote.expect("a quote");
    assert_eq!(q.previous_close, "91");
    assert_eq!(
        q.history.iter().map(|p| p.close.as_str()).collect::<Vec<_>>(),
        ["90", "91", "93.42"]
    );

    // A redirect elsewhere: not followed; the price goes out without history.
    let elsewhere = other_host().await;
    let target = format!("http://{}/q/d/l/?s=aapl.us&i=d", elsewhere.addr);
    let quotes = with_history(move |conn: Conn| conn.redirect(target.clone())).await;
    let answer = ask_with_history(&quotes).await;
    assert!(answer.quote.expect("a quote").history.is_empty());
    assert!(elsewhere.hits().is_empty(), "the other host was never asked");
}

// ---------------------------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------------------------

/// The other host's quote: its price must never be posted.
async fn other_host() -> FakeQuotes {
    FakeQuotes::start(|conn: Conn| async move {
        conn.csv(&format!("{HEADER}AAPL.US,2024-05-03,22:00:09,1,1,1,666.66,1\r\n"))
            .await
    })
    .await
}

#[tokio::test]
async fn a_redirect_to_another_port_is_not_followed() {
    let other = other_host().await;
    let target = format!("http://{}/q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv", other.addr);
    let quotes = FakeQuotes::start(move |conn: Conn| conn.redirect(target.clone())).await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, failure("AAPL.US", "redirected elsewhere"));
    assert!(!answer.text.contains("666"), "{answer:?}");
    assert_eq!(answer.quote, None);
    assert!(other.hits().is_empty(), "followed: {:?}", other.hits());
    assert_eq!(quotes.hits().len(), 1, "a refused redirect is not retried");
}

#[tokio::test]
async fn a_redirect_to_another_address_is_not_followed() {
    // 127.0.0.2 is loopback too on Linux; elsewhere it may not be bindable.
    let Ok(other) = FakeQuotes::start_on("127.0.0.2:0", |conn: Conn| async move {
        conn.csv(&format!("{HEADER}AAPL.US,2024-05-03,22:00:09,1,1,1,666.66,1\r\n"))
            .await
    })
    .await
    else {
        eprintln!("127.0.0.2 is not bindable here; skipped");
        return;
    };
    let target = format!("http://{}/q/l/?s=aapl.us", other.addr);
    let quotes = FakeQuotes::start(move |conn: Conn| conn.redirect(target.clone())).await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, failure("AAPL.US", "redirected elsewhere"));
    assert!(other.hits().is_empty(), "followed: {:?}", other.hits());
}

#[tokio::test]
async fn a_redirect_on_the_same_host_is_followed() {
    let quotes = FakeQuotes::start(|conn: Conn| async move {
        if conn.target.starts_with("/q/l/") {
            // Relative and absolute forms both stay on the same host.
            conn.redirect("/moved/?s=aapl.us".into()).await
        } else if conn.target.starts_with("/moved/") {
            let here = conn.stream.local_addr().unwrap();
            conn.redirect(format!("http://{here}/final/?s=aapl.us")).await
        } else {
            conn.csv(&format!(
                "{HEADER}AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109\r\n"
            ))
            .await
        }
    })
    .await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, "AAPL.US quote is $93.42 per share");
    let hits = quotes.hits();
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits[2].starts_with("/final/"), "{hits:?}");
}

#[tokio::test]
async fn an_endless_redirect_on_the_same_host_fails() {
    let quotes = FakeQuotes::start(|conn: Conn| conn.redirect("/again/".into())).await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, failure("AAPL.US", "redirected elsewhere"));
    assert!(quotes.hits().len() <= 4, "{:?}", quotes.hits());
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_body_trickling_a_byte_at_a_time_gives_up_within_the_total_timeout() {
    let quotes = FakeQuotes::start(|mut conn: Conn| async move {
        let body = format!("{HEADER}AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,93.42,163224109\r\n");
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if conn.write(head.as_bytes()).await.is_err() {
            return;
        }
        for byte in body.as_bytes() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if conn.write(&[*byte]).await.is_err() {
                return;
            }
        }
    })
    .await;
    let asked = Instant::now();
    let answer = ask_within(quotes.url(), "aapl.us", Duration::from_millis(1000)).await;
    let took = asked.elapsed();
    assert_eq!(answer.text, failure("AAPL.US", "timed out"));
    assert!(took < Duration::from_millis(2500), "gave up after {took:?}");
    assert_eq!(quotes.hits().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn retries_never_add_up_beyond_the_total_timeout() {
    // Every attempt gets a 503 (transient: retried) just before the bound: three attempts and
    // their backoff would take about 4.2 s; the whole fetch has 1.5 s.
    let quotes = FakeQuotes::start(|conn: Conn| async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        conn.respond("503 Service Unavailable", &[], "busy").await
    })
    .await;
    let asked = Instant::now();
    let answer = ask_within(quotes.url(), "aapl.us", Duration::from_millis(1500)).await;
    let took = asked.elapsed();
    assert_eq!(answer.outcome, "failed", "{answer:?}");
    assert!(
        answer
            .text
            .starts_with("Sorry, the quote service failed for AAPL.US"),
        "{answer:?}"
    );
    assert!(took < Duration::from_millis(2800), "gave up after {took:?}");
}

#[tokio::test]
async fn a_retry_that_fits_in_the_bound_still_happens() {
    // One quick 503, then the quote: the retry hides the hiccup, as before.
    let calls = Arc::new(AtomicU64::new(0));
    let quotes = FakeQuotes::start(move |conn: Conn| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                conn.respond("503 Service Unavailable", &[], "busy").await
            } else {
                conn.csv(&format!(
                    "{HEADER}AAPL.US,2024-05-03,22:00:09,92.11,94.10,91.50,12.5,1\r\n"
                ))
                .await
            }
        }
    })
    .await;
    let answer = ask(quotes.url(), "aapl.us").await;
    assert_eq!(answer.text, "AAPL.US quote is $12.5 per share");
    assert_eq!(quotes.hits().len(), 2);
}
