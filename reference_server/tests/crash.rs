//! DUR-1: the real binary is killed with SIGKILL while clients ingest, and
//! every event it answered 202 must be listed after a restart on the same
//! database, cycle after cycle, on each backend. DLV-12: killed while it
//! delivers, it delivers every stored event after the restart.
//!
//! A killed process leaves the operating system's page cache intact, so this
//! proves that 202 follows the commit; surviving power loss rests on
//! `synchronous=FULL` (SQLite) and `fsync` (PostgreSQL), which no
//! process-level test can observe.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use support::receiver::{Receiver, Reply};
use support::{Backend, TestDatabase};

const CYCLES: usize = 3;
const CLIENTS: usize = 4;

/// How long clients ingest before the kill.
const INGEST_TIME: Duration = Duration::from_millis(400);

/// Starts the binary on the database at `database_url` and answers it with
/// its base URL, read from the lifecycle log line that names the bound
/// address.
async fn start(database_url: &str, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--database", database_url])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");

    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("server exited before listening");
        let record: Value = serde_json::from_str(&line).expect("log lines are JSON");
        if record["fields"]["message"] == "listening" {
            break record["fields"]["address"].as_str().unwrap().to_owned();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://{address}"))
}

/// Ingests until the server stops answering, recording every 202's id.
async fn ingest_until_dead(client: Client, url: String, key: String, ids: Arc<Mutex<Vec<String>>>) {
    let event = json!({ "type": "crash.test", "payload": { "n": 1 } });
    loop {
        let request = client.post(&url).header("x-api-key", &key).json(&event);
        let Ok(response) = request.send().await else {
            return;
        };
        if response.status() != StatusCode::ACCEPTED {
            continue;
        }
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        ids.lock()
            .unwrap()
            .push(body["id"].as_str().unwrap().to_owned());
    }
}

async fn stored_ids(client: &Client, base: &str, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!("{base}/api/inbox?status=all&limit=1000{cursor}");
        let page = client
            .get(url)
            .header("x-api-key", key)
            .send()
            .await
            .unwrap();
        let page: Value = page.json().await.unwrap();
        for event in page["events"].as_array().unwrap() {
            ids.push(event["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

async fn dur_1_acknowledged_events_survive_sigkill(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let client = Client::new();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));

    let (mut child, mut base) = start(&database.url, &[]).await;
    let key = enterprise_key(&client, &base).await;

    for cycle in 0..CYCLES {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let url = format!("{base}/api/events");
                let task =
                    ingest_until_dead(client.clone(), url, key.clone(), acknowledged.clone());
                tokio::spawn(task)
            })
            .collect();
        tokio::time::sleep(INGEST_TIME).await;
        child.kill().await.expect("SIGKILL reaches the server");
        for task in clients {
            task.await.unwrap();
        }

        let (restarted, restarted_base) = start(&database.url, &[]).await;
        let stored = stored_ids(&client, &restarted_base, &key).await;
        let acknowledged = acknowledged.lock().unwrap().clone();
        let missing: Vec<&String> = acknowledged
            .iter()
            .filter(|id| !stored.contains(id))
            .collect();
        assert!(missing.is_empty(), "cycle {cycle}: lost {missing:?}");
        assert!(
            acknowledged.len() > cycle,
            "cycle {cycle}: nothing was acknowledged"
        );
        (child, base) = (restarted, restarted_base);
    }
    child.kill().await.unwrap();
}

/// Attempts time out after a second, so a delivery cut off by the kill is
/// due again once its lease (the timeout plus 30 s) has run out.
const DELIVERY_FLAGS: [&str; 4] = [
    "--webhook-retry-schedule",
    "100ms,200ms,400ms",
    "--webhook-timeout",
    "1s",
];

/// The event ids the receiver has been sent, each once.
fn delivered_ids(receiver: &Receiver) -> HashSet<String> {
    receiver
        .received()
        .iter()
        .filter_map(|received| serde_json::from_slice::<Value>(&received.body).ok())
        .filter_map(|body| body["id"].as_str().map(str::to_owned))
        .collect()
}

async fn dlv_12_stored_events_are_delivered_after_sigkill(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let client = Client::new();
    // A slow receiver, so that deliveries are under way when the kill comes.
    let receiver = Receiver::start(Vec::new(), Reply::Hang(Duration::from_millis(50))).await;

    let (mut child, base) = start(&database.url, &DELIVERY_FLAGS).await;
    let key = enterprise_key(&client, &base).await;
    let configured = client
        .post(format!("{base}/api/webhook/config"))
        .header("x-api-key", &key)
        .json(&json!({ "webhook_url": receiver.url }))
        .send()
        .await
        .unwrap();
    assert_eq!(configured.status(), StatusCode::OK);

    let mut stored = HashSet::new();
    for n in 0..60 {
        let event = json!({ "type": "crash.delivery", "payload": { "n": n } });
        let (status, body) = ingest(&client, &base, &key, &event).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        stored.insert(body["id"].as_str().unwrap().to_owned());
    }
    while delivered_ids(&receiver).len() < 5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.expect("SIGKILL reaches the server");
    let before_kill = delivered_ids(&receiver);
    assert!(
        before_kill.len() < stored.len(),
        "every delivery finished before the kill; the test proves nothing"
    );

    let (mut restarted, _) = start(&database.url, &DELIVERY_FLAGS).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let delivered = delivered_ids(&receiver);
        if delivered.is_superset(&stored) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never delivered: {:?}",
            stored.difference(&delivered)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restarted.kill().await.unwrap();
}

/// Creates an enterprise organisation, whose rate no test here reaches;
/// answers its key.
async fn enterprise_key(client: &Client, base: &str) -> String {
    let body = json!({ "organization_name": "crash", "tier": "enterprise" });
    let created = client
        .post(format!("{base}/api/keys/generate"))
        .json(&body)
        .send()
        .await;
    let created: Value = created.unwrap().json().await.unwrap();
    created["api_key"].as_str().unwrap().to_owned()
}

/// Ingests `event` once; answers the status and the body.
async fn ingest(client: &Client, base: &str, key: &str, event: &Value) -> (StatusCode, Value) {
    let response = client
        .post(format!("{base}/api/events"))
        .header("x-api-key", key)
        .json(event)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

on_both_backends!(
    dur_1_acknowledged_events_survive_sigkill,
    dlv_12_stored_events_are_delivered_after_sigkill,
);
