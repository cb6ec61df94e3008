//! Container targets as declared in a targets file: an image or a build, the
//! port it serves on, its limits and the sidecar services on its network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Deserialize;

use super::{RawTarget, reject_field, resolve};

/// The fields of a `kind = "container"` target.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    /// Where the image comes from.
    pub image: ImageSource,
    /// The port the server listens on inside the container.
    pub port: u16,
    /// Environment variables; values may name `{{ port }}` and `{{ services.NAME.host }}`.
    pub env: BTreeMap<String, String>,
    /// Replaces the image's command when set.
    pub command: Option<Vec<String>>,
    /// A line (substring) the container prints once ready, awaited before the health check.
    pub ready_log: Option<String>,
    /// The memory limit in bytes, when one is set.
    pub memory_bytes: Option<i64>,
    /// The CPU limit in billionths of a CPU (Docker's `NanoCpus`), when one is set.
    pub nano_cpus: Option<i64>,
    /// Sidecar services started first, reachable by their names.
    pub services: Vec<ServiceSpec>,
}

/// Where a container's image comes from; there is never a registry to pull from.
#[derive(Clone, Debug)]
pub enum ImageSource {
    /// An image that must exist locally; `build` makes it when it is missing.
    Local {
        reference: String,
        build: Option<BuildSpec>,
    },
    /// Always built for the run and removed at its end.
    Build(BuildSpec),
}

impl std::fmt::Display for ImageSource {
    /// The image as `harness targets --list` shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageSource::Local {
                reference,
                build: None,
            } => write!(f, "image {reference}"),
            ImageSource::Local {
                reference,
                build: Some(build),
            } => write!(
                f,
                "image {reference} (else built from {})",
                build.context.display()
            ),
            ImageSource::Build(build) => write!(f, "built from {}", build.context.display()),
        }
    }
}

/// A Docker build done by the harness with the classic builder.
#[derive(Clone, Debug)]
pub struct BuildSpec {
    /// The build context directory, absolute.
    pub context: PathBuf,
    /// The Dockerfile's path inside the context.
    pub dockerfile: String,
    /// A command run on the host first (from the workspace root), such as a
    /// script that puts a freshly built binary into the context.
    pub prepare: Option<Vec<String>>,
    /// The workspace root, where `prepare` runs.
    pub workspace_root: PathBuf,
}

/// A sidecar service on the target's private network.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// The host name the target reaches it by.
    pub name: String,
    pub image: ImageSource,
    /// The port it listens on, used for `{{ services.NAME.address }}`.
    pub port: Option<u16>,
    pub env: BTreeMap<String, String>,
    pub command: Option<Vec<String>>,
    /// A line (substring) it prints once ready; without one it is ready once running.
    pub ready_log: Option<String>,
}

/// The `build` table as written.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBuild {
    context: String,
    dockerfile: Option<String>,
    prepare: Option<Vec<String>>,
}

/// A `[[target.service]]` table as written.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    name: String,
    image: Option<String>,
    build: Option<RawBuild>,
    port: Option<u16>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    command: Option<Vec<String>>,
    ready_log: Option<String>,
}

impl ContainerSpec {
    pub(crate) fn from_raw(raw: &RawTarget, workspace_root: &Path) -> anyhow::Result<Self> {
        reject_field(&raw.base_url, "base_url", "container", "url")?;
        reject_field(&raw.cwd, "cwd", "container", "process")?;
        let image = image_source(raw.image.as_deref(), raw.build.as_ref(), workspace_root)
            .map_err(|error| anyhow::anyhow!("{error}, such as \"triggers-reference:local\""))?;
        let Some(port) = raw.port.filter(|port| *port != 0) else {
            bail!("a container target needs `port`, the port its server listens on inside");
        };
        check_command(raw.command.as_ref())?;

        let mut services: Vec<ServiceSpec> = Vec::new();
        for service in raw.service.iter().flatten() {
            let service = ServiceSpec::from_raw(service, workspace_root)?;
            if services.iter().any(|known| known.name == service.name) {
                bail!("service name \"{}\" is used twice", service.name);
            }
            services.push(service);
        }
        Ok(ContainerSpec {
            image,
            port,
            env: raw.env.clone().unwrap_or_default(),
            command: raw.command.clone(),
            ready_log: raw.ready_log.clone(),
            memory_bytes: raw.memory.as_deref().map(parse_memory).transpose()?,
            nano_cpus: raw.cpus.map(parse_cpus).transpose()?,
            services,
        })
    }
}

impl ServiceSpec {
    fn from_raw(raw: &RawService, workspace_root: &Path) -> anyhow::Result<Self> {
        let dns_label = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if raw.name.is_empty() || !raw.name.chars().all(dns_label) {
            bail!(
                "service name \"{}\" must be lowercase letters, digits or '-': it is a host name",
                raw.name
            );
        }
        let image = image_source(raw.image.as_deref(), raw.build.as_ref(), workspace_root)
            .map_err(|error| anyhow::anyhow!("service \"{}\": {error}", raw.name))?;
        check_command(raw.command.as_ref())?;
        Ok(ServiceSpec {
            name: raw.name.clone(),
            image,
            port: raw.port,
            env: raw.env.clone(),
            command: raw.command.clone(),
            ready_log: raw.ready_log.clone(),
        })
    }
}

fn image_source(
    image: Option<&str>,
    build: Option<&RawBuild>,
    workspace_root: &Path,
) -> anyhow::Result<ImageSource> {
    let build = build
        .map(|build| build_spec(build, workspace_root))
        .transpose()?;
    match (image.filter(|image| !image.trim().is_empty()), build) {
        (Some(reference), build) => Ok(ImageSource::Local {
            reference: reference.to_string(),
            build,
        }),
        (None, Some(build)) => Ok(ImageSource::Build(build)),
        (None, None) => bail!("give `image` (present locally) or a `build` table, or both"),
    }
}

fn build_spec(raw: &RawBuild, workspace_root: &Path) -> anyhow::Result<BuildSpec> {
    if raw
        .prepare
        .as_ref()
        .is_some_and(|prepare| prepare.first().is_none_or(|program| program.is_empty()))
    {
        bail!("`build.prepare` must name a program; leave it out instead");
    }
    Ok(BuildSpec {
        context: resolve(workspace_root, &raw.context),
        dockerfile: raw.dockerfile.clone().unwrap_or("Dockerfile".to_string()),
        prepare: raw.prepare.clone(),
        workspace_root: workspace_root.to_path_buf(),
    })
}

fn check_command(command: Option<&Vec<String>>) -> anyhow::Result<()> {
    if command.is_some_and(|command| command.is_empty()) {
        bail!("`command` of a container must not be empty; leave it out instead");
    }
    Ok(())
}

/// Reads a memory limit such as `"512m"`, `"2g"` or `"1048576"` (bytes).
fn parse_memory(text: &str) -> anyhow::Result<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((index, _)) => lower.split_at(index),
        None => (lower.as_str(), ""),
    };
    let multiplier: i64 = match unit.trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => bail!("memory \"{text}\" has an unknown unit; write one such as \"512m\" or \"2g\""),
    };
    let value: i64 = digits.parse().map_err(|_| {
        anyhow::anyhow!("memory \"{text}\" is not a size; write one such as \"512m\" or \"2g\"")
    })?;
    // Docker refuses limits under 6 MiB; saying so here names the file and line.
    let bytes = value.saturating_mul(multiplier);
    if bytes < 6 << 20 {
        bail!("memory \"{text}\" is below Docker's minimum of 6 MiB");
    }
    Ok(bytes)
}

/// Reads a CPU limit such as `1.5` (cores) into Docker's billionths.
fn parse_cpus(cpus: f64) -> anyhow::Result<i64> {
    if !(cpus.is_finite() && cpus >= 0.01) {
        bail!("cpus {cpus} must be a number of cores of at least 0.01, such as 1.5");
    }
    Ok((cpus * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_with_their_units() {
        let check = |text: &str, bytes: i64| assert_eq!(parse_memory(text).unwrap(), bytes);
        check("512m", 512 << 20);
        check("2g", 2 << 30);
        check("64MiB", 64 << 20);
        check("8388608", 8 << 20);
        let error = parse_memory("12q").unwrap_err().to_string();
        assert_eq!(
            error,
            "memory \"12q\" has an unknown unit; write one such as \"512m\" or \"2g\""
        );
        assert!(parse_memory("1m").is_err());
    }

    #[test]
    fn cpus_become_billionths() {
        assert_eq!(parse_cpus(1.5).unwrap(), 1_500_000_000);
        assert!(parse_cpus(0.0).is_err());
        assert!(parse_cpus(f64::NAN).is_err());
    }
}
