//! A webhook receiver for tests: it answers from a script, records every
//! request, and checks Standard Webhooks signatures with its own code,
//! written from the specification rather than taken from the server.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::time::Instant;

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with one extra header.
    WithHeader(u16, &'static str, String),
    /// Waits this long before answering 200.
    Hang(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

#[derive(Clone)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    then: Reply,
    received: Arc<Mutex<Vec<Received>>>,
    /// The `webhook-id`s of the requests being answered right now.
    in_flight: Arc<Mutex<HashSet<String>>>,
    /// The `webhook-id`s that arrived while a request with the same id was
    /// still being answered.
    overlapping: Arc<Mutex<Vec<String>>>,
}

/// A receiver listening on an ephemeral port for the test's lifetime.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    overlapping: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    /// Answers `replies` in order, then `then` to every later request.
    pub async fn start(replies: Vec<Reply>, then: Reply) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let overlapping = Arc::new(Mutex::new(Vec::new()));
        let script = Script {
            replies: Arc::new(Mutex::new(replies.into())),
            then,
            received: received.clone(),
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            overlapping: overlapping.clone(),
        };
        let app = Router::new().fallback(answer).with_state(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url,
            received,
            overlapping,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The `webhook-id`s delivered again while an earlier delivery of the
    /// same id was still being answered.
    pub fn overlapping(&self) -> Vec<String> {
        self.overlapping.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} requests arrived",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn answer(
    State(script): State<Script>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !script.in_flight.lock().unwrap().insert(webhook_id.clone()) {
        script.overlapping.lock().unwrap().push(webhook_id.clone());
    }
    script.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
        at: Instant::now(),
    });

    let reply = script.replies.lock().unwrap().pop_front();
    let response = reply_with(reply.unwrap_or_else(|| script.then.clone())).await;
    script.in_flight.lock().unwrap().remove(&webhook_id);
    response
}

async fn reply_with(reply: Reply) -> Response {
    match reply {
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::WithHeader(status, name, value) => {
            (StatusCode::from_u16(status).unwrap(), [(name, value)]).into_response()
        }
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            StatusCode::OK.into_response()
        }
    }
}

/// Verifies a request as a Standard Webhooks consumer would: the secret's
/// base64 part is the key, the signed content is `id.timestamp.body`, and
/// one of the space-separated `v1,` signatures must match.
pub fn verify(secret: &str, received: &Received) -> bool {
    let header = |name: &str| received.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return false;
    };
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&received.body);

    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(&signed);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .any(|signature| signature == expected)
}
