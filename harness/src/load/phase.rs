//! Runs one profile against one target: the gate, the organisations, then
//! each level in turn (drive, sample, check persistence, judge thresholds).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::closed::run_closed;
use super::open::run_open;
use super::organizations::create_organizations;
use super::outcome::{LevelOutcome, LoadModelKind, LoadOutcome, LoadVerdict};
use super::persistence::check_persistence;
use super::profile::Profile;
use super::recorder::{Recorder, corrected, summarize};
use super::resources::{ResourceSampler, sample_while};
use super::workload::Workload;
use crate::scenario::outcome::ScenarioOutcome;
use crate::verdict::Verdict;

/// A target as the load phase sees it.
pub struct LoadTarget {
    pub name: String,
    pub base_url: String,
    /// Reads the target's CPU and memory, when its kind allows.
    pub sampler: Option<Arc<dyn ResourceSampler>>,
}

/// Why a target may not run a profile: a rule the profile depends on did
/// not pass on it (or was not checked), or the target did not stay up.
pub fn gate(profile: &Profile, healthy: bool, scenarios: &[ScenarioOutcome]) -> Option<String> {
    if !healthy {
        return Some("the target did not stay up through its conformance scenarios".to_string());
    }
    let mut problems = Vec::new();
    for rule in &profile.requires_rules {
        let verdict = scenarios
            .iter()
            .filter(|outcome| outcome.rules.contains(rule))
            .fold(Verdict::NotRun, |worst, outcome| {
                worst.combine(outcome.verdict)
            });
        if verdict != Verdict::Pass {
            problems.push(format!("{rule} is {verdict}"));
        }
    }
    if problems.is_empty() {
        None
    } else {
        Some(format!(
            "needs {} to pass: {}",
            profile.requires_rules.join(", "),
            problems.join(", ")
        ))
    }
}

/// The result of a profile that did not run against a target.
pub fn skipped(profile: &Profile, reason: String) -> LoadOutcome {
    LoadOutcome {
        profile: profile.name.clone(),
        model: profile.model,
        verdict: LoadVerdict::Skipped,
        reason: Some(reason),
        organization_count: 0,
        levels: Vec::new(),
    }
}

/// The HTTP client of the load: one connection pool shared by every user,
/// no cookies, no proxy lookups, Nagle off.
pub fn load_client(request_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(request_timeout)
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("cannot build the load HTTP client")
}

/// Runs every level of `profile` against `target`; a setup failure is
/// recorded as the outcome's `error` verdict, not returned.
pub async fn run_profile(
    profile: &Profile,
    target: &LoadTarget,
    client: &reqwest::Client,
    interrupt: &CancellationToken,
) -> LoadOutcome {
    let base_url = target.base_url.trim_end_matches('/');
    tracing::info!(target_name = %target.name, profile = %profile.name, "load profile starting");
    let created = create_organizations(
        client,
        base_url,
        &profile.name,
        &profile.tier,
        profile.organizations,
    );
    let organizations = match created.await {
        Ok(organizations) => organizations,
        Err(error) => {
            let mut outcome = skipped(profile, format!("{error:#}"));
            outcome.verdict = LoadVerdict::Error;
            return outcome;
        }
    };

    let mut accepted_total = vec![0; organizations.len()];
    let mut levels = Vec::with_capacity(profile.levels.len());
    for &level in &profile.levels {
        if interrupt.is_cancelled() {
            break;
        }
        let workload_of = |recorder| {
            Workload::new(
                profile,
                base_url,
                client.clone(),
                organizations.clone(),
                recorder,
            )
        };
        match run_level(profile, target, level, workload_of, interrupt).await {
            Ok(mut outcome) => {
                let check = check_persistence(
                    client,
                    base_url,
                    &organizations,
                    &mut accepted_total,
                    profile.drain_deadline,
                );
                // A target that cannot be read back still keeps the figures
                // of the level it just ran; the profile ends there.
                let checked = check.await;
                outcome.persistence = checked.as_ref().ok().cloned();
                outcome.thresholds = profile
                    .thresholds
                    .iter()
                    .map(|threshold| threshold.check(&outcome))
                    .collect();
                if let Err(error) = checked {
                    levels.push(outcome);
                    let reason = format!("the accepted events could not be read back: {error:#}");
                    let mut outcome = skipped(profile, reason);
                    outcome.verdict = LoadVerdict::Error;
                    outcome.organization_count = profile.organizations;
                    outcome.levels = levels;
                    return outcome;
                }
                tracing::info!(
                    target_name = %target.name,
                    level = %outcome.label,
                    requests = outcome.request_count,
                    throughput = outcome.throughput_per_second,
                    "load level done"
                );
                levels.push(outcome);
            }
            Err(error) => {
                let mut outcome = skipped(profile, format!("{error:#}"));
                outcome.verdict = LoadVerdict::Error;
                outcome.organization_count = profile.organizations;
                outcome.levels = levels;
                return outcome;
            }
        }
    }

    let failed = levels
        .iter()
        .any(|level| level.thresholds.iter().any(|threshold| !threshold.passed));
    LoadOutcome {
        profile: profile.name.clone(),
        model: profile.model,
        verdict: if failed {
            LoadVerdict::Fail
        } else {
            LoadVerdict::Pass
        },
        reason: None,
        organization_count: profile.organizations,
        levels,
    }
}

async fn run_level(
    profile: &Profile,
    target: &LoadTarget,
    level: u32,
    workload_of: impl FnOnce(Recorder) -> Workload,
    interrupt: &CancellationToken,
) -> anyhow::Result<LevelOutcome> {
    let started = Instant::now();
    let recorder = match profile.model {
        // goose takes a moment to start its first user; the window follows it.
        LoadModelKind::Closed => Recorder::anchored(profile.ramp + profile.warmup, profile.hold),
        LoadModelKind::Open => Recorder::new(started + profile.warmup, profile.hold),
    };
    let workload = Arc::new(workload_of(recorder));
    let stop_sampling = CancellationToken::new();
    let sampling = target
        .sampler
        .clone()
        .map(|sampler| tokio::spawn(sample_while(sampler, started, stop_sampling.clone())));

    let (label, users, rate, dropped) = match profile.model {
        LoadModelKind::Closed => {
            let run_time = profile.warmup + profile.hold;
            let driven = run_closed(
                workload.clone(),
                &target.base_url,
                level,
                profile.ramp,
                run_time,
                interrupt,
            );
            driven.await?;
            (format!("users={level}"), level, None, 0)
        }
        LoadModelKind::Open => {
            let start = tokio::time::Instant::from_std(started);
            // The open model has no ramp: arrivals start at the full rate.
            let arrivals = run_open(workload.clone(), level, profile.pool, start, interrupt).await;
            let rate = Some(f64::from(level));
            (
                format!("rate={level}/s"),
                profile.pool,
                rate,
                arrivals.dropped_count,
            )
        }
    };
    stop_sampling.cancel();
    let resources = match sampling {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };

    let figures = workload.recorder.finish();
    let raw = summarize(&figures.raw);
    let latency_corrected = match profile.model {
        // The scheduled start of each arrival is the honest clock of the open model.
        LoadModelKind::Open => summarize(&figures.scheduled),
        // The closed model expects the next request after a typical answer.
        LoadModelKind::Closed => summarize(&corrected(&figures.raw, raw.mean_us as u64)),
    };
    let hold_seconds = profile.hold.as_secs_f64();
    Ok(LevelOutcome {
        label,
        users,
        rate_per_second: rate,
        hold_ms: profile.hold.as_millis() as u64,
        request_count: figures.request_count,
        sent_count: figures.ended_count,
        throughput_per_second: figures.request_count as f64 / hold_seconds,
        latency: raw,
        latency_corrected,
        status_counts: figures.status_counts,
        errors: figures.errors,
        rate_limited_count: figures.rate_limited_count,
        transactions: figures.transactions,
        dropped_arrival_count: dropped,
        persistence: None,
        resources,
        thresholds: Vec::new(),
    })
}

/// The status counts of a level summed, for checking they add up.
pub fn status_total(status_counts: &BTreeMap<String, u64>) -> u64 {
    status_counts.values().sum()
}
