//! A server on a real socket through `serve`, and a client's view of it:
//! keys, ingest and walking the inbox.

use reference_server::config::Config;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server serving on an ephemeral port until told to stop.
pub struct Served {
    pub base: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), reference_server::ServeError>>,
}

impl Served {
    /// Serves the database at `database_url` on a fresh port.
    pub async fn start(database_url: &str) -> Self {
        Self::start_with(database_url, |_| {}).await
    }

    /// Serves the database at `database_url` with the configuration that
    /// `adjust` changes.
    pub async fn start_with(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::new(database_url);
        adjust(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(reference_server::serve(listener, config, shutdown));
        Served { base, stop, task }
    }

    /// Shuts the server down as SIGTERM would and waits for a clean exit.
    pub async fn shut_down(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().expect("clean shutdown");
    }

    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates an organisation of `tier` and answers its key.
    pub async fn key(&self, client: &Client, tier: &str) -> String {
        let body = json!({ "organization_name": "e2e", "tier": tier });
        let answer = client
            .post(self.url("/api/keys/generate"))
            .json(&body)
            .send()
            .await;
        let answer: Value = answer.unwrap().json().await.unwrap();
        answer["api_key"].as_str().unwrap().to_owned()
    }

    /// Sends one ingest and answers its status and body.
    pub async fn ingest(&self, client: &Client, key: &str, body: &Value) -> (StatusCode, Value) {
        let request = client
            .post(self.url("/api/events"))
            .header("x-api-key", key);
        let response = request.json(body).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// The ids of every event of the key's organisation, walking pages of
    /// `limit`.
    pub async fn walk(&self, client: &Client, key: &str, limit: u32) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let path = format!("/api/inbox?status=all&limit={limit}{cursor}");
            let request = client.get(self.url(&path)).header("x-api-key", key);
            let page: Value = request.send().await.unwrap().json().await.unwrap();
            for event in page["events"].as_array().unwrap() {
                ids.push(event["id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return ids,
            }
        }
    }
}
