//! Connection limits: connections that hold a place without using it are closed,
//! one address or one user cannot take the instance, and near the open-file limit `/healthz` is
//! still answered. Raw TCP where the attack is below HTTP.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{SECRET, TestApp, TestEnv, amqp_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP connection to `addr` from the loopback address `from` (127.0.0.x are all local).
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (or `within` passes); what it sent, and when
/// it closed (None: still open).
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, Option<Instant>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), Some(Instant::now())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), None),
        }
    }
}

#[tokio::test]
async fn idle_and_slow_header_connections_are_closed_after_the_header_timeout() {
    let app = TestApp::spawn(&["--http-header-timeout-secs=1"]).await;
    let opened = Instant::now();
    // Sends nothing at all.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    // Sends a header line every 300 ms and never finishes the head.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    // One real request, then keeps the connection open without another.
    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let slow_writer = tokio::spawn(async move {
        slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow
                .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        until_closed(&mut slow, Duration::from_secs(1)).await
    });
    let (_, silent_closed) = until_closed(&mut silent, Duration::from_secs(5)).await;
    let (answer, kept_closed) = until_closed(&mut kept, Duration::from_secs(5)).await;
    let (_, slow_closed) = slow_writer.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request itself was served: {answer}"
    );
    for (what, closed) in [("silent", silent_closed), ("kept-alive", kept_closed)] {
        let closed = closed.unwrap_or_else(|| panic!("{what} connection still open after 5 s"));
        let after = closed - opened;
        assert!(
            after >= Duration::from_millis(900),
            "{what} closed too early: {after:?}"
        );
    }
    assert!(
        slow_closed.is_some(),
        "a head trickled over 6 s must be cut off by a 1 s header timeout"
    );
}

#[tokio::test]
async fn one_address_over_its_cap_gets_429_and_other_addresses_are_served() {
    let app = TestApp::spawn(&["--max-connections-per-address=3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.2", app.addr).await);
    }
    let mut fourth = connect_from("127.0.0.2", app.addr).await;
    let (answer, closed) = until_closed(&mut fourth, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.contains("too many connections from this address"),
        "{answer}"
    );
    assert!(closed.is_some(), "the refused connection is closed");
    // Other addresses are not affected; and a place given back is free again.
    assert_eq!(app.get("/healthz", None).await.0, 200);
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", app.addr).await;
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut again, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn at_the_instance_cap_idle_connections_make_room_for_real_requests() {
    let app = TestApp::spawn(&["--max-connections=8", "--max-connections-per-address=0"]).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    for _ in 0..5 {
        assert_eq!(app.get("/healthz", None).await.0, 200);
    }
    let mut closed = 0;
    for stream in &mut idle {
        if until_closed(stream, Duration::from_millis(100)).await.1.is_some() {
            closed += 1;
        }
    }
    assert!(closed >= 1, "idle connections were closed to make room");
}

#[tokio::test]
async fn a_user_gets_429_for_one_socket_more_than_the_cap() {
    let app = TestApp::spawn(&["--max-sockets-per-user=2"]).await;
    let t = app.token("alice").await;
    let first = app.ws(&t).await;
    let _second = app.ws(&t).await;
    let url = format!("ws://{}/v1/ws?token={t}", app.addr);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string();
            assert!(body.contains("too many open sockets"), "{body}");
        }
        other => panic!("a third socket must be refused, got {other:?}"),
    }
    let bob = app.token("bob").await;
    let _bobs = app.ws(&bob).await;
    drop(first);
    // The closed socket's place comes back once its task has ended.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(&url).await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the place of a closed socket never came back: {e}"),
        }
    }
}

/// The real binary with a hard limit of 160 open files (so about 64 connections): 150 idle
/// connections do not keep `/healthz` out. Before the limits, accept failed with EMFILE and
/// `/healthz` hung.
#[tokio::test]
async fn healthz_answers_with_the_file_limit_nearly_used() {
    let env = TestEnv::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = tokio::process::Command::new("prlimit")
        .arg("--nofile=160:160")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_tickertalk"))
        .arg("serve")
        .arg(format!("--listen-addr={addr}"))
        .arg(format!("--database-url={}", env.db_url))
        .arg(format!("--amqp-url={}", amqp_url()))
        .arg(format!("--jwt-secret={SECRET}"))
        .arg(format!("--broker-prefix={}", env.prefix))
        .arg("--max-connections-per-address=0")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("prlimit (util-linux) runs the server");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let health = format!("http://{addr}/healthz");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http.get(&health).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(Instant::now() < deadline, "server did not start");
        assert!(child.try_wait().unwrap().is_none(), "server exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut idle = Vec::new();
    for _ in 0..150 {
        if let Ok(s) = TcpStream::connect(addr).await {
            idle.push(s);
        }
    }
    for i in 0..10 {
        let started = Instant::now();
        let resp = http.get(&health).send().await;
        assert!(
            resp.as_ref().is_ok_and(|r| r.status() == 200),
            "healthz {i} with 150 idle connections: {resp:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "healthz {i} took {:?}",
            started.elapsed()
        );
    }
    child.kill().await.unwrap();
    drop(idle);
}

/// A body that stalls part-way is cut off after the body-read timeout (408, then closed), and
/// none of many connections that never send a byte outlives the header timeout.
#[tokio::test]
async fn stalled_bodies_and_silent_connections_are_cut_off() {
    let app = TestApp::spawn(&["--http-header-timeout-secs=1", "--http-body-timeout-secs=1"]).await;
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..150 {
        silent.push(TcpStream::connect(app.addr).await.unwrap());
    }
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    stalled
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 1000\r\n\r\n{\"username\"",
        )
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut stalled, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(closed.is_some(), "and the connection is closed");
    let waited = closed.unwrap() - opened;
    assert!(
        waited < Duration::from_secs(5),
        "after about the body timeout: {waited:?}"
    );
    let mut open = 0;
    for mut s in silent {
        if until_closed(&mut s, Duration::from_secs(5)).await.1.is_none() {
            open += 1;
        }
    }
    assert_eq!(open, 0, "silent connections still open after the header timeout");
}
