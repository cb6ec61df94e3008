//! One delivery attempt: the signed POST of an event to its receiver and
//! what the answer means (DLV-1 to DLV-4, DLV-8, DLV-9).

use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;

use super::signing;
use crate::clock;
use crate::store::Delivery;

/// What the receiver did with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// A 410 answer: the receiver wants no more attempts.
    Gone,
    /// Anything else; another attempt may follow.
    Failed {
        status: Option<u16>,
        error: String,
        /// The receiver's `Retry-After` on a 429 or 503.
        retry_after: Option<Duration>,
    },
}

/// The delivery body of DLV-1; `data` is the payload's original text.
#[derive(Debug, Serialize)]
struct DeliveryBody<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: String,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    dedup_id: Option<&'a str>,
}

/// Makes the HTTP client for deliveries: redirects are failures, not
/// followed (DLV-4), and every attempt is bounded by `timeout` (DLV-9).
///
/// The workspace builds `reqwest` without a TLS backend, so attempts to
/// `https://` receivers fail with a connection error recorded on the event
/// until a TLS feature is enabled.
pub fn client(timeout: Duration) -> reqwest::Result<Client> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .no_proxy()
        .user_agent(concat!(
            "triggers-reference-server/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

/// Sends one attempt of `delivery`.
pub async fn send(client: &Client, delivery: &Delivery) -> AttemptOutcome {
    let event = &delivery.event;
    let body = match render_body(delivery) {
        Ok(body) => body,
        Err(error) => return failed(None, error),
    };
    let key = match signing::secret_key(&delivery.webhook_secret) {
        Ok(key) => key,
        Err(error) => return failed(None, error.to_string()),
    };

    // The webhook id is the event id, the same on every attempt (DLV-6);
    // the timestamp is this attempt's.
    let timestamp = clock::now_millis() / 1_000;
    let signature = signing::signature(&key, &event.id, timestamp, body.as_bytes());
    let request = client
        .post(&delivery.webhook_url)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("x-event-id", &event.id)
        .header("x-event-type", &event.event_type)
        .body(body);

    match request.send().await {
        Ok(response) => judge(response.status(), response.headers()),
        Err(error) if error.is_timeout() => failed(None, "the receiver did not answer in time"),
        Err(error) => failed(None, format!("the request failed: {}", error_chain(&error))),
    }
}

fn render_body(delivery: &Delivery) -> Result<String, String> {
    let event = &delivery.event;
    let data: Box<RawValue> = RawValue::from_string(event.payload.clone())
        .map_err(|error| format!("the stored payload is not JSON: {error}"))?;
    let body = DeliveryBody {
        id: &event.id,
        event_type: &event.event_type,
        timestamp: clock::format_millis(event.created_at),
        data: &data,
        dedup_id: event.dedup_id.as_deref(),
    };
    serde_json::to_string(&body).map_err(|error| error.to_string())
}

fn judge(status: StatusCode, headers: &HeaderMap) -> AttemptOutcome {
    if status.is_success() {
        return AttemptOutcome::Delivered {
            status: status.as_u16(),
        };
    }
    if status == StatusCode::GONE {
        return AttemptOutcome::Gone;
    }

    let retry_after = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now())),
        _ => None,
    };
    let error = if status.is_redirection() {
        format!("the receiver answered {status}; redirects are not followed")
    } else {
        format!("the receiver answered {status}")
    };
    AttemptOutcome::Failed {
        status: Some(status.as_u16()),
        error,
        retry_after,
    }
}

/// Reads `Retry-After` in either of its forms: delta seconds, or an HTTP
/// date, which counts from `now` and gives zero when already past.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

fn failed(status: Option<u16>, error: impl Into<String>) -> AttemptOutcome {
    AttemptOutcome::Failed {
        status,
        error: error.into(),
        retry_after: None,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Thu, 03 Dec 2026 20:00:00 GMT").unwrap();
        let parse = |value| parse_retry_after(value, now);
        assert_eq!(parse("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 7 "), Some(Duration::from_secs(7)));
        let later = "Thu, 03 Dec 2026 20:01:30 GMT";
        assert_eq!(parse(later), Some(Duration::from_secs(90)));
        let earlier = "Thu, 03 Dec 2026 19:59:00 GMT";
        assert_eq!(parse(earlier), Some(Duration::ZERO));
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("-5"), None);
    }
}
