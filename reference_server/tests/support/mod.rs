//! Test support shared by the integration tests: a server over a fresh
//! database of either backend, driven through the router without a socket.

// Each test crate uses a different part of this module.
#![allow(dead_code, unused_imports)]

pub mod database;
pub mod receiver;
pub mod served;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use reference_server::config::Config;
use reference_server::{Running, router};
use serde_json::{Value, json};
use tower::ServiceExt;

pub use self::database::{Backend, TestDatabase, postgres_server};

/// A server over a database of its own.
pub struct TestApp {
    pub app: Router,
    pub running: Option<Running>,
    /// Declared last so the server stops using it before it is dropped.
    database: TestDatabase,
}

/// One answer, with the body parsed as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub key: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            key: None,
            content_type: None,
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Call::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Call::new(Method::POST, path)
    }

    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw("application/json", body.to_string())
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type.to_owned());
        self.body = body.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl TestApp {
    /// Starts a server on `backend` without webhook delivery, so event
    /// states change only through the API under test.
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |config| config.delivery_enabled = false).await
    }

    /// Starts a server on `backend` whose default configuration `adjust`
    /// may change.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_in(TestDatabase::create(backend).await, adjust).await
    }

    async fn start_in(database: TestDatabase, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(database.url.clone());
        adjust(&mut config);
        let running = Running::start(config).await.expect("server starts");
        TestApp {
            app: router(running.state.clone()),
            running: Some(running),
            database,
        }
    }

    /// Stops this server cleanly and starts another on the same database.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
        Self::start_in(self.database, adjust).await
    }

    /// Stops the server cleanly.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }

    /// Sends the call and checks GEN-1 and GEN-2 on the way: every answer
    /// is a JSON body with the JSON content type, and every error carries
    /// an `error` string and a snake_case `code`.
    pub async fn send(&self, call: Call) -> Answer {
        let mut request = Request::builder().method(call.method).uri(&call.path);
        if let Some(key) = &call.key {
            request = request.header("x-api-key", key);
        }
        if let Some(content_type) = &call.content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        let request = request.body(Body::from(call.body)).expect("request builds");

        let response = self
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body reads");
        let text = String::from_utf8(bytes.to_vec()).expect("body is UTF-8");

        let content_type = headers
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap());
        assert_eq!(
            content_type,
            Some("application/json"),
            "{} {text}",
            call.path
        );
        let body: Value = serde_json::from_str(&text).expect("body is JSON");
        if status.is_client_error() || status.is_server_error() {
            assert!(body["error"].is_string(), "error message missing: {text}");
            let code = body["code"].as_str().expect("error code");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// Sends the call and asserts its status and error code (`None` for a
    /// success).
    pub async fn check(&self, call: Call, status: u16, code: Option<&str>) -> Answer {
        let description = format!("{} {}", call.method, call.path);
        let answer = self.send(call).await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{description}: {}",
            answer.text
        );
        assert_eq!(
            answer.body["code"].as_str(),
            code,
            "{description}: {}",
            answer.text
        );
        answer
    }

    /// Creates an organisation of `tier` and answers its key.
    pub async fn key(&self, tier: &str) -> String {
        let body = json!({ "organization_name": "test org", "tier": tier });
        let answer = self
            .check(Call::post("/api/keys/generate").json(&body), 201, None)
            .await;
        answer.body["api_key"].as_str().expect("api_key").to_owned()
    }

    /// Ingests one event and answers its id.
    pub async fn ingest(&self, key: &str, body: &Value) -> String {
        let call = Call::post("/api/events").key(key).json(body);
        let answer = self.check(call, 202, None).await;
        answer.body["id"].as_str().expect("id").to_owned()
    }

    /// The stored event `id`.
    pub async fn event(&self, key: &str, id: &str) -> Value {
        let call = Call::get(format!("/api/events/{id}")).key(key);
        self.check(call, 200, None).await.body
    }

    /// Polls the event until `done` holds for it, for at most ten seconds.
    pub async fn wait_for(&self, key: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let event = self.event(key, id).await;
            if done(&event) {
                return event;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "event never got there: {event}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Points the key's organisation at `url` and answers the secret.
    pub async fn configure_webhook(&self, key: &str, url: &str) -> String {
        let body = json!({ "webhook_url": url });
        let call = Call::post("/api/webhook/config").key(key).json(&body);
        let answer = self.check(call, 200, None).await;
        answer.body["webhook_secret"]
            .as_str()
            .expect("secret")
            .to_owned()
    }

    /// Every event of `status`, following cursors to the end.
    pub async fn inbox(&self, key: &str, status: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/inbox?status={status}&limit=1000");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let answer = self.check(Call::get(path).key(key), 200, None).await;
            events.extend(
                answer.body["events"]
                    .as_array()
                    .expect("events")
                    .iter()
                    .cloned(),
            );
            match answer.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return events,
            }
        }
    }
}
