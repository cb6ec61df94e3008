//! The report formats rendered from a small fixed results file: Markdown and
//! terminal snapshots, JUnit checked against its schema, the published results
//! schema, and the baseline comparison with its exit code.

mod run_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::report::baseline::{Thresholds, compare, parse_percent};
use harness::report::schema::{SCHEMA_PATH, results_schema};
use harness::report::{junit, markdown, terminal};
use harness::results::RunResults;
use run_support::{Workspace, describe, fixtures, start_fake_api};

fn fixture_path() -> PathBuf {
    fixtures().join("results-small.json")
}

fn fixture() -> RunResults {
    RunResults::read(&fixture_path()).expect("the fixture results file reads")
}

/// The fixture with the reference target's load throughput cut by `factor`
/// and, when asked, its `ops-health` scenario failing.
fn changed_fixture(factor: f64, fail_health: bool) -> RunResults {
    let mut results = fixture();
    let reference = &mut results.targets[0];
    for level in reference.load.iter_mut().flat_map(|load| &mut load.levels) {
        level.throughput_per_second *= factor;
    }
    if fail_health {
        let health = reference
            .scenarios
            .iter_mut()
            .find(|outcome| outcome.id == "ops-health")
            .expect("the fixture has ops-health");
        health.verdict = harness::verdict::Verdict::Fail;
    }
    results
}

#[test]
fn markdown_report_matches_its_snapshot() {
    insta::assert_snapshot!("markdown", markdown::render(&fixture(), None));
}

#[test]
fn terminal_report_matches_its_snapshot() {
    insta::assert_snapshot!("terminal", terminal::render(&fixture()));
}

#[test]
fn markdown_shows_baseline_deltas_and_regressions() {
    let current = changed_fixture(0.8, true);
    let thresholds = Thresholds {
        max_throughput_drop: Some(0.1),
        max_p99_rise: None,
    };
    let comparison = compare(&current, &fixture(), thresholds);
    insta::assert_snapshot!(
        "markdown_baseline",
        markdown::render(&current, Some(&comparison))
    );
}

#[test]
fn regressions_need_a_threshold_except_for_newly_failing_scenarios() {
    let slower = changed_fixture(0.8, false);
    let ungated = compare(&slower, &fixture(), Thresholds::default());
    assert_eq!(ungated.regressions(), Vec::<String>::new());

    let gated = compare(
        &slower,
        &fixture(),
        Thresholds {
            max_throughput_drop: Some(0.1),
            max_p99_rise: Some(0.2),
        },
    );
    assert_eq!(
        gated.regressions(),
        [
            "reference: load ingest-burst users=8 throughput/s: throughput dropped 20% (limit 10%)",
            "reference: load ingest-burst users=32 throughput/s: throughput dropped 20% (limit 10%)",
        ]
    );

    let failing = compare(
        &changed_fixture(1.0, true),
        &fixture(),
        Thresholds::default(),
    );
    assert_eq!(
        failing.regressions(),
        ["reference: scenario \"ops-health\" passed in the baseline and fails now"]
    );
}

#[test]
fn percentages_read_with_or_without_the_sign() {
    assert_eq!(parse_percent("10%"), Ok(0.1));
    assert_eq!(parse_percent("12.5"), Ok(0.125));
    assert_eq!(
        parse_percent("ten"),
        Err("\"ten\" is not a percentage; write it as \"10%\"".to_string())
    );
    assert_eq!(
        parse_percent("-5%"),
        Err("\"-5%\" must be a percentage of zero or more, such as \"10%\"".to_string())
    );
}

#[test]
fn junit_counts_must_failures_only_and_skips_what_did_not_run() {
    let xml = junit::render(&fixture());
    let count = |needle: &str| xml.matches(needle).count();
    // Four scenarios on each of three targets, plus the start of the target
    // that did not start.
    assert_eq!(count("<testcase "), 13);
    assert_eq!(count("<failure "), 1);
    assert_eq!(count("<error "), 1);
    assert_eq!(count("<skipped "), 5);
    assert!(xml.contains(
        "<testcase classname=\"legacy\" name=\"ack-marks-delivered\" time=\"0.017\">\n      \
         <failure message=\"status: expected 200, got 404\" type=\"MUST\">"
    ));
    assert!(xml.contains("<system-out>SHOULD missed: header retry-after: expected present"));
}

/// Whether a tool the schema and browser tests need is on the path; when
/// missing, those tests fail under `TRIGGERS_SLOW_TESTS=1` (CI installs the
/// tools through `scripts/setup`) and are skipped otherwise.
pub fn tool_available(tool: &str, package: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("TRIGGERS_SLOW_TESTS").is_none(),
            "{tool} is missing; install Debian's {package} package (scripts/setup does)"
        );
        eprintln!("skipped: {tool} is missing; scripts/setup installs {package}");
    }
    found
}

#[test]
fn junit_is_valid_against_the_junit_schema() {
    if !tool_available("xmllint", "libxml2-utils") {
        return;
    }
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("junit.xml");
    std::fs::write(&path, junit::render(&fixture())).expect("write junit.xml");

    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(fixtures().join("junit.xsd"))
        .arg(&path)
        .output()
        .expect("run xmllint");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.ends_with("junit.xml validates\n"), "{stderr}");
}

#[test]
fn published_results_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(SCHEMA_PATH);
    let generated = results_schema();
    if std::env::var_os("TRIGGERS_WRITE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write the schema");
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "{SCHEMA_PATH} is stale; regenerate it with \
         `cargo run -p harness -- schema > {SCHEMA_PATH}`"
    );
}

#[test]
fn fixture_is_valid_against_the_published_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&results_schema()).expect("the schema is JSON");
    let text = std::fs::read_to_string(fixture_path()).expect("read the fixture");
    let instance: serde_json::Value = serde_json::from_str(&text).expect("the fixture is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| error.to_string())
        .collect();
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn a_newer_schema_version_is_refused_with_the_version_named() {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("results.json");
    std::fs::write(&path, "{\"schema_version\": 2, \"run\": {}}").expect("write");
    let error = RunResults::read(&path).expect_err("version 2 is unknown");
    assert_eq!(
        error.to_string(),
        format!(
            "results file \"{}\" has schema_version 2; this harness reads version 1",
            path.display()
        )
    );
}

fn harness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the harness binary")
}

#[test]
fn report_command_writes_the_formats_and_gates_on_regressions() {
    let directory = tempfile::tempdir().expect("temp dir");
    let baseline = directory.path().join("baseline.json");
    changed_fixture(1.25, false)
        .write(&baseline)
        .expect("write the baseline");
    let out = directory.path().join("out");
    let fixture = fixture_path();
    let fixture = fixture.to_str().expect("utf-8 path");
    let out_arg = out.to_str().expect("utf-8 path");
    let baseline_arg = baseline.to_str().expect("utf-8 path");

    // Against a baseline 25% faster, throughput dropped 20%.
    let args = [
        "report",
        fixture,
        "--out",
        out_arg,
        "--baseline",
        baseline_arg,
    ];
    let output = harness(&args);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    for file in ["report.md", "junit.xml", "report.html"] {
        assert!(out.join(file).is_file(), "{file} was not written");
    }

    let gated = [&args[..], &["--max-throughput-drop", "25%"]].concat();
    assert_eq!(harness(&gated).status.code(), Some(0));
    let gated = [&args[..], &["--max-throughput-drop", "15%"]].concat();
    let output = harness(&gated);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "regression: reference: load ingest-burst users=8 throughput/s: \
             throughput dropped 20% (limit 15%)"
        ),
        "{stdout}"
    );

    let html = std::fs::read_to_string(out.join("report.html")).expect("read report.html");
    assert!(html.contains("throughput dropped 20% (limit 15%)"));
}

#[test]
fn report_command_names_a_missing_file() {
    let output = harness(&["report", "no/such/results.json"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: cannot read results file \"no/such/results.json\""),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_writes_every_format_beside_the_results() {
    let workspace = Workspace::new();
    let api = start_fake_api().await;
    workspace.write_targets(&format!(
        "[[target]]\nname = \"fake\"\nkind = \"url\"\nbase_url = \"{api}\"\n"
    ));
    let args = ["conformance", "--no-progress", "--scenario", "health-ok"];
    let output = workspace.harness(&args).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let reports = workspace.root().join("reports");
    let run = std::fs::read_dir(&reports)
        .expect("reports directory")
        .next()
        .expect("one run")
        .expect("readable entry")
        .path();
    let mut files: Vec<String> = std::fs::read_dir(&run)
        .expect("run directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["junit.xml", "report.html", "report.md", "results.json"]
    );
    let markdown = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(markdown.contains("| `health-ok` | ✅ pass |"), "{markdown}");
}
