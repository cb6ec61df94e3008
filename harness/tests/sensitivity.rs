//! The suite catches what it claims to: deliberately broken variants of the
//! reference server, each a proxy in front of the real one that breaks one
//! rule, are run through the real scenarios, and exactly the scenarios that
//! depend on that rule fail, each naming the step that gave the break away.
//! An unmodified proxy passes, so the proxy itself hides nothing.

mod run_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// How a variant breaks the contract.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Break {
    /// Nothing: the proxy passes everything through.
    Nothing,
    /// Answers an ingest with a fresh id instead of the stored one.
    FreshId,
    /// Drops `dedup_id` before storing, so duplicates are accepted.
    IgnoresDedup,
    /// Shows any event to any organisation on `GET /api/events/{id}`.
    NoTenantCheckOnShow,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    broken: Break,
    client: reqwest::Client,
    /// The key of the organisation that ingested each event, by event id.
    owners: Arc<Mutex<HashMap<String, String>>>,
}

/// Starts a variant in front of `upstream`; answers its base URL.
async fn start_variant(upstream: &str, broken: Break) -> String {
    let proxy = Proxy {
        upstream: upstream.to_string(),
        broken,
        client: reqwest::Client::new(),
        owners: Arc::default(),
    };
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

/// Forwards one request upstream, breaking it or its answer as the variant says.
async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |value| value.to_string());
    let mut body = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("a test body");
    let mut headers = parts.headers.clone();
    headers.remove("host");
    headers.remove("content-length");
    let ingest = parts.method == Method::POST && path == "/api/events";

    if ingest && proxy.broken == Break::IgnoresDedup {
        body = without_dedup_id(body);
    }
    if proxy.broken == Break::NoTenantCheckOnShow
        && parts.method == Method::GET
        && let Some(id) = path.strip_prefix("/api/events/")
        && let Some(owner) = proxy.owners.lock().unwrap().get(id)
    {
        headers.insert("x-api-key", HeaderValue::from_str(owner).unwrap());
    }

    let url = format!("{}{path_and_query}", proxy.upstream);
    let sent = proxy
        .client
        .request(parts.method.clone(), url)
        .headers(headers.clone())
        .body(body)
        .send()
        .await
        .expect("the reference server answers");
    let status = sent.status();
    let answer_headers = sent.headers().clone();
    let mut answer = sent.bytes().await.expect("an answer body");

    if ingest && status == StatusCode::ACCEPTED {
        let mut json: Value = serde_json::from_slice(&answer).expect("a JSON answer");
        let id = json["id"].as_str().unwrap_or_default().to_string();
        if let Some(key) = headers.get("x-api-key").and_then(|key| key.to_str().ok()) {
            proxy.owners.lock().unwrap().insert(id, key.to_string());
        }
        if proxy.broken == Break::FreshId {
            json["id"] = Value::String(uuid::Uuid::now_v7().to_string());
            answer = Bytes::from(serde_json::to_vec(&json).unwrap());
        }
    }
    respond(status, &answer_headers, answer)
}

fn without_dedup_id(body: Bytes) -> Bytes {
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut object)) => {
            object.remove("dedup_id");
            Bytes::from(serde_json::to_vec(&object).unwrap())
        }
        _ => body,
    }
}

fn respond(status: StatusCode, headers: &HeaderMap, body: Bytes) -> Response {
    let mut response = (status, Body::from(body)).into_response();
    for (name, value) in headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_variant_fails_exactly_the_rules_it_breaks() {
    let data = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let upstream = format!("http://{}", listener.local_addr().expect("address"));
    let url = format!("sqlite://{}/events.db", data.path().display());
    let mut config = reference_server::config::Config::new(url);
    config.delivery_enabled = false;
    tokio::spawn(reference_server::serve(
        listener,
        config,
        std::future::pending(),
    ));

    // Each variant, the scenarios that must fail on it (every other one
    // must pass), and the step that gives the break away.
    let variants = [
        (Break::Nothing, &[][..], ""),
        (
            Break::FreshId,
            &[
                "ingest-dedup-conflict",
                "ingest-ids-are-unique",
                "ingest-lookup-found",
                "ingest-read-your-writes",
                "tenancy-every-route",
            ][..],
            "step \"read it back by id at once\": status expected 200 but was 404",
        ),
        (
            Break::IgnoresDedup,
            &[
                "ingest-dedup-concurrent",
                "ingest-dedup-conflict",
                "ingest-read-your-writes",
            ][..],
            "step \"second ingest with the same dedup_id\": status expected 409 but was 202",
        ),
        (
            Break::NoTenantCheckOnShow,
            &["tenancy-every-route"][..],
            "step \"the other organisation cannot read the event\": status expected 404 but was 200",
        ),
    ];
    let mut targets = String::new();
    for (broken, _, _) in variants {
        let base_url = start_variant(&upstream, broken).await;
        targets.push_str(&format!(
            "[[target]]\nname = \"{broken:?}\"\nkind = \"url\"\nbase_url = \"{base_url}\"\n\n"
        ));
    }
    let targets_file = data.path().join("targets.toml");
    std::fs::write(&targets_file, targets).expect("targets file");
    let out = data.path().join("reports");

    let scenarios = [
        "ingest-ids-are-unique",
        "ingest-read-your-writes",
        "ingest-lookup-found",
        "ingest-dedup-conflict",
        "ingest-dedup-concurrent",
        "tenancy-every-route",
    ];
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("conformance")
        .arg("--targets")
        .arg(&targets_file)
        .arg("--out")
        .arg(&out)
        .args(["--no-progress", "--seed", "11"])
        .args(scenarios.iter().flat_map(|id| ["--scenario", id]))
        .current_dir(run_support::workspace_root())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the harness");
    let describe = || String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{}", describe());

    let run = run_support::only_run(&out);
    let results: Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results"))
            .expect("results are JSON");
    for (broken, failing, giveaway) in variants {
        let name = format!("{broken:?}");
        let target = results["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .find(|target| target["name"] == name.as_str())
            .expect("the variant ran");
        let outcomes = target["scenarios"].as_array().expect("scenarios");
        assert_eq!(outcomes.len(), scenarios.len(), "{name}");
        let mut failed: Vec<&str> = Vec::new();
        let mut reasons = String::new();
        for outcome in outcomes {
            let id = outcome["id"].as_str().expect("an id");
            match outcome["verdict"].as_str().expect("a verdict") {
                "pass" => {}
                "fail" => failed.push(id),
                other => panic!("{id} on {name} is {other}: {}", outcome["reason"]),
            }
            reasons.push_str(outcome["reason"].as_str().unwrap_or_default());
            reasons.push('\n');
        }
        failed.sort_unstable();
        assert_eq!(failed, failing, "{name}:\n{reasons}");
        assert!(reasons.contains(giveaway), "{name}:\n{reasons}");
    }
}
