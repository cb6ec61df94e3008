//! Targets that misbehave on the wire, side by side in one run: each gets a
//! verdict that names the cause, the run ends in bounded time and memory, and
//! the report of every target is written.
//!
//! Every hostile server answers its readiness probe and key generation
//! correctly, so it starts, and misbehaves on every other request. A last
//! target behaves until the load phase is under way, then dies.

mod run_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use run_support::{Workspace, describe, only_run, target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How a hostile server answers the requests of the scenarios.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Sends the head and part of the body, then closes the connection.
    ClosesMidResponse,
    /// A 200 whose JSON body is cut short, with a matching length.
    InvalidJson,
    /// Claims a longer body than it sends, then closes.
    WrongContentLength,
    /// Streams a body with no end in sight (up to 256 MiB).
    EndlessBody,
    /// Reads the request and never answers.
    NeverAnswers,
    /// Answers correctly, one byte per second.
    OneBytePerSecond,
    /// Redirects every request to itself.
    RedirectLoop,
}

/// The readiness path of every hostile target, the one request that it
/// answers honestly besides key generation.
const PROBE: &str = "/probe";

const KEY_ANSWER: &str = r#"{"api_key":"trg_0123456789abcdef0123456789abcdef","organization_id":"org-1","organization_name":"hostile","tier":"pro","rate_limit_per_minute":1000,"created_at":"2026-12-04T06:00:00Z"}"#;

/// Starts a hostile server on a free loopback port; returns its base URL.
async fn start(hostile: Hostile) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, hostile));
        }
    });
    format!("http://{address}")
}

/// Answers one request on `stream`, then closes it.
async fn serve(mut stream: TcpStream, hostile: Hostile) {
    let Some(path) = read_request(&mut stream).await else {
        return;
    };
    if path == PROBE {
        let _ = stream
            .write_all(&answer("200 OK", r#"{"status":"ok"}"#))
            .await;
        return;
    }
    if path == "/api/keys/generate" {
        let _ = stream.write_all(&answer("201 Created", KEY_ANSWER)).await;
        return;
    }
    let _ = misbehave(&mut stream, hostile, &path).await;
}

async fn misbehave(stream: &mut TcpStream, hostile: Hostile, path: &str) -> std::io::Result<()> {
    let json_head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n";
    match hostile {
        Hostile::ClosesMidResponse => {
            let head = format!("{json_head}content-length: 100\r\n\r\n{{\"sta");
            stream.write_all(head.as_bytes()).await
        }
        Hostile::InvalidJson => {
            stream
                .write_all(&answer("200 OK", r#"{"status": ok"#))
                .await
        }
        Hostile::WrongContentLength => {
            let head = format!("{json_head}content-length: 1000\r\n\r\n{{\"status\":\"ok\"}}");
            stream.write_all(head.as_bytes()).await
        }
        Hostile::EndlessBody => {
            stream
                .write_all(format!("{json_head}\r\n[").as_bytes())
                .await?;
            let chunk = "\"filler\",".repeat(7_000);
            for _ in 0..(256 << 20) / chunk.len() {
                stream.write_all(chunk.as_bytes()).await?;
            }
            Ok(())
        }
        Hostile::NeverAnswers => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        Hostile::OneBytePerSecond => {
            for byte in answer("200 OK", r#"{"status":"ok"}"#) {
                stream.write_all(&[byte]).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(())
        }
        Hostile::RedirectLoop => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {path}\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await
        }
    }
}

/// A whole answer with `status`, a JSON body and its length.
fn answer(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads a request's head and body; returns its path.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let request_line = head.lines().next()?.to_string();
    request_line.split(' ').nth(1).map(str::to_string)
}

/// The largest resident set of any child process this test waited for, in
/// bytes.
fn children_peak_rss() -> u64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    // Linux reports kilobytes.
    usage.max_rss() as u64 * 1024
}

/// The reason recorded for scenario `id` on target `name`.
fn reason<'a>(results: &'a serde_json::Value, name: &str, id: &str) -> (&'a str, &'a str) {
    let scenarios = target(results, name)["scenarios"]
        .as_array()
        .expect("scenarios");
    let outcome = scenarios
        .iter()
        .find(|outcome| outcome["id"] == id)
        .expect("the scenario ran");
    (
        outcome["verdict"].as_str().expect("a verdict"),
        outcome["reason"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_target_gets_a_verdict_with_its_cause() {
    // Each case: the behaviour, then the verdict and a piece of the reason
    // of the `health-ok` scenario (GET /health expecting 200 and ok).
    let cases = [
        (
            Hostile::ClosesMidResponse,
            "error",
            "end of file before message length reached",
        ),
        (
            Hostile::InvalidJson,
            "fail",
            r#"expected "a JSON body" but was "{\"status\": ok""#,
        ),
        (
            Hostile::WrongContentLength,
            "error",
            "end of file before message length reached",
        ),
        (
            Hostile::EndlessBody,
            "error",
            "the answer body exceeds 1048576 bytes",
        ),
        (Hostile::NeverAnswers, "error", "operation timed out"),
        (Hostile::OneBytePerSecond, "error", "operation timed out"),
        (
            Hostile::RedirectLoop,
            "fail",
            "status expected 200 but was 302",
        ),
    ];
    let workspace = Workspace::new();
    let mut targets = String::new();
    for (hostile, _, _) in cases {
        let base_url = start(hostile).await;
        targets.push_str(&format!(
            "[[target]]\nname = \"{hostile:?}\"\nkind = \"url\"\nbase_url = \"{base_url}\"\n\
             health = \"{PROBE}\"\nstart_timeout = \"5s\"\n\n"
        ));
    }
    workspace.write_targets(&targets);

    let started = Instant::now();
    let output = workspace
        .harness(&[
            "conformance",
            "--no-progress",
            "--request-timeout",
            "2s",
            "--scenario",
            "health-ok",
        ])
        .await;
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));

    // Seven targets one after another, each bounded by the request timeout.
    assert!(elapsed < Duration::from_secs(90), "took {elapsed:?}");
    let peak = children_peak_rss();
    assert!(peak < 200 << 20, "the harness peaked at {peak} bytes");

    let results = workspace.results();
    for (hostile, verdict, cause) in cases {
        let name = format!("{hostile:?}");
        assert_eq!(target(&results, &name)["status"], "started", "{name}");
        let (found, reason) = reason(&results, &name, "health-ok");
        assert_eq!(found, verdict, "{name}: {reason}");
        assert!(reason.contains(cause), "{name}: {reason:?} lacks {cause:?}");
    }

    // Every format was written, so the partial results can be read.
    let run = only_run(&workspace.root().join("reports"));
    for file in ["results.json", "report.md", "report.html", "junit.xml"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
}

/// A server that answers health, key generation, ingest and the inbox
/// correctly until it has accepted `lives` ingests, then stops listening and
/// drops every connection, as a process that crashed would.
async fn start_mortal(lives: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let dead = CancellationToken::new();
    let ingested = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let dead = dead.clone();
        async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = dead.cancelled() => return,
                };
                let Ok((stream, _)) = accepted else { return };
                let (dead, ingested) = (dead.clone(), ingested.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        () = serve_mortal(stream, lives, &ingested, &dead) => {}
                        () = dead.cancelled() => {}
                    }
                });
            }
        }
    });
    format!("http://{address}")
}

async fn serve_mortal(
    mut stream: TcpStream,
    lives: usize,
    ingested: &AtomicUsize,
    dead: &CancellationToken,
) {
    let Some(path) = read_request(&mut stream).await else {
        return;
    };
    let reply = match path.split('?').next().unwrap_or_default() {
        "/health" => answer("200 OK", r#"{"status":"ok"}"#),
        "/api/keys/generate" => answer("201 Created", KEY_ANSWER),
        "/api/events" => {
            let count = ingested.fetch_add(1, Ordering::SeqCst) + 1;
            if count > lives {
                dead.cancel();
                return;
            }
            let body = format!(r#"{{"id":"event-{count}","status":"accepted"}}"#);
            answer("202 Accepted", &body)
        }
        "/api/inbox" => answer("200 OK", r#"{"events":[],"next_cursor":null}"#),
        _ => answer(
            "404 Not Found",
            r#"{"error":"not found","code":"not_found"}"#,
        ),
    };
    let _ = stream.write_all(&reply).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_dies_during_load_keeps_its_figures_and_gets_a_verdict() {
    let workspace = Workspace::new();
    let base_url = start_mortal(300).await;
    workspace.write_targets(&format!(
        "[[target]]\nname = \"mortal\"\nkind = \"url\"\nbase_url = \"{base_url}\"\n"
    ));
    let profile = r#"
name = "dies"
model = "closed"
levels = [4]
organizations = 1
requires_rules = ["OPS-1"]
hold = "3s"
drain_deadline = "2s"
thresholds = ["error-rate < 1%", "missing <= 0"]

[[transactions]]
kind = "ingest"
weight = 1
payload_bytes = [128]
"#;
    let profiles = workspace.root().join("scenarios/load");
    std::fs::write(profiles.join("dies.toml"), profile).expect("profile");

    let started = Instant::now();
    let output = workspace
        .harness(&[
            "load",
            "--profile",
            "dies",
            "--no-progress",
            "--request-timeout",
            "2s",
        ])
        .await;
    let elapsed = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");

    let results = workspace.results();
    let mortal = target(&results, "mortal");
    let load = &mortal["load"][0];
    // The figures of the level it died in are kept, and the reason says
    // why the profile stopped there.
    assert_eq!(load["verdict"], "error", "{load}");
    let reason = load["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("the accepted events could not be read back: ")
            && reason.contains("Connection refused"),
        "{reason}"
    );
    let level = &load["levels"][0];
    let accepted = level["status_counts"]["202"].as_u64().unwrap_or_default();
    assert_eq!(accepted, 300, "{level}");
    let failed: u64 = level["errors"]
        .as_object()
        .expect("errors")
        .values()
        .map(|count| count.as_u64().expect("a count"))
        .sum();
    assert!(
        failed > 0,
        "the requests after the death are errors: {level}"
    );
    let thresholds = level["thresholds"].as_array().expect("thresholds");
    assert!(
        thresholds
            .iter()
            .all(|threshold| threshold["passed"] == false),
        "{thresholds:?}"
    );
    assert!(level["persistence"].is_null(), "{level}");

    // The report of the partial load renders in every format.
    let run = only_run(&workspace.root().join("reports"));
    let markdown = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(markdown.contains("| mortal | dies |"), "{markdown}");
    assert!(run.join("report.html").is_file() && run.join("junit.xml").is_file());
}
