//! The targets file: which implementations a run measures and how each one is reached.
//!
//! Parsing is strict: every mistake names the file and line and says what to write instead.

pub mod container;
pub mod container_target;
pub mod docker;
pub mod embedded;
pub mod health;
pub mod log_buffer;
pub mod process;
pub mod running;
pub mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use toml::Spanned;

pub use container::ContainerSpec;
pub use process::ProcessSpec;
pub use running::{RunningTarget, StartFailure};
pub use url::UrlSpec;

/// The capabilities a target may declare; scenarios that need others are not run.
pub const KNOWN_CAPABILITIES: &[&str] = &["restart", "webhook"];

/// How long a target may take to become healthy when its entry does not say.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);

/// One implementation under test, as declared in a targets file (or built in).
#[derive(Clone, Debug)]
pub struct TargetSpec {
    /// Unique within the file; the column heading in reports.
    pub name: String,
    /// How the harness reaches the target, with the fields of that kind.
    pub kind: TargetKind,
    /// The dialect file name under `scenarios/dialects/`, without `.toml`.
    pub dialect: Option<String>,
    /// The readiness path; `None` means the dialect's health path, else `/health`.
    pub health: Option<String>,
    /// How long the target may take to answer its health check after starting.
    pub start_timeout: Duration,
    /// A subset of [`KNOWN_CAPABILITIES`].
    pub capabilities: BTreeSet<String>,
    /// Where the entry was declared (`path:line`), quoted in messages.
    pub origin: String,
}

/// The ways a target can be reached.
#[derive(Clone, Debug)]
pub enum TargetKind {
    /// A local command that the harness starts, watches and stops.
    Process(ProcessSpec),
    /// An already running server; the harness only checks that it is healthy.
    Url(UrlSpec),
    /// An image run in Docker.
    Container(ContainerSpec),
}

impl TargetKind {
    /// The kind's name as written in the targets file.
    pub fn name(&self) -> &'static str {
        match self {
            TargetKind::Process(_) => "process",
            TargetKind::Url(_) => "url",
            TargetKind::Container(_) => "container",
        }
    }
}

/// The `[[target]]` table exactly as written, before any check.
///
/// Every field of every kind is listed here so that a misspelt key is caught by
/// serde (`deny_unknown_fields`) with its line; the kind files then reject the
/// fields that do not belong to them.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub name: String,
    pub kind: String,
    pub dialect: Option<String>,
    pub health: Option<String>,
    pub start_timeout: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub command: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub cwd: Option<String>,
    pub base_url: Option<String>,
    pub image: Option<String>,
    pub port: Option<u16>,
    pub build: Option<container::RawBuild>,
    pub ready_log: Option<String>,
    pub memory: Option<String>,
    pub cpus: Option<f64>,
    pub service: Option<Vec<container::RawService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    target: Vec<Spanned<RawTarget>>,
}

/// Reads and checks a targets file.
///
/// Relative paths inside it (a process `cwd`, a command's program) are resolved
/// against `workspace_root`, so one file works from any directory.
pub fn load_targets(path: &Path, workspace_root: &Path) -> anyhow::Result<Vec<TargetSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read targets file \"{}\"", path.display()))?;
    parse_targets(&text, &path.display().to_string(), workspace_root)
}

/// Parses targets from text; `file` names the source in error messages.
pub fn parse_targets(
    text: &str,
    file: &str,
    workspace_root: &Path,
) -> anyhow::Result<Vec<TargetSpec>> {
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| line_of(text, span.start))
            .unwrap_or(1);
        anyhow::anyhow!("{file}:{line}: {}", error.message().trim_end_matches('.'))
    })?;
    if raw.target.is_empty() {
        bail!("{file}:1: no targets; add at least one [[target]] table with a name and a kind");
    }

    let mut targets: Vec<TargetSpec> = Vec::with_capacity(raw.target.len());
    for entry in raw.target {
        let origin = format!("{file}:{}", line_of(text, entry.span().start));
        let spec = check_target(entry.into_inner(), &origin, workspace_root)
            .map_err(|error| anyhow::anyhow!("{origin}: {error:#}"))?;
        if targets.iter().any(|known| known.name == spec.name) {
            bail!(
                "{origin}: target name \"{}\" is used twice; give each target its own name",
                spec.name
            );
        }
        targets.push(spec);
    }
    Ok(targets)
}

/// Checks the fields every kind shares, then hands the rest to the kind.
fn check_target(raw: RawTarget, origin: &str, workspace_root: &Path) -> anyhow::Result<TargetSpec> {
    check_name(&raw.name)?;
    let start_timeout = match &raw.start_timeout {
        None => DEFAULT_START_TIMEOUT,
        Some(text) => humantime::parse_duration(text).map_err(|_| {
            anyhow::anyhow!("start_timeout \"{text}\" is not a duration; write one such as \"30s\"")
        })?,
    };
    if let Some(health) = &raw.health
        && !health.starts_with('/')
    {
        bail!("health \"{health}\" must be a path starting with \"/\", such as \"/health\"");
    }

    let mut capabilities = BTreeSet::new();
    for capability in &raw.capabilities {
        if !KNOWN_CAPABILITIES.contains(&capability.as_str()) {
            bail!(
                "unknown capability \"{capability}\"; use any of {}",
                quoted_list(KNOWN_CAPABILITIES)
            );
        }
        capabilities.insert(capability.clone());
    }

    let kind = match raw.kind.as_str() {
        "process" => TargetKind::Process(ProcessSpec::from_raw(&raw, workspace_root)?),
        "url" => TargetKind::Url(UrlSpec::from_raw(&raw)?),
        "container" => TargetKind::Container(ContainerSpec::from_raw(&raw, workspace_root)?),
        other => bail!("unknown kind \"{other}\"; use \"process\", \"url\" or \"container\""),
    };
    if matches!(kind, TargetKind::Url(_)) && capabilities.contains("restart") {
        bail!("a url target cannot declare \"restart\": the harness does not run it");
    }

    Ok(TargetSpec {
        name: raw.name,
        kind,
        dialect: raw.dialect,
        health: raw.health,
        start_timeout,
        capabilities,
        origin: origin.to_string(),
    })
}

/// Target names become report columns and file names, so they stay plain.
fn check_name(name: &str) -> anyhow::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || !name.chars().all(plain) {
        bail!("target name \"{name}\" must be non-empty letters, digits, '-', '_' or '.'");
    }
    Ok(())
}

/// Rejects a field that only another kind understands, naming that kind.
pub(crate) fn reject_field<T>(
    value: &Option<T>,
    field: &str,
    kind: &str,
    owner: &str,
) -> anyhow::Result<()> {
    if value.is_some() {
        bail!("field `{field}` does not apply to {kind} targets; it belongs to {owner} targets");
    }
    Ok(())
}

/// Rejects the fields only container targets understand.
pub(crate) fn reject_container_fields(raw: &RawTarget, kind: &str) -> anyhow::Result<()> {
    reject_field(&raw.image, "image", kind, "container")?;
    reject_field(&raw.port, "port", kind, "container")?;
    reject_field(&raw.build, "build", kind, "container")?;
    reject_field(&raw.ready_log, "ready_log", kind, "container")?;
    reject_field(&raw.memory, "memory", kind, "container")?;
    reject_field(&raw.cpus, "cpus", kind, "container")?;
    reject_field(&raw.service, "service", kind, "container")
}

/// The 1-based line of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    quoted.join(", ")
}

/// Resolves `path` against `base` unless it is already absolute.
pub(crate) fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}
