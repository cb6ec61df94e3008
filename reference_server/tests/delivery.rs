//! Webhook delivery (SPEC section 9) against real receivers on 127.0.0.1:
//! signatures, retries, dead letters, redirects, timeouts, isolation and
//! resuming after a restart.

mod support;

use std::time::Duration;

use reference_server::config::Config;
use serde_json::{Value, json};
use support::receiver::{Receiver, Reply, verify};
use support::{Backend, Call, TestApp};

/// A server on `backend` that delivers with `schedule` and a short attempt
/// timeout.
async fn delivering(backend: Backend, schedule: &[u64], timeout: Duration) -> TestApp {
    let schedule: Vec<Duration> = schedule
        .iter()
        .map(|ms| Duration::from_millis(*ms))
        .collect();
    TestApp::start_with(backend, move |config: &mut Config| {
        config.delivery_enabled = true;
        config.webhook_retry_schedule = schedule;
        config.webhook_timeout = timeout;
    })
    .await
}

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |event| event["status"] == status
}

async fn dlv_1_2_3_10_a_signed_delivery_marks_the_event_delivered(backend: Backend) {
    let app = delivering(backend, &[50], Duration::from_secs(5)).await;
    let receiver = Receiver::start(vec![], Reply::Status(204)).await;
    let key = app.key("free").await;
    let secret = app.configure_webhook(&key, &receiver.url).await;

    let payload = json!({ "order": 7, "text": "é😀" });
    let body = json!({ "type": "order.created", "payload": payload, "dedup_id": "o-7" });
    let with_dedup = app.ingest(&key, &body).await;
    let without_dedup = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    let event = app
        .wait_for(&key, &with_dedup, status_is("delivered"))
        .await;
    assert_eq!(event["attempts"], 1);
    assert_eq!(event["last_response_status"], 204);
    assert_eq!(event["last_error"], Value::Null);
    assert_eq!(event["next_attempt_at"], Value::Null);
    assert!(event["delivered_at"].is_string());
    app.wait_for(&key, &without_dedup, status_is("delivered"))
        .await;

    let received = receiver.wait_for(2).await;
    let first = received
        .iter()
        .find(|r| r.headers["webhook-id"] == with_dedup.as_str())
        .unwrap();
    assert!(verify(&secret, first), "signature does not verify");
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(first.headers["x-event-id"], with_dedup.as_str());
    assert_eq!(first.headers["x-event-type"], "order.created");
    let sent_at: i64 = first.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - sent_at).abs() < 30, "timestamp {sent_at} is not now");
    let delivered: Value = serde_json::from_slice(&first.body).unwrap();
    let expected = json!({
        "id": with_dedup, "type": "order.created", "timestamp": event["created_at"],
        "data": payload, "dedup_id": "o-7",
    });
    assert_eq!(delivered, expected);

    let second = received
        .iter()
        .find(|r| r.headers["webhook-id"] == without_dedup.as_str());
    let second: Value = serde_json::from_slice(&second.unwrap().body).unwrap();
    assert!(second.get("dedup_id").is_none(), "{second}");
    app.stop().await;
}

async fn dlv_5_6_failures_are_retried_with_the_same_webhook_id(backend: Backend) {
    let app = delivering(backend, &[50, 50, 50], Duration::from_secs(5)).await;
    let replies = vec![Reply::Status(500), Reply::Status(502)];
    let receiver = Receiver::start(replies, Reply::Status(200)).await;
    let key = app.key("free").await;
    let secret = app.configure_webhook(&key, &receiver.url).await;
    let id = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    let event = app.wait_for(&key, &id, status_is("delivered")).await;
    assert_eq!(event["attempts"], 3);
    let received = receiver.wait_for(3).await;
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.headers["webhook-id"], id.as_str());
        assert!(verify(&secret, request));
    }
    for pair in received.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(50),
            "retried too early"
        );
    }
    app.stop().await;
}

async fn dlv_5_10_exhausted_attempts_end_in_dead_letter(backend: Backend) {
    let app = delivering(backend, &[20, 20], Duration::from_secs(5)).await;
    let receiver = Receiver::start(vec![], Reply::Status(500)).await;
    let key = app.key("free").await;
    app.configure_webhook(&key, &receiver.url).await;
    let id = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    let failed = app
        .wait_for(&key, &id, |event| event["attempts"] == 1)
        .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["last_response_status"], 500);
    assert!(failed["next_attempt_at"].is_string());

    let event = app.wait_for(&key, &id, status_is("dead_letter")).await;
    assert_eq!(event["attempts"], 3);
    assert_eq!(event["last_response_status"], 500);
    assert!(event["last_error"].as_str().unwrap().contains("500"));
    assert_eq!(event["next_attempt_at"], Value::Null);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);
    app.stop().await;
}

async fn dlv_8_gone_stops_at_once(backend: Backend) {
    let app = delivering(backend, &[20, 20], Duration::from_secs(5)).await;
    let receiver = Receiver::start(vec![], Reply::Status(410)).await;
    let key = app.key("free").await;
    app.configure_webhook(&key, &receiver.url).await;
    let id = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    let event = app.wait_for(&key, &id, status_is("dead_letter")).await;
    assert_eq!(event["attempts"], 1);
    assert_eq!(event["last_response_status"], 410);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    app.stop().await;
}

async fn dlv_4_redirects_are_failures_and_not_followed(backend: Backend) {
    let app = delivering(backend, &[20], Duration::from_secs(5)).await;
    let target = Receiver::start(vec![], Reply::Status(200)).await;
    let redirect = Reply::WithHeader(302, "location", target.url.clone());
    let receiver = Receiver::start(vec![], redirect).await;
    let key = app.key("free").await;
    app.configure_webhook(&key, &receiver.url).await;
    let id = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    let event = app.wait_for(&key, &id, status_is("dead_letter")).await;
    assert_eq!(event["attempts"], 2);
    assert_eq!(event["last_response_status"], 302);
    assert!(target.received().is_empty(), "the redirect was followed");
    app.stop().await;
}

async fn dlv_9_a_receiver_that_hangs_fails_the_attempt(backend: Backend) {
    let app = delivering(backend, &[], Duration::from_millis(200)).await;
    let receiver = Receiver::start(vec![], Reply::Hang(Duration::from_secs(3))).await;
    let key = app.key("free").await;
    app.configure_webhook(&key, &receiver.url).await;
    let id = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    let event = app.wait_for(&key, &id, status_is("dead_letter")).await;
    assert_eq!(event["attempts"], 1);
    assert_eq!(event["last_response_status"], Value::Null);
    assert!(
        event["last_error"].as_str().unwrap().contains("in time"),
        "{event}"
    );
    app.stop().await;
}

async fn dlv_7_retry_after_delays_the_next_attempt(backend: Backend) {
    let app = delivering(backend, &[10], Duration::from_secs(5)).await;
    let replies = vec![Reply::WithHeader(503, "retry-after", "1".into())];
    let receiver = Receiver::start(replies, Reply::Status(200)).await;
    let key = app.key("free").await;
    app.configure_webhook(&key, &receiver.url).await;
    let id = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    app.wait_for(&key, &id, status_is("delivered")).await;
    let received = receiver.wait_for(2).await;
    assert!(received[1].at - received[0].at >= Duration::from_secs(1));
    app.stop().await;
}

async fn dlv_11_a_slow_receiver_slows_neither_ingest_nor_others(backend: Backend) {
    let app = delivering(backend, &[], Duration::from_secs(5)).await;
    let slow = Receiver::start(vec![], Reply::Hang(Duration::from_secs(4))).await;
    let fast = Receiver::start(vec![], Reply::Status(200)).await;
    let slow_key = app.key("pro").await;
    let fast_key = app.key("pro").await;
    app.configure_webhook(&slow_key, &slow.url).await;
    app.configure_webhook(&fast_key, &fast.url).await;

    let started = tokio::time::Instant::now();
    // More slow events than the worker has slots in all.
    for _ in 0..100 {
        app.ingest(&slow_key, &json!({ "type": "t", "payload": {} }))
            .await;
    }
    slow.wait_for(1).await;
    let id = app
        .ingest(&fast_key, &json!({ "type": "t", "payload": {} }))
        .await;
    app.wait_for(&fast_key, &id, status_is("delivered")).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

async fn hook_4_and_ack_4_no_delivery_after_removal_or_acknowledgement(backend: Backend) {
    let app = delivering(backend, &[300, 300, 300], Duration::from_secs(5)).await;
    let receiver = Receiver::start(vec![], Reply::Status(500)).await;
    let key = app.key("free").await;
    app.configure_webhook(&key, &receiver.url).await;

    // Acknowledging after the first failure cancels the retries.
    let acknowledged = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;
    app.wait_for(&key, &acknowledged, |event| event["attempts"] == 1)
        .await;
    let path = format!("/api/ack/{acknowledged}");
    app.check(Call::post(path).key(&key), 200, None).await;

    // After removal, new events stay in the inbox for pulling.
    let delete = Call::new(axum::http::Method::DELETE, "/api/webhook/config").key(&key);
    app.check(delete, 200, None).await;
    let pulled = app
        .ingest(&key, &json!({ "type": "t", "payload": {} }))
        .await;

    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(receiver.received().len(), 1);
    let event = app.event(&key, &acknowledged).await;
    assert_eq!(
        (event["status"].as_str(), event["attempts"].as_i64()),
        (Some("delivered"), Some(1))
    );
    let event = app.event(&key, &pulled).await;
    assert_eq!(event["status"], "pending");
    assert_eq!(event["next_attempt_at"], Value::Null);
    app.stop().await;
}

async fn dlv_12_stored_deliveries_resume_after_a_restart(backend: Backend) {
    let app = TestApp::start(backend).await;
    let receiver = Receiver::start(vec![], Reply::Status(200)).await;
    let key = app.key("free").await;
    let secret = app.configure_webhook(&key, &receiver.url).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.ingest(&key, &json!({ "type": "t", "payload": {} }))
                .await,
        );
    }
    assert!(receiver.received().is_empty());

    let app = app
        .restart_with(|config| config.delivery_enabled = true)
        .await;
    for id in &ids {
        app.wait_for(&key, id, status_is("delivered")).await;
    }
    let received = receiver.wait_for(3).await;
    assert!(received.iter().all(|request| verify(&secret, request)));
    app.stop().await;
}

on_both_backends!(
    dlv_1_2_3_10_a_signed_delivery_marks_the_event_delivered,
    dlv_5_6_failures_are_retried_with_the_same_webhook_id,
    dlv_5_10_exhausted_attempts_end_in_dead_letter,
    dlv_8_gone_stops_at_once,
    dlv_4_redirects_are_failures_and_not_followed,
    dlv_9_a_receiver_that_hangs_fails_the_attempt,
    dlv_7_retry_after_delays_the_next_attempt,
    dlv_11_a_slow_receiver_slows_neither_ingest_nor_others,
    hook_4_and_ack_4_no_delivery_after_removal_or_acknowledgement,
    dlv_12_stored_deliveries_resume_after_a_restart,
);
