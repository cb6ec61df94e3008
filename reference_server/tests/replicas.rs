//! Two replicas of the server on one PostgreSQL database, started together:
//! deliveries shared out without overlap, deduplication, key rotation and
//! inbox paging across them. Skipped when no PostgreSQL server is set.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::receiver::{Receiver, Reply, verify};
use support::served::Served;
use support::{Backend, TestDatabase, postgres_server};

/// Two replicas on a fresh database, started at the same moment so that
/// both run the migrations at once.
async fn replicas(database: &TestDatabase) -> (Served, Served) {
    let first = Served::start(&database.url);
    let second = Served::start(&database.url);
    let (first, second) = tokio::join!(first, second);
    (first, second)
}

/// Creates a database when PostgreSQL is configured.
async fn postgres_database() -> Option<TestDatabase> {
    postgres_server()?;
    Some(TestDatabase::create(Backend::Postgres).await)
}

/// Every event answered 202 by either replica reaches the receiver exactly
/// once, and never while another delivery of it is being answered.
#[tokio::test]
async fn dlv_12_replicas_deliver_every_event_once() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let (first, second) = replicas(&database).await;
    let client = Client::new();
    let receiver = Receiver::start(vec![], Reply::Hang(Duration::from_millis(20))).await;
    let key = first.key(&client, "enterprise").await;
    let body = json!({ "webhook_url": receiver.url });
    let configured = client
        .post(first.url("/api/webhook/config"))
        .header("x-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let configured: Value = configured.json().await.unwrap();
    let secret = configured["webhook_secret"].as_str().unwrap().to_owned();

    // Both replicas ingest at once, each into its own stream of requests.
    let event = json!({ "type": "t", "payload": {} });
    let sends = (0..200).map(|index| {
        let server = if index % 2 == 0 { &first } else { &second };
        server.ingest(&client, &key, &event)
    });
    let answers = futures::future::join_all(sends).await;
    let ingested: HashSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let delivered = walk_status(&client, &first, &key, "delivered").await;
        if delivered.len() == ingested.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} delivered",
            delivered.len(),
            ingested.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let received = receiver.received();
    let mut deliveries: HashMap<String, usize> = HashMap::new();
    for request in &received {
        assert!(verify(&secret, request), "a delivery is not signed");
        let id = request.headers["webhook-id"].to_str().unwrap().to_owned();
        *deliveries.entry(id).or_default() += 1;
    }
    let delivered: HashSet<String> = deliveries.keys().cloned().collect();
    assert_eq!(delivered, ingested);
    let repeated: Vec<_> = deliveries.iter().filter(|(_, count)| **count > 1).collect();
    assert!(
        repeated.is_empty(),
        "delivered more than once: {repeated:?}"
    );
    assert!(receiver.overlapping().is_empty());
    first.shut_down().await;
    second.shut_down().await;
}

/// Concurrent duplicates sent to both replicas: exactly one is accepted.
#[tokio::test]
async fn ing_11_duplicates_across_replicas_accept_exactly_one() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let (first, second) = replicas(&database).await;
    let client = Client::new();
    let key = first.key(&client, "pro").await;

    let body = json!({ "type": "t", "payload": {}, "dedup_id": "shared" });
    let sends = (0..30).map(|index| {
        let server = if index % 2 == 0 { &first } else { &second };
        server.ingest(&client, &key, &body)
    });
    let answers = futures::future::join_all(sends).await;

    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    for (status, body) in answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::ACCEPTED)
    {
        assert_eq!(*status, StatusCode::CONFLICT);
        assert_eq!(body["original_id"], accepted[0]["id"]);
    }
    assert_eq!(second.walk(&client, &key, 100).await.len(), 1);
    first.shut_down().await;
    second.shut_down().await;
}

/// A key rotated on one replica is refused by the other at once.
#[tokio::test]
async fn key_5_rotation_on_one_replica_holds_on_the_other() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let (first, second) = replicas(&database).await;
    let client = Client::new();
    let old_key = first.key(&client, "free").await;
    let event = json!({ "type": "t", "payload": {} });
    let (status, _) = second.ingest(&client, &old_key, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let rotated = client
        .post(first.url("/api/keys/rotate"))
        .header("x-api-key", &old_key)
        .send()
        .await
        .unwrap();
    let rotated: Value = rotated.json().await.unwrap();
    let new_key = rotated["api_key"].as_str().unwrap();

    let (status, body) = second.ingest(&client, &old_key, &event).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
    );
    let (status, _) = second.ingest(&client, new_key, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    first.shut_down().await;
    second.shut_down().await;
}

/// A cursor walk on one replica while both ingest concurrently lists a
/// prefix of the final inbox: nothing skipped, nothing twice.
#[tokio::test]
async fn inbox_6_paging_while_two_replicas_ingest_has_no_gaps() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let (first, second) = replicas(&database).await;
    let client = Client::new();
    let key = first.key(&client, "enterprise").await;
    let event = json!({ "type": "t", "payload": {} });
    for _ in 0..50 {
        first.ingest(&client, &key, &event).await;
    }

    // Four writers per replica keep many transactions in flight at once.
    let writers: Vec<_> = [&first, &second]
        .into_iter()
        .flat_map(|server| std::iter::repeat_n(server.url("/api/events"), 4))
        .map(|url| {
            let (client, key, event) = (client.clone(), key.clone(), event.clone());
            tokio::spawn(async move {
                for _ in 0..40 {
                    let request = client.post(&url).header("x-api-key", &key).json(&event);
                    let response = request.send().await.unwrap();
                    assert_eq!(response.status(), StatusCode::ACCEPTED);
                }
            })
        })
        .collect();
    let mut walks = Vec::new();
    for _ in 0..5 {
        walks.push(first.walk(&client, &key, 3).await);
    }
    for writer in writers {
        writer.await.unwrap();
    }

    let everything = second.walk(&client, &key, 1000).await;
    assert_eq!(everything.len(), 50 + 8 * 40);
    for walked in walks {
        let unique: HashSet<&String> = walked.iter().collect();
        assert_eq!(unique.len(), walked.len(), "an event was listed twice");
        assert_eq!(
            walked[..],
            everything[..walked.len()],
            "a walk skipped an event"
        );
    }
    first.shut_down().await;
    second.shut_down().await;
}

/// The ids of the key's events in `status`, following cursors.
async fn walk_status(client: &Client, server: &Served, key: &str, status: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/inbox?status={status}&limit=1000{cursor}");
        let request = client.get(server.url(&path)).header("x-api-key", key);
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

/// Rate limits are kept per replica, as the spec's RATE section says: each
/// of two replicas grants a free organisation its full minute.
#[tokio::test]
async fn rate_limits_are_kept_per_replica() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let (first, second) = replicas(&database).await;
    let client = Client::new();
    let key = first.key(&client, "free").await;
    let event = json!({ "type": "t", "payload": {} });

    let started = std::time::Instant::now();
    let mut accepted = 0;
    for server in [&first, &second] {
        for _ in 0..150 {
            let (status, _) = server.ingest(&client, &key, &event).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
            assert_eq!(status, StatusCode::ACCEPTED);
            accepted += 1;
        }
    }
    // Each bucket refills one token per 600 ms while the test runs.
    let refilled = 2 * (started.elapsed().as_millis() as i64 / 600 + 1);
    assert!(
        (200..200 + refilled).contains(&accepted),
        "{accepted} accepted"
    );
    first.shut_down().await;
    second.shut_down().await;
}
