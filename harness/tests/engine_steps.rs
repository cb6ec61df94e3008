//! Every step kind played against a small in-memory server on 127.0.0.1:0,
//! and the verdicts the runner derives from what happened.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Variant, context, scenarios, start_fake};
use harness::scenario::runner::run_scenario;
use harness::scenario::{ScenarioOutcome, run_scenarios};
use harness::verdict::Verdict;

const HEAD: &str = "[[scenario]]\nid = \"s\"\ntitle = \"t\"\nrules = [\"ING-1\"]\n";

async fn play(base_url: &str, text: &str) -> ScenarioOutcome {
    let ctx = context(base_url, None).await;
    let outcome = run_scenario(&ctx, &scenarios(text)[0]).await;
    ctx.sink.shutdown().await;
    outcome
}

const INGEST_ACK: &str = r#"level = "MUST"

[[scenario.steps]]
name = "ingest"
method = "POST"
path = "/api/events"
json = { type = "order.created", payload = { n = 1 }, dedup_id = "{{ unique('d') }}" }
capture = { id = "$.id", dedup = "$.dedup_id" }
expect.status = 202
expect.json = [{ path = "$.status", equals = "accepted" }]

[[scenario.steps]]
name = "listed"
method = "GET"
path = "/api/inbox"
expect.json = [{ path = "$.events[*].id", contains = "{{ id }}" }]

[[scenario.steps]]
name = "ack"
method = "POST"
path = "/api/ack/{{ id }}"
expect.status = 200

[[scenario.steps]]
name = "gone from the inbox"
method = "GET"
path = "/api/inbox"
expect.json = [{ path = "$.events", length = 0 }]

[[scenario.steps]]
name = "duplicate"
method = "POST"
path = "/api/events"
json = { type = "order.created", payload = {}, dedup_id = "{{ dedup }}" }
expect.status = 409
expect.error = "duplicate_event"
expect.json = [{ path = "$.original_id", equals = "{{ id }}" }]
"#;

#[tokio::test]
async fn request_steps_capture_and_pass_with_redacted_records() {
    let base = start_fake(Variant::default()).await;
    let outcome = play(&base, &format!("{HEAD}{INGEST_ACK}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    assert_eq!(outcome.reason, None);
    let kinds: Vec<&str> = outcome.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "setup", "request", "request", "request", "request", "request"
        ]
    );
    assert!(outcome.deviations.is_empty());

    let ingest = &outcome.steps[1].exchanges[0];
    assert_eq!(ingest.request.method, "POST");
    assert_eq!(ingest.request.url, format!("{base}/api/events"));
    assert!(
        ingest
            .request
            .headers
            .contains(&("x-api-key".into(), "trg_[redacted]".into()))
    );
    let setup_answer = outcome.steps[0].exchanges[0].response.as_ref().unwrap();
    assert_eq!(setup_answer.status, 201);
    assert!(
        setup_answer
            .body
            .as_ref()
            .unwrap()
            .contains("\"api_key\":\"trg_[redacted]\"")
    );
}

#[tokio::test]
async fn an_explicit_key_header_replaces_the_organisation_key() {
    let base = start_fake(Variant::default()).await;
    let text = "level = \"MUST\"\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/api/inbox\"\n\
                headers = { \"X-API-Key\" = \"trg_never_issued\" }\nexpect.status = 401\n\
                expect.error = \"invalid_api_key\"\n\
                [[scenario.steps]]\nmethod = \"GET\"\npath = \"/api/inbox\"\nauth = \"{{ orgs.main.key }}\"\n\
                expect.status = 200\n";
    let outcome = play(&base, &format!("{HEAD}{text}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    let headers = &outcome.steps[1].exchanges[0].request.headers;
    let keys: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "x-api-key")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(keys, ["trg_[redacted]"]);
}

#[tokio::test]
async fn a_failed_must_fails_and_stops_while_a_failed_should_is_non_strict() {
    let base = start_fake(Variant::default()).await;
    let must = "level = \"MUST\"\n[[scenario.steps]]\nname = \"wrong\"\nmethod = \"POST\"\npath = \"/api/events\"\n\
                json = { type = \"t\", payload = {} }\nexpect.status = 201\n\
                [[scenario.steps]]\nname = \"never\"\nmethod = \"GET\"\npath = \"/api/inbox\"\n";
    let outcome = play(&base, &format!("{HEAD}{must}")).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("step \"wrong\": status expected 201 but was 202")
    );
    assert_eq!(
        outcome.steps.len(),
        2,
        "the step after a failed MUST does not run"
    );
    let failure = &outcome.steps[1].failures[0];
    assert_eq!(
        (failure.expected.clone(), failure.actual.clone()),
        (201.into(), 202.into())
    );

    let should = "level = \"MUST\"\n[[scenario.steps]]\nmethod = \"POST\"\npath = \"/api/events\"\n\
                  json = { type = \"t\", payload = {} }\nexpect.status = 202\n\
                  expect.headers = { x-ratelimit-limit = { exists = true, level = \"SHOULD\" } }\n";
    let outcome = play(&base, &format!("{HEAD}{should}")).await;
    assert_eq!(outcome.verdict, Verdict::NonStrict);

    let mixed = "level = \"MUST\"\n[[scenario.steps]]\nname = \"mixed\"\nmethod = \"GET\"\npath = \"/health\"\n\
                 expect.level = \"SHOULD\"\nexpect.status = 204\n\
                 expect.json = [{ path = \"$.nope\", exists = true, level = \"MUST\" }]\n";
    let outcome = play(&base, &format!("{HEAD}{mixed}")).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    let reason = outcome.reason.as_deref();
    assert_eq!(
        reason,
        Some("step \"mixed\": json $.nope exists expected true but was null")
    );

    let should_scenario = "level = \"SHOULD\"\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/health\"\nexpect.status = 204\n";
    let outcome = play(&base, &format!("{HEAD}{should_scenario}")).await;
    assert_eq!(outcome.verdict, Verdict::NonStrict);
}

#[tokio::test]
async fn poll_repeats_until_its_expectations_hold_or_times_out() {
    let base = start_fake(Variant::default()).await;
    let poll = "level = \"MUST\"\n[[scenario.steps]]\nkind = \"poll\"\ninterval = \"10ms\"\ntimeout = \"2s\"\n\
                method = \"GET\"\npath = \"/counter\"\nexpect.json = [{ path = \"$.n\", ge = 3 }]\ncapture = { n = \"$.n\" }\n\
                [[scenario.steps]]\nmethod = \"GET\"\npath = \"/counter\"\nexpect.json = [{ path = \"$.n\", equals = \"{{ n + 1 }}\" }]\n";
    let outcome = play(&base, &format!("{HEAD}{poll}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");

    let never = "level = \"MUST\"\n[[scenario.steps]]\nkind = \"poll\"\ninterval = \"50ms\"\ntimeout = \"200ms\"\n\
                 method = \"GET\"\npath = \"/counter\"\nexpect.json = [{ path = \"$.n\", lt = 0 }]\n";
    let outcome = play(&base, &format!("{HEAD}{never}")).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    let expectation = &outcome.steps[1].failures[0].expectation;
    assert!(
        expectation.starts_with("json $.n lt (after "),
        "{expectation}"
    );
}

#[tokio::test]
async fn repeat_and_concurrent_judge_the_set_of_answers() {
    let base = start_fake(Variant::default()).await;
    for kind in ["repeat", "concurrent"] {
        let text = format!(
            "{HEAD}level = \"MUST\"\n[[scenario.steps]]\nkind = \"{kind}\"\ncount = 12\nmethod = \"POST\"\n\
             path = \"/api/events\"\njson = {{ type = \"t\", payload = {{}}, dedup_id = \"{{{{ unique('d') }}}}\" }}\n\
             expect.status = [202, 409]\nexpect_set.counts = {{ \"202\" = \"1\", \"409\" = \"rest\" }}\n\
             expect_set.same = [\"$.original_id\"]\ncapture = {{ first = \"$.id\" }}\n\
             [[scenario.steps]]\nmethod = \"GET\"\npath = \"/api/inbox\"\n\
             expect.json = [{{ path = \"$.events[*].id\", equals = \"{{{{ first }}}}\" }}]\n"
        );
        let outcome = play(&base, &text).await;
        assert_eq!(outcome.verdict, Verdict::Pass, "{kind}: {outcome:#?}");
        assert_eq!(outcome.steps[1].exchanges.len(), 12);
    }

    let wrong = format!(
        "{HEAD}level = \"MUST\"\n[[scenario.steps]]\nkind = \"repeat\"\ncount = 3\nmethod = \"POST\"\n\
         path = \"/api/events\"\njson = {{ type = \"t\", payload = {{}} }}\nexpect_set.counts = {{ \"202\" = \"1\" }}\n"
    );
    let outcome = play(&base, &wrong).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    let expectations: Vec<&str> = outcome.steps[1]
        .failures
        .iter()
        .map(|f| f.expectation.as_str())
        .collect();
    assert_eq!(expectations, ["expect_set count of 202"]);
}

const WEBHOOK: &str = r#"level = "MUST"
requires = ["webhook"]

[[scenario.steps]]
method = "POST"
path = "/api/webhook/config"
json = { webhook_url = "{{ sink_url }}" }
capture = { secret = "$.webhook_secret" }

[[scenario.steps]]
kind = "sink"
responses = [{ status = 500 }]

[[scenario.steps]]
method = "POST"
path = "/api/events"
json = { type = "order.created", payload = { n = 7 } }
capture = { id = "$.id" }

[[scenario.steps]]
kind = "webhook"
count = 2
timeout = "3s"
signature = true
secret = "secret"
same_webhook_id = true
min_spacing = "50ms"
expect.headers = { webhook-id = { equals = "{{ id }}" } }
expect.json = [{ path = "$.data.n", equals = 7 }, { path = "$.id", equals = "{{ id }}" }]
"#;

#[tokio::test]
async fn sink_and_webhook_steps_check_retries_signatures_and_content() {
    let base = start_fake(Variant::default()).await;
    let outcome = play(&base, &format!("{HEAD}{WEBHOOK}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    let deliveries = &outcome.steps[4].exchanges;
    let statuses: Vec<u16> = deliveries
        .iter()
        .map(|d| d.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [500, 200]);

    // Three deliveries expected, two arrive, and the spacing bound is far too long.
    let strict = WEBHOOK
        .replace("count = 2", "count = 3")
        .replace("\"3s\"", "\"1s\"")
        .replace("\"50ms\"", "\"10s\"");
    let outcome = play(&base, &format!("{HEAD}{strict}")).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    let expectations: Vec<&str> = outcome.steps[4]
        .failures
        .iter()
        .map(|f| f.expectation.as_str())
        .collect();
    assert_eq!(
        expectations,
        ["webhook count", "spacing between deliveries 1 and 2"]
    );
}

#[tokio::test]
async fn a_named_endpoint_has_its_own_script_and_its_own_deliveries() {
    let base = start_fake(Variant::default()).await;
    let named = WEBHOOK
        .replace("{{ sink_url }}", "{{ sink_url }}/busy")
        .replace(
            "kind = \"sink\"\nresponses = [{ status = 500 }]",
            "kind = \"sink\"\nendpoint = \"busy\"\nresponses = [{ status = 500, times = 2 }]",
        )
        .replace(
            "kind = \"webhook\"\n",
            "kind = \"webhook\"\nendpoint = \"busy\"\n",
        )
        .replace("min_spacing = \"50ms\"\n", "")
        .replace(
            "expect.json = [{ path = \"$.data.n\", equals = 7 }, ",
            "expect.json = [",
        );
    let main_is_empty =
        "\n[[scenario.steps]]\nkind = \"webhook\"\ncount = 0\ntimeout = \"200ms\"\n";
    let outcome = play(&base, &format!("{HEAD}{named}{main_is_empty}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    let statuses: Vec<u16> = outcome.steps[4]
        .exchanges
        .iter()
        .map(|d| d.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [500, 500], "both scripted copies were used");
    assert!(
        outcome.steps[4].exchanges[0].request.url.ends_with("/busy"),
        "{:?}",
        outcome.steps[4].exchanges[0].request.url
    );
    assert!(outcome.steps[5].exchanges.is_empty());
}

#[tokio::test]
async fn sleep_waits_and_generated_bodies_have_exact_sizes() {
    let base = start_fake(Variant::default()).await;
    let text = "level = \"MUST\"\n[[scenario.steps]]\nkind = \"sleep\"\nduration = \"150ms\"\n\
                [[scenario.steps]]\nmethod = \"POST\"\npath = \"/echo\"\ngenerate = { kind = \"event\", bytes = 262144 }\n\
                expect.json = [{ path = \"$.bytes\", equals = 262144 }, { path = \"$.content_type\", equals = \"application/json\" }]\n\
                [[scenario.steps]]\nmethod = \"POST\"\npath = \"/echo\"\ngenerate = { kind = \"filler\", bytes = 10 }\n\
                headers = { content-type = \"text/plain\" }\n\
                expect.json = [{ path = \"$.bytes\", equals = 10 }, { path = \"$.content_type\", equals = \"text/plain\" }]\n";
    let outcome = play(&base, &format!("{HEAD}{text}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    assert!(outcome.duration_ms >= 150);
}

/// A server that reads only the request head, answers, and closes the
/// connection: key generation gets 201, everything else 413.
async fn start_early_closer() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1
                {
                    head.push(byte[0]);
                }
                let (status, body) = match head.starts_with(b"POST /api/keys/generate ") {
                    true => (
                        "201 Created",
                        r#"{"api_key":"trg_x","organization_id":"o"}"#,
                    ),
                    false => (
                        "413 Payload Too Large",
                        r#"{"error":"too large","code":"payload_too_large"}"#,
                    ),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).await.ok();
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn an_early_answer_to_a_huge_body_is_judged_not_a_broken_pipe() {
    let base = start_early_closer().await;
    let text = "level = \"MUST\"\n[[scenario.steps]]\nmethod = \"POST\"\npath = \"/api/events\"\n\
                generate = { kind = \"filler\", bytes = 16777216 }\nexpect.status = 413\n\
                expect.error = \"payload_too_large\"\n";
    let outcome = play(&base, &format!("{HEAD}{text}")).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    let request = &outcome.steps[1].exchanges[0].request;
    assert!(
        request
            .body
            .as_ref()
            .unwrap()
            .ends_with("... (16777216 bytes in all)")
    );
}

#[tokio::test]
async fn missing_capabilities_and_control_without_a_handle_are_not_run() {
    let base = start_fake(Variant::default()).await;
    let restart = "level = \"MUST\"\nrequires = [\"restart\"]\n[[scenario.steps]]\nkind = \"control\"\naction = \"restart\"\n";
    let outcome = play(&base, &format!("{HEAD}{restart}")).await;
    assert_eq!(outcome.verdict, Verdict::NotRun);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("target \"fake\" lacks the \"restart\" capability")
    );
    assert!(outcome.steps.is_empty());

    let unannounced =
        "level = \"MUST\"\n[[scenario.steps]]\nkind = \"control\"\naction = \"restart\"\n";
    let outcome = play(&base, &format!("{HEAD}{unannounced}")).await;
    assert_eq!(outcome.verdict, Verdict::NotRun);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("target \"fake\" has no control handle for a restart")
    );
}

struct Restarter {
    new_base: String,
}

#[async_trait::async_trait]
impl harness::scenario::TargetControl for Restarter {
    async fn restart(&self) -> anyhow::Result<String> {
        Ok(self.new_base.clone())
    }
}

#[tokio::test]
async fn control_restart_moves_the_run_to_the_new_base_url() {
    let first = start_fake(Variant::default()).await;
    let second = start_fake(Variant::default()).await;
    let mut ctx = context(&first, None).await;
    ctx.capabilities.insert("restart".into());
    ctx.control = Some(Arc::new(Restarter {
        new_base: second.clone(),
    }));
    let text = format!(
        "{HEAD}level = \"MUST\"\nrequires = [\"restart\"]\n[[scenario.steps]]\nkind = \"control\"\naction = \"kill_and_start\"\n\
         [[scenario.steps]]\nmethod = \"GET\"\npath = \"/health\"\nauth = \"none\"\nexpect.status = 200\n"
    );
    let outcome = run_scenario(&ctx, &scenarios(&text)[0]).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    assert_eq!(
        outcome.steps[2].exchanges[0].request.url,
        format!("{second}/health")
    );
    assert_eq!(*ctx.base_url.read().unwrap(), second);
}

#[tokio::test]
async fn an_unreachable_slow_or_flooding_target_is_an_error() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let health = "level = \"MUST\"\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/health\"\n";
    let outcome = play(&closed, &format!("{HEAD}{health}")).await;
    assert_eq!(outcome.verdict, Verdict::Error);
    let reason = outcome.reason.unwrap();
    let expected = format!("no answer to POST {closed}/api/keys/generate: error sending request");
    assert!(reason.starts_with(&expected), "{reason}");
    assert!(
        reason.ends_with("Connection refused (os error 111)"),
        "{reason}"
    );

    let base = start_fake(Variant::default()).await;
    let slow = "level = \"MUST\"\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/slow\"\n";
    let started = std::time::Instant::now();
    let outcome = play(&base, &format!("{HEAD}{slow}")).await;
    assert_eq!(outcome.verdict, Verdict::Error);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the 2 s request timeout applies"
    );
    assert!(
        outcome
            .reason
            .unwrap()
            .starts_with(&format!("no answer to GET {base}/slow"))
    );

    let huge = "level = \"MUST\"\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/huge\"\n";
    let outcome = play(&base, &format!("{HEAD}{huge}")).await;
    assert_eq!(outcome.verdict, Verdict::Error);
    assert!(
        outcome
            .reason
            .unwrap()
            .ends_with("the answer body exceeds 1048576 bytes")
    );
}

#[tokio::test]
async fn scenarios_run_in_parallel_and_come_back_in_order() {
    let base = start_fake(Variant::default()).await;
    let ctx = context(&base, None).await;
    let text: String = (0..6)
        .map(|n| {
            format!(
                "[[scenario]]\nid = \"s{n}\"\ntitle = \"t\"\nrules = [\"OPS-1\"]\nlevel = \"MUST\"\n\
                 [[scenario.steps]]\nkind = \"sleep\"\nduration = \"300ms\"\n"
            )
        })
        .collect();
    let loaded = scenarios(&text);
    let selected: Vec<_> = loaded.iter().collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let outcomes = run_scenarios(&ctx, &selected, 6, |_| {
        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "six 300 ms scenarios overlap"
    );
    let ids: Vec<&str> = outcomes.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["s0", "s1", "s2", "s3", "s4", "s5"]);
    assert_eq!(done.load(std::sync::atomic::Ordering::SeqCst), 6);
}
