//! The load stage of a run: for one target, after its conformance scenarios,
//! runs each selected profile (or records why it was skipped).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::outcome::LoadOutcome;
use super::phase::{LoadTarget, gate, load_client, run_profile, skipped};
use super::profile::{Profile, load_profile};
use super::resources::{ProcSampler, ResourceSampler, find_listener};
use crate::scenario::outcome::ScenarioOutcome;

/// The profile every `harness run` uses when none is named.
pub const DEFAULT_PROFILE: &str = "ci-smoke";

/// The checked load part of a run's settings.
#[derive(Clone, Debug, Default)]
pub struct LoadSettings {
    /// The profiles to run against every target, in order; empty: no load stage.
    pub profiles: Vec<Profile>,
    pub request_timeout: Duration,
}

impl LoadSettings {
    /// Reads the named profiles (the default one when none is named) from
    /// `dir`; no profile at all when `disabled`.
    pub fn load(
        dir: &Path,
        names: &[String],
        disabled: bool,
        request_timeout: Duration,
    ) -> anyhow::Result<LoadSettings> {
        if disabled {
            return Ok(LoadSettings::default());
        }
        let default = [DEFAULT_PROFILE.to_string()];
        let names = if names.is_empty() {
            &default[..]
        } else {
            names
        };
        let profiles = names
            .iter()
            .map(|name| load_profile(dir, name))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(LoadSettings {
            profiles,
            request_timeout,
        })
    }

    /// Every rule some selected profile depends on.
    pub fn required_rules(&self) -> Vec<String> {
        let mut rules: Vec<String> = self
            .profiles
            .iter()
            .flat_map(|profile| profile.requires_rules.iter().cloned())
            .collect();
        rules.sort();
        rules.dedup();
        rules
    }
}

/// What the load stage knows of a target after its conformance scenarios.
pub struct StageTarget<'a> {
    pub name: &'a str,
    /// `process`, `url` or `container`.
    pub kind: &'static str,
    pub base_url: String,
    /// Whether the target stayed up through its scenarios.
    pub healthy: bool,
    pub scenarios: &'a [ScenarioOutcome],
    /// Set by target kinds that sample themselves (containers).
    pub sampler: Option<Arc<dyn ResourceSampler>>,
}

/// Runs every profile against the target, each gated by its rules.
pub async fn run_load_stage(
    settings: &LoadSettings,
    target: StageTarget<'_>,
    interrupt: &CancellationToken,
) -> Vec<LoadOutcome> {
    let mut outcomes = Vec::with_capacity(settings.profiles.len());
    let client = match load_client(settings.request_timeout) {
        Ok(client) => client,
        Err(error) => {
            let reason = format!("{error:#}");
            return settings
                .profiles
                .iter()
                .map(|p| skipped(p, reason.clone()))
                .collect();
        }
    };
    let sampler = target
        .sampler
        .clone()
        .or_else(|| local_sampler(target.kind, &target.base_url));
    let load_target = LoadTarget {
        name: target.name.to_string(),
        base_url: target.base_url.clone(),
        sampler,
    };
    for profile in &settings.profiles {
        if interrupt.is_cancelled() {
            break;
        }
        if let Some(reason) = gate(profile, target.healthy, target.scenarios) {
            tracing::info!(
                target_name = target.name,
                profile = %profile.name,
                %reason,
                "load skipped"
            );
            outcomes.push(skipped(profile, reason));
            continue;
        }
        outcomes.push(run_profile(profile, &load_target, &client, interrupt).await);
    }
    outcomes
}

/// A /proc sampler for a process or url target listening on this machine.
fn local_sampler(kind: &str, base_url: &str) -> Option<Arc<dyn ResourceSampler>> {
    if kind == "container" {
        return None;
    }
    let url = url::Url::parse(base_url).ok()?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !local {
        return None;
    }
    let pid = find_listener(url.port_or_known_default()?)?;
    Some(Arc::new(ProcSampler::new(pid)))
}
