//! The dialect mechanism: one scenario fails against a variant server, and
//! passes through the variant's dialect with every mapping recorded.

mod common;

use common::{Variant, context, scenarios, start_fake};
use harness::dialect::{Dialect, load_dialect, parse_dialect};
use harness::scenario::Deviation;
use harness::scenario::runner::run_scenario;
use harness::verdict::Verdict;

const VARIANT: Variant = Variant {
    inbox_ack_route: true,
    ingest_200: true,
    event_id_field: true,
    offset_paging: false,
};

const DIALECT: &str = r#"
name = "variant"
description = "acks under the inbox, answers 200 on ingest and calls the id event_id"

[routes]
"POST /api/ack/{id}" = "POST /api/inbox/ack/{id}"

[status]
"POST /api/events" = { "200" = 202 }

[response_fields]
"POST /api/events" = { event_id = "id" }

[tiers]
pro = "professional"
"#;

const SCENARIO: &str = r#"
[[scenario]]
id = "ingest-then-ack"
title = "an ingested event can be acknowledged"
rules = ["ING-1", "ACK-1"]
level = "MUST"

[[scenario.steps]]
method = "POST"
path = "/api/events"
json = { type = "order.created", payload = { n = 1 } }
capture = { id = "$.id" }
expect.status = 202

[[scenario.steps]]
method = "POST"
path = "/api/ack/{{ id }}"
expect.status = 200
expect.json = [{ path = "$.id", equals = "{{ id }}" }]

[[scenario.steps]]
method = "GET"
path = "/api/inbox"
expect.json = [{ path = "$.events", length = 0 }]
"#;

async fn play(base: &str, dialect: Option<Dialect>) -> harness::scenario::ScenarioOutcome {
    let ctx = context(base, dialect).await;
    let outcome = run_scenario(&ctx, &scenarios(SCENARIO)[0]).await;
    ctx.sink.shutdown().await;
    outcome
}

fn deviation(mapping: &str, count: u64) -> Deviation {
    Deviation {
        dialect: "variant".into(),
        mapping: mapping.into(),
        count,
    }
}

#[tokio::test]
async fn the_variant_fails_without_its_dialect() {
    let base = start_fake(VARIANT).await;
    let outcome = play(&base, None).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("step \"step 1\": status expected 202 but was 200")
    );
}

#[tokio::test]
async fn the_variant_passes_through_its_dialect_with_deviations_recorded() {
    let base = start_fake(VARIANT).await;
    let outcome = play(&base, Some(parse_dialect(DIALECT).unwrap())).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    let expected = [
        deviation("response field POST /api/events event_id -> id", 1),
        deviation("route POST /api/ack/{id} -> POST /api/inbox/ack/{id}", 1),
        deviation("status POST /api/events 200 -> 202", 1),
        deviation("tier pro -> professional", 1),
        deviation("tier professional -> pro", 1),
    ];
    assert_eq!(outcome.deviations, expected);

    // The wire shows what the target really said; the judgement saw the contract form.
    let ack = &outcome.steps[2].exchanges[0];
    assert!(
        ack.request
            .url
            .starts_with(&format!("{base}/api/inbox/ack/"))
    );
    assert_eq!(
        outcome.steps[1].exchanges[0]
            .response
            .as_ref()
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn the_contract_server_needs_no_mapping_even_with_the_dialect_of_another() {
    let base = start_fake(Variant::default()).await;
    let outcome = play(&base, None).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    assert!(outcome.deviations.is_empty());
}

#[tokio::test]
async fn what_a_dialect_cannot_express_is_not_run_with_the_reason() {
    let base = start_fake(VARIANT).await;
    let no_ack = DIALECT.replace("\"POST /api/inbox/ack/{id}\"", "\"none\"");
    let outcome = play(&base, Some(parse_dialect(&no_ack).unwrap())).await;
    assert_eq!(outcome.verdict, Verdict::NotRun);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("dialect \"variant\" says the target has no route POST /api/ack/{id}")
    );

    let limit_only = format!("{DIALECT}\n[paging]\nstyle = \"none\"\n");
    let ctx = context(&base, Some(parse_dialect(&limit_only).unwrap())).await;
    let walk = "[[scenario]]\nid = \"walk\"\ntitle = \"t\"\nrules = [\"INBOX-6\"]\nlevel = \"MUST\"\n\
                [[scenario.steps]]\nmethod = \"GET\"\npath = \"/api/inbox\"\nquery = { limit = 1 }\n\
                capture = { next = \"$.next_cursor\" }\n";
    let outcome = run_scenario(&ctx, &scenarios(walk)[0]).await;
    assert_eq!(outcome.verdict, Verdict::NotRun);
    assert_eq!(
        outcome.reason.as_deref(),
        Some(
            "dialect \"variant\" says the target pages by limit only, and this scenario follows cursors"
        )
    );
}

const CURSOR_WALK: &str = r#"
[[scenario]]
id = "cursor-walk"
title = "three events over pages of two"
rules = ["INBOX-6"]
level = "MUST"

[[scenario.steps]]
kind = "repeat"
count = 3
method = "POST"
path = "/api/events"
json = { type = "t", payload = {} }

[[scenario.steps]]
method = "GET"
path = "/api/inbox"
query = { limit = 2 }
expect.json = [{ path = "$.events", length = 2 }, { path = "$.next_cursor", type = "string" }]
capture = { next = "$.next_cursor" }

[[scenario.steps]]
method = "GET"
path = "/api/inbox"
query = { limit = 2, cursor = "{{ next }}" }
expect.json = [{ path = "$.events", length = 1 }, { path = "$.next_cursor", type = "null" }]
"#;

#[tokio::test]
async fn offset_paging_is_walked_as_cursors() {
    let base = start_fake(Variant {
        offset_paging: true,
        ..Variant::default()
    })
    .await;
    let dialect = "name = \"variant\"\n[paging]\nstyle = \"offset\"\n";
    let ctx = context(&base, Some(parse_dialect(dialect).unwrap())).await;
    let outcome = run_scenario(&ctx, &scenarios(CURSOR_WALK)[0]).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    let expected = [
        deviation("paging cursor -> offset", 1),
        deviation("paging offset and total -> next_cursor", 2),
    ];
    assert_eq!(outcome.deviations, expected);
    assert!(
        outcome.steps[3].exchanges[0]
            .request
            .url
            .ends_with("/api/inbox?offset=2&limit=2")
    );

    let ctx = context(&base, None).await;
    let outcome = run_scenario(&ctx, &scenarios(CURSOR_WALK)[0]).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
}

#[tokio::test]
async fn webhook_bodies_are_mapped_and_counted() {
    let base = start_fake(VARIANT).await;
    let dialect = format!("{DIALECT}\n[webhook_fields]\nevent_id = \"id\"\n");
    let ctx = context(&base, Some(parse_dialect(&dialect).unwrap())).await;
    let text = r#"
[[scenario]]
id = "delivered"
title = "a delivery names the event"
rules = ["DLV-1"]
level = "MUST"
requires = ["webhook"]

[[scenario.steps]]
method = "POST"
path = "/api/webhook/config"
json = { webhook_url = "{{ sink_url }}" }

[[scenario.steps]]
method = "POST"
path = "/api/events"
json = { type = "order.created", payload = { n = 1 } }
capture = { id = "$.id" }

[[scenario.steps]]
kind = "webhook"
expect.json = [{ path = "$.id", equals = "{{ id }}" }]
"#;
    let outcome = run_scenario(&ctx, &scenarios(text)[0]).await;
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:#?}");
    assert!(
        outcome
            .deviations
            .contains(&deviation("webhook field event_id -> id", 1))
    );

    // Without the mapping the same delivery has no `id`.
    let ctx = context(&base, Some(parse_dialect(DIALECT).unwrap())).await;
    let outcome = run_scenario(&ctx, &scenarios(text)[0]).await;
    assert_eq!(outcome.verdict, Verdict::Fail);
    ctx.sink.shutdown().await;
}

#[test]
fn health_and_error_mappings() {
    let dialect = parse_dialect(
        "name = \"h\"\n[health]\npath = \"/health/ready\"\nok_values = [\"ok\", \"healthy\"]\n\
         [errors]\nmessage = \"$.detail\"\ncode = \"$.kind\"\n",
    )
    .unwrap();
    assert_eq!(dialect.health_path(), "/health/ready");
    assert!(dialect.health_ok(br#"{"status":"healthy"}"#));
    assert!(!dialect.health_ok(br#"{"status":"starting"}"#));
    assert!(!dialect.health_ok(b"ok"));
    assert_eq!(Dialect::contract().health_path(), "/health");
    assert!(Dialect::contract().health_ok(br#"{"status":"ok"}"#));

    let log = harness::dialect::DeviationLog::default();
    let mut body = serde_json::json!({ "detail": "no such event", "kind": "event_not_found" });
    assert_eq!(dialect.map_response(None, 404, Some(&mut body), &log), 404);
    assert_eq!(body["error"], "no such event");
    assert_eq!(body["code"], "event_not_found");
    let mappings: Vec<String> = log.deviations().into_iter().map(|d| d.mapping).collect();
    assert_eq!(
        mappings,
        [
            "error body $.detail -> $.error",
            "error body $.kind -> $.code"
        ]
    );
}

#[test]
fn bad_dialect_files_say_what_to_fix() {
    let cases = [
        (
            "name = \"x\"\nroute = {}\n",
            "2:1: unknown field `route`, expected one of `name`",
        ),
        (
            "name = \"x\"\n[routes]\n\"ack\" = \"POST /a\"\n",
            "route \"ack\" is malformed; write it like \"POST /api/ack/{id}\"",
        ),
        (
            "name = \"x\"\n[status]\n\"POST /a\" = { ok = 202 }\n",
            "\"ok\" is not a status",
        ),
        (
            "name = \"x\"\n[errors]\ncode = \"$[\"\n",
            "in [errors]: code \"$[\" is not a JSONPath",
        ),
        (
            "name = \"x\"\n[response_fields]\n\"GET /a\" = { \"events[]\" = \"x\" }\n",
            "field path \"events[]\" is malformed",
        ),
        (
            "name = \"x\"\n[paging]\nstyle = \"pages\"\n",
            "unknown variant `pages`",
        ),
    ];
    for (text, expected) in cases {
        let error = format!("{:#}", parse_dialect(text).unwrap_err());
        assert!(
            error.contains(expected),
            "expected {expected:?} in {error:?}"
        );
    }
    let missing = format!(
        "{:#}",
        load_dialect(std::path::Path::new("/nonexistent/d.toml")).unwrap_err()
    );
    assert!(
        missing.starts_with("reading dialect file \"/nonexistent/d.toml\""),
        "{missing}"
    );
}
