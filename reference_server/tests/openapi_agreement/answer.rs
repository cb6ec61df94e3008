//! Sending one case of the table and judging its answer against the document:
//! status, headers, content type, body schema and exact values.

use reqwest::Method;
use serde_json::{Value, json};

use crate::cases::{Body, Case, Fixture, Key};
use crate::document::{documented_response, find_operation, resolve, validate};
use crate::server::TestServer;

/// Sends one case and returns every way its answer disagrees with the document.
pub async fn run_case(
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
    let request_id = case.sends_request_id.then(|| format!("agreement-{index}"));
    if case.key == Key::Limited {
        fixture.drain_limited(client, server).await;
    }

    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = client.request(method, server.url(&path));
    if let Some(request_id) = &request_id {
        request = request.header("X-Request-ID", request_id);
    }
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
    /// The `X-Request-ID` sent, if any.
    request_id: Option<String>,
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
        let sent = answer.request_id.as_deref();
        if name.eq_ignore_ascii_case("x-request-id") && sent.is_some_and(|sent| sent != value) {
            problems.push(format!("X-Request-ID is {value:?}, not the {sent:?} sent"));
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

fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
