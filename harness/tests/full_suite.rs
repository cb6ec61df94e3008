//! The main job of the README, from the workspace root: `harness run` with no
//! targets file starts the embedded reference server, which must pass every
//! shipped scenario, MUST and SHOULD alike, then the default load profile
//! with every accepted event stored, and every report format is written.
//!
//! Slow (a minute or two): gated by `TRIGGERS_SLOW_TESTS=1`, which
//! `scripts/test` sets.

mod run_support;

use run_support::{build_reference_server, only_run, workspace_root};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_passes_every_scenario_and_the_default_load() {
    if std::env::var("TRIGGERS_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set TRIGGERS_SLOW_TESTS=1 to run the whole suite");
        return;
    }
    let root = workspace_root();
    assert!(
        !root.join("scenarios/targets.toml").exists(),
        "scenarios/targets.toml exists, so the run would not use the embedded default"
    );
    build_reference_server();
    let out = tempfile::tempdir().expect("temp dir");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--no-progress", "--seed", "5", "--out"])
        .arg(out.path())
        .current_dir(&root)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the harness");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let run = only_run(out.path());
    for file in ["results.json", "report.md", "report.html", "junit.xml"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let results: Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results"))
            .expect("results are JSON");
    let reference = &results["targets"][0];
    assert_eq!(reference["name"], "reference");
    assert_eq!(reference["verdict"], "pass");

    // Every shipped scenario ran and passed, SHOULD ones included.
    let summary = &reference["summary"];
    let scenario_count = reference["scenarios"].as_array().expect("scenarios").len();
    assert!(scenario_count >= 90, "only {scenario_count} scenarios");
    assert_eq!(summary["pass_count"], scenario_count as u64, "{summary}");

    // The default profile ran, its figures add up, and nothing accepted was lost.
    let load = &reference["load"][0];
    assert_eq!(load["profile"], "ci-smoke");
    assert_eq!(load["verdict"], "pass", "{load}");
    let level = &load["levels"][0];
    let requests = level["request_count"].as_u64().expect("a count");
    assert!(requests > 0, "{level}");
    let answered: u64 = level["status_counts"]
        .as_object()
        .expect("status counts")
        .values()
        .map(|count| count.as_u64().expect("a count"))
        .sum();
    let failed: u64 = level["errors"]
        .as_object()
        .expect("errors")
        .iter()
        .filter(|(kind, _)| *kind != "unexpected_status")
        .map(|(_, count)| count.as_u64().expect("a count"))
        .sum();
    assert_eq!(answered + failed, requests, "{level}");
    let persistence = &level["persistence"];
    assert_eq!(persistence["missing_count"], 0, "{persistence}");
    assert_eq!(
        persistence["accepted_count"], persistence["stored_count"],
        "{persistence}"
    );
    assert!(
        stdout.contains("ci-smoke"),
        "the terminal shows the load table"
    );
}
