//! Exit codes: 0 when every MUST passed, 1 when one failed, 2 for mistakes in
//! the command line or the files it names.

mod run_support;

use run_support::{Workspace, describe, start_fake_api, verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_selection_exits_zero_from_a_subdirectory() {
    let workspace = Workspace::new();
    let api = start_fake_api().await;
    workspace.write_targets(&format!(
        "[[target]]\nname = \"fake\"\nkind = \"url\"\nbase_url = \"{api}\"\n"
    ));

    let subdirectory = workspace.root().join("scenarios/conformance");
    let args = [
        "run",
        "--no-progress",
        "--scenario",
        "health-ok",
        "--seed",
        "7",
    ];
    let output = workspace.harness_in(&subdirectory, &args).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let results = workspace.results();
    assert_eq!(results["run"]["seed"], 7);
    assert_eq!(
        results["targets"][0]["scenarios"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(verdict(&results, "fake", "health-ok"), "pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_must_exits_one() {
    let workspace = Workspace::new();
    let api = start_fake_api().await;
    workspace.write_targets(&format!(
        "[[target]]\nname = \"fake\"\nkind = \"url\"\nbase_url = \"{api}\"\n"
    ));

    let output = workspace
        .harness(&["conformance", "--no-progress", "--tag", "health"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(verdict(&workspace.results(), "fake", "health-live"), "fail");
}

/// Runs the harness in a fresh workspace with `targets` as its targets file and
/// asserts exit code 2 with exactly `message` on stderr.
async fn check_setup_error(targets: &str, args: &[&str], message: &str) {
    let workspace = Workspace::new();
    workspace.write_targets(targets);
    let output = workspace.harness(args).await;
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr)
        .replace(&workspace.root().display().to_string(), "ROOT");
    assert_eq!(stderr, format!("{message}\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_mistakes_exit_two_with_one_clear_error() {
    let url_target =
        "[[target]]\nname = \"fake\"\nkind = \"url\"\nbase_url = \"http://127.0.0.1:9\"\n";
    check_setup_error(
        "[[target]]\nname = \"fake\"\nkind = \"url\"\nurl = \"http://127.0.0.1:9\"\n",
        &["run", "--no-progress"],
        "error: ROOT/scenarios/targets.toml:4: unknown field `url`, expected one of `name`, \
         `kind`, `dialect`, `health`, `start_timeout`, `capabilities`, `command`, `env`, `cwd`, \
         `base_url`, `image`, `port`, `build`, `ready_log`, `memory`, `cpus`, `service`",
    )
    .await;
    check_setup_error(
        url_target,
        &["run", "--no-progress", "--target", "other"],
        "error: no target named \"other\"; known targets: fake",
    )
    .await;
    check_setup_error(
        url_target,
        &["run", "--no-progress", "--scenario", "nope"],
        "error: no scenario with id \"nope\"; `harness scenarios --list` shows them all",
    )
    .await;
    check_setup_error(
        url_target,
        &["run", "--targets", "missing.toml"],
        "error: targets file \"ROOT/missing.toml\" does not exist",
    )
    .await;

    let workspace = Workspace::new();
    let output = workspace.harness(&["run", "--parallel", "0"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_targets_and_scenarios_starts_nothing() {
    let workspace = Workspace::new();
    workspace.write_targets(
        "[[target]]\nname = \"boxed\"\nkind = \"container\"\nimage = \"img:1\"\nport = 80\n",
    );
    let output = workspace.harness(&["targets", "--list"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("boxed"), "{stdout}");
    assert!(stdout.contains("img:1"), "{stdout}");

    let output = workspace.harness(&["scenarios", "--list"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let expected = "\
health-ok             MUST    OPS-1  [health]
    the health check answers ok
health-live           MUST    OPS-2  [health]
    the liveness check answers 200
restart-keeps-health  MUST    DUR-1  [durability]
    after a restart the server is healthy again
crash-keeps-health    MUST    DUR-1  [durability]
    after a kill and a fresh start the server is healthy again
4 scenarios
";
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);

    let output = workspace.harness(&["scenarios", "--coverage"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("3 of 4 rules are checked"), "{stdout}");
}
