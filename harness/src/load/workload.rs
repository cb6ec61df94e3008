//! The requests a profile's transactions send, shared by the closed (goose)
//! and the open driver, and the per-organisation state they keep: keys,
//! accepted ids for the persistence check, fetched ids to acknowledge.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use serde::Deserialize;

use super::profile::{Profile, TransactionKind};
use super::recorder::{Recorder, RequestEnd};

/// How many recent `dedup_id`s and fetched ids an organisation keeps.
const RECENT_CAPACITY: usize = 4096;

/// One organisation created on the target for the load.
pub struct Organization {
    pub api_key: String,
    /// Ids answered to accepted ingests since the last persistence check.
    accepted: Mutex<Vec<String>>,
    /// Accepted ingests whose answer carried no id.
    accepted_without_id: AtomicU64,
    /// `dedup_id`s of accepted ingests, for duplicate transactions.
    dedup_ids: Mutex<VecDeque<String>>,
    /// Undelivered ids seen by inbox reads, for ack transactions.
    fetched: Mutex<VecDeque<String>>,
}

impl Organization {
    pub fn new(api_key: String) -> Organization {
        Organization {
            api_key,
            accepted: Mutex::new(Vec::new()),
            accepted_without_id: AtomicU64::new(0),
            dedup_ids: Mutex::new(VecDeque::new()),
            fetched: Mutex::new(VecDeque::new()),
        }
    }

    /// Takes the ids accepted since the last call, and the count of
    /// accepted ingests that answered no id.
    pub fn take_accepted(&self) -> (Vec<String>, u64) {
        let ids = std::mem::take(&mut *self.accepted.lock().expect("never poisoned"));
        (ids, self.accepted_without_id.swap(0, Ordering::Relaxed))
    }
}

fn push_recent(queue: &Mutex<VecDeque<String>>, value: String) {
    let mut queue = queue.lock().expect("never poisoned");
    if queue.len() == RECENT_CAPACITY {
        queue.pop_front();
    }
    queue.push_back(value);
}

/// Everything a request of a level needs.
pub struct Workload {
    base_url: String,
    client: reqwest::Client,
    organizations: Vec<std::sync::Arc<Organization>>,
    kinds: Vec<TransactionKind>,
    choose: WeightedIndex<u32>,
    /// Payload JSON texts, one per configured size, built once.
    payloads: Vec<String>,
    event_types: Vec<String>,
    pub recorder: Recorder,
}

#[derive(Deserialize)]
struct Accepted {
    id: Option<String>,
}

#[derive(Deserialize)]
struct InboxPage {
    #[serde(default)]
    events: Vec<InboxEvent>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct InboxEvent {
    id: String,
}

impl Workload {
    /// Prepares a level's requests against `base_url` for `organizations`.
    pub fn new(
        profile: &Profile,
        base_url: &str,
        client: reqwest::Client,
        organizations: Vec<std::sync::Arc<Organization>>,
        recorder: Recorder,
    ) -> Workload {
        let kinds: Vec<TransactionKind> = profile
            .transactions
            .iter()
            .map(|spec| spec.kind.clone())
            .collect();
        let weights = profile.transactions.iter().map(|spec| spec.weight);
        let choose = WeightedIndex::new(weights).expect("checked: one weight above 0");
        let (sizes, event_types) = kinds
            .iter()
            .find_map(|kind| match kind {
                TransactionKind::Ingest {
                    payload_bytes,
                    event_types,
                } => Some((payload_bytes.clone(), event_types.clone())),
                _ => None,
            })
            .unwrap_or_else(|| (vec![256], vec!["load.event".to_string()]));
        Workload {
            base_url: base_url.trim_end_matches('/').to_string(),
            client,
            organizations,
            kinds,
            choose,
            payloads: sizes.into_iter().map(payload_of_size).collect(),
            event_types,
            recorder,
        }
    }

    /// Sends one transaction, drawn by weight, for user `user` (who belongs
    /// to organisation `user % organizations`), recording each request.
    pub async fn run_one(&self, user: usize, intended: Instant) {
        let (index, payload, event_type) = {
            let mut rng = rand::rng();
            (
                self.choose.sample(&mut rng),
                rng.random_range(0..self.payloads.len()),
                rng.random_range(0..self.event_types.len()),
            )
        };
        let organization = &self.organizations[user % self.organizations.len()];
        match &self.kinds[index] {
            TransactionKind::Ingest { .. } => {
                self.ingest(organization, payload, event_type, intended)
                    .await
            }
            TransactionKind::Inbox { page_size, pages } => {
                self.inbox(organization, *page_size, *pages, intended).await
            }
            TransactionKind::Ack => self.ack(organization, payload, event_type, intended).await,
            TransactionKind::Health => self.health(intended).await,
            TransactionKind::Duplicate => {
                self.duplicate(organization, payload, event_type, intended)
                    .await
            }
        }
    }

    async fn ingest(
        &self,
        organization: &Organization,
        payload: usize,
        event_type: usize,
        intended: Instant,
    ) {
        let dedup_id = uuid::Uuid::new_v4().simple().to_string();
        let body = self.ingest_body(payload, event_type, &dedup_id);
        let sent = Instant::now();
        let request = self.post("/api/events", organization).body(body);
        let end = match request.send().await {
            Ok(response) if response.status().as_u16() == 202 => {
                match response.json::<Accepted>().await {
                    Ok(Accepted { id: Some(id) }) => {
                        organization
                            .accepted
                            .lock()
                            .expect("never poisoned")
                            .push(id);
                        push_recent(&organization.dedup_ids, dedup_id);
                        RequestEnd::Expected(202)
                    }
                    Ok(Accepted { id: None }) => {
                        organization
                            .accepted_without_id
                            .fetch_add(1, Ordering::Relaxed);
                        push_recent(&organization.dedup_ids, dedup_id);
                        RequestEnd::Expected(202)
                    }
                    Err(_) => RequestEnd::Failed("body"),
                }
            }
            other => drained(other, 202).await,
        };
        self.recorder.record("ingest", intended, sent, end);
    }

    async fn inbox(
        &self,
        organization: &Organization,
        page_size: u32,
        pages: u32,
        intended: Instant,
    ) {
        let mut cursor: Option<String> = None;
        for _ in 0..pages {
            let mut url = format!("{}/api/inbox?limit={page_size}", self.base_url);
            if let Some(cursor) = &cursor {
                url.push_str("&cursor=");
                url.push_str(cursor);
            }
            let sent = Instant::now();
            let request = self
                .client
                .get(url)
                .header("x-api-key", &organization.api_key);
            let (end, next) = match request.send().await {
                Ok(response) if response.status().as_u16() == 200 => {
                    match response.json::<InboxPage>().await {
                        Ok(page) => {
                            for event in page.events {
                                push_recent(&organization.fetched, event.id);
                            }
                            (RequestEnd::Expected(200), page.next_cursor)
                        }
                        Err(_) => (RequestEnd::Failed("body"), None),
                    }
                }
                other => (drained(other, 200).await, None),
            };
            // Later pages were not scheduled by the arrival process, so only
            // the first carries the intended start time.
            let intended = if cursor.is_none() { intended } else { sent };
            self.recorder.record("inbox", intended, sent, end);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }

    async fn ack(
        &self,
        organization: &Organization,
        payload: usize,
        event_type: usize,
        intended: Instant,
    ) {
        let fetched = organization
            .fetched
            .lock()
            .expect("never poisoned")
            .pop_front();
        let id = fetched.or_else(|| {
            let accepted = organization.accepted.lock().expect("never poisoned");
            accepted.last().cloned()
        });
        let Some(id) = id else {
            // Nothing to acknowledge yet: the first transactions of a level
            // ingest instead, so the mix still sends load.
            return self
                .ingest(organization, payload, event_type, intended)
                .await;
        };
        let sent = Instant::now();
        let request = self.post(&format!("/api/ack/{id}"), organization);
        let end = drained(request.send().await, 200).await;
        self.recorder.record("ack", intended, sent, end);
    }

    async fn duplicate(
        &self,
        organization: &Organization,
        payload: usize,
        event_type: usize,
        intended: Instant,
    ) {
        let repeated = {
            let dedup_ids = organization.dedup_ids.lock().expect("never poisoned");
            if dedup_ids.is_empty() {
                None
            } else {
                let index = rand::rng().random_range(0..dedup_ids.len());
                Some(dedup_ids[index].clone())
            }
        };
        let Some(dedup_id) = repeated else {
            return self
                .ingest(organization, payload, event_type, intended)
                .await;
        };
        let body = self.ingest_body(payload, event_type, &dedup_id);
        let sent = Instant::now();
        let request = self.post("/api/events", organization).body(body);
        let end = drained(request.send().await, 409).await;
        self.recorder.record("duplicate", intended, sent, end);
    }

    async fn health(&self, intended: Instant) {
        let sent = Instant::now();
        let request = self.client.get(format!("{}/health", self.base_url));
        let end = drained(request.send().await, 200).await;
        self.recorder.record("health", intended, sent, end);
    }

    fn post(&self, path: &str, organization: &Organization) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base_url))
            .header("x-api-key", &organization.api_key)
            .header("content-type", "application/json")
    }

    fn ingest_body(&self, payload: usize, event_type: usize, dedup_id: &str) -> String {
        format!(
            r#"{{"type":"{}","dedup_id":"{dedup_id}","payload":{}}}"#,
            self.event_types[event_type], self.payloads[payload]
        )
    }
}

/// A realistic-looking payload of about `bytes` bytes of JSON: a few typed
/// fields and a padding string.
fn payload_of_size(bytes: usize) -> String {
    let head = r#"{"source":"load","amount":1234.5,"currency":"EUR","tags":["a","b"],"note":""#;
    let padding = bytes.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(padding))
}

/// Reads the whole answer, so its connection goes back to the pool, and
/// judges its status against `expected`.
async fn drained(sent: reqwest::Result<reqwest::Response>, expected: u16) -> RequestEnd {
    let response = match sent {
        Ok(response) => response,
        Err(error) => return RequestEnd::Failed(error_kind(&error)),
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Err(_) => RequestEnd::Failed("body"),
        Ok(_) if status == expected => RequestEnd::Expected(status),
        Ok(_) => RequestEnd::Unexpected(status),
    }
}

/// The error kind a failed request is counted under.
fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_asked_size_and_are_json() {
        for size in [128, 4096, 65536] {
            let text = payload_of_size(size);
            assert_eq!(text.len(), size);
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert!(value.is_object());
        }
    }
}
