//! Targets that do not start, that never become healthy and that are reached
//! by URL, in one run: each gets its own verdict and the run goes on.

mod run_support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use run_support::{Workspace, describe, start_fake_api, target, verdict};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_targets_are_recorded_and_the_run_goes_on() {
    let workspace = Workspace::new();
    let api = start_fake_api().await;
    workspace.write_targets(&format!(
        r#"
[[target]]
name = "exits"
kind = "process"
command = ["sh", "-c", "echo listening on {{{{ port }}}}; echo cannot open the database >&2; exit 3"]

[[target]]
name = "hangs"
kind = "process"
command = ["sh", "-c", "echo $$ > hangs.pid; exec sleep 30"]
start_timeout = "1s"

[[target]]
name = "boxed"
kind = "container"
image = "triggers:local"
port = 8080

[[target]]
name = "fake"
kind = "url"
base_url = "{api}"
"#
    ));

    let output = workspace.harness(&["run", "--no-progress"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let results = workspace.results();
    assert_eq!(results["schema_version"], 1);

    let exits = target(&results, "exits");
    assert_eq!(exits["status"], "failed_to_start");
    assert_eq!(exits["verdict"], "error");
    let error = exits["start_error"].as_str().expect("a start error");
    assert!(
        error.contains("exited before it was healthy (exit status: 3)"),
        "{error}"
    );
    let log: Vec<&str> = exits["log_excerpt"]
        .as_array()
        .expect("log lines")
        .iter()
        .map(|line| line.as_str().expect("a line"))
        .collect();
    assert!(log.contains(&"cannot open the database"), "{log:?}");
    assert!(
        log.iter().any(|line| line.starts_with("listening on ")),
        "{log:?}"
    );
    assert_eq!(verdict(&results, "exits", "health-ok"), "not_run");
    assert_eq!(exits["summary"]["not_run_count"], 4);

    let hangs = target(&results, "hangs");
    assert_eq!(hangs["status"], "start_timeout");
    let error = hangs["start_error"].as_str().expect("a start error");
    assert!(
        error.starts_with("not healthy within 1s; last attempt: GET http://127.0.0.1:"),
        "{error}"
    );
    let pid = std::fs::read_to_string(workspace.root().join("hangs.pid")).expect("pid file");
    let proc_entry = Path::new("/proc").join(pid.trim());
    assert!(
        !proc_entry.exists(),
        "the hanging target (pid {}) was not stopped",
        pid.trim()
    );

    let boxed = target(&results, "boxed");
    // The image was never built here, so the start fails whether or not a
    // Docker engine answers; each case names what to do.
    assert_eq!(boxed["status"], "failed_to_start");
    let error = boxed["start_error"].as_str().expect("a start error");
    let missing = "image \"triggers:local\" is not present locally and cannot be pulled";
    let no_engine = "cannot reach the Docker engine";
    assert!(
        error.starts_with(missing) || error.starts_with(no_engine),
        "{error}"
    );

    let fake = target(&results, "fake");
    assert_eq!(fake["status"], "started");
    assert_eq!(fake["kind"], "url");
    assert_eq!(fake["base_url"], api.as_str());
    assert_eq!(verdict(&results, "fake", "health-ok"), "pass");
    assert_eq!(verdict(&results, "fake", "health-live"), "fail");
    assert_eq!(verdict(&results, "fake", "restart-keeps-health"), "not_run");
    let summary = &fake["summary"];
    assert_eq!(
        (
            &summary["pass_count"],
            &summary["fail_count"],
            &summary["not_run_count"]
        ),
        (&1.into(), &1.into(), &2.into())
    );

    let rules = results["rules"].as_array().expect("rules");
    let ops1 = rules
        .iter()
        .find(|rule| rule["id"] == "OPS-1")
        .expect("OPS-1");
    assert_eq!(ops1["verdicts"]["fake"], "pass");
    assert_eq!(ops1["verdicts"]["exits"], "not_run");
    assert_eq!(ops1["section"], "10. Health, metrics and documents (OPS)");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let failure = "FAIL fake [health-live]\n    \
                   step \"ask for liveness\": status (MUST): expected 200, got 404\n";
    assert!(stdout.contains(failure), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_the_starting_target_and_exits_two() {
    let workspace = Workspace::new();
    workspace.write_targets(
        r#"
[[target]]
name = "slow"
kind = "process"
command = ["sh", "-c", "echo $$ > slow.pid; exec sleep 30"]
start_timeout = "60s"
"#,
    );
    let harness = tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--no-progress"])
        .current_dir(workspace.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the harness");

    // The pid file appears once the target has been spawned.
    let pid_file = workspace.root().join("slow.pid");
    let mut waited = Duration::ZERO;
    while !pid_file.is_file() || std::fs::read_to_string(&pid_file).expect("pid").is_empty() {
        assert!(
            waited < Duration::from_secs(20),
            "the target was never spawned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let harness_pid = Pid::from_raw(harness.id().expect("harness pid") as i32);
    kill(harness_pid, Signal::SIGINT).expect("send SIGINT");

    let output = harness.wait_with_output().await.expect("harness ends");
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.ends_with("error: interrupted; every target the harness started has been stopped\n"),
        "{stderr}"
    );
    let pid = std::fs::read_to_string(&pid_file).expect("pid file");
    let proc_entry = Path::new("/proc").join(pid.trim());
    assert!(
        !proc_entry.exists(),
        "the target (pid {}) outlived the harness",
        pid.trim()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_dies_during_its_scenarios_is_crashed() {
    let workspace = Workspace::new();
    let script = run_support::fixtures().join("dies_after_health.py");
    workspace.write_targets(&format!(
        "[[target]]\nname = \"dies\"\nkind = \"process\"\n\
         command = [\"python3\", \"{}\", \"{{{{ port }}}}\"]\n",
        script.display()
    ));

    let output = workspace
        .harness(&["run", "--no-progress", "--tag", "health"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));

    let results = workspace.results();
    let dies = target(&results, "dies");
    assert_eq!(dies["status"], "crashed");
    assert_eq!(dies["verdict"], "error");
    assert_eq!(
        dies["start_error"],
        "the target died during its scenarios (exit status: 7)"
    );
    assert_eq!(verdict(&results, "dies", "health-ok"), "error");
    assert_eq!(dies["log_excerpt"][0], "answered the health check; exiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let workspace = Workspace::new();
    workspace.write_targets(
        r#"
[[target]]
name = "stubborn"
kind = "process"
command = ["sh", "-c", "trap '' TERM; echo $$ > stubborn.pid; exec sleep 60"]
start_timeout = "500ms"
"#,
    );

    let started = std::time::Instant::now();
    let output = workspace.harness(&["run", "--no-progress"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(
        target(&workspace.results(), "stubborn")["status"],
        "start_timeout"
    );

    // SIGTERM is ignored, so the stop waits out its 5 second grace period and
    // then kills the process group.
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let pid = std::fs::read_to_string(workspace.root().join("stubborn.pid")).expect("pid file");
    let proc_entry = Path::new("/proc").join(pid.trim());
    assert!(
        !proc_entry.exists(),
        "the target (pid {}) survived",
        pid.trim()
    );
}
