//! Sends one scenario request: renders it, maps it through the dialect, sends
//! it with a timeout, reads the answer with a size cap and records the exchange.

use std::time::Instant;

use serde_json::Value;

use super::generate::generate_body;
use super::model::{Auth, Body, RequestSpec};
use super::outcome::{Exchange, RequestRecord, ResponseRecord, excerpt};
use super::raw_http::send_raw;
use super::runner::{ScenarioRun, StepError};

/// The largest answer body read; a bigger one is treated as a misbehaving target.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Requests with a body larger than this go through [`send_raw`] on a
/// connection of their own: a target may answer them early (413) and close
/// the connection before reading the body, which the pooled client reports as
/// a broken pipe instead of the answer.
const RAW_AFTER_BYTES: usize = 64 * 1024;

/// A rendered request in contract form, ready to be sent any number of times.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub method: String,
    /// Contract path with the rendered query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub api_key: Option<String>,
    pub body: PreparedBody,
}

#[derive(Debug, Clone)]
pub(crate) enum PreparedBody {
    None,
    Json(Value),
    Bytes(Vec<u8>),
}

/// An answer mapped back to contract form, with the exchange as it was on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub json: Option<Value>,
    pub text: String,
    pub exchange: Exchange,
}

/// Renders every template of `spec` in the scenario's current scope.
pub(crate) fn prepare(run: &ScenarioRun<'_>, spec: &RequestSpec) -> Result<Prepared, StepError> {
    let templates = &run.templates;
    let mut path = templates.render_string(&spec.path)?;
    if !spec.query.is_empty() {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &spec.query {
            match templates.render_value(value)? {
                Value::String(text) => query.append_pair(name, &text),
                other => query.append_pair(name, &other.to_string()),
            };
        }
        let separator = if path.contains('?') { '&' } else { '?' };
        path = format!("{path}{separator}{}", query.finish());
    }

    let mut headers = Vec::new();
    for (name, value) in &spec.headers {
        headers.push((name.to_ascii_lowercase(), templates.render_string(value)?));
    }
    // A scenario that sets `X-API-Key` itself (an empty or never-issued key)
    // sends exactly that header and no organisation key beside it.
    let explicit_key = headers.iter().any(|(name, _)| name == "x-api-key");
    let api_key = match &spec.auth {
        _ if explicit_key => None,
        Auth::None => None,
        Auth::Org(name) => Some(run.key_of(name)?),
        Auth::Literal(template) => Some(templates.render_string(template)?),
    };
    let body = match &spec.body {
        Body::Empty => PreparedBody::None,
        Body::Json(value) => PreparedBody::Json(templates.render_value(value)?),
        Body::Raw(text) => PreparedBody::Bytes(templates.render_string(text)?.into_bytes()),
        Body::Generate(generate) => PreparedBody::Bytes(generate_body(*generate)),
    };
    let json_like = matches!(spec.body, Body::Json(_) | Body::Generate(_));
    if json_like && !headers.iter().any(|(name, _)| name == "content-type") {
        headers.push(("content-type".to_string(), "application/json".to_string()));
    }
    Ok(Prepared {
        method: spec.method.clone(),
        path,
        headers,
        api_key,
        body,
    })
}

/// Sends a prepared request once through the target's dialect.
pub(crate) async fn execute(
    run: &ScenarioRun<'_>,
    prepared: &Prepared,
) -> Result<Answer, StepError> {
    let mut json_body = match &prepared.body {
        PreparedBody::Json(value) => Some(value.clone()),
        _ => None,
    };
    let wire = run
        .dialect
        .map_request(
            &prepared.method,
            &prepared.path,
            json_body.as_mut(),
            &run.deviations,
        )
        .map_err(StepError::Unsupported)?;
    let body_bytes = match (&prepared.body, json_body) {
        (_, Some(value)) => Some(serde_json::to_vec(&value).expect("a JSON value serialises")),
        (PreparedBody::Bytes(bytes), None) => Some(bytes.clone()),
        _ => None,
    };

    let base = run.ctx.base_url.read().expect("base url lock").clone();
    let url = format!("{}{}", base.trim_end_matches('/'), wire.path);
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(key) = &prepared.api_key {
        headers.push(("x-api-key".to_string(), key.clone()));
    }
    headers.extend(prepared.headers.iter().cloned());
    let request_record = RequestRecord {
        method: wire.method.clone(),
        url: url.clone(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.clone(), run.redact(v)))
            .collect(),
        body: body_bytes
            .as_ref()
            .map(|b| run.redact(&excerpt(&String::from_utf8_lossy(b)))),
    };

    let started = Instant::now();
    let transport = |cause: String| StepError::Transport {
        request: format!("{} {url}", wire.method),
        cause,
    };
    let large = body_bytes
        .as_ref()
        .is_some_and(|b| b.len() > RAW_AFTER_BYTES);
    let (wire_status, answer_headers, bytes) = match url::Url::parse(&url) {
        Ok(parsed) if large && parsed.scheme() == "http" => {
            let body = body_bytes.as_deref().unwrap_or_default();
            let timeout = run.ctx.request_timeout;
            let raw = send_raw(
                &parsed,
                &wire.method,
                &headers,
                body,
                timeout,
                MAX_ANSWER_BYTES,
            );
            let answer = raw.await.map_err(transport)?;
            (answer.status, answer.headers, answer.body)
        }
        _ => send_pooled(run, &wire.method, &url, &headers, body_bytes)
            .await
            .map_err(transport)?,
    };
    let headers = answer_headers;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::debug!(
        status = wire_status,
        elapsed_ms,
        url,
        "scenario request answered"
    );

    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let status = run.dialect.map_response(
        wire.route.as_ref(),
        wire_status,
        json.as_mut(),
        &run.deviations,
    );
    run.dialect
        .map_inbox_page(&wire, status, json.as_mut(), &run.deviations);
    let exchange = Exchange {
        request: request_record,
        response: Some(ResponseRecord {
            status: wire_status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.clone(), run.redact(v)))
                .collect(),
            body: (!bytes.is_empty()).then(|| run.redact(&excerpt(&text))),
        }),
        elapsed_ms,
    };
    Ok(Answer {
        status,
        headers,
        json,
        text,
        exchange,
    })
}

/// Sends a request with the shared client; returns status, lowercase headers and body.
async fn send_pooled(
    run: &ScenarioRun<'_>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<Vec<u8>>,
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), String> {
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("method {method:?} is not valid"))?;
    let mut request = run
        .ctx
        .client
        .request(method, url)
        .timeout(run.ctx.request_timeout);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }

    let mut response = request.send().await.map_err(|e| error_chain(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("the answer body exceeds {MAX_ANSWER_BYTES} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, headers, bytes))
}

/// The error and its causes on one line, since reqwest's top message is vague.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
