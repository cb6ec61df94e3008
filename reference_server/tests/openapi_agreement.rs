//! Keeps the server and `docs/openapi.json` together: every documented answer is
//! provoked on a real server and checked against the document's schemas and
//! headers, and every route the server answers must be documented.

use std::collections::BTreeSet;
use std::time::Duration;

use reference_server::config::Config;
use reference_server::serve;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The document under test, read from the repository rather than the server.
const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// The contract whose rule ids the document cites.
const SPEC: &str = include_str!("../../docs/SPEC.md");

/// Component schemas that the conformance scenarios name in `expect.schema`.
const SCENARIO_SCHEMAS: [&str; 13] = [
    "Error",
    "KeyGenerateRequest",
    "KeyCreated",
    "KeyInfo",
    "KeyRotated",
    "WebhookConfigRequest",
    "WebhookConfig",
    "EventCreateRequest",
    "EventAccepted",
    "Event",
    "InboxPage",
    "AckResult",
    "Health",
];

/// Documented statuses that a healthy server cannot be made to answer from
/// outside: they need a storage fault or an overload. Every other documented
/// status must be provoked by a case in [`cases`].
const SERVER_FAULT_STATUSES: [&str; 2] = ["500", "503"];

/// The largest ingest body the contract accepts (ING-7).
const BODY_LIMIT: usize = 262_144;

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("docs/openapi.json is valid JSON")
}

#[test]
fn every_reference_resolves() {
    let document = document();
    let mut references = Vec::new();
    collect_references(&document, &mut references);

    assert!(
        references.len() > 50,
        "too few $ref found: {}",
        references.len()
    );
    let unresolved: Vec<&String> = references
        .iter()
        .filter(|reference| lookup(&document, reference).is_none())
        .collect();
    assert!(unresolved.is_empty(), "unresolved $ref: {unresolved:?}");
}

#[test]
fn every_component_schema_compiles() {
    let document = document();
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("components.schemas is an object");

    for name in SCENARIO_SCHEMAS {
        assert!(schemas.contains_key(name), "schema {name:?} is missing");
    }
    for name in schemas.keys() {
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        if let Err(error) = compile(&document, &reference) {
            panic!("schema {name:?} does not compile: {error}");
        }
    }
}

#[test]
fn every_cited_rule_exists_in_the_spec() {
    let rule = rule_ids(DOCUMENT);
    let known = rule_ids(SPEC);

    assert!(
        rule.len() > 40,
        "the document cites too few rules: {rule:?}"
    );
    let unknown: Vec<&String> = rule.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "rules cited but not in SPEC.md: {unknown:?}"
    );
}

#[test]
fn schemas_reject_what_the_spec_rejects() {
    let document = document();
    let checks = [
        ("Event", json!({"id": "e"}), false),
        ("EventAccepted", accepted_example("received"), false),
        ("EventAccepted", accepted_example("accepted"), true),
        ("KeyCreated", key_created_example("pro", 1000), true),
        ("KeyCreated", key_created_example("pro", 100), false),
        ("KeyInfo", json!({"api_key": "trg_x"}), false),
        ("Error", json!({"error": "no", "code": "teapot"}), false),
        (
            "Error",
            json!({"error": "no", "code": "not_found", "hint": 1}),
            true,
        ),
        (
            "WebhookConfigRequest",
            json!({"webhook_url": "ftp://example.com"}),
            false,
        ),
        ("WebhookConfig", webhook_example("whsec_c2hvcnQ="), false),
        ("Health", json!({"status": "healthy"}), false),
    ];

    for (name, instance, valid) in checks {
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        let validator = compile(&document, &reference).expect("schema compiles");
        assert_eq!(validator.is_valid(&instance), valid, "{name} on {instance}");
    }
}

#[tokio::test]
async fn served_document_equals_the_file() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/openapi.json")).await.unwrap();

    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    assert_eq!(
        served,
        document(),
        "GET /openapi.json differs from docs/openapi.json"
    );
    server.stop().await;
}

#[tokio::test]
async fn every_documented_answer_agrees() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let fixture = Fixture::prepare(&client, &server).await;
    let document = document();
    let cases = cases(&fixture);

    let mut failures = Vec::new();
    let mut provoked = BTreeSet::new();
    for (index, case) in cases.iter().enumerate() {
        let label = format!("case {index} ({} -> {})", case.operation, case.status);
        match run_case(&client, &server, &fixture, &document, case, index).await {
            Ok(()) => {}
            Err(problems) => failures.extend(problems.into_iter().map(|p| format!("{label}: {p}"))),
        }
        provoked.insert((case.operation.to_owned(), case.status.to_string()));
    }

    let unprovoked = documented_statuses(&document)
        .into_iter()
        .filter(|(_, status)| !SERVER_FAULT_STATUSES.contains(&status.as_str()))
        .filter(|answer| !provoked.contains(answer));
    for (operation, status) in unprovoked {
        failures.push(format!(
            "{operation} -> {status}: documented, but no case provokes it"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.stop().await;
}

#[tokio::test]
async fn every_route_is_documented() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let document = document();
    let mut failures = Vec::new();

    for (path, item) in document["paths"].as_object().unwrap() {
        let url = server.url(&path.replace("{id}", "0190b6a2-0000-7000-8000-000000000000"));
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let documented = item.get(method.to_lowercase()).is_some();
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let response = client.request(method.clone(), &url).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);

            if documented && (status == 405 || body["code"] == "not_found") {
                failures.push(format!(
                    "{method} {path} is documented but answers {status} {body}"
                ));
            }
            if !documented && (status != 405 || body["code"] != "method_not_allowed") {
                failures.push(format!(
                    "{method} {path} is not documented but answers {status} {body}"
                ));
            }
            if !documented {
                let error = json!({"$ref": "#/components/schemas/Error"});
                if let Err(problem) = validate(&document, &error, &body) {
                    failures.push(format!("{method} {path}: 405 body {problem}"));
                }
            }
        }
    }

    for path in UNDOCUMENTED_PATHS {
        let response = client.get(server.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 404 || body["code"] != "not_found" {
            failures.push(format!(
                "GET {path} is not documented but answers {status} {body}"
            ));
        }
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server.stop().await;
}

/// Paths that are near documented ones but are not routes (GEN-5).
const UNDOCUMENTED_PATHS: [&str; 9] = [
    "/",
    "/api",
    "/api/event",
    "/api/events/some-id/extra",
    "/api/inbox/ack/some-id",
    "/api/webhook",
    "/api/keys/generate/extra",
    "/healthz",
    "/docs",
];

/// Whose key a case sends.
enum Key {
    Main,
    Hooked,
    Rotating,
    Limited,
    Absent,
    Literal(String),
}

/// What a case sends as its body.
enum Body {
    Empty,
    Json(Value),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// One request, the status the contract gives it, and exact values the
/// answer must hold beyond its schema.
struct Case {
    operation: &'static str,
    status: u16,
    key: Key,
    id: Option<String>,
    query: &'static str,
    body: Body,
    expect: Vec<(&'static str, Value)>,
}

fn case(operation: &'static str, status: u16) -> Case {
    Case {
        operation,
        status,
        key: Key::Main,
        id: None,
        query: "",
        body: Body::Empty,
        expect: Vec::new(),
    }
}

impl Case {
    fn key(mut self, key: Key) -> Self {
        self.key = key;
        self
    }

    fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    fn query(mut self, query: &'static str) -> Self {
        self.query = query;
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    fn raw(mut self, content_type: &'static str, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Raw {
            content_type,
            bytes: bytes.into(),
        };
        self
    }

    /// The answer holds `value` at the JSON pointer `pointer`.
    fn expect(mut self, pointer: &'static str, value: Value) -> Self {
        self.expect.push((pointer, value));
        self
    }

    /// The answer is the error `code`, naming `field` when there is one.
    fn error(self, code: &str, field: Option<&str>) -> Self {
        let case = self.expect("/code", json!(code));
        match field {
            Some(field) => case.expect("/field", json!(field)),
            None => case,
        }
    }
}

/// The table: one request per documented answer, in an order where earlier
/// cases do not disturb later ones (the rotating and hooked organisations
/// exist only for the cases that change them).
fn cases(fixture: &Fixture) -> Vec<Case> {
    let event = json!({"type": "order.created", "payload": {"n": 1}});
    let not_json = "{\"type\": ";
    let oversize = vec![b'x'; BODY_LIMIT + 1];
    let stored = fixture.stored_id.as_str();
    let malformed = "%27%3B%20DROP%20TABLE%20events%3B--";
    let unknown = "0190b6a2-0000-7000-8000-000000000000";
    let hook = json!({"webhook_url": "http://127.0.0.1:9/hook"});

    vec![
        case("keysGenerate", 201)
            .key(Key::Absent)
            .json(json!({"organization_name": "acme", "tier": "business"}))
            .expect("/rate_limit_per_minute", json!(10_000)),
        case("keysGenerate", 201)
            .key(Key::Absent)
            .json(json!({"organization_name": "acme"}))
            .expect("/tier", json!("free")),
        case("keysGenerate", 422)
            .key(Key::Absent)
            .json(json!({"organization_name": "acme", "tier": "gold"}))
            .error("validation_failed", Some("tier")),
        case("keysGenerate", 422)
            .key(Key::Absent)
            .json(json!({"organization_name": ""}))
            .error("validation_failed", Some("organization_name")),
        case("keysGenerate", 400)
            .key(Key::Absent)
            .raw("application/json", not_json),
        case("keysGenerate", 415)
            .key(Key::Absent)
            .raw("text/plain", "{}"),
        case("keysShow", 200).expect("/webhook_url", Value::Null),
        case("keysShow", 401)
            .key(Key::Absent)
            .error("missing_api_key", None),
        case("keysShow", 401)
            .key(Key::Literal(String::new()))
            .error("missing_api_key", None),
        case("keysShow", 401)
            .key(Key::Literal("trg_never_issued".into()))
            .error("invalid_api_key", None),
        case("keysShow", 401)
            .key(Key::Literal(fixture.rotated_away.clone()))
            .error("invalid_api_key", None),
        case("keysRotate", 200).key(Key::Rotating),
        case("keysRotate", 401)
            .key(Key::Absent)
            .error("missing_api_key", None),
        case("webhookConfigure", 200)
            .key(Key::Hooked)
            .json(hook.clone()),
        case("webhookConfigure", 422)
            .key(Key::Hooked)
            .json(json!({"webhook_url": "ftp://127.0.0.1/hook"}))
            .error("validation_failed", Some("webhook_url")),
        case("webhookConfigure", 400)
            .key(Key::Hooked)
            .raw("application/json", not_json),
        case("webhookConfigure", 415)
            .key(Key::Hooked)
            .raw("text/plain", hook.to_string()),
        case("webhookConfigure", 401).key(Key::Absent).json(hook),
        case("webhookRemove", 200).key(Key::Hooked),
        case("webhookRemove", 401).key(Key::Absent),
        case("eventsIngest", 202)
            .json(event.clone())
            .expect("/dedup_id", Value::Null),
        case("eventsIngest", 202).raw("application/json", event_of_size(BODY_LIMIT)),
        case("eventsIngest", 202)
            .raw("application/json; charset=utf-8", event.to_string())
            .expect("/type", json!("order.created")),
        case("eventsIngest", 409)
            .json(json!({"type": "again", "payload": {}, "dedup_id": fixture.dedup_id}))
            .error("duplicate_event", None)
            .expect("/original_id", json!(stored)),
        case("eventsIngest", 413)
            .raw("application/json", oversize)
            .error("payload_too_large", None),
        case("eventsIngest", 415)
            .raw("text/plain", event.to_string())
            .error("unsupported_media_type", None),
        case("eventsIngest", 400)
            .raw("application/json", not_json)
            .error("invalid_json", None),
        case("eventsIngest", 400)
            .raw("application/json", nested_event(200))
            .error("invalid_json", None),
        case("eventsIngest", 422)
            .json(json!({"payload": {}}))
            .error("validation_failed", Some("type")),
        case("eventsIngest", 422)
            .json(json!({"type": "t", "payload": [1]}))
            .error("validation_failed", Some("payload")),
        case("eventsIngest", 422)
            .json(json!({"type": "t", "payload": {}, "dedup_id": 7}))
            .error("validation_failed", Some("dedup_id")),
        case("eventsIngest", 422)
            .json(json!([event.clone()]))
            .error("validation_failed", Some("body")),
        case("eventsIngest", 401)
            .key(Key::Absent)
            .json(event.clone()),
        case("eventsIngest", 401)
            .key(Key::Literal("trg_never_issued".into()))
            .raw("application/json", not_json)
            .error("invalid_api_key", None),
        case("eventsIngest", 429)
            .key(Key::Limited)
            .json(event)
            .error("rate_limited", None),
        case("eventsShow", 200)
            .id(stored)
            .expect("/id", json!(stored)),
        case("eventsShow", 404)
            .id(unknown)
            .error("event_not_found", None),
        case("eventsShow", 404)
            .id(&fixture.foreign_id)
            .error("event_not_found", None),
        case("eventsShow", 404)
            .id(malformed)
            .error("event_not_found", None),
        case("eventsShow", 401).id(stored).key(Key::Absent),
        case("inboxList", 200),
        case("inboxList", 200)
            .query("status=all&limit=1")
            .expect("/events/0/id", json!(stored)),
        case("inboxList", 422)
            .query("limit=0")
            .error("validation_failed", Some("limit")),
        case("inboxList", 422)
            .query("limit=ten")
            .error("validation_failed", Some("limit")),
        case("inboxList", 422)
            .query("status=gone")
            .error("validation_failed", Some("status")),
        case("inboxList", 422)
            .query("cursor=forged")
            .error("validation_failed", Some("cursor")),
        case("inboxList", 401).key(Key::Absent),
        case("eventsAcknowledge", 200)
            .id(stored)
            .expect("/status", json!("delivered")),
        case("eventsAcknowledge", 200)
            .id(stored)
            .expect("/id", json!(stored)),
        case("eventsAcknowledge", 404)
            .id(unknown)
            .error("event_not_found", None),
        case("eventsAcknowledge", 404)
            .id(&fixture.foreign_id)
            .error("event_not_found", None),
        case("eventsAcknowledge", 401).id(stored).key(Key::Absent),
        case("healthShow", 200).key(Key::Absent),
        case("healthLive", 200).key(Key::Absent),
        case("healthReady", 200).key(Key::Absent),
        case("metricsScrape", 200).key(Key::Absent),
        case("openapiShow", 200).key(Key::Absent),
    ]
}

/// Sends one case and returns every way its answer disagrees with the document.
async fn run_case(
    client: &reqwest::Client,
    server: &TestServer,
    fixture: &Fixture,
    document: &Value,
    case: &Case,
    index: usize,
) -> Result<(), Vec<String>> {
    let (path, method) = find_operation(document, case.operation)
        .unwrap_or_else(|| panic!("operation {:?} is not in the document", case.operation));
    let mut path = path.replace("{id}", case.id.as_deref().unwrap_or(""));
    if !case.query.is_empty() {
        path = format!("{path}?{}", case.query);
    }
    let request_id = format!("agreement-{index}");

    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = client
        .request(method, server.url(&path))
        .header("X-Request-ID", &request_id);
    if let Some(key) = fixture.key(&case.key) {
        request = request.header("X-API-Key", key);
    }
    request = match &case.body {
        Body::Empty => request,
        Body::Json(value) => request.json(value),
        Body::Raw {
            content_type,
            bytes,
        } => request
            .header("Content-Type", *content_type)
            .body(bytes.clone()),
    };

    let response = request
        .send()
        .await
        .map_err(|error| vec![format!("send: {error}")])?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| vec![format!("read: {error}")])?;
    let answer = Answer {
        status,
        headers,
        bytes: bytes.to_vec(),
        request_id,
    };
    check_answer(document, case, &answer)
}

/// What the server answered to one case.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
    request_id: String,
}

fn check_answer(document: &Value, case: &Case, answer: &Answer) -> Result<(), Vec<String>> {
    let body_text = String::from_utf8_lossy(&answer.bytes);
    if answer.status != case.status {
        return Err(vec![format!("answered {} {body_text}", answer.status)]);
    }
    let (path, method) = find_operation(document, case.operation).unwrap();
    let operation = &document["paths"][path][method];
    let Some(documented) = documented_response(document, operation, answer.status) else {
        return Err(vec![format!("status {} is not documented", answer.status)]);
    };

    let mut problems = check_headers(document, documented, answer);
    let content_type = header_text(&answer.headers, "content-type");
    let media = documented["content"].as_object().and_then(|content| {
        content
            .iter()
            .find(|(media, _)| content_type.starts_with(media.as_str()))
    });
    let Some((media, content)) = media else {
        problems.push(format!("content type {content_type:?} is not documented"));
        return Err(problems);
    };

    let body = if media == "application/json" {
        match serde_json::from_slice::<Value>(&answer.bytes) {
            Ok(body) => body,
            Err(error) => {
                problems.push(format!("body is not JSON ({error}): {body_text}"));
                return Err(problems);
            }
        }
    } else {
        Value::String(body_text.into_owned())
    };
    if let Err(problem) = validate(document, &content["schema"], &body) {
        problems.push(format!("body {body} {problem}"));
    }
    for (pointer, expected) in &case.expect {
        let actual = body.pointer(pointer).unwrap_or(&Value::Null);
        if actual != expected {
            problems.push(format!("{pointer} is {actual}, expected {expected}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Every documented header must be present: the reference server sends the
/// SHOULD headers too. `X-Request-ID` must echo the request's (GEN-4).
fn check_headers(document: &Value, response: &Value, answer: &Answer) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(headers) = response["headers"].as_object() else {
        return problems;
    };

    for (name, header) in headers {
        let header = resolve(document, header);
        let Some(value) = answer.headers.get(name.as_str()) else {
            problems.push(format!("header {name} is missing"));
            continue;
        };
        let value = value.to_str().unwrap_or_default();
        if name.eq_ignore_ascii_case("x-request-id") && value != answer.request_id {
            problems.push(format!(
                "X-Request-ID is {value:?}, not the {:?} sent",
                answer.request_id
            ));
        }

        let schema = resolve(document, &header["schema"]);
        let instance = match schema["type"].as_str() {
            Some("integer") => value
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(json!(value)),
            _ => json!(value),
        };
        if let Err(problem) = validate(document, &header["schema"], &instance) {
            problems.push(format!("header {name}: {value:?} {problem}"));
        }
    }
    problems
}

/// The organisations and events that cases refer to.
struct Fixture {
    main_key: String,
    hooked_key: String,
    rotating_key: String,
    limited_key: String,
    rotated_away: String,
    stored_id: String,
    dedup_id: String,
    foreign_id: String,
}

impl Fixture {
    async fn prepare(client: &reqwest::Client, server: &TestServer) -> Fixture {
        let main_key = generate_key(client, server, "pro").await;
        let hooked_key = generate_key(client, server, "pro").await;
        let rotating_key = generate_key(client, server, "pro").await;
        let limited_key = generate_key(client, server, "free").await;
        let foreign_key = generate_key(client, server, "pro").await;

        let dedup_id = "agreement-dedup".to_owned();
        let event = json!({"type": "order.created", "payload": {"n": 0}, "dedup_id": dedup_id});
        let stored_id = ingest(client, server, &main_key, &event).await;
        let foreign_id = ingest(client, server, &foreign_key, &event).await;

        // A free organisation's bucket holds 100 ingests; the case after
        // these must be refused.
        for _ in 0..100 {
            ingest(
                client,
                server,
                &limited_key,
                &json!({"type": "t", "payload": {}}),
            )
            .await;
        }

        let rotated_away = generate_key(client, server, "pro").await;
        let rotated = client
            .post(server.url("/api/keys/rotate"))
            .header("X-API-Key", &rotated_away)
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), 200, "fixture: key rotation");

        Fixture {
            main_key,
            hooked_key,
            rotating_key,
            limited_key,
            rotated_away,
            stored_id,
            dedup_id,
            foreign_id,
        }
    }

    fn key(&self, key: &Key) -> Option<String> {
        match key {
            Key::Main => Some(self.main_key.clone()),
            Key::Hooked => Some(self.hooked_key.clone()),
            Key::Rotating => Some(self.rotating_key.clone()),
            Key::Limited => Some(self.limited_key.clone()),
            Key::Absent => None,
            Key::Literal(key) => Some(key.clone()),
        }
    }
}

async fn generate_key(client: &reqwest::Client, server: &TestServer, tier: &str) -> String {
    let response = client
        .post(server.url("/api/keys/generate"))
        .json(&json!({"organization_name": "agreement", "tier": tier}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "fixture: key generation");
    let body: Value = response.json().await.unwrap();
    body["api_key"]
        .as_str()
        .expect("api_key is a string")
        .to_owned()
}

async fn ingest(client: &reqwest::Client, server: &TestServer, key: &str, event: &Value) -> String {
    let response = client
        .post(server.url("/api/events"))
        .header("X-API-Key", key)
        .json(event)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "fixture: ingest");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().expect("id is a string").to_owned()
}

/// A valid event whose JSON text is exactly `size` bytes long.
fn event_of_size(size: usize) -> String {
    let empty = json!({"type": "size", "payload": {"pad": ""}}).to_string();
    let pad = "x".repeat(size - empty.len());
    let event = json!({"type": "size", "payload": {"pad": pad}}).to_string();
    assert_eq!(event.len(), size);
    event
}

/// An event whose payload nests `depth` objects deep.
fn nested_event(depth: usize) -> String {
    let inner = depth - 1;
    let payload = format!("{}{{}}{}", "{\"a\":".repeat(inner), "}".repeat(inner));
    format!("{{\"type\": \"deep\", \"payload\": {payload}}}")
}

fn accepted_example(status: &str) -> Value {
    json!({
        "id": "e1",
        "status": status,
        "type": "t",
        "dedup_id": null,
        "created_at": "2026-12-03T19:25:08.123Z",
    })
}

fn key_created_example(tier: &str, limit: u32) -> Value {
    json!({
        "api_key": "trg_x",
        "organization_id": "o1",
        "organization_name": "acme",
        "tier": tier,
        "rate_limit_per_minute": limit,
        "created_at": "2026-12-03T19:25:08Z",
    })
}

fn webhook_example(secret: &str) -> Value {
    json!({"webhook_url": "https://example.com/hook", "webhook_secret": secret})
}

/// The path and lowercase method of the operation with `operation_id`.
fn find_operation<'d>(document: &'d Value, operation_id: &str) -> Option<(&'d str, &'d str)> {
    let paths = document["paths"].as_object()?;
    paths.iter().find_map(|(path, item)| {
        let operations = item.as_object()?;
        operations
            .iter()
            .find(|(_, operation)| operation["operationId"] == operation_id)
            .map(|(method, _)| (path.as_str(), method.as_str()))
    })
}

/// Every (operationId, status) pair the document names under `paths`.
fn documented_statuses(document: &Value) -> BTreeSet<(String, String)> {
    let mut statuses = BTreeSet::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            for status in operation["responses"].as_object().unwrap().keys() {
                statuses.insert((id.to_owned(), status.clone()));
            }
        }
    }
    statuses
}

/// The response object documented for `status`, falling back to its range
/// (`4XX`) and to `default` as OpenAPI does.
fn documented_response<'d>(
    document: &'d Value,
    operation: &'d Value,
    status: u16,
) -> Option<&'d Value> {
    let responses = &operation["responses"];
    let range = format!("{}XX", status / 100);
    [status.to_string(), range, "default".to_owned()]
        .iter()
        .find_map(|key| responses.get(key))
        .map(|response| resolve(document, response))
}

/// Follows `$ref` until the value is not a reference.
fn resolve<'d>(document: &'d Value, mut value: &'d Value) -> &'d Value {
    while let Some(reference) = value["$ref"].as_str() {
        value = lookup(document, reference).unwrap_or_else(|| panic!("unresolved {reference}"));
    }
    value
}

fn lookup<'d>(document: &'d Value, reference: &str) -> Option<&'d Value> {
    document.pointer(reference.strip_prefix('#')?)
}

fn collect_references(value: &Value, references: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                references.push(reference.clone());
            }
            map.values()
                .for_each(|child| collect_references(child, references));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| collect_references(child, references)),
        _ => {}
    }
}

/// Compiles `schema` with the document's components in scope, so that
/// `#/components/schemas/...` references resolve as they do in the document.
fn compile(document: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": document["components"],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&wrapper)
        .map_err(|error| error.to_string())
}

fn validate(document: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    let validator = compile(document, schema)?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("at {:?}: {error}", error.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("does not match the schema: {}", errors.join("; ")))
    }
}

fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Rule ids such as `ING-12` in `text`.
fn rule_ids(text: &str) -> BTreeSet<String> {
    const SECTIONS: [&str; 12] = [
        "GEN", "AUTH", "KEY", "RATE", "ING", "INBOX", "ACK", "HOOK", "DLV", "OPS", "DUR", "TEN",
    ];
    let mut ids = BTreeSet::new();
    for section in SECTIONS {
        let prefix = format!("{section}-");
        for (start, _) in text.match_indices(&prefix) {
            let before = text[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                continue;
            }
            let digits: String = text[start + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() {
                ids.insert(format!("{prefix}{digits}"));
            }
        }
    }
    ids
}

/// The reference server on 127.0.0.1 port 0 with a fresh SQLite file.
struct TestServer {
    base: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _directory: tempfile::TempDir,
}

impl TestServer {
    async fn start() -> TestServer {
        let directory = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let database = directory.path().join("triggers.db");
        let config = Config::new(format!("sqlite://{}", database.display()));
        let (shutdown, stop) = oneshot::channel::<()>();

        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.await;
            };
            serve(listener, config, stopped)
                .await
                .expect("the server runs");
        });
        TestServer {
            base,
            shutdown,
            task,
            _directory: directory,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task does not panic");
    }
}
