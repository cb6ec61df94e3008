//! Clients that misbehave on the wire: a head sent one byte at a time, a
//! head larger than any honest one, a body that drips. Each is cut off by a
//! limit, and an honest client is served meanwhile.

mod support;

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::json;
use support::served::Served;
use support::{Backend, TestDatabase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a raw connection to `server`.
async fn connect(server: &Served) -> TcpStream {
    let address = server.base.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Reads until the server closes the connection or `limit` passes; answers
/// what was read and how long it took.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 4096];
        while let Ok(read) = stream.read(&mut chunk).await {
            if read == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..read]);
        }
    };
    let _ = tokio::time::timeout(limit, reading).await;
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_head_that_never_ends_is_cut_off_while_others_are_served() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = Served::start_with(&database.url, |config| {
        config.header_read_timeout = Duration::from_millis(500);
    })
    .await;

    let mut slow = connect(&server).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // An honest client is served while the slow one waits.
    let answer = Client::new().get(server.url("/health")).send().await;
    assert_eq!(answer.unwrap().status(), StatusCode::OK);

    let (_, waited) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(
        waited < Duration::from_secs(3),
        "the connection stayed open for {waited:?}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = Served::start_with(&database.url, |config| {
        config.header_read_timeout = Duration::from_millis(500);
    })
    .await;

    let mut idle = connect(&server).await;
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, waited) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(
        waited < Duration::from_secs(3),
        "the idle connection stayed open for {waited:?}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_head_over_64_kib_is_refused_with_431() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = Served::start(&database.url).await;

    let mut stream = connect(&server).await;
    let filler = "a".repeat(80 * 1024);
    let head = format!("GET /health HTTP/1.1\r\nhost: x\r\nx-filler: {filler}\r\n\r\n");
    // The server may close before it has read everything; what it answered
    // is still there to read.
    let _ = stream.write_all(head.as_bytes()).await;
    let (text, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        text.starts_with("HTTP/1.1 431"),
        "{}",
        &text[..text.len().min(200)]
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_dripping_body_gets_503_at_the_request_timeout() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let server = Served::start_with(&database.url, |config| {
        config.request_timeout = Duration::from_millis(800);
    })
    .await;
    let key = server.key(&Client::new(), "pro").await;

    let mut stream = connect(&server).await;
    let head = format!(
        "POST /api/events HTTP/1.1\r\nhost: x\r\nx-api-key: {key}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (text, waited) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");

    // Nothing of the cut-off request was stored.
    let inbox = Client::new()
        .get(server.url("/api/inbox?status=all"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    let inbox: serde_json::Value = inbox.json().await.unwrap();
    assert_eq!(inbox["events"], json!([]));
    server.shut_down().await;
}
