//! The default target: the workspace's own reference server, started as a process.
//!
//! Used when no targets file exists, so `harness run` works on a fresh checkout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::{ProcessSpec, TargetKind, TargetSpec};

/// The name of the reference server's binary.
const BINARY: &str = "reference-server";

/// Describes the embedded reference server as a process target.
///
/// The binary is looked up next to the harness's own executable first (cargo
/// puts both in the same directory), then built in release mode. The server
/// gets a fresh SQLite file in the target's data directory and a short webhook
/// retry schedule so that delivery scenarios finish in seconds.
pub fn reference_target(workspace_root: &Path) -> anyhow::Result<TargetSpec> {
    let binary = match find_beside_harness() {
        Some(binary) => binary,
        None => build_release(workspace_root)?,
    };
    tracing::info!(binary = %binary.display(), "using the embedded reference server");
    Ok(reference_spec(workspace_root, &binary))
}

/// Describes the embedded target without building anything: the binary is the
/// one found beside the harness, else where a release build would put it.
pub fn describe_reference_target(workspace_root: &Path) -> TargetSpec {
    let binary = find_beside_harness().unwrap_or_else(|| release_binary(workspace_root));
    reference_spec(workspace_root, &binary)
}

fn reference_spec(workspace_root: &Path, binary: &Path) -> TargetSpec {
    let command = [
        binary.display().to_string().as_str(),
        "--listen",
        "127.0.0.1:{{ port }}",
        "--database",
        "sqlite://{{ data_dir }}/events.db",
        "--webhook-retry-schedule",
        "200ms,400ms,800ms",
        "--webhook-timeout",
        "2s",
        "--log-format",
        "json",
    ]
    .map(str::to_string)
    .to_vec();
    let capabilities = BTreeSet::from(["restart".to_string(), "webhook".to_string()]);

    TargetSpec {
        name: "reference".to_string(),
        kind: TargetKind::Process(ProcessSpec {
            command,
            // Set explicitly so the harness's own RUST_LOG does not silence the
            // lifecycle lines kept in the results.
            env: BTreeMap::from([("RUST_LOG".to_string(), "info".to_string())]),
            cwd: workspace_root.to_path_buf(),
        }),
        dialect: None,
        health: Some("/health".to_string()),
        start_timeout: Duration::from_secs(30),
        capabilities,
        origin: "built-in reference target".to_string(),
    }
}

/// The binary in the harness's directory, or in its parent when the harness is
/// a test executable under `target/<profile>/deps/`.
fn find_beside_harness() -> Option<PathBuf> {
    let executable = std::env::current_exe().ok()?;
    let directory = executable.parent()?;
    let mut candidates = vec![directory.join(BINARY)];
    if directory.file_name().is_some_and(|name| name == "deps")
        && let Some(parent) = directory.parent()
    {
        candidates.push(parent.join(BINARY));
    }
    candidates.into_iter().find(|candidate| candidate.is_file())
}

/// Builds the reference server with cargo and returns the binary's path.
fn build_release(workspace_root: &Path) -> anyhow::Result<PathBuf> {
    // Cargo decides whether anything needs rebuilding, so a stale binary is
    // never used; when nothing changed this takes about a second.
    eprintln!(
        "no reference-server beside the harness; running cargo build --release -p \
         reference_server (a few minutes the first time)"
    );
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "build",
            "--release",
            "-p",
            "reference_server",
            "--bin",
            BINARY,
        ])
        .current_dir(workspace_root)
        .status()
        .context("cannot run cargo to build the reference server; is cargo on PATH?")?;
    if !status.success() {
        bail!("building the reference server failed ({status}); see cargo's output above");
    }

    let binary = release_binary(workspace_root);
    if !binary.is_file() {
        bail!(
            "cargo built the reference server but \"{}\" does not exist",
            binary.display()
        );
    }
    Ok(binary)
}

/// Where `cargo build --release` puts the binary, honouring `CARGO_TARGET_DIR`.
fn release_binary(workspace_root: &Path) -> PathBuf {
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => super::resolve(workspace_root, &dir.to_string_lossy()),
        None => workspace_root.join("target"),
    };
    target_dir.join("release").join(BINARY)
}
