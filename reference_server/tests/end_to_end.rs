//! The server on a real socket through `serve`: concurrent deduplication,
//! key rotation, paging while ingesting, metrics and graceful shutdown.

mod support;

use std::collections::HashSet;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::served::Served;
use support::{Backend, TestDatabase};

async fn ing_11_concurrent_duplicates_accept_exactly_one(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let server = Served::start(&database.url).await;
    let client = Client::new();
    let key = server.key(&client, "pro").await;

    let body = json!({ "type": "t", "payload": {}, "dedup_id": "same" });
    let sends = (0..20).map(|_| server.ingest(&client, &key, &body));
    let answers = futures::future::join_all(sends).await;

    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(accepted.len(), 1, "{answers:?}");
    let original = &accepted[0]["id"];
    for (status, body) in answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::ACCEPTED)
    {
        assert_eq!(*status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "duplicate_event");
        assert_eq!(&body["original_id"], original);
    }
    assert_eq!(server.walk(&client, &key, 100).await.len(), 1);
    server.shut_down().await;
}

async fn key_5_rotation_takes_effect_on_the_next_request(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let server = Served::start(&database.url).await;
    let client = Client::new();
    let old_key = server.key(&client, "free").await;

    let request = client
        .post(server.url("/api/keys/rotate"))
        .header("x-api-key", &old_key);
    let rotated: Value = request.send().await.unwrap().json().await.unwrap();
    let new_key = rotated["api_key"].as_str().unwrap();

    let (status, body) = server.ingest(&client, &old_key, &json!({})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
    );
    let event = json!({ "type": "t", "payload": {} });
    let (status, _) = server.ingest(&client, new_key, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.shut_down().await;
}

async fn inbox_6_paging_while_ingesting_has_no_gaps_or_repeats(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let server = Served::start(&database.url).await;
    let client = Client::new();
    let key = server.key(&client, "enterprise").await;
    let event = json!({ "type": "t", "payload": {} });

    let mut before = Vec::new();
    for _ in 0..100 {
        let (_, body) = server.ingest(&client, &key, &event).await;
        before.push(body["id"].as_str().unwrap().to_owned());
    }

    // One task keeps ingesting, in a known order, while the walk runs.
    let (writer_client, writer_key, writer_url) = (client.clone(), key.clone(), server.url(""));
    let writer = tokio::spawn(async move {
        let mut ids = Vec::new();
        for _ in 0..200 {
            let request = writer_client.post(format!("{writer_url}/api/events"));
            let request = request.header("x-api-key", &writer_key).json(&event);
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            ids.push(body["id"].as_str().unwrap().to_owned());
        }
        ids
    });
    let walked = server.walk(&client, &key, 7).await;
    let during = writer.await.unwrap();

    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "an event was listed twice");
    assert_eq!(walked[..100], before[..], "events stored before the walk");
    let later = &walked[100..];
    assert_eq!(
        later,
        &during[..later.len()],
        "later events must follow in order"
    );

    let everything = server.walk(&client, &key, 1000).await;
    assert_eq!(everything.len(), 300);
    server.shut_down().await;
}

async fn ops_4_metrics_count_requests_and_ingests(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let server = Served::start(&database.url).await;
    let client = Client::new();
    let key = server.key(&client, "free").await;
    let (status, _) = server
        .ingest(&client, &key, &json!({ "type": "t", "payload": {} }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let text = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = text.lines().any(|line| {
        line.starts_with("http_requests_total{")
            && line.contains(r#"method="POST""#)
            && line.contains(r#"route="/api/events""#)
            && line.contains(r#"status="202""#)
    });
    assert!(counted, "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("triggers_events_ingested_total"), "{text}");
    assert!(
        text.contains("triggers_group_commit_batch_size_bucket{"),
        "{text}"
    );
    server.shut_down().await;
}

async fn dur_2_shutdown_keeps_every_acknowledged_event(backend: Backend) {
    let database = TestDatabase::create(backend).await;
    let server = Served::start(&database.url).await;
    let client = Client::new();
    let key = server.key(&client, "enterprise").await;

    // Ingests race the shutdown; each one answered 202 must be stored,
    // while the others may fail in any way.
    let event = json!({ "type": "t", "payload": {} });
    let url = server.url("/api/events");
    let sends: Vec<_> = (0..50)
        .map(|_| {
            let request = client.post(&url).header("x-api-key", &key).json(&event);
            tokio::spawn(async move {
                let response = request.send().await.ok()?;
                if response.status() != StatusCode::ACCEPTED {
                    return None;
                }
                let body: Value = response.json().await.ok()?;
                Some(body["id"].as_str()?.to_owned())
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    server.shut_down().await;
    let mut accepted = HashSet::new();
    for send in sends {
        accepted.extend(send.await.unwrap());
    }
    assert!(!accepted.is_empty(), "no ingest finished before shutdown");

    let server = Served::start(&database.url).await;
    let stored: HashSet<String> = server.walk(&client, &key, 1000).await.into_iter().collect();
    assert!(
        stored.is_superset(&accepted),
        "lost: {:?}",
        accepted.difference(&stored)
    );
    server.shut_down().await;
}

on_both_backends!(
    ing_11_concurrent_duplicates_accept_exactly_one,
    key_5_rotation_takes_effect_on_the_next_request,
    inbox_6_paging_while_ingesting_has_no_gaps_or_repeats,
    ops_4_metrics_count_requests_and_ingests,
    dur_2_shutdown_keeps_every_acknowledged_event,
);
