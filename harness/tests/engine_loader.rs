//! Loading scenario files: every mistake is reported with file, line, column
//! and what to fix; good files become the checked model.

use std::path::Path;
use std::time::Duration;

use harness::scenario::model::{Auth, Body, ControlAction, Generate, Level, StepAction};
use harness::scenario::{ScenarioFilter, load_scenarios_from_str, load_spec_rules, load_suite};

const HEAD: &str =
    "[[scenario]]\nid = \"s\"\ntitle = \"t\"\nrules = [\"ING-1\"]\nlevel = \"MUST\"\n";

/// Loads `HEAD` plus `rest` and returns the error text, which must exist.
fn error_of(rest: &str) -> String {
    let text = format!("{HEAD}{rest}");
    match load_scenarios_from_str(Path::new("x.toml"), &text) {
        Ok(_) => panic!("expected a loading error for:\n{text}"),
        Err(error) => format!("{error:#}"),
    }
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let error = error_of("\n[[scenario.steps]]\nmethod = GET\n");
    assert!(error.starts_with("x.toml:8:"), "{error}");
    assert!(error.contains("string values must be quoted"), "{error}");
}

#[test]
fn each_mistake_is_reported_where_it_is() {
    let cases: &[(&str, &str)] = &[
        (
            "\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\nbodyy = \"a\"\n",
            "x.toml:10:1: unknown field `bodyy`",
        ),
        (
            "\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\nexpect.json = [{ path = \"$.a[\", exists = true }]\n",
            "x.toml:10:26: JSONPath \"$.a[\" is invalid (at position 3, parser error)",
        ),
        (
            "\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\nexpect.headers = { x = { matches = \"(\" } }\n",
            "x.toml:10:37: regex \"(\" is invalid: unclosed group",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"teleport\"\n",
            "x.toml:8:1: step kind \"teleport\" is unknown; use request, poll",
        ),
        (
            "\n[[scenario.steps]]\nmethod = \"POST\"\npath = \"/x\"\njson = {}\nbody = \"raw\"\n",
            "x.toml:7:1: a request has more than one body; keep only one of `json`, `body` and `generate`",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"sleep\"\nduration = \"soon\"\n",
            "x.toml:9:13: `duration` \"soon\" is not a duration; write it like \"250ms\", \"5s\" or \"2m\"",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"sleep\"\nduration = \"1s\"\nmethod = \"GET\"\n",
            "x.toml:10:1: field `method` does not apply to a sleep step; remove it or change `kind`",
        ),
        (
            "\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\nauth = \"someone\"\n",
            "x.toml:10:9: auth \"someone\" names no organisation of this scenario",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"repeat\"\nmethod = \"GET\"\npath = \"/x\"\ncount = 2\nexpect_set.counts = { \"202\" = \"most\" }\n",
            "x.toml:12:32: count \"most\" is malformed; use a number, \">= N\", \"<= N\" or \"rest\"",
        ),
        (
            "requires = [\"teleport\"]\n[[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\n",
            "x.toml:6:14: capability \"teleport\" is unknown; use one of [\"restart\", \"webhook\"]",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"webhook\"\nsignature = true\n",
            "x.toml:9:1: `signature = true` needs `secret`",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"sink\"\nendpoint = \"Slow Lane\"\n",
            "x.toml:9:13: endpoint \"Slow Lane\" is not a valid name; use up to 64 lowercase letters, digits and dashes",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"sink\"\nresponses = [{ status = 200, times = 0 }]\n",
            "x.toml:9:30: sink `times` 0 is out of range; use 1 to 10000",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"sleep\"\nduration = \"1s\"\nendpoint = \"b\"\n",
            "x.toml:10:1: field `endpoint` does not apply to a sleep step",
        ),
        (
            "\n[[scenario.steps]]\nkind = \"sink\"\nresponses = [{ status = 200, delay = \"2s..1s\" }]\n",
            "x.toml:9:39: `delay` \"2s..1s\" is not a range; write it like \"1s..2s\", the shorter first",
        ),
        (
            "",
            "x.toml:2:6: scenario \"s\" has no steps; add [[scenario.steps]] tables",
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .map(|(rest, expected)| (error_of(rest), expected))
        .filter(|(error, expected)| !error.contains(*expected))
        .map(|(error, expected)| format!("expected {expected:?} in:\n{error}"))
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn a_good_file_becomes_the_checked_model() {
    let text = format!(
        "{HEAD}tags = [\"ingest\"]\nrequires = [\"restart\"]\n[scenario.orgs]\nother = \"free\"\n\n\
         [[scenario.steps]]\nname = \"big\"\nmethod = \"post\"\npath = \"/api/events\"\nauth = \"other\"\n\
         generate = {{ kind = \"event\", bytes = 262144 }}\nexpect.status = [202, 413]\n\n\
         [[scenario.steps]]\nkind = \"control\"\naction = \"kill_and_start\"\n"
    );
    let scenarios = load_scenarios_from_str(Path::new("x.toml"), &text).unwrap();
    let scenario = &scenarios[0];
    assert_eq!(scenario.level, Level::Must);
    assert_eq!(scenario.line, 2);
    assert_eq!(scenario.orgs.get("main").map(String::as_str), Some("pro"));
    assert_eq!(scenario.orgs.get("other").map(String::as_str), Some("free"));

    let StepAction::Request(request) = &scenario.steps[0].action else {
        panic!("the first step is a request");
    };
    assert_eq!(scenario.steps[0].name, "big");
    assert_eq!(request.method, "POST");
    assert_eq!(request.auth, Auth::Org("other".into()));
    assert!(matches!(
        request.body,
        Body::Generate(Generate::Event { bytes: 262144 })
    ));
    assert_eq!(
        request.expect.status.as_ref().unwrap().check,
        vec![202, 413]
    );
    assert!(matches!(
        scenario.steps[1].action,
        StepAction::Control(ControlAction::KillAndStart)
    ));
    assert_eq!(scenario.steps[1].name, "step 2");
}

#[test]
fn a_sink_step_expands_times_and_reads_delay_ranges_for_its_endpoint() {
    let text = format!(
        "{HEAD}\n[[scenario.steps]]\nkind = \"sink\"\nendpoint = \"slow-1\"\n\
         responses = [{{ status = 500 }}, {{ status = 200, delay = \"1s..2s\", times = 3 }}]\n"
    );
    let scenarios = load_scenarios_from_str(Path::new("x.toml"), &text).unwrap();
    let StepAction::Sink {
        endpoint,
        responses,
    } = &scenarios[0].steps[0].action
    else {
        panic!("a sink step");
    };
    assert_eq!(endpoint.as_deref(), Some("slow-1"));
    let shapes: Vec<_> = responses
        .iter()
        .map(|r| (r.status, r.delay, r.delay_max))
        .collect();
    let ranged = (
        200,
        Some(Duration::from_secs(1)),
        Some(Duration::from_secs(2)),
    );
    assert_eq!(shapes, [(500, None, None), ranged, ranged, ranged]);
}

#[test]
fn a_suite_reports_duplicate_ids_across_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suite");
    let error = format!("{:#}", load_suite(&dir).unwrap_err());
    assert!(
        error.contains("b/two.toml:2: scenario id \"fixture-health\" is already used at"),
        "{error}"
    );
    assert!(error.contains("a/one.toml:2"), "{error}");
}

#[test]
fn a_suite_filters_by_id_tag_and_level() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suite/a");
    let suite = load_suite(&dir).unwrap();
    let by_tag = ScenarioFilter {
        tags: vec!["ops".into()],
        ..ScenarioFilter::default()
    };
    assert_eq!(suite.filter(&by_tag).len(), 1);
    let by_level = ScenarioFilter {
        levels: vec![Level::Should],
        ..ScenarioFilter::default()
    };
    assert_eq!(suite.filter(&by_level).len(), 0);
}

#[test]
fn spec_rules_are_read_with_level_and_section_and_check_the_suite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rules = load_spec_rules(&root.join("docs/SPEC.md")).unwrap();
    let dedup = rules.iter().find(|r| r.id == "ING-9").unwrap();
    assert_eq!(dedup.level, Level::Must);
    assert_eq!(dedup.section, "5. Ingest (ING)");
    assert!(
        rules
            .iter()
            .any(|r| r.id == "GEN-4" && r.level == Level::Should)
    );

    let suite =
        load_suite(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suite/a")).unwrap();
    suite.check_rules(&rules).unwrap();
    let coverage = suite.coverage(&rules);
    let ops = coverage
        .rules
        .iter()
        .find(|r| r.rule.id == "OPS-1")
        .unwrap();
    assert_eq!(ops.scenarios, ["fixture-health"]);
    assert!(coverage.uncovered().any(|r| r.id == "ING-9"));

    let unknown = harness::scenario::rules::parse_spec_rules("| OPS-1 | MUST | x |");
    let error = format!("{:#}", suite.check_rules(&unknown[..0]).unwrap_err());
    assert!(
        error.contains("names rule \"OPS-1\", which docs/SPEC.md does not define"),
        "{error}"
    );
}

#[test]
fn a_suite_reports_schemas_the_openapi_document_lacks() {
    let text = format!(
        "{HEAD}[[scenario.steps]]\nmethod = \"GET\"\npath = \"/x\"\nexpect.schema = \"Event\"\n\
         [[scenario.steps]]\nkind = \"webhook\"\nexpect.schema = \"Delivery\"\n"
    );
    let suite = harness::scenario::Suite {
        scenarios: load_scenarios_from_str(Path::new("x.toml"), &text).unwrap(),
    };
    let document =
        serde_json::json!({ "components": { "schemas": { "Event": { "type": "object" } } } });
    let error = format!(
        "{:#}",
        suite
            .check_schemas(&harness::scenario::Schemas::from_document(document))
            .unwrap_err()
    );
    assert_eq!(
        error,
        "x.toml:2: schema \"Delivery\" is not in components.schemas of the OpenAPI document; use one of its names"
    );
}
