//! The main job of the README, from the workspace root: `harness run` with no
//! targets file starts the embedded reference server, which must pass every
//! shipped scenario, MUST and SHOULD alike, then the default load profile
//! with every accepted event stored, and every report format is written.
//!
//! Slow (a minute or two): gated by `TRIGGERS_SLOW_TESTS=1`, which
//! `scripts/test` sets.

mod run_support;

use run_support::{assert_main_job_passed, build_reference_server, only_run, workspace_root};

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

    assert_main_job_passed(&only_run(out.path()), "reference");
    assert!(
        stdout.contains("ci-smoke"),
        "the terminal shows the load table"
    );
}
