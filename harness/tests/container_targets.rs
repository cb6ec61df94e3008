//! Container targets on a real Docker engine: the reference server built into
//! an image passes the conformance suite, runs beside a PostgreSQL sidecar,
//! and fails with a clear verdict when it never becomes healthy, exits at once
//! or is killed mid-run. After each, nothing the harness created is left.
//!
//! Gated by `TRIGGERS_DOCKER_TESTS=1` (set by `scripts/test` when an engine
//! answers); otherwise each test says why it was skipped and passes.

mod run_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::results::TargetStatus;
use harness::scenario::TargetControl;
use harness::target::container_target::ContainerTarget;
use harness::target::docker::{PID_LABEL, connect};
use harness::target::health::HealthCheck;
use harness::target::{TargetKind, parse_targets};
use run_support::{describe, target, verdict};
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    KillContainerOptions, ListContainersOptions, ListImagesOptions, ListNetworksOptions,
};
use tokio_util::sync::CancellationToken;

/// The workspace this test belongs to, where images/ and scenarios/ live.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Whether to run: the gate is set and an engine answers.
async fn docker_tests_enabled(test: &str) -> bool {
    if std::env::var("TRIGGERS_DOCKER_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped {test}: set TRIGGERS_DOCKER_TESTS=1 to run the Docker tests");
        return false;
    }
    if !harness::target::docker::available().await {
        eprintln!("skipped {test}: TRIGGERS_DOCKER_TESTS=1 but no Docker engine answers");
        return false;
    }
    true
}

/// The reference server image's build table, with absolute paths.
fn reference_build() -> String {
    let root = workspace_root();
    format!(
        "[target.build]\ncontext = \"{0}/images/reference-server\"\n\
         prepare = [\"{0}/images/reference-server/build\"]\n",
        root.display()
    )
}

/// The server flags every container target here uses: the short webhook
/// schedule keeps delivery scenarios to seconds.
const SERVER_FLAGS: &str = r#""--webhook-retry-schedule", "200ms,400ms,800ms",
  "--webhook-timeout", "2s", "--log-format", "json""#;

/// Containers, networks and images carrying `label`, as `kind id` lines.
async fn labelled(docker: &Docker, label: &str) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let mut found = Vec::new();
    let containers = ListContainersOptions {
        all: true,
        filters: Some(filters.clone()),
        ..Default::default()
    };
    for container in docker
        .list_containers(Some(containers))
        .await
        .expect("list")
    {
        found.push(format!("container {}", container.id.unwrap_or_default()));
    }
    let networks = ListNetworksOptions {
        filters: Some(filters.clone()),
    };
    for network in docker.list_networks(Some(networks)).await.expect("list") {
        found.push(format!("network {}", network.id.unwrap_or_default()));
    }
    let images = ListImagesOptions {
        filters: Some(filters),
        ..Default::default()
    };
    for image in docker.list_images(Some(images)).await.expect("list") {
        found.push(format!("image {}", image.id));
    }
    found
}

/// Runs the harness binary on the real suite; returns its output and its pid,
/// which labels everything it created.
async fn run_harness(targets: &Path, out: &Path, extra: &[&str]) -> (std::process::Output, u32) {
    let root = workspace_root();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("run")
        .arg("--targets")
        .arg(targets)
        .arg("--out")
        .arg(out)
        .args(["--no-progress", "--seed", "7"])
        .args(extra)
        .current_dir(&root)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the harness binary");
    let pid = child.id().expect("a running child has a pid");
    (child.wait_with_output().await.expect("harness output"), pid)
}

fn results_of(out: &Path) -> serde_json::Value {
    let run = std::fs::read_dir(out)
        .expect("the reports directory exists")
        .next()
        .expect("one run")
        .expect("readable entry")
        .path();
    let text = std::fs::read_to_string(run.join("results.json")).expect("results file");
    serde_json::from_str(&text).expect("results are JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_container_passes_the_conformance_suite() {
    if !docker_tests_enabled("the_reference_server_container_passes_the_conformance_suite").await {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let targets = dir.path().join("targets.toml");
    let text = format!(
        r#"[[target]]
name = "boxed"
kind = "container"
port = 8080
command = ["--listen", "0.0.0.0:{{{{ port }}}}", "--database", "sqlite:///data/events.db",
  {SERVER_FLAGS}]
capabilities = ["restart", "webhook"]
memory = "256m"
{}"#,
        reference_build()
    );
    std::fs::write(&targets, text).expect("targets file");
    let out = dir.path().join("reports");

    let (output, pid) = run_harness(&targets, &out, &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let results = results_of(&out);
    let boxed = target(&results, "boxed");
    assert_eq!(boxed["kind"], "container");
    assert_eq!(boxed["status"], "started");
    assert_eq!(boxed["verdict"], "pass");
    for id in [
        "durability-graceful-restart",
        "durability-crash",
        "durability-delivery-resumes",
    ] {
        assert_eq!(verdict(&results, "boxed", id), "pass", "{id}");
    }
    // Every shipped scenario passed, SHOULD ones included.
    for count in [
        "not_run_count",
        "non_strict_count",
        "fail_count",
        "error_count",
    ] {
        assert_eq!(boxed["summary"][count], 0, "{count}");
    }

    let docker = connect().await.expect("docker");
    let left = labelled(&docker, &format!("{PID_LABEL}={pid}")).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_on_a_postgres_sidecar_runs_and_is_cleaned_up() {
    if !docker_tests_enabled("a_target_on_a_postgres_sidecar_runs_and_is_cleaned_up").await {
        return;
    }
    let root = workspace_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let targets = dir.path().join("targets.toml");
    let text = format!(
        r#"[[target]]
name = "on-postgres"
kind = "container"
port = 8080
command = ["--listen", "0.0.0.0:{{{{ port }}}}",
  "--database", "postgres://triggers@{{{{ services.db.address }}}}/triggers", {SERVER_FLAGS}]
start_timeout = "90s"
capabilities = ["restart", "webhook"]
{}
[[target.service]]
name = "db"
port = 5432
env = {{ POSTGRES_USER = "triggers", POSTGRES_DB = "triggers" }}
ready_log = "database system is ready to accept connections"

[target.service.build]
context = "{1}/images/postgres"
prepare = ["{1}/images/postgres/build"]
"#,
        reference_build(),
        root.display()
    );
    std::fs::write(&targets, text).expect("targets file");
    let out = dir.path().join("reports");

    let scenarios = [
        "--scenario",
        "durability-graceful-restart",
        "--scenario",
        "durability-crash",
        "--scenario",
        "durability-delivery-resumes",
    ];
    let (output, pid) = run_harness(&targets, &out, &scenarios).await;
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let results = results_of(&out);
    let on_postgres = target(&results, "on-postgres");
    assert_eq!(on_postgres["status"], "started");
    assert_eq!(on_postgres["summary"]["pass_count"], 3);
    let log = on_postgres["log_excerpt"].to_string();
    assert!(log.contains("[db] "), "the sidecar's lines are kept: {log}");

    let docker = connect().await.expect("docker");
    let left = labelled(&docker, &format!("{PID_LABEL}={pid}")).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Starts the reference server image as container target `name` with `command`.
async fn start_reference(
    name: &str,
    command: &str,
    start_timeout: &str,
) -> Result<std::sync::Arc<ContainerTarget>, harness::target::StartFailure> {
    let text = format!(
        "[[target]]\nname = \"{name}\"\nkind = \"container\"\nport = 8080\n\
         start_timeout = \"{start_timeout}\"\ncommand = {command}\n{}",
        reference_build()
    );
    let specs = parse_targets(&text, "targets.toml", &workspace_root()).expect("valid target");
    let TargetKind::Container(spec) = &specs[0].kind else {
        panic!("expected a container target");
    };
    let health = HealthCheck::new(Some("/health"), None);
    let client = reqwest::Client::new();
    let timeout = specs[0].start_timeout;
    let cancel = CancellationToken::new();
    ContainerTarget::start(name, spec, health, timeout, &client, &cancel).await
}

/// No container, network or image named after target `name` is left; each
/// test uses its own name, so tests running at once do not see each other.
async fn assert_nothing_named(docker: &Docker, name: &str) {
    let by_name = |key: &str, value: String| Some(HashMap::from([(key.to_string(), vec![value])]));
    let containers = ListContainersOptions {
        all: true,
        filters: by_name("name", format!("-{name}")),
        ..Default::default()
    };
    let containers = docker
        .list_containers(Some(containers))
        .await
        .expect("list");
    let networks = ListNetworksOptions {
        filters: by_name("name", format!("-{name}")),
    };
    let networks = docker.list_networks(Some(networks)).await.expect("list");
    let images = ListImagesOptions {
        filters: by_name("reference", format!("triggers-harness/{name}")),
        ..Default::default()
    };
    let images = docker.list_images(Some(images)).await.expect("list");
    assert_eq!(
        (containers.len(), networks.len(), images.len()),
        (0, 0, 0),
        "left behind for \"{name}\": {containers:?} {networks:?} {images:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_never_becomes_healthy_times_out_with_its_log() {
    if !docker_tests_enabled("a_container_that_never_becomes_healthy_times_out_with_its_log").await
    {
        return;
    }
    let docker = connect().await.expect("docker");
    // It listens, but on another port than the one declared.
    let command = r#"["--listen", "0.0.0.0:9999", "--database", "sqlite:///data/events.db"]"#;
    let Err(failure) = start_reference("never-healthy", command, "4s").await else {
        panic!("a server on the wrong port must not become healthy");
    };
    assert_eq!(
        failure.status,
        TargetStatus::StartTimeout,
        "{}",
        failure.reason
    );
    assert!(
        failure
            .reason
            .starts_with("not healthy within 4s; last attempt: GET http://127.0.0.1:"),
        "{}",
        failure.reason
    );
    assert!(
        failure
            .log_tail
            .iter()
            .any(|line| line.contains("0.0.0.0:9999")),
        "{:?}",
        failure.log_tail
    );
    assert_nothing_named(&docker, "never-healthy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_exits_at_once_fails_to_start_with_its_code() {
    if !docker_tests_enabled("a_container_that_exits_at_once_fails_to_start_with_its_code").await {
        return;
    }
    let docker = connect().await.expect("docker");
    // The server exits 2 on a configuration it cannot use.
    let command = r#"["--listen", "0.0.0.0:8080", "--database", "mysql://nowhere/x"]"#;
    let Err(failure) = start_reference("exits-at-once", command, "30s").await else {
        panic!("a server with an unknown database must not start");
    };
    assert_eq!(
        failure.status,
        TargetStatus::FailedToStart,
        "{}",
        failure.reason
    );
    assert_eq!(
        failure.reason,
        "the container exited with code 2 before it was healthy"
    );
    assert!(
        failure
            .log_tail
            .iter()
            .any(|line| line.contains("mysql://nowhere/x")),
        "{:?}",
        failure.log_tail
    );
    assert_nothing_named(&docker, "exits-at-once").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_restart_and_a_kill_mid_run_are_followed() {
    if !docker_tests_enabled("pause_restart_and_a_kill_mid_run_are_followed").await {
        return;
    }
    let docker = connect().await.expect("docker");
    let command = r#"["--listen", "0.0.0.0:8080", "--database", "sqlite:///data/events.db"]"#;
    let target = start_reference("controlled", command, "30s")
        .await
        .expect("healthy target");
    let client = reqwest::Client::new();
    let health = HealthCheck::new(Some("/health"), None);
    assert_eq!(health.probe(&client, &target.base_url()).await, Ok(()));

    // A paused container answers nothing; resumed, it answers again.
    target.pause().await.expect("pause");
    let paused = health.probe(&client, &target.base_url()).await;
    assert!(paused.is_err(), "a paused target answered");
    target.resume().await.expect("resume");
    assert_eq!(health.probe(&client, &target.base_url()).await, Ok(()));

    // A restart hands back the base URL the target answers on now.
    let after_restart = target.restart().await.expect("restart");
    assert_eq!(after_restart, target.base_url());
    assert_eq!(health.probe(&client, &after_restart).await, Ok(()));
    assert_eq!(target.exit_status(), None);

    // The restarted container's CPU and memory are read through the Docker API.
    let sampler = target.sampler();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut reading = sampler.read().await;
    while reading.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        reading = sampler.read().await;
    }
    let reading = reading.expect("a running container has a resource reading");
    assert!(
        reading.rss_bytes > 0 && reading.cpu_seconds > 0.0,
        "{reading:?}"
    );

    // Killed by someone else, the container is reported dead with its code.
    let options = KillContainerOptions {
        signal: "SIGKILL".to_string(),
    };
    let name = format!("triggers-{}-controlled", target.run_id());
    docker
        .kill_container(&name, Some(options))
        .await
        .expect("kill");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while target.exit_status().is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        target.exit_status().as_deref(),
        Some("exited with code 137")
    );
    // Its stats stop coming, so the load stage gets no more readings.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sampler.read().await.is_some() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        sampler.read().await.is_none(),
        "a dead container still has fresh readings"
    );

    target.stop().await;
    assert_nothing_named(&docker, "controlled").await;
}
