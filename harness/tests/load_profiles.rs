//! The load phase against real servers on 127.0.0.1: the reference server
//! (figures agree with its own metrics, persistence is checked) and two
//! small test servers for the open model (a fast one holds the rate, a slow
//! one makes arrivals drop).

mod run_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use harness::load::outcome::{LoadVerdict, PersistenceMethod};
use harness::load::phase::{LoadTarget, load_client, run_profile, status_total};
use harness::load::profile::parse_profile;
use harness::load::recorder::Recorder;
use harness::load::{open::run_open, workload::Organization, workload::Workload};
use tokio_util::sync::CancellationToken;

/// Starts the debug reference server on a free port with a fresh database.
async fn start_reference_server(data: &Path) -> (tokio::process::Child, String) {
    let binary = run_support::build_reference_server();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = tokio::process::Command::new(binary)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database")
        .arg(format!("sqlite://{}", data.join("load.db").display()))
        .arg("--disable-delivery")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the reference server");
    let base_url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{base_url}/health")).await.is_ok() {
            return (child, base_url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the reference server did not answer its health check");
}

/// The sum of `http_requests_total` over POST routes other than key generation.
async fn server_post_count(base_url: &str) -> u64 {
    let text = reqwest::get(format!("{base_url}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .filter(|line| line.contains("method=\"POST\"") && !line.contains("/api/keys"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

const SMOKE: &str = r#"
    name = "smoke"
    model = "closed"
    levels = [4]
    organizations = 2
    hold = "2s"
    thresholds = ["error-rate < 1%", "missing <= 0", "throughput > 1000000"]
    [[transactions]]
    kind = "ingest"
    weight = 80
    payload_bytes = [128, 2048]
    [[transactions]]
    kind = "ack"
    weight = 20
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_agrees_with_the_reference_servers_own_count() {
    let data = tempfile::tempdir().expect("temp dir");
    let (_server, base_url) = start_reference_server(data.path()).await;
    let profile = parse_profile(SMOKE).expect("valid profile");
    let client = load_client(Duration::from_secs(10)).expect("client");
    let target = LoadTarget {
        name: "reference".to_string(),
        base_url: base_url.clone(),
        sampler: None,
    };

    let before = server_post_count(&base_url).await;
    let outcome = run_profile(&profile, &target, &client, &CancellationToken::new()).await;
    let server_count = server_post_count(&base_url).await - before;

    assert_eq!(outcome.reason, None);
    // The impossible throughput bound fails, so the verdict must be `fail`.
    assert_eq!(outcome.verdict, LoadVerdict::Fail);
    let level = &outcome.levels[0];
    assert!(level.request_count > 100, "{level:?}");
    assert_eq!(status_total(&level.status_counts), level.request_count);
    assert_eq!(
        level.transactions.values().sum::<u64>(),
        level.request_count
    );
    assert!(level.errors.is_empty(), "{:?}", level.errors);
    let passed: Vec<bool> = level.thresholds.iter().map(|t| t.passed).collect();
    assert_eq!(passed, [true, true, false]);

    // Every request the harness sent, hold or not, reached the server; goose
    // may abandon a request in flight when it stops a user, which the server
    // may still count, so one per user at most.
    assert!(level.sent_count >= level.request_count);
    assert!(
        server_count.abs_diff(level.sent_count) <= 4,
        "server {server_count}, harness {}",
        level.sent_count
    );

    let persistence = level.persistence.as_ref().expect("persistence checked");
    assert_eq!(persistence.method, PersistenceMethod::Ids);
    assert!(persistence.accepted_count >= level.status_counts["202"]);
    assert_eq!(persistence.missing_count, 0);
    assert_eq!(persistence.stored_count, persistence.accepted_count);
    assert!(persistence.persistence_lag_ms.is_some());
}

/// A server answering every ingest with 202 after `delay`, counting them.
async fn ingest_server(delay: Duration) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    let app = Router::new().route(
        "/api/events",
        post(move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(delay).await;
                let id = counter.fetch_add(1, Ordering::Relaxed);
                (
                    StatusCode::ACCEPTED,
                    format!(r#"{{"id":"e{id}","status":"accepted"}}"#),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bound");
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base_url, count)
}

const OPEN: &str = r#"
    name = "open"
    model = "open"
    levels = [200]
    pool = 32
    hold = "2s"
    [[transactions]]
    kind = "ingest"
    weight = 1
"#;

/// Runs the open model at `rate` for a 0.5 s warmup and a 2 s hold.
async fn open_level(base_url: &str, rate: u32, pool: u32) -> (u64, u64, u64) {
    let profile = parse_profile(OPEN).expect("valid profile");
    let client = load_client(Duration::from_secs(10)).expect("client");
    let organizations = vec![Arc::new(Organization::new("key".to_string()))];
    let start = Instant::now();
    let recorder = Recorder::new(start + Duration::from_millis(500), Duration::from_secs(2));
    let workload = Arc::new(Workload::new(
        &profile,
        base_url,
        client,
        organizations,
        recorder,
    ));
    let token = CancellationToken::new();
    let started = tokio::time::Instant::from_std(start);
    let arrivals = run_open(workload.clone(), rate, pool, started, &token).await;
    let figures = workload.recorder.finish();
    (
        arrivals.scheduled_count,
        figures.request_count,
        arrivals.dropped_count,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_holds_its_rate_against_a_fast_target() {
    let (base_url, _) = ingest_server(Duration::ZERO).await;
    let (scheduled, requests, dropped) = open_level(&base_url, 200, 32).await;
    // 200 per second over a 2 s hold; the stated tolerance is 5%.
    assert_eq!(scheduled, 400);
    assert_eq!(dropped, 0);
    assert!((380..=420).contains(&requests), "{requests} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_drops_arrivals_a_slow_target_cannot_take() {
    let (base_url, served) = ingest_server(Duration::from_millis(250)).await;
    let (scheduled, requests, dropped) = open_level(&base_url, 100, 4).await;
    // Four slots of 250 ms serve 16 requests a second out of 100 arriving.
    assert_eq!(scheduled, 200);
    assert!(dropped >= 150, "{dropped} dropped");
    assert!(requests <= 40, "{requests} requests");
    // Every scheduled arrival was either sent or dropped.
    let sent_in_hold = scheduled - dropped;
    assert!(
        sent_in_hold.abs_diff(requests) <= 4,
        "{sent_in_hold} sent, {requests} counted"
    );
    assert!(served.load(Ordering::Relaxed) >= requests);
}
