//! Shared pieces of the `run_*` tests: a throwaway workspace holding the fixture
//! scenarios, a small fake API server, and running the harness binary.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use axum::Json;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The fixture directory of these tests.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// A temporary workspace: a `[workspace]` manifest, the fixture spec and
/// scenarios, and the real OpenAPI document.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace without a targets file, so runs use the embedded target.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let root = dir.path();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").expect("manifest");

        std::fs::create_dir_all(root.join("docs")).expect("docs dir");
        std::fs::copy(fixtures().join("SPEC.md"), root.join("docs/SPEC.md")).expect("spec");
        let openapi = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        std::fs::copy(openapi, root.join("docs/openapi.json")).expect("openapi document");

        let scenarios = root.join("scenarios/conformance/fixtures");
        std::fs::create_dir_all(&scenarios).expect("scenario dir");
        for name in ["health.toml", "restart.toml"] {
            std::fs::copy(
                fixtures().join("scenarios").join(name),
                scenarios.join(name),
            )
            .expect("scenario file");
        }
        // The default load profile, so `run` finds what it runs by default;
        // its rules are not among the fixture scenarios, so it is skipped.
        let load = root.join("scenarios/load");
        std::fs::create_dir_all(&load).expect("load dir");
        let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/load/ci-smoke.toml");
        std::fs::copy(profile, load.join("ci-smoke.toml")).expect("load profile");
        Workspace { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `scenarios/targets.toml`, which runs read by default.
    pub fn write_targets(&self, text: &str) {
        std::fs::write(self.root().join("scenarios/targets.toml"), text).expect("targets file");
    }

    /// Runs the harness binary from `cwd` (a directory inside the workspace).
    pub async fn harness_in(&self, cwd: &Path, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(args)
            .current_dir(cwd)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output()
            .await
            .expect("run the harness binary")
    }

    /// Runs the harness binary from the workspace root.
    pub async fn harness(&self, args: &[&str]) -> Output {
        self.harness_in(self.root(), args).await
    }

    /// The single results file the runs in this workspace wrote.
    pub fn results(&self) -> Value {
        let run = only_run(&self.root().join("reports"));
        let text = std::fs::read_to_string(run.join("results.json")).expect("results file");
        serde_json::from_str(&text).expect("results are JSON")
    }
}

/// The verdict of scenario `id` on target `name` in a results document.
pub fn verdict(results: &Value, name: &str, id: &str) -> String {
    let target = target(results, name);
    let scenarios = target["scenarios"].as_array().expect("scenarios array");
    let outcome = scenarios
        .iter()
        .find(|outcome| outcome["id"] == id)
        .expect("scenario present");
    outcome["verdict"]
        .as_str()
        .expect("verdict string")
        .to_string()
}

/// Checks the run in `run` as the README's main job: every report format
/// written, target `name` passed every shipped scenario (SHOULD ones too),
/// and the default load profile passed with its figures adding up and every
/// accepted event stored.
pub fn assert_main_job_passed(run: &Path, name: &str) {
    for file in ["results.json", "report.md", "report.html", "junit.xml"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let results: Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results"))
            .expect("results are JSON");
    let reference = target(&results, name);
    let scenarios = reference["scenarios"].as_array().expect("scenarios");
    let not_passed: Vec<String> = scenarios
        .iter()
        .filter(|outcome| outcome["verdict"] != "pass")
        .map(|outcome| {
            format!(
                "{} {}: {}",
                outcome["id"], outcome["verdict"], outcome["reason"]
            )
        })
        .collect();
    assert!(
        not_passed.is_empty(),
        "scenarios that did not pass:\n{}",
        not_passed.join("\n")
    );
    assert_eq!(reference["verdict"], "pass", "{}", reference["status"]);

    let summary = &reference["summary"];
    let scenario_count = scenarios.len();
    assert!(scenario_count >= 90, "only {scenario_count} scenarios");
    assert_eq!(summary["pass_count"], scenario_count as u64, "{summary}");

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
}

/// The entry of target `name` in a results document.
pub fn target<'a>(results: &'a Value, name: &str) -> &'a Value {
    let targets = results["targets"].as_array().expect("targets array");
    targets
        .iter()
        .find(|target| target["name"] == name)
        .expect("target present")
}

/// A server that creates organisations and answers `GET /health` with ok, but
/// has no `/health/live`: the fixture scenario `health-ok` passes against it and
/// `health-live` fails.
pub async fn start_fake_api() -> String {
    async fn generate() -> (StatusCode, Json<Value>) {
        let body = json!({
            "api_key": "trg_0123456789abcdef0123456789abcdef",
            "organization_id": "org-1",
            "organization_name": "fixture",
            "tier": "pro",
            "rate_limit_per_minute": 1000,
            "created_at": "2026-12-03T19:25:08.123Z",
        });
        (StatusCode::CREATED, Json(body))
    }
    let app = axum::Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/api/keys/generate", post(generate));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("fake api serves") });
    format!("http://{address}")
}

/// The workspace these tests belong to, where the real scenarios live.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the workspace root")
}

/// Builds the debug reference server beside the harness binary, where the
/// embedded target looks first, and answers its path. Quick when it is
/// already up to date.
pub fn build_reference_server() -> PathBuf {
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "-p",
            "reference_server",
            "--bin",
            "reference-server",
        ])
        .current_dir(workspace_root)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building the reference server failed: {status}"
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_harness")).with_file_name("reference-server");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// The one run directory a harness run wrote under `reports`.
pub fn only_run(reports: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(reports)
        .expect("the reports directory exists")
        .map(|entry| entry.expect("readable entry").path())
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "expected one run under {}",
        reports.display()
    );
    runs.into_iter().next().expect("one run")
}

/// The text a process wrote, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
