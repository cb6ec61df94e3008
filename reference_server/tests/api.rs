//! The contract's rules of sections 1-8, 10 and 12, checked through the
//! router one request at a time; each test names the rules it covers.

mod support;

use axum::http::Method;
use serde_json::{Value, json};
use support::{Backend, Call, TestApp};

fn event(event_type: &str) -> Value {
    json!({ "type": event_type, "payload": { "n": 1 } })
}

/// Every route that needs a key, with a request that would otherwise pass.
fn authenticated_calls() -> Vec<Call> {
    vec![
        Call::get("/api/keys"),
        Call::post("/api/keys/rotate"),
        Call::post("/api/webhook/config").json(&json!({ "webhook_url": "http://a.example/" })),
        Call::new(Method::DELETE, "/api/webhook/config"),
        Call::post("/api/events").json(&event("t")),
        Call::get("/api/events/0190d3a5-0000-7000-8000-000000000000"),
        Call::get("/api/inbox"),
        Call::post("/api/ack/0190d3a5-0000-7000-8000-000000000000"),
    ]
}

async fn gen_5_unknown_routes_and_methods_answer_json(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.check(Call::get("/nothing/here"), 404, Some("not_found"))
        .await;
    app.check(Call::get("/api/event"), 404, Some("not_found"))
        .await;
    app.check(Call::get("/api/events"), 405, Some("method_not_allowed"))
        .await;
    app.check(
        Call::new(Method::PUT, "/health"),
        405,
        Some("method_not_allowed"),
    )
    .await;
    app.check(
        Call::get("/api/keys/generate"),
        405,
        Some("method_not_allowed"),
    )
    .await;
}

async fn gen_4_request_id_is_echoed_or_generated(backend: Backend) {
    let app = TestApp::start(backend).await;
    let answer = app
        .send(Call::get("/health").header("x-request-id", "abc-123"))
        .await;
    assert_eq!(answer.headers["x-request-id"], "abc-123");

    let answer = app.send(Call::get("/health")).await;
    let generated = answer.headers["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    // Found by Schemathesis: an empty header was echoed as an empty value.
    for empty in ["", " "] {
        let answer = app
            .send(Call::get("/health").header("x-request-id", empty))
            .await;
        let generated = answer.headers["x-request-id"].to_str().unwrap();
        assert_eq!(generated.len(), 36, "a UUID for {empty:?}: {generated}");
    }
}

async fn gen_6_metacharacters_in_paths_and_queries_are_data(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    app.ingest(&key, &event("t")).await;

    for id in [
        "'%20OR%20'1'='1",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "%FF%FE",
        "$(reboot)",
    ] {
        let path = format!("/api/events/{id}");
        app.check(Call::get(&path).key(&key), 404, Some("event_not_found"))
            .await;
        let path = format!("/api/ack/{id}");
        app.check(Call::post(&path).key(&key), 404, Some("event_not_found"))
            .await;
    }
    for query in [
        "status='%20OR%201=1--",
        "limit=1;DROP%20TABLE%20events",
        "cursor=%27",
    ] {
        let path = format!("/api/inbox?{query}");
        app.check(Call::get(path).key(&key), 422, Some("validation_failed"))
            .await;
    }
    assert_eq!(app.inbox(&key, "all").await.len(), 1);
}

async fn auth_1_and_2_missing_empty_unknown_and_rotated_keys_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let old_key = app.key("free").await;
    let rotated = app
        .check(Call::post("/api/keys/rotate").key(&old_key), 200, None)
        .await;
    let new_key = rotated.body["api_key"].as_str().unwrap().to_owned();

    for call in authenticated_calls() {
        app.check(call.clone(), 401, Some("missing_api_key")).await;
        app.check(call.clone().key(""), 401, Some("missing_api_key"))
            .await;
        let unknown = "trg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        app.check(call.clone().key(unknown), 401, Some("invalid_api_key"))
            .await;
        app.check(call.clone().key(&old_key), 401, Some("invalid_api_key"))
            .await;
    }
    app.check(Call::get("/api/keys").key(&new_key), 200, None)
        .await;
}

async fn auth_3_a_bad_key_wins_over_a_bad_body(backend: Backend) {
    let app = TestApp::start(backend).await;
    let bad_bodies = [
        Call::post("/api/events").raw("text/plain", "hello"),
        Call::post("/api/events").raw("application/json", "{not json"),
        Call::post("/api/events").raw("application/json", vec![b' '; 300_000]),
        Call::post("/api/webhook/config").raw("application/json", "[]"),
    ];
    for call in bad_bodies {
        app.check(call.clone(), 401, Some("missing_api_key")).await;
        app.check(call.key("trg_nope"), 401, Some("invalid_api_key"))
            .await;
    }
}

async fn auth_4_and_5_keys_are_prefixed_and_shown_only_on_issue(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("pro").await;
    let random = key.strip_prefix("trg_").expect("trg_ prefix");
    assert!(random.len() >= 22, "at least 128 bits: {key}");

    let mut answers = Vec::new();
    for call in authenticated_calls() {
        answers.push(app.send(call.key(&key)).await);
    }
    answers.push(app.send(Call::get("/api/keys").key("trg_wrong")).await);
    for answer in answers {
        assert!(
            !answer.text.contains(random),
            "key leaked in {}",
            answer.text
        );
        for value in answer.headers.values() {
            assert!(!value.to_str().unwrap_or_default().contains(random));
        }
    }
}

async fn key_1_to_5_generate_show_and_rotate(backend: Backend) {
    let app = TestApp::start(backend).await;
    let body = json!({ "organization_name": "Acme", "tier": "business" });
    let created = app
        .check(Call::post("/api/keys/generate").json(&body), 201, None)
        .await;
    let created = created.body;
    assert_eq!(created["organization_name"], "Acme");
    assert_eq!(created["tier"], "business");
    assert_eq!(created["rate_limit_per_minute"], 10_000);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let key = created["api_key"].as_str().unwrap();

    let shown = app
        .check(Call::get("/api/keys").key(key), 200, None)
        .await
        .body;
    assert_eq!(shown["organization_id"], created["organization_id"]);
    assert_eq!(shown["organization_name"], "Acme");
    assert_eq!(shown["webhook_url"], Value::Null);
    assert_eq!(shown["created_at"], created["created_at"]);
    assert!(shown.get("api_key").is_none());

    let body = json!({ "organization_name": "Acme" });
    let again = app
        .check(Call::post("/api/keys/generate").json(&body), 201, None)
        .await;
    assert_eq!(again.body["tier"], "free");
    assert_ne!(again.body["organization_id"], created["organization_id"]);
    assert_ne!(again.body["api_key"], created["api_key"]);

    let rotated = app
        .check(Call::post("/api/keys/rotate").key(key), 200, None)
        .await
        .body;
    assert_eq!(rotated["organization_id"], created["organization_id"]);
    let new_key = rotated["api_key"].as_str().unwrap();
    assert!(new_key.starts_with("trg_") && new_key != key);
    app.check(
        Call::get("/api/keys").key(key),
        401,
        Some("invalid_api_key"),
    )
    .await;
    app.check(Call::get("/api/keys").key(new_key), 200, None)
        .await;
}

async fn key_2_and_12_generation_bodies_are_validated(backend: Backend) {
    let app = TestApp::start(backend).await;
    let invalid = [
        (json!({}), "organization_name"),
        (json!({ "organization_name": "" }), "organization_name"),
        (
            json!({ "organization_name": "n".repeat(201) }),
            "organization_name",
        ),
        (
            json!({ "organization_name": "a\u{7}b" }),
            "organization_name",
        ),
        (json!({ "organization_name": 7 }), "organization_name"),
        (json!({ "organization_name": "a", "tier": "gold" }), "tier"),
        (json!({ "organization_name": "a", "tier": 1 }), "tier"),
        (json!([1]), "body"),
    ];
    for (body, field) in invalid {
        let call = Call::post("/api/keys/generate").json(&body);
        let answer = app.check(call, 422, Some("validation_failed")).await;
        assert_eq!(answer.body["field"], field, "{body}");
    }

    let call = Call::post("/api/keys/generate").raw("application/json", "{");
    app.check(call, 400, Some("invalid_json")).await;
    let call = Call::post("/api/keys/generate").raw("text/plain", "{}");
    app.check(call, 415, Some("unsupported_media_type")).await;

    let body = json!({ "organization_name": "n".repeat(200), "tier": "enterprise" });
    let answer = app
        .check(Call::post("/api/keys/generate").json(&body), 201, None)
        .await;
    assert_eq!(answer.body["rate_limit_per_minute"], 100_000);
}

async fn rate_6_each_tier_grants_its_figure(backend: Backend) {
    let app = TestApp::start(backend).await;
    for (tier, figure) in [
        ("free", 100),
        ("pro", 1_000),
        ("business", 10_000),
        ("enterprise", 100_000),
    ] {
        let key = app.key(tier).await;
        let shown = app.check(Call::get("/api/keys").key(&key), 200, None).await;
        assert_eq!(shown.body["rate_limit_per_minute"], figure, "{tier}");
    }
}

async fn rate_1_to_5_the_free_tier_gets_its_minute_then_429(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let other = app.key("free").await;

    // The bucket refills one token per 600 ms while the test runs, so a
    // slow storage may grant a few more than 100; each answer's remaining
    // count is bounded by what was sent and what has refilled since.
    let started = std::time::Instant::now();
    let mut accepted = 0;
    let limited = loop {
        let call = Call::post("/api/events").key(&key).json(&event("t"));
        let answer = app.send(call).await;
        let refilled = started.elapsed().as_millis() as i64 / 600 + 1;
        assert_eq!(answer.headers["x-ratelimit-limit"], "100");
        if answer.status == 429 {
            break answer;
        }
        assert_eq!(answer.status, 202, "{}", answer.text);
        accepted += 1;
        let remaining: i64 = answer.headers["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (100 - accepted..100 - accepted + refilled).contains(&remaining),
            "remaining {remaining} after {accepted} accepted"
        );
    };
    let refilled = started.elapsed().as_millis() as i64 / 600 + 1;
    assert!(
        (100..100 + refilled).contains(&accepted),
        "{accepted} accepted"
    );
    assert_eq!(limited.body["code"], "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(limited.headers["x-ratelimit-remaining"], "0");

    // A limited request stores nothing, and reads and acks are not limited.
    let events = app.inbox(&key, "all").await;
    assert_eq!(events.len() as i64, accepted);
    let id = events[0]["id"].as_str().unwrap();
    for _ in 0..3 {
        app.check(Call::post(format!("/api/ack/{id}")).key(&key), 200, None)
            .await;
        app.check(Call::get("/api/keys").key(&key), 200, None).await;
    }

    // Another organisation is not affected.
    app.ingest(&other, &event("t")).await;
}

async fn ing_1_and_2_accepted_events_are_readable_at_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let body = json!({ "type": "order.created", "payload": { "a": [1, 2] }, "ignored": true });
    let accepted = app
        .check(Call::post("/api/events").key(&key).json(&body), 202, None)
        .await;
    let accepted = accepted.body;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["type"], "order.created");
    assert_eq!(accepted["dedup_id"], Value::Null);
    let id = accepted["id"].as_str().unwrap();

    let stored = app
        .check(Call::get(format!("/api/events/{id}")).key(&key), 200, None)
        .await;
    let expected = json!({
        "id": id, "type": "order.created", "payload": { "a": [1, 2] }, "dedup_id": null,
        "status": "pending", "attempts": 0, "created_at": accepted["created_at"],
        "delivered_at": null, "last_error": null, "last_response_status": null,
        "next_attempt_at": null,
    });
    assert_eq!(stored.body, expected);

    let inbox = app.inbox(&key, "undelivered").await;
    assert_eq!(inbox, vec![expected]);
}

async fn ing_3_to_6_bodies_are_checked_field_by_field(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("enterprise").await;
    let ingest = |content_type: &str, body: &[u8]| {
        Call::post("/api/events")
            .key(&key)
            .raw(content_type, body.to_vec())
    };

    let deep = nested_payload(129);
    let refused: [(&str, &[u8], u16, &str); 6] = [
        (
            "text/plain",
            br#"{"type":"t","payload":{}}"#,
            415,
            "unsupported_media_type",
        ),
        ("application/xml", b"<a/>", 415, "unsupported_media_type"),
        ("application/json", b"{\"type\":", 400, "invalid_json"),
        ("application/json", b"", 400, "invalid_json"),
        ("application/json", b"\xff\xfe", 400, "invalid_json"),
        ("application/json", deep.as_bytes(), 400, "invalid_json"),
    ];
    for (content_type, body, status, code) in refused {
        app.check(ingest(content_type, body), status, Some(code))
            .await;
    }

    let long = format!(r#"{{"type":"{}","payload":{{}}}}"#, "x".repeat(256));
    let invalid = [
        ("[1,2]", "body"),
        ("\"text\"", "body"),
        ("null", "body"),
        (r#"{"payload":{}}"#, "type"),
        (r#"{"type":5,"payload":{}}"#, "type"),
        (r#"{"type":"","payload":{}}"#, "type"),
        (&long, "type"),
        (r#"{"type":"a\nb","payload":{}}"#, "type"),
        (r#"{"type":5,"payload":5}"#, "type"),
        (r#"{"type":"t"}"#, "payload"),
        (r#"{"type":"t","payload":[1]}"#, "payload"),
        (r#"{"type":"t","payload":"{}"}"#, "payload"),
        (r#"{"type":"t","payload":null}"#, "payload"),
        (r#"{"type":"t","payload":{},"dedup_id":7}"#, "dedup_id"),
        (r#"{"type":"t","payload":{},"dedup_id":""}"#, "dedup_id"),
        (
            r#"{"type":"t","payload":{},"dedup_id":"a\u0000"}"#,
            "dedup_id",
        ),
    ];
    for (body, field) in invalid {
        let call = ingest("application/json", body.as_bytes());
        let answer = app.check(call, 422, Some("validation_failed")).await;
        assert_eq!(answer.body["field"], field, "{body}");
    }
    assert!(app.inbox(&key, "all").await.is_empty());

    // Media type parameters, the longest strings and the deepest allowed
    // nesting all pass.
    let longest = json!({ "type": "x".repeat(255), "payload": {}, "dedup_id": "d".repeat(255) });
    let accepted = [
        ("application/json; charset=utf-8", event("t").to_string()),
        ("Application/JSON", event("t").to_string()),
        ("application/json", longest.to_string()),
        ("application/json", nested_payload(128)),
    ];
    for (content_type, body) in accepted {
        app.check(ingest(content_type, body.as_bytes()), 202, None)
            .await;
    }
}

/// An ingest body whose arrays and objects nest `depth` levels deep,
/// counting the body itself.
fn nested_payload(depth: usize) -> String {
    let arrays = depth - 2;
    let (open, close) = ("[".repeat(arrays), "]".repeat(arrays));
    format!(r#"{{"type":"t","payload":{{"a":{open}1{close}}}}}"#)
}

/// A valid ingest body of exactly `size` bytes.
fn body_of_size(size: usize) -> Vec<u8> {
    let frame = r#"{"type":"t","payload":{"pad":""}}"#;
    let padding = "p".repeat(size - frame.len());
    let body = format!(r#"{{"type":"t","payload":{{"pad":"{padding}"}}}}"#);
    assert_eq!(body.len(), size);
    body.into_bytes()
}

async fn ing_7_bodies_over_256_kib_are_refused_unstored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;

    let call = Call::post("/api/events")
        .key(&key)
        .raw("application/json", body_of_size(262_144));
    app.check(call, 202, None).await;
    let call = Call::post("/api/events")
        .key(&key)
        .raw("application/json", body_of_size(262_145));
    app.check(call, 413, Some("payload_too_large")).await;
    let garbage = vec![b'!'; 1_000_000];
    let call = Call::post("/api/events")
        .key(&key)
        .raw("application/json", garbage);
    app.check(call, 413, Some("payload_too_large")).await;
    assert_eq!(app.inbox(&key, "all").await.len(), 1);
}

async fn ing_8_payload_text_comes_back_unchanged(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let payloads = [
        r#"{"z":1,"a":2,"m":{"y":[1.50,-0.0,1e300,2E-7,12345678901234567890123]}}"#,
        r#"{"text":"\u00e9\ud83d\ude00 😀 \"quoted\" \\ \/","empty":{},"list":[]}"#,
        r#"{ "spaced" :  [ 1 , 2 ] }"#,
    ];
    for payload in payloads {
        let body = format!(r#"{{"type":"t","payload":{payload}}}"#);
        let call = Call::post("/api/events")
            .key(&key)
            .raw("application/json", body);
        let id = app.check(call, 202, None).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let answer = app
            .send(Call::get(format!("/api/events/{id}")).key(&key))
            .await;
        let expected = format!(r#""payload":{payload},"#);
        assert!(
            answer.text.contains(&expected),
            "{payload} came back as {}",
            answer.text
        );
    }
}

async fn ing_9_10_and_12_duplicates_and_foreign_ids(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let other = app.key("free").await;
    let body = json!({ "type": "t", "payload": {}, "dedup_id": "order-1" });

    let first = app.ingest(&key, &body).await;
    let call = Call::post("/api/events").key(&key).json(&body);
    let duplicate = app.check(call, 409, Some("duplicate_event")).await;
    assert_eq!(duplicate.body["original_id"], first.as_str());
    let foreign = app.ingest(&other, &body).await;
    assert_ne!(foreign, first);
    assert_eq!(app.inbox(&key, "all").await.len(), 1);

    let path = format!("/api/events/{foreign}");
    app.check(Call::get(path).key(&key), 404, Some("event_not_found"))
        .await;
    let path = "/api/events/0190d3a5-0000-7000-8000-000000000000";
    app.check(Call::get(path).key(&key), 404, Some("event_not_found"))
        .await;
    app.check(
        Call::get("/api/events/not-an-id").key(&key),
        404,
        Some("event_not_found"),
    )
    .await;
}

async fn inbox_1_to_5_filters_limits_and_cursors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let other = app.key("free").await;
    app.ingest(&other, &event("foreign")).await;
    let mut ids = Vec::new();
    for index in 0..5 {
        ids.push(app.ingest(&key, &event(&format!("t{index}"))).await);
    }
    app.check(
        Call::post(format!("/api/ack/{}", ids[1])).key(&key),
        200,
        None,
    )
    .await;

    let listed = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .map(|event| event["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let undelivered = vec![
        ids[0].clone(),
        ids[2].clone(),
        ids[3].clone(),
        ids[4].clone(),
    ];
    assert_eq!(listed(app.inbox(&key, "undelivered").await), undelivered);
    assert_eq!(listed(app.inbox(&key, "pending").await), undelivered);
    assert_eq!(
        listed(app.inbox(&key, "delivered").await),
        vec![ids[1].clone()]
    );
    assert_eq!(listed(app.inbox(&key, "all").await), ids);
    assert!(app.inbox(&key, "failed").await.is_empty());
    assert!(app.inbox(&key, "dead_letter").await.is_empty());

    let default = app
        .check(Call::get("/api/inbox").key(&key), 200, None)
        .await;
    assert_eq!(
        listed(default.body["events"].as_array().unwrap().clone()),
        undelivered
    );
    assert_eq!(default.body["next_cursor"], Value::Null);

    let page = app
        .check(
            Call::get("/api/inbox?status=all&limit=2").key(&key),
            200,
            None,
        )
        .await;
    assert_eq!(
        listed(page.body["events"].as_array().unwrap().clone()),
        ids[..2]
    );
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let path = format!("/api/inbox?status=all&limit=3&cursor={cursor}");
    let page = app.check(Call::get(path).key(&key), 200, None).await;
    assert_eq!(
        listed(page.body["events"].as_array().unwrap().clone()),
        ids[2..]
    );
    assert_eq!(page.body["next_cursor"], Value::Null);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("limit=-1", "limit"),
        ("status=done", "status"),
        ("status=", "status"),
        ("cursor=abc", "cursor"),
        ("cursor=", "cursor"),
    ] {
        let call = Call::get(format!("/api/inbox?{query}")).key(&key);
        let answer = app.check(call, 422, Some("validation_failed")).await;
        assert_eq!(answer.body["field"], field, "{query}");
    }
    app.check(Call::get("/api/inbox?limit=1000").key(&key), 200, None)
        .await;
    app.check(Call::get("/api/inbox?limit=1").key(&key), 200, None)
        .await;
}

async fn ack_1_to_3_acknowledgement_is_idempotent_and_scoped(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let other = app.key("free").await;
    let id = app.ingest(&key, &event("t")).await;

    let path = format!("/api/ack/{id}");
    app.check(Call::post(&path).key(&other), 404, Some("event_not_found"))
        .await;
    let first = app.check(Call::post(&path).key(&key), 200, None).await.body;
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["status"], "delivered");
    assert!(first["acknowledged_at"].as_str().unwrap().ends_with('Z'));

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = app.check(Call::post(&path).key(&key), 200, None).await.body;
    assert_eq!(second, first);

    let stored = app
        .check(Call::get(format!("/api/events/{id}")).key(&key), 200, None)
        .await;
    assert_eq!(stored.body["status"], "delivered");
    assert_eq!(stored.body["delivered_at"], first["acknowledged_at"]);
    assert!(app.inbox(&key, "undelivered").await.is_empty());
    app.check(
        Call::post("/api/ack/unknown").key(&key),
        404,
        Some("event_not_found"),
    )
    .await;
}

async fn hook_1_to_4_configure_keep_the_secret_and_delete(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let configure = |url: &str| {
        Call::post("/api/webhook/config")
            .key(&key)
            .json(&json!({ "webhook_url": url }))
    };

    let first = app
        .check(configure("https://hooks.example/a"), 200, None)
        .await
        .body;
    assert_eq!(first["webhook_url"], "https://hooks.example/a");
    let secret = first["webhook_secret"].as_str().unwrap();
    let encoded = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert!(decoded.len() >= 24);
    let shown = app.check(Call::get("/api/keys").key(&key), 200, None).await;
    assert_eq!(shown.body["webhook_url"], "https://hooks.example/a");

    let second = app
        .check(configure("http://127.0.0.1:9/b"), 200, None)
        .await
        .body;
    assert_eq!(second["webhook_secret"], secret);

    let long = format!("https://hooks.example/{}", "a".repeat(2_030));
    for bad in [
        "",
        "hooks.example/a",
        "ftp://hooks.example/",
        "http://",
        "mailto:a@b.c",
        &long,
    ] {
        let answer = app
            .check(configure(bad), 422, Some("validation_failed"))
            .await;
        assert_eq!(answer.body["field"], "webhook_url", "{bad}");
    }
    let call = Call::post("/api/webhook/config")
        .key(&key)
        .json(&json!({ "webhook_url": 5 }));
    let answer = app.check(call, 422, Some("validation_failed")).await;
    assert_eq!(answer.body["field"], "webhook_url");

    let delete = Call::new(Method::DELETE, "/api/webhook/config").key(&key);
    let deleted = app.check(delete, 200, None).await;
    assert_eq!(deleted.body, json!({ "webhook_url": null }));
    let shown = app.check(Call::get("/api/keys").key(&key), 200, None).await;
    assert_eq!(shown.body["webhook_url"], Value::Null);
    let third = app
        .check(configure("https://hooks.example/c"), 200, None)
        .await
        .body;
    assert_eq!(third["webhook_secret"], secret);
}

async fn ops_1_to_3_health_probes(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    for path in ["/health", "/health/live", "/health/ready"] {
        let answer = app.check(Call::get(path), 200, None).await;
        assert_eq!(answer.body, json!({ "status": "ok" }));
    }

    // With the storage closed, readiness fails and liveness holds.
    let running = app.running.take().unwrap();
    running.state.store.close().await;
    let answer = app
        .check(Call::get("/health/ready"), 503, Some("unavailable"))
        .await;
    assert_eq!(answer.body["status"], "unavailable");
    app.check(Call::get("/health/live"), 200, None).await;
    running.stop().await;
}

async fn ops_5_the_openapi_document_is_served(backend: Backend) {
    let app = TestApp::start(backend).await;
    let answer = app.check(Call::get("/openapi.json"), 200, None).await;
    assert!(answer.body["openapi"].as_str().unwrap().starts_with("3.1"));
}

async fn gen_3_storage_faults_answer_503_not_client_errors(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let running = app.running.take().unwrap();
    running.state.store.close().await;
    app.check(Call::get("/api/keys").key(&key), 503, Some("unavailable"))
        .await;
    running.stop().await;
}

async fn ack_4_acknowledging_cancels_a_scheduled_delivery(backend: Backend) {
    let app = TestApp::start(backend).await;
    let key = app.key("free").await;
    let body = json!({ "webhook_url": "http://127.0.0.1:9/hook" });
    app.check(
        Call::post("/api/webhook/config").key(&key).json(&body),
        200,
        None,
    )
    .await;
    let id = app.ingest(&key, &event("t")).await;

    let stored = app
        .check(Call::get(format!("/api/events/{id}")).key(&key), 200, None)
        .await;
    assert_eq!(stored.body["next_attempt_at"], stored.body["created_at"]);
    app.check(Call::post(format!("/api/ack/{id}")).key(&key), 200, None)
        .await;
    let stored = app
        .check(Call::get(format!("/api/events/{id}")).key(&key), 200, None)
        .await;
    assert_eq!(stored.body["status"], "delivered");
    assert_eq!(stored.body["next_attempt_at"], Value::Null);
}

on_both_backends!(
    gen_5_unknown_routes_and_methods_answer_json,
    gen_4_request_id_is_echoed_or_generated,
    gen_6_metacharacters_in_paths_and_queries_are_data,
    auth_1_and_2_missing_empty_unknown_and_rotated_keys_are_refused,
    auth_3_a_bad_key_wins_over_a_bad_body,
    auth_4_and_5_keys_are_prefixed_and_shown_only_on_issue,
    key_1_to_5_generate_show_and_rotate,
    key_2_and_12_generation_bodies_are_validated,
    rate_6_each_tier_grants_its_figure,
    rate_1_to_5_the_free_tier_gets_its_minute_then_429,
    ing_1_and_2_accepted_events_are_readable_at_once,
    ing_3_to_6_bodies_are_checked_field_by_field,
    ing_7_bodies_over_256_kib_are_refused_unstored,
    ing_8_payload_text_comes_back_unchanged,
    ing_9_10_and_12_duplicates_and_foreign_ids,
    inbox_1_to_5_filters_limits_and_cursors,
    ack_1_to_3_acknowledgement_is_idempotent_and_scoped,
    hook_1_to_4_configure_keep_the_secret_and_delete,
    ops_1_to_3_health_probes,
    ops_5_the_openapi_document_is_served,
    gen_3_storage_faults_answer_503_not_client_errors,
    ack_4_acknowledging_cancels_a_scheduled_delivery,
);
