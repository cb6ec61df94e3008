//! Every expectation kind, judged on fixed answers: each row says which checks fail.

use std::path::Path;

use harness::scenario::expect::{Observed, check, check_set};
use harness::scenario::model::{Expect, Level, StepAction};
use harness::scenario::template::Templates;
use harness::scenario::{Schemas, load_scenarios_from_str};
use serde_json::{Value, json};

/// The `expect` of a one-step scenario whose step carries `lines`.
fn expect_of(lines: &str) -> Expect {
    let text = format!(
        "[[scenario]]\nid = \"s\"\ntitle = \"t\"\nrules = [\"GEN-1\"]\nlevel = \"MUST\"\n\
         [[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\n{lines}\n"
    );
    let scenarios = load_scenarios_from_str(Path::new("x.toml"), &text).unwrap();
    match &scenarios[0].steps[0].action {
        StepAction::Request(request) => request.expect.clone(),
        other => panic!("expected a request step, got {}", other.kind()),
    }
}

fn schemas() -> Schemas {
    Schemas::from_document(json!({
        "openapi": "3.1.0",
        "components": { "schemas": {
            "Accepted": {
                "type": "object",
                "required": ["id", "status"],
                "properties": { "id": { "$ref": "#/components/schemas/Id" }, "status": { "const": "accepted" } }
            },
            "Id": { "type": "string", "minLength": 1 }
        }}
    }))
}

/// Judges `body` (JSON) with status 200 and the given headers; returns the failed expectations.
fn failures(
    lines: &str,
    status: u16,
    headers: &[(&str, &str)],
    body: Value,
) -> Vec<(String, Level)> {
    let mut templates = Templates::new(1, "s");
    templates.set("wanted", json!("e-1"));
    templates.set("limit", json!(3));
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let text = body.to_string();
    let observed = Observed {
        status,
        headers: &headers,
        json: Some(&body),
        text: &text,
        elapsed: Some(std::time::Duration::from_millis(40)),
    };
    check(&expect_of(lines), &observed, &templates, &schemas())
        .into_iter()
        .map(|failure| (failure.expectation, failure.level))
        .collect()
}

fn names(lines: &str, body: Value) -> Vec<String> {
    failures(lines, 200, &[], body)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn json_assertions() {
    let body = json!({
        "id": "e-1", "n": 5, "f": 2.5, "list": [1, 2, 3], "name": "order.created",
        "events": [{ "id": "e-1" }, { "id": "e-2" }], "none": null, "flag": true
    });
    let cases: &[(&str, &[&str])] = &[
        (r#"expect.json = [{ path = "$.id", exists = true }]"#, &[]),
        (
            r#"expect.json = [{ path = "$.missing", exists = true }]"#,
            &["json $.missing exists"],
        ),
        (
            r#"expect.json = [{ path = "$.missing", exists = false }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.id", equals = "{{ wanted }}" }]"#,
            &[],
        ),
        (r#"expect.json = [{ path = "$.n", equals = 5.0 }]"#, &[]),
        (
            r#"expect.json = [{ path = "$.n", equals = "{{ limit }}" }]"#,
            &["json $.n equals"],
        ),
        (
            r#"expect.json = [{ path = "$.list", equals = [1, 2, 3] }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.id", not_equals = "e-2" }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.id", not_equals = "e-1" }]"#,
            &["json $.id not_equals"],
        ),
        (
            r#"expect.json = [{ path = "$.n", type = "integer" }, { path = "$.f", type = "integer" }]"#,
            &["json $.f type"],
        ),
        (
            r#"expect.json = [{ path = "$.none", type = "null" }, { path = "$.flag", type = "boolean" }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.name", matches = "^order\\." }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.n", matches = "5" }]"#,
            &["json $.n matches"],
        ),
        (
            r#"expect.json = [{ path = "$.list", length = 3 }, { path = "$.name", length = 13 }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.list", length = 2 }]"#,
            &["json $.list length"],
        ),
        (
            r#"expect.json = [{ path = "$.events[*].id", contains = "{{ wanted }}" }]"#,
            &[],
        ),
        (r#"expect.json = [{ path = "$.list", contains = 2 }]"#, &[]),
        (
            r#"expect.json = [{ path = "$.events[*].id", not_contains = "e-3" }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.events[*].id", not_contains = "e-2" }]"#,
            &["json $.events[*].id not_contains"],
        ),
        (
            r#"expect.json = [{ path = "$.events[*]", count = 2 }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.events[*]", count = 3 }]"#,
            &["json $.events[*] count"],
        ),
        (
            r#"expect.json = [{ path = "$.n", gt = 4, ge = 5, lt = 6, le = 5 }]"#,
            &[],
        ),
        (
            r#"expect.json = [{ path = "$.n", lt = "{{ limit }}" }]"#,
            &["json $.n lt"],
        ),
        (r#"expect.json = [{ path = "$.list[*]", le = 3 }]"#, &[]),
        (
            r#"expect.json = [{ path = "$.missing", gt = 0 }]"#,
            &["json $.missing gt"],
        ),
    ];
    for (lines, expected) in cases {
        assert_eq!(names(lines, body.clone()), *expected, "for {lines}");
    }
}

/// Expect lines, status, headers, body, and the expectations that must fail.
type Case = (
    &'static str,
    u16,
    &'static [(&'static str, &'static str)],
    Value,
    &'static [&'static str],
);

#[test]
fn status_error_schema_and_headers() {
    let error_body = json!({ "error": "already seen", "code": "duplicate_event" });
    let cases: &[Case] = &[
        ("expect.status = 202", 202, &[], json!({}), &[]),
        ("expect.status = 202", 200, &[], json!({}), &["status"]),
        ("expect.status = [200, 204]", 204, &[], json!({}), &[]),
        (
            r#"expect.error = "duplicate_event""#,
            409,
            &[],
            error_body.clone(),
            &[],
        ),
        (
            r#"expect.error = "rate_limited""#,
            409,
            &[],
            error_body.clone(),
            &["error body"],
        ),
        (
            r#"expect.error = "duplicate_event""#,
            409,
            &[],
            json!({ "code": "duplicate_event" }),
            &["error body"],
        ),
        (
            r#"expect.schema = "Accepted""#,
            202,
            &[],
            json!({ "id": "e", "status": "accepted" }),
            &[],
        ),
        (
            r#"expect.schema = "Accepted""#,
            202,
            &[],
            json!({ "id": "", "status": "accepted" }),
            &["schema Accepted"],
        ),
        (
            r#"expect.schema = "Missing""#,
            202,
            &[],
            json!({}),
            &["schema Missing"],
        ),
        (
            r#"expect.headers = { retry-after = { exists = true } }"#,
            429,
            &[("retry-after", "3")],
            json!({}),
            &[],
        ),
        (
            r#"expect.headers = { retry-after = { exists = false } }"#,
            429,
            &[("retry-after", "3")],
            json!({}),
            &["header retry-after exists"],
        ),
        (
            r#"expect.headers = { X-Id = { equals = "{{ wanted }}" } }"#,
            200,
            &[("x-id", "e-1")],
            json!({}),
            &[],
        ),
        (
            r#"expect.headers = { x-id = { matches = "^[0-9]+$" } }"#,
            200,
            &[("x-id", "e-1")],
            json!({}),
            &["header x-id matches"],
        ),
        (
            r#"expect.body_contains = ["already", "{{ wanted }}"]"#,
            409,
            &[],
            json!({ "error": "already seen e-1" }),
            &[],
        ),
        (
            r#"expect.body_contains = ["missing text"]"#,
            409,
            &[],
            error_body.clone(),
            &["body contains \"missing text\""],
        ),
        // Every answer in this table took 40 ms.
        (r#"expect.max_elapsed = "100ms""#, 200, &[], json!({}), &[]),
        (
            r#"expect.max_elapsed = "10ms""#,
            200,
            &[],
            json!({}),
            &["elapsed"],
        ),
    ];
    for (lines, status, headers, body, expected) in cases {
        let found: Vec<String> = failures(lines, *status, headers, body.clone())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(found, *expected, "for {lines}");
    }
}

#[test]
fn levels_follow_the_expectation_then_the_expect_table() {
    let lines = "expect.level = \"SHOULD\"\nexpect.status = 202\n\
                 expect.json = [{ path = \"$.a\", exists = true, level = \"MUST\" }, { path = \"$.b\", exists = true }]";
    let found = failures(lines, 200, &[], json!({}));
    let expected = [
        ("status".to_string(), Level::Should),
        ("json $.a exists".to_string(), Level::Must),
        ("json $.b exists".to_string(), Level::Should),
    ];
    assert_eq!(found, expected);
}

#[test]
fn expect_set_counts_and_same_values() {
    let text = "[[scenario]]\nid = \"s\"\ntitle = \"t\"\nrules = [\"ING-11\"]\nlevel = \"MUST\"\n\
                [[scenario.steps]]\nkind = \"concurrent\"\ncount = 4\nmethod = \"POST\"\npath = \"/api/events\"\n\
                expect_set.counts = { \"202\" = \"1\", \"409\" = \"rest\", \"429\" = \"<= 1\" }\n\
                expect_set.same = [\"$.original_id\"]\n";
    let scenarios = load_scenarios_from_str(Path::new("x.toml"), text).unwrap();
    let StepAction::Concurrent { expect_set, .. } = &scenarios[0].steps[0].action else {
        panic!("expected a concurrent step");
    };
    let judge = |answers: &[(u16, Option<Value>)]| -> Vec<String> {
        check_set(expect_set, answers, Level::Must)
            .into_iter()
            .map(|f| f.expectation)
            .collect()
    };
    let conflict = |id: &str| (409, Some(json!({ "original_id": id })));
    let accepted = (202, Some(json!({ "id": "a" })));

    assert!(
        judge(&[
            accepted.clone(),
            conflict("a"),
            conflict("a"),
            conflict("a")
        ])
        .is_empty()
    );
    assert_eq!(
        judge(&[
            accepted.clone(),
            accepted.clone(),
            conflict("a"),
            conflict("a")
        ]),
        ["expect_set count of 202"]
    );
    assert_eq!(
        judge(&[
            accepted.clone(),
            conflict("a"),
            conflict("b"),
            conflict("a")
        ]),
        ["expect_set same $.original_id"]
    );
    assert_eq!(
        judge(&[accepted.clone(), conflict("a"), (500, None), conflict("a")]),
        ["expect_set statuses"]
    );
    assert_eq!(
        judge(&[accepted, (429, None), (429, None), conflict("a")]),
        ["expect_set count of 429"]
    );
}
