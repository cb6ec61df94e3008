//! The table of requests that provoke every documented answer, and the
//! organisations and events those requests refer to.

use serde_json::{Value, json};

use crate::server::{TestServer, generate_key, ingest};

/// The largest ingest body the contract accepts (ING-7).
const BODY_LIMIT: usize = 262_144;

/// Ingests a free organisation may send at once (section 4).
const FREE_TIER_LIMIT: usize = 100;

/// Whose key a case sends.
#[derive(PartialEq, Eq)]
pub enum Key {
    Main,
    Hooked,
    Rotating,
    Limited,
    Absent,
    Literal(String),
}

/// What a case sends as its body.
pub enum Body {
    Empty,
    Json(Value),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// One request, the status the contract gives it, and exact values the
/// answer must hold beyond its schema.
pub struct Case {
    pub operation: &'static str,
    pub status: u16,
    pub key: Key,
    pub id: Option<String>,
    pub query: &'static str,
    pub body: Body,
    pub expect: Vec<(&'static str, Value)>,
    /// Whether the request carries `X-Request-ID`; without one the server
    /// must generate it (GEN-4).
    pub sends_request_id: bool,
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
        sends_request_id: true,
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

    fn without_request_id(mut self) -> Self {
        self.sends_request_id = false;
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
pub fn cases(fixture: &Fixture) -> Vec<Case> {
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
        case("healthShow", 200)
            .key(Key::Absent)
            .without_request_id(),
        case("eventsShow", 404)
            .id(unknown)
            .without_request_id()
            .error("event_not_found", None),
        case("healthLive", 200).key(Key::Absent),
        case("healthReady", 200).key(Key::Absent),
        case("metricsScrape", 200).key(Key::Absent),
        case("openapiShow", 200).key(Key::Absent),
    ]
}

/// The organisations and events that cases refer to.
pub struct Fixture {
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
    pub async fn prepare(client: &reqwest::Client, server: &TestServer) -> Fixture {
        let main_key = generate_key(client, server, "pro").await;
        let hooked_key = generate_key(client, server, "pro").await;
        let rotating_key = generate_key(client, server, "pro").await;
        let limited_key = generate_key(client, server, "free").await;
        let foreign_key = generate_key(client, server, "pro").await;

        let dedup_id = "agreement-dedup".to_owned();
        let event = json!({"type": "order.created", "payload": {"n": 0}, "dedup_id": dedup_id});
        let stored_id = ingest(client, server, &main_key, &event).await;
        let foreign_id = ingest(client, server, &foreign_key, &event).await;

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

    /// Ingests for the free organisation until it is refused, so that its
    /// bucket is empty. The bucket refills one token every 0.6 s, so the
    /// limited case must be sent right after this, not after other cases.
    /// Refills during a slow drain may grant a few more than the limit, so
    /// it may take up to twice as many.
    pub async fn drain_limited(&self, client: &reqwest::Client, server: &TestServer) {
        let event = json!({"type": "drain", "payload": {}});
        for _ in 0..=2 * FREE_TIER_LIMIT {
            let response = client
                .post(server.url("/api/events"))
                .header("X-API-Key", &self.limited_key)
                .json(&event)
                .send()
                .await
                .unwrap();
            if response.status() != 202 {
                return;
            }
        }
    }

    /// The key a case sends, if any.
    pub fn key(&self, key: &Key) -> Option<String> {
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
