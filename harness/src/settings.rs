//! Checked settings built from the command line: absolute paths and validated values.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{LevelArg, RunArgs, ScenarioSelection, TargetSelection};
use crate::load::stage::LoadSettings;
use crate::scenario::ScenarioFilter;
use crate::scenario::model::Level;

/// Where the targets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetsSource {
    /// A targets file, named on the command line or found at `scenarios/targets.toml`.
    File(PathBuf),
    /// No file: the built-in reference server.
    Embedded,
}

/// The targets part of the settings.
#[derive(Clone, Debug)]
pub struct TargetSettings {
    pub workspace_root: PathBuf,
    pub source: TargetsSource,
    /// Only these targets run; empty means all.
    pub names: Vec<String>,
    /// Where `dialect = "NAME"` files are found.
    pub dialects_dir: PathBuf,
}

/// The scenarios part of the settings.
#[derive(Clone, Debug)]
pub struct ScenarioSettings {
    pub directory: PathBuf,
    pub spec: PathBuf,
    pub openapi: PathBuf,
    pub filter: ScenarioFilter,
}

/// Everything `run` and `conformance` need, checked.
#[derive(Clone, Debug)]
pub struct RunSettings {
    pub targets: TargetSettings,
    pub scenarios: ScenarioSettings,
    pub seed: u64,
    /// Results go to `out_dir/<run-id>/results.json`.
    pub out_dir: PathBuf,
    pub parallelism: usize,
    pub request_timeout: Duration,
    /// Progress bars are drawn only when asked for and stderr is a terminal.
    pub progress: bool,
    /// The load profiles run after each target's conformance scenarios.
    pub load: LoadSettings,
}

impl RunSettings {
    /// Checks the arguments of `run` or `conformance`.
    pub fn from_args(args: &RunArgs, current_dir: &Path) -> anyhow::Result<Self> {
        let root = find_workspace_root(current_dir)?;
        let request_timeout: Duration = args.request_timeout.into();
        if request_timeout.is_zero() {
            bail!("--request-timeout must be longer than zero, such as \"10s\"");
        }
        let progress = !args.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr());

        Ok(RunSettings {
            targets: TargetSettings::from_args(&args.targets, current_dir, &root)?,
            scenarios: ScenarioSettings::from_args(&args.scenarios, current_dir, &root)?,
            seed: args.seed.unwrap_or_else(rand::random),
            out_dir: locate(&args.out, current_dir, &root),
            parallelism: usize::from(args.parallel),
            request_timeout,
            progress,
            load: LoadSettings::load(
                &locate(&args.load.profiles_dir, current_dir, &root),
                &args.load.profiles,
                args.load.no_load,
                request_timeout,
            )?,
        })
    }
}

impl TargetSettings {
    /// Checks the target selection; a named targets file must exist.
    pub fn from_args(
        args: &TargetSelection,
        current_dir: &Path,
        root: &Path,
    ) -> anyhow::Result<Self> {
        let source = match &args.targets {
            Some(path) => {
                let path = locate(path, current_dir, root);
                if !path.is_file() {
                    bail!("targets file \"{}\" does not exist", path.display());
                }
                TargetsSource::File(path)
            }
            None => {
                let default = root.join("scenarios").join("targets.toml");
                if default.is_file() {
                    TargetsSource::File(default)
                } else {
                    TargetsSource::Embedded
                }
            }
        };
        Ok(TargetSettings {
            workspace_root: root.to_path_buf(),
            source,
            names: args.names.clone(),
            dialects_dir: root.join("scenarios").join("dialects"),
        })
    }

    /// Finds the workspace root from `current_dir`, then checks the selection.
    pub fn from_args_here(args: &TargetSelection, current_dir: &Path) -> anyhow::Result<Self> {
        let root = find_workspace_root(current_dir)?;
        Self::from_args(args, current_dir, &root)
    }
}

impl ScenarioSettings {
    /// Checks the scenario selection; the directory and spec must exist.
    pub fn from_args(
        args: &ScenarioSelection,
        current_dir: &Path,
        root: &Path,
    ) -> anyhow::Result<Self> {
        let directory = locate(&args.directory, current_dir, root);
        if !directory.is_dir() {
            bail!(
                "scenario directory \"{}\" does not exist",
                directory.display()
            );
        }
        let spec = locate(&args.spec, current_dir, root);
        if !spec.is_file() {
            bail!("spec file \"{}\" does not exist", spec.display());
        }
        let openapi = locate(&args.openapi, current_dir, root);
        if !openapi.is_file() {
            bail!("OpenAPI document \"{}\" does not exist", openapi.display());
        }
        let levels = match args.level {
            None => Vec::new(),
            Some(LevelArg::Must) => vec![Level::Must],
            Some(LevelArg::Should) => vec![Level::Should],
        };
        let filter = ScenarioFilter {
            ids: args.ids.clone(),
            tags: args.tags.clone(),
            levels,
        };
        Ok(ScenarioSettings {
            directory,
            spec,
            openapi,
            filter,
        })
    }

    /// Finds the workspace root from `current_dir`, then checks the selection.
    pub fn from_args_here(args: &ScenarioSelection, current_dir: &Path) -> anyhow::Result<Self> {
        let root = find_workspace_root(current_dir)?;
        Self::from_args(args, current_dir, &root)
    }
}

/// The nearest directory at or above `start` whose `Cargo.toml` has a
/// `[workspace]` table.
pub fn find_workspace_root(start: &Path) -> anyhow::Result<PathBuf> {
    for directory in start.ancestors() {
        let manifest = directory.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read \"{}\"", manifest.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("\"{}\" is not valid TOML", manifest.display()))?;
        if table.contains_key("workspace") {
            return Ok(directory.to_path_buf());
        }
    }
    bail!(
        "cannot find the workspace root: no Cargo.toml with [workspace] in \"{}\" or above; \
         run the harness inside the repository",
        start.display()
    )
}

/// A relative path is taken from the current directory when it exists there,
/// otherwise from the workspace root.
fn locate(path: &Path, current_dir: &Path, root: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let here = current_dir.join(path);
    if here.exists() { here } else { root.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_root_from_a_subdirectory() {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            root.path().join("Cargo.toml"),
            "[workspace]\nmembers = []\n",
        )
        .expect("write manifest");
        let member = root.path().join("member");
        std::fs::create_dir_all(member.join("src")).expect("create member");
        std::fs::write(member.join("Cargo.toml"), "[package]\nname = \"member\"\n")
            .expect("write member manifest");

        let found = find_workspace_root(&member.join("src")).expect("root is found");
        assert_eq!(found, root.path());
    }

    #[test]
    fn relative_paths_prefer_the_current_directory() {
        let root = tempfile::tempdir().expect("temp dir");
        let sub = root.path().join("sub");
        std::fs::create_dir_all(sub.join("here")).expect("create dirs");

        assert_eq!(
            locate(Path::new("here"), &sub, root.path()),
            sub.join("here")
        );
        assert_eq!(
            locate(Path::new("docs"), &sub, root.path()),
            root.path().join("docs")
        );
    }
}
