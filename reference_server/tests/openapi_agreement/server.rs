//! The servers a test talks to: the reference server on a fresh database of
//! either backend, a webhook sink, and the requests that set up organisations and events.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use reference_server::config::Config;
use reference_server::serve;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::support::{Backend, TestDatabase};

/// The reference server on 127.0.0.1 port 0 with a fresh database.
pub struct TestServer {
    base: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _database: TestDatabase,
}

impl TestServer {
    /// A server with every default setting.
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, |config| config).await
    }

    /// A server whose settings `adjust` changes from the defaults.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(Config) -> Config) -> TestServer {
        let database = TestDatabase::create(backend).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = adjust(Config::new(database.url.clone()));
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
            _database: database,
        }
    }

    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits until it has closed its storage.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task does not panic");
    }
}

/// One request the sink received.
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: Value,
}

/// A webhook receiver on 127.0.0.1 port 0. It records every delivery and
/// answers the status named by the event type: `reply.410` answers 410, any
/// type without a status answers 200.
pub struct Sink {
    pub url: String,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    /// Listens on a fresh port; deliveries go to [`Sink::url`].
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (sender, deliveries) = mpsc::unbounded_channel();

        let router = Router::new()
            .route("/hook", post(sink_receive))
            .with_state(sender);
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("the sink runs");
        });
        Sink {
            url,
            deliveries,
            task,
        }
    }

    /// The next delivery, or `None` when none arrives within 10 seconds.
    pub async fn next(&mut self) -> Option<Delivery> {
        let next = self.deliveries.recv();
        tokio::time::timeout(Duration::from_secs(10), next)
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sink_receive(
    State(deliveries): State<mpsc::UnboundedSender<Delivery>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let status = body["type"]
        .as_str()
        .and_then(|event_type| event_type.strip_prefix("reply."))
        .and_then(|status| status.parse::<u16>().ok())
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::OK);

    // The receiver may be gone once the test has what it needs.
    let _ = deliveries.send(Delivery { headers, body });
    status
}

/// Creates an organisation of `tier` and answers its API key.
pub async fn generate_key(client: &reqwest::Client, server: &TestServer, tier: &str) -> String {
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

/// Ingests `event` for the organisation of `key` and answers the event id.
pub async fn ingest(
    client: &reqwest::Client,
    server: &TestServer,
    key: &str,
    event: &Value,
) -> String {
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
