//! The main job against the reference server on PostgreSQL: the same server
//! flags as the embedded default, but `--database` names a fresh database on
//! the server in `TRIGGERS_TEST_POSTGRES_URL`, so every shipped scenario (the
//! restarts and kills included) and the default load profile run on the
//! storage that several replicas share. The database is dropped afterwards.
//!
//! Slow (a minute or two): gated by `TRIGGERS_SLOW_TESTS=1`, and skipped
//! without a PostgreSQL server; `scripts/test` sets both.

mod run_support;

use run_support::{assert_main_job_passed, build_reference_server, only_run, workspace_root};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

const POSTGRES_URL_VARIABLE: &str = "TRIGGERS_TEST_POSTGRES_URL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_server_on_postgres_passes_every_scenario_and_the_default_load() {
    if std::env::var("TRIGGERS_SLOW_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set TRIGGERS_SLOW_TESTS=1 to run the whole suite");
        return;
    }
    let Some(server) = std::env::var(POSTGRES_URL_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!(
            "skipped: {POSTGRES_URL_VARIABLE} is not set; run `eval \"$(scripts/setup)\"` first"
        );
        return;
    };
    let binary = build_reference_server();
    let database = Database::create(&server).await;
    let out = tempfile::tempdir().expect("temp dir");
    let targets = out.path().join("targets.toml");
    let text = format!(
        r#"[[target]]
name = "reference-postgres"
kind = "process"
command = [{binary:?}, "--listen", "127.0.0.1:{{{{ port }}}}", "--database", {url:?},
  "--webhook-retry-schedule", "200ms,400ms,800ms", "--webhook-timeout", "2s"]
health = "/health"
start_timeout = "60s"
capabilities = ["restart", "webhook"]
"#,
        binary = binary.display().to_string(),
        url = database.url,
    );
    std::fs::write(&targets, text).expect("targets file");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--no-progress", "--seed", "5", "--targets"])
        .arg(&targets)
        .arg("--out")
        .arg(out.path().join("reports"))
        .current_dir(workspace_root())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the harness");
    // The harness has stopped the server; the database goes before any
    // assertion, so a failing run does not leave it behind.
    database.drop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_main_job_passed(&only_run(&out.path().join("reports")), "reference-postgres");
}

/// A database of its own on the test server, for one run.
struct Database {
    server: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(server: &str) -> Database {
        let name = format!("triggers_suite_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::connect(server)
            .await
            .expect("the test PostgreSQL server answers");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut connection)
            .await
            .expect("the suite's database is created");
        connection.close().await.ok();
        let mut url = reqwest::Url::parse(server).expect("the PostgreSQL server URL parses");
        url.set_path(&name);
        Database {
            server: server.to_string(),
            name,
            url: url.to_string(),
        }
    }

    /// Drops the database; the server has stopped by now, so nothing holds it.
    async fn drop(self) {
        let mut connection = PgConnection::connect(&self.server)
            .await
            .expect("the test PostgreSQL server answers");
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\"", self.name))
            .execute(&mut connection)
            .await
            .expect("the suite's database is dropped");
        connection.close().await.ok();
    }
}
