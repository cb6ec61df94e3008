//! The default run: no targets file, so the harness starts the workspace's own
//! reference server as a process target and measures it.
//!
//! The test uses the debug `reference-server` binary beside the harness binary
//! (both live in cargo's target directory) and builds it with cargo first, which
//! is quick when it is already up to date.

mod run_support;

use run_support::{Workspace, build_reference_server, describe, target, verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_is_the_default_target() {
    build_reference_server();
    let workspace = Workspace::new();

    let output = workspace.harness(&["run", "--no-progress"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let results = workspace.results();
    let reference = target(&results, "reference");
    assert_eq!(reference["kind"], "process");
    assert_eq!(reference["status"], "started");
    assert_eq!(reference["verdict"], "pass");
    let base_url = reference["base_url"].as_str().expect("a base URL");
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    let ids = [
        "health-ok",
        "health-live",
        "restart-keeps-health",
        "crash-keeps-health",
    ];
    for id in ids {
        assert_eq!(verdict(&results, "reference", id), "pass", "scenario {id}");
    }

    // The two restart scenarios started the server twice more on the same
    // port, and every start left its line in the captured log.
    let log = reference["log_excerpt"].as_array().expect("log lines");
    let listening = log
        .iter()
        .filter(|line| line.as_str().is_some_and(|l| l.contains("listening")));
    assert_eq!(listening.count(), 3, "{log:?}");
}
