//! The webhook sink: a small HTTP server that receives a target's deliveries on
//! `/sink/{key}` (one key per scenario) and on named endpoints under it,
//! `/sink/{key}/{endpoint}`, records them and answers as scripted.

pub mod signature;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tokio::sync::{Notify, oneshot};

use crate::scenario::model::SinkResponse;

/// One delivery as the sink received it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub received: Instant,
    pub received_at: SystemTime,
    pub method: String,
    /// Header names in lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The status the sink answered.
    pub status: u16,
}

impl Delivery {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Slot {
    deliveries: Vec<Delivery>,
    script: VecDeque<SinkResponse>,
}

/// The running sink; shared by every scenario of a run.
pub struct Sink {
    address: SocketAddr,
    /// The host named in URLs instead of the bound IP, when one is set.
    advertised_host: std::sync::RwLock<Option<String>>,
    slots: Mutex<HashMap<String, Slot>>,
    arrived: Notify,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Sink {
    /// Starts the sink on `bind` (port 0 picks a free port).
    ///
    /// URLs handed to targets use the bound address; when bound to an
    /// unspecified address they name 127.0.0.1. A target that cannot reach
    /// that (one in a container) needs [`Sink::advertise_host`].
    pub async fn start(bind: SocketAddr) -> anyhow::Result<Arc<Sink>> {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding the webhook sink to {:?}", bind.to_string()))?;
        let mut address = listener
            .local_addr()
            .context("reading the webhook sink's address")?;
        if address.ip().is_unspecified() {
            address.set_ip([127, 0, 0, 1].into());
        }
        let (stop, stopped) = oneshot::channel();
        let sink = Arc::new(Sink {
            address,
            advertised_host: std::sync::RwLock::new(None),
            slots: Mutex::new(HashMap::new()),
            arrived: Notify::new(),
            stop: Mutex::new(Some(stop)),
            server: Mutex::new(None),
        });

        let router = Router::new()
            .route("/sink/{key}", any(receive))
            .route("/sink/{key}/{endpoint}", any(receive_at_endpoint))
            .with_state(sink.clone());
        let server = tokio::spawn(async move {
            let shutdown = async {
                stopped.await.ok();
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "webhook sink stopped");
            }
        });
        *sink.server.lock().expect("sink server lock") = Some(server);
        tracing::info!(%address, "webhook sink listening");
        Ok(sink)
    }

    /// The URL a target delivers to for the scenario keyed `scenario_key`.
    pub fn url_for(&self, scenario_key: &str) -> String {
        let advertised = self.advertised_host.read().expect("sink host lock");
        match advertised.as_deref() {
            Some(host) => format!("http://{host}:{}/sink/{scenario_key}", self.address.port()),
            None => format!("http://{}/sink/{scenario_key}", self.address),
        }
    }

    /// Names `host` (such as `host.docker.internal`) in every URL handed out
    /// from now on, for targets that reach the sink through another address.
    pub fn advertise_host(&self, host: &str) {
        *self.advertised_host.write().expect("sink host lock") = Some(host.to_string());
    }

    /// The address the sink listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(&self) {
        if let Some(stop) = self.stop.lock().expect("sink stop lock").take() {
            stop.send(()).ok();
        }
        let server = self.server.lock().expect("sink server lock").take();
        if let Some(server) = server {
            server.await.ok();
        }
    }

    /// Replaces the scripted answers for `key`; after them the sink answers 200.
    pub fn script(&self, key: &str, responses: Vec<SinkResponse>) {
        let mut slots = self.slots.lock().expect("sink slots lock");
        slots.entry(key.to_string()).or_default().script = responses.into();
    }

    /// Every delivery received for `key` so far, oldest first.
    pub fn deliveries(&self, key: &str) -> Vec<Delivery> {
        let slots = self.slots.lock().expect("sink slots lock");
        slots
            .get(key)
            .map(|slot| slot.deliveries.clone())
            .unwrap_or_default()
    }

    /// Waits until `key` has at least `count` deliveries or `timeout` passes,
    /// and returns what arrived.
    pub async fn wait_for(&self, key: &str, count: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.arrived.notified();
            let deliveries = self.deliveries(key);
            if deliveries.len() >= count {
                return deliveries;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.deliveries(key);
            }
        }
    }

    /// Forgets everything about `key` and its named endpoints, once its
    /// scenario is over.
    pub fn forget(&self, key: &str) {
        let endpoints = format!("{key}/");
        self.slots
            .lock()
            .expect("sink slots lock")
            .retain(|slot, _| slot != key && !slot.starts_with(&endpoints));
    }
}

async fn receive_at_endpoint(
    State(sink): State<Arc<Sink>>,
    Path((key, endpoint)): Path<(String, String)>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = format!("{key}/{endpoint}");
    receive(State(sink), Path(key), method, headers, body).await
}

async fn receive(
    State(sink): State<Arc<Sink>>,
    Path(key): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut slots = sink.slots.lock().expect("sink slots lock");
        let slot = slots.entry(key.clone()).or_default();
        let answer = slot.script.pop_front();
        let status = answer.as_ref().map_or(200, |a| a.status);
        slot.deliveries.push(Delivery {
            received: Instant::now(),
            received_at: SystemTime::now(),
            method: method.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
            status,
        });
        answer
    };
    sink.arrived.notify_waiters();
    tracing::debug!(
        key,
        status = answer.as_ref().map_or(200, |a| a.status),
        "webhook delivery received"
    );

    let Some(answer) = answer else {
        return StatusCode::OK.into_response();
    };
    let delay = match (answer.delay, answer.delay_max) {
        (Some(low), Some(high)) if low < high => Some(rand::random_range(low..=high)),
        (delay, _) => delay,
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = status.into_response();
    if let Some(seconds) = answer.retry_after {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}
