//! The webhook sink and the Standard Webhooks signature check.

use std::time::Duration;

use harness::scenario::model::SinkResponse;
use harness::sink::Sink;
use harness::sink::signature::{SignatureError, sign, verify};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn signature_matches_the_published_standard_webhooks_example() {
    let body = br#"{"test": 2432232314}"#;
    let signature = sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body).unwrap();
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn verify_accepts_any_matching_signature_and_rejects_tampering() {
    let body = b"{\"id\":\"e1\"}";
    let good = sign(SECRET, "e1", "100", body).unwrap();
    let header = format!("v1,AAAA {good}");
    assert_eq!(
        verify(SECRET, Some("e1"), Some("100"), Some(&header), body),
        Ok(())
    );

    let tampered = verify(SECRET, Some("e1"), Some("101"), Some(&good), body);
    assert_eq!(tampered, Err(SignatureError::Mismatch(good.clone())));
    let other_body = verify(SECRET, Some("e1"), Some("100"), Some(&good), b"{}");
    assert!(matches!(other_body, Err(SignatureError::Mismatch(_))));
    let missing = verify(SECRET, Some("e1"), None, Some(&good), body);
    assert_eq!(
        missing,
        Err(SignatureError::MissingHeader("webhook-timestamp"))
    );
    let bad_secret = verify("secret", Some("e1"), Some("100"), Some(&good), body);
    assert_eq!(bad_secret, Err(SignatureError::MalformedSecret));
}

#[tokio::test]
async fn sink_answers_as_scripted_then_200_and_records_every_delivery() {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let scripted = vec![
        SinkResponse {
            status: 503,
            delay: None,
            delay_max: None,
            retry_after: Some(3),
        },
        SinkResponse {
            status: 410,
            delay: Some(Duration::from_millis(300)),
            delay_max: None,
            retry_after: None,
        },
    ];
    sink.script("s1", scripted);
    let client = reqwest::Client::new();
    let url = sink.url_for("s1");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/sink/s1"),
        "{url}"
    );

    let first = client
        .post(&url)
        .header("webhook-id", "e1")
        .body("one")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 503);
    assert_eq!(first.headers()["retry-after"], "3");
    let started = std::time::Instant::now();
    let second = client.post(&url).body("two").send().await.unwrap();
    assert_eq!(second.status(), 410);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let third = client.post(&url).body("three").send().await.unwrap();
    assert_eq!(third.status(), 200);

    let deliveries = sink.wait_for("s1", 3, Duration::from_secs(1)).await;
    let bodies: Vec<&[u8]> = deliveries.iter().map(|d| d.body.as_ref()).collect();
    assert_eq!(bodies, [b"one".as_ref(), b"two", b"three"]);
    let statuses: Vec<u16> = deliveries.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [503, 410, 200]);
    assert_eq!(deliveries[0].header("webhook-id"), Some("e1"));
    assert!(sink.deliveries("other").is_empty());
    sink.shutdown().await;
}

#[tokio::test]
async fn wait_for_returns_what_arrived_when_the_timeout_passes() {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = sink.url_for("s2");
    reqwest::Client::new()
        .post(&url)
        .body("only")
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let deliveries = sink.wait_for("s2", 2, Duration::from_millis(200)).await;
    assert_eq!(deliveries.len(), 1);
    assert!(started.elapsed() >= Duration::from_millis(200));

    let port = sink.address().port();
    sink.advertise_host("host.docker.internal");
    assert_eq!(
        sink.url_for("s3"),
        format!("http://host.docker.internal:{port}/sink/s3")
    );
    sink.shutdown().await;
}

#[tokio::test]
async fn named_endpoints_keep_their_own_script_and_deliveries_and_are_forgotten_with_their_key() {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sink.script(
        "s4/slow",
        vec![SinkResponse {
            status: 500,
            delay: None,
            delay_max: None,
            retry_after: None,
        }],
    );
    let client = reqwest::Client::new();
    let main = sink.url_for("s4");
    let slow = format!("{main}/slow");
    assert_eq!(slow, sink.url_for("s4/slow"));

    let answered = client.post(&slow).body("a").send().await.unwrap();
    assert_eq!(answered.status(), 500);
    let answered = client.post(&main).body("b").send().await.unwrap();
    assert_eq!(answered.status(), 200, "the main endpoint has no script");
    client
        .post(format!("{main}-other"))
        .body("c")
        .send()
        .await
        .unwrap();

    let slow_bodies: Vec<_> = sink
        .deliveries("s4/slow")
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_eq!(slow_bodies, [b"a".as_ref()]);
    assert_eq!(sink.deliveries("s4").len(), 1);

    sink.forget("s4");
    assert!(sink.deliveries("s4").is_empty());
    assert!(sink.deliveries("s4/slow").is_empty());
    assert_eq!(
        sink.deliveries("s4-other").len(),
        1,
        "a key that only starts alike is another scenario's"
    );
    sink.shutdown().await;
}

#[tokio::test]
async fn a_delay_range_holds_each_answer_for_a_time_within_it() {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let ranged = SinkResponse {
        status: 200,
        delay: Some(Duration::from_millis(100)),
        delay_max: Some(Duration::from_millis(300)),
        retry_after: None,
    };
    sink.script("s5", vec![ranged; 3]);
    let client = reqwest::Client::new();
    let url = sink.url_for("s5");
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let answer = client.post(&url).body("x").send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let held = started.elapsed();
        assert!(held >= Duration::from_millis(100), "held only {held:?}");
        assert!(held < Duration::from_secs(5), "held {held:?}");
    }
    sink.shutdown().await;
}
