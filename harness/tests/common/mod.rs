//! A small in-memory Triggers server for the engine tests, with switches that
//! turn it into a variant speaking a dialect, plus a context builder.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use harness::dialect::Dialect;
use harness::scenario::{Schemas, TargetContext};
use harness::sink::Sink;
use harness::sink::signature::sign;
use serde_json::{Value, json};

/// How the fake server differs from the contract.
#[derive(Clone, Copy, Default)]
pub struct Variant {
    /// Ack lives at `/api/inbox/ack/{id}` instead of `/api/ack/{id}`.
    pub inbox_ack_route: bool,
    /// Ingest answers 200 instead of 202.
    pub ingest_200: bool,
    /// The ingest answer and the webhook body call the id `event_id`.
    pub event_id_field: bool,
    /// The inbox pages by `offset` and `total` instead of cursors.
    pub offset_paging: bool,
}

#[derive(Default)]
struct Inner {
    /// Key to organisation id.
    keys: HashMap<String, String>,
    /// Organisation id to (webhook url, secret).
    webhooks: HashMap<String, (String, String)>,
    events: Vec<Event>,
}

#[derive(Clone)]
struct Event {
    id: String,
    org: String,
    kind: String,
    payload: Value,
    dedup_id: Option<String>,
    status: &'static str,
}

struct Fake {
    variant: Variant,
    inner: Mutex<Inner>,
    counter: AtomicU64,
    client: reqwest::Client,
}

type Shared = Arc<Fake>;

/// Starts the fake server on 127.0.0.1:0 and returns its base URL.
pub async fn start_fake(variant: Variant) -> String {
    let fake = Arc::new(Fake {
        variant,
        inner: Mutex::default(),
        counter: AtomicU64::new(0),
        client: reqwest::Client::new(),
    });
    let ack_route = if variant.inbox_ack_route {
        "/api/inbox/ack/{id}"
    } else {
        "/api/ack/{id}"
    };
    let router = Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(json!({ "status": "ok" })) }),
        )
        .route("/api/keys/generate", post(generate))
        .route("/api/events", post(ingest))
        .route("/api/inbox", get(inbox))
        .route(ack_route, post(ack))
        .route("/api/webhook/config", post(webhook_config))
        .route("/counter", get(counter))
        .route("/slow", get(slow))
        .route("/huge", get(huge))
        .route("/echo", post(echo))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind fake server");
    let address: SocketAddr = listener.local_addr().expect("fake server address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("fake server") });
    format!("http://{address}")
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": format!("failed: {code}"), "code": code })),
    )
        .into_response()
}

/// The organisation of the request's key, or the error code of a 401.
fn org_of(fake: &Fake, headers: &HeaderMap) -> Result<String, &'static str> {
    let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) else {
        return Err("missing_api_key");
    };
    let inner = fake.inner.lock().unwrap();
    inner.keys.get(key).cloned().ok_or("invalid_api_key")
}

async fn generate(State(fake): State<Shared>, axum::Json(body): axum::Json<Value>) -> Response {
    let key = format!("trg_{}", uuid::Uuid::new_v4().simple());
    let org = uuid::Uuid::new_v4().to_string();
    fake.inner
        .lock()
        .unwrap()
        .keys
        .insert(key.clone(), org.clone());
    let answer = json!({
        "api_key": key,
        "organization_id": org,
        "organization_name": body["organization_name"],
        "tier": body.get("tier").cloned().unwrap_or(json!("free")),
        "rate_limit_per_minute": 1000,
        "created_at": "2026-12-03T19:25:08.123Z",
    });
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

async fn ingest(
    State(fake): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let org = match org_of(&fake, &headers) {
        Ok(org) => org,
        Err(code) => return error(StatusCode::UNAUTHORIZED, code),
    };
    let dedup_id = body
        .get("dedup_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let event = {
        let mut inner = fake.inner.lock().unwrap();
        let original = inner
            .events
            .iter()
            .find(|e| e.org == org && e.dedup_id.is_some() && e.dedup_id == dedup_id);
        if let Some(original) = original {
            let answer = json!({ "error": "duplicate", "code": "duplicate_event", "original_id": original.id });
            return (StatusCode::CONFLICT, axum::Json(answer)).into_response();
        }
        let event = Event {
            id: uuid::Uuid::now_v7().to_string(),
            org: org.clone(),
            kind: body["type"].as_str().unwrap_or_default().to_string(),
            payload: body["payload"].clone(),
            dedup_id,
            status: "pending",
        };
        inner.events.push(event.clone());
        event
    };
    deliver(&fake, &event);

    let id_field = if fake.variant.event_id_field {
        "event_id"
    } else {
        "id"
    };
    let mut answer =
        json!({ "status": "accepted", "type": event.kind, "dedup_id": event.dedup_id });
    answer[id_field] = json!(event.id);
    let status = if fake.variant.ingest_200 {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, axum::Json(answer)).into_response()
}

/// Posts the event to the organisation's webhook, signed, twice when the first
/// attempt is not a 2xx.
fn deliver(fake: &Shared, event: &Event) {
    let Some((url, secret)) = fake.inner.lock().unwrap().webhooks.get(&event.org).cloned() else {
        return;
    };
    let client = fake.client.clone();
    let id_field = if fake.variant.event_id_field {
        "event_id"
    } else {
        "id"
    };
    let mut envelope = json!({ "type": event.kind, "data": event.payload });
    envelope[id_field] = json!(event.id);
    let body = serde_json::to_vec(&envelope).unwrap();
    let id = event.id.clone();
    tokio::spawn(async move {
        for _ in 0..2 {
            let timestamp = "1764790000".to_string();
            let signature = sign(&secret, &id, &timestamp, &body).unwrap();
            let answer = client
                .post(&url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", &timestamp)
                .header("webhook-signature", signature)
                .body(body.clone())
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

async fn inbox(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let org = match org_of(&fake, &headers) {
        Ok(org) => org,
        Err(code) => return error(StatusCode::UNAUTHORIZED, code),
    };
    let inner = fake.inner.lock().unwrap();
    let events: Vec<Value> = inner
        .events
        .iter()
        .filter(|e| e.org == org && e.status != "delivered")
        .map(|e| json!({ "id": e.id, "type": e.kind, "payload": e.payload, "status": e.status, "attempts": 0 }))
        .collect();
    if !fake.variant.offset_paging {
        return axum::Json(json!({ "events": events, "next_cursor": null })).into_response();
    }
    if query.contains_key("cursor") {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (offset, limit) = (number("offset", 0), number("limit", 100));
    let page: Vec<Value> = events.iter().skip(offset).take(limit).cloned().collect();
    axum::Json(json!({ "events": page, "total": events.len() })).into_response()
}

async fn ack(State(fake): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let org = match org_of(&fake, &headers) {
        Ok(org) => org,
        Err(code) => return error(StatusCode::UNAUTHORIZED, code),
    };
    let mut inner = fake.inner.lock().unwrap();
    match inner.events.iter_mut().find(|e| e.org == org && e.id == id) {
        Some(event) => {
            event.status = "delivered";
            let answer = json!({ "id": id, "status": "delivered", "acknowledged_at": "2026-12-03T19:25:09.000Z" });
            axum::Json(answer).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "event_not_found"),
    }
}

async fn webhook_config(
    State(fake): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let org = match org_of(&fake, &headers) {
        Ok(org) => org,
        Err(code) => return error(StatusCode::UNAUTHORIZED, code),
    };
    let url = body["webhook_url"].as_str().unwrap_or_default().to_string();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
    fake.inner
        .lock()
        .unwrap()
        .webhooks
        .insert(org, (url.clone(), secret.clone()));
    axum::Json(json!({ "webhook_url": url, "webhook_secret": secret })).into_response()
}

async fn counter(State(fake): State<Shared>) -> Response {
    let n = fake.counter.fetch_add(1, Ordering::SeqCst) + 1;
    axum::Json(json!({ "n": n })).into_response()
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(5)).await;
    axum::Json(json!({ "late": true })).into_response()
}

async fn huge() -> Response {
    let body = format!("\"{}\"", "x".repeat(2 * 1024 * 1024));
    ([("content-type", "application/json")], body).into_response()
}

async fn echo(headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    axum::Json(json!({ "bytes": body.len(), "content_type": content_type })).into_response()
}

/// A context for `base_url` with a fresh sink, both capabilities and no control handle.
pub async fn context(base_url: &str, dialect: Option<Dialect>) -> TargetContext {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("start sink");
    TargetContext {
        name: "fake".to_string(),
        base_url: Arc::new(RwLock::new(base_url.to_string())),
        dialect: dialect.map(Arc::new),
        capabilities: BTreeSet::from(["webhook".to_string()]),
        control: None,
        sink,
        client: reqwest::Client::new(),
        seed: 7,
        request_timeout: Duration::from_secs(2),
        schemas: Arc::new(Schemas::none()),
    }
}

/// Loads scenarios from TOML text, panicking with the loader's message on error.
pub fn scenarios(toml: &str) -> Vec<harness::scenario::Scenario> {
    harness::scenario::load_scenarios_from_str(std::path::Path::new("inline.toml"), toml)
        .unwrap_or_else(|error| panic!("scenario text does not load: {error:#}"))
}
