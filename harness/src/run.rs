//! The run pipeline: plan, then for each target start, run the conformance
//! scenarios and stop, then write the results and print the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::dialect::{Dialect, load_dialect};
use crate::load::stage::{StageTarget, run_load_stage};
use crate::progress;
use crate::results::{
    HostInfo, RunMeta, RunResults, SCHEMA_VERSION, TargetResult, TargetStatus, roll_up_rules,
};
use crate::scenario::model::Scenario;
use crate::scenario::outcome::ScenarioOutcome;
use crate::scenario::runner::{TargetContext, run_scenarios};
use crate::scenario::{Schemas, Suite, load_spec_rules, load_suite};
use crate::settings::{RunSettings, ScenarioSettings, TargetSettings, TargetsSource};
use crate::sink::Sink;
use crate::target::embedded::{describe_reference_target, reference_target};
use crate::target::{RunningTarget, StartFailure, TargetSpec, load_targets};
use crate::verdict::Verdict;

/// A target with its dialect loaded, ready to start.
pub struct PlannedTarget {
    pub spec: TargetSpec,
    pub dialect: Option<Arc<Dialect>>,
}

/// What a finished run produced and where its results were written.
pub struct RunReport {
    pub results: RunResults,
    pub results_path: PathBuf,
}

/// The run ended early on Ctrl-C or SIGTERM; the target in hand was stopped first.
#[derive(Debug, thiserror::Error)]
#[error("interrupted; every target the harness started has been stopped")]
pub struct Interrupted;

/// What every target of a run shares.
#[derive(Clone, Copy)]
struct Shared<'a> {
    settings: &'a RunSettings,
    sink: &'a Arc<Sink>,
    client: &'a reqwest::Client,
    schemas: &'a Arc<Schemas>,
}

/// Runs the conformance phase against every selected target and writes the results.
///
/// Setup mistakes (a bad file, an unknown name) fail before any target starts. A
/// target that does not start is recorded with its cause and the run goes on.
///
/// An interrupted run writes no results file: a partial one would read as a
/// complete run with missing targets. A target that hangs while its scenarios
/// run is bounded by the engine's request timeout and scenario deadlines only;
/// there is no overall deadline per target.
pub async fn run_conformance(
    settings: &RunSettings,
    command_line: Vec<String>,
) -> anyhow::Result<RunReport> {
    let started_at = OffsetDateTime::now_utc();
    let run_id = run_id(started_at);
    // The cheap checks come first, so a typo is reported before a build of
    // the embedded reference server starts.
    let suite = load_suite(&settings.scenarios.directory)?;
    let rules = load_spec_rules(&settings.scenarios.spec)?;
    suite.check_rules(&rules)?;
    let schemas = Arc::new(Schemas::load(&settings.scenarios.openapi)?);
    suite.check_schemas(&schemas)?;
    let scenarios = select_scenarios(&suite, &settings.scenarios)?;
    let targets = plan_targets(&settings.targets, EmbeddedTarget::Build)?;
    tracing::info!(
        run_id = %run_id,
        targets = targets.len(),
        scenarios = scenarios.len(),
        seed = settings.seed,
        "run planned"
    );

    let specs = targets.iter().map(|target| &target.spec);
    let sink_ip = crate::target::docker::sink_ip(specs).await;
    let sink = Sink::start((sink_ip, 0).into())
        .await
        .context("cannot start the webhook sink")?;
    // A redirect is an answer to judge, never a hop to take, and no proxy
    // from the environment may stand between the harness and a target.
    let client = reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("cannot build the HTTP client")?;

    let interrupt = watch_for_interrupt()?;
    crate::load::closed::bridge_interrupts(interrupt.clone());
    let shared = Shared {
        settings,
        sink: &sink,
        client: &client,
        schemas: &schemas,
    };
    let mut target_results = Vec::with_capacity(targets.len());
    for target in &targets {
        match run_target(target, &scenarios, &shared, &interrupt).await {
            Ok(result) => target_results.push(result),
            Err(interrupted) => {
                sink.shutdown().await;
                return Err(interrupted.into());
            }
        }
    }
    sink.shutdown().await;

    let results = RunResults {
        schema_version: SCHEMA_VERSION,
        run: run_meta(run_id.clone(), started_at, settings, command_line),
        rules: roll_up_rules(&rules, &target_results),
        targets: target_results,
    };
    let results_path = settings.out_dir.join(&run_id).join("results.json");
    results.write(&results_path)?;
    tracing::info!(path = %results_path.display(), "results written");
    let run_directory = settings.out_dir.join(&run_id);
    crate::report::write_reports(
        &results,
        None,
        &crate::report::Format::FILES,
        &run_directory,
    )?;
    Ok(RunReport {
        results,
        results_path,
    })
}

/// Whether planning may build the embedded reference server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddedTarget {
    /// Find the binary or build it: a run is about to start it.
    Build,
    /// Only describe it: listing targets must not start a build.
    Describe,
}

/// Reads the targets (or describes the embedded one), keeps the selected ones
/// and loads their dialects.
pub fn plan_targets(
    settings: &TargetSettings,
    embedded: EmbeddedTarget,
) -> anyhow::Result<Vec<PlannedTarget>> {
    let root = &settings.workspace_root;
    let specs = match (&settings.source, embedded) {
        (TargetsSource::File(path), _) => load_targets(path, root)?,
        (TargetsSource::Embedded, EmbeddedTarget::Build) => vec![reference_target(root)?],
        (TargetsSource::Embedded, EmbeddedTarget::Describe) => {
            vec![describe_reference_target(root)]
        }
    };
    let specs = select_targets(specs, &settings.names)?;

    let mut planned = Vec::with_capacity(specs.len());
    for spec in specs {
        let dialect = match &spec.dialect {
            None => None,
            Some(name) => {
                let path = settings.dialects_dir.join(format!("{name}.toml"));
                let dialect = load_dialect(&path).with_context(|| {
                    format!(
                        "{}: target \"{}\" names dialect \"{name}\"",
                        spec.origin, spec.name
                    )
                })?;
                Some(Arc::new(dialect))
            }
        };
        planned.push(PlannedTarget { spec, dialect });
    }
    Ok(planned)
}

/// Keeps the targets named with `--target`, in file order; all when none are named.
pub fn select_targets(specs: Vec<TargetSpec>, names: &[String]) -> anyhow::Result<Vec<TargetSpec>> {
    for name in names {
        if !specs.iter().any(|spec| &spec.name == name) {
            let known: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
            bail!(
                "no target named \"{name}\"; known targets: {}",
                known.join(", ")
            );
        }
    }
    let wanted = |spec: &TargetSpec| names.is_empty() || names.contains(&spec.name);
    Ok(specs.into_iter().filter(wanted).collect())
}

/// Applies the filter and refuses an unknown id or an empty selection.
fn select_scenarios<'a>(
    suite: &'a Suite,
    settings: &ScenarioSettings,
) -> anyhow::Result<Vec<&'a Scenario>> {
    for id in &settings.filter.ids {
        if !suite.scenarios.iter().any(|scenario| &scenario.id == id) {
            bail!("no scenario with id \"{id}\"; `harness scenarios --list` shows them all");
        }
    }
    let selected = suite.filter(&settings.filter);
    if selected.is_empty() {
        bail!(
            "no scenario in \"{}\" matches the given --scenario, --tag and --level filters",
            settings.directory.display()
        );
    }
    Ok(selected)
}

/// Starts one target, runs the scenarios against it and stops it.
///
/// Only an interrupt is an error; everything a target does wrong is recorded
/// in its result instead.
async fn run_target(
    target: &PlannedTarget,
    scenarios: &[&Scenario],
    shared: &Shared<'_>,
    interrupt: &CancellationToken,
) -> Result<TargetResult, Interrupted> {
    let Shared {
        settings,
        sink,
        client,
        schemas,
    } = *shared;
    let spec = &target.spec;
    let progress = progress::target_bar(&spec.name, scenarios.len(), settings.progress);
    progress.set_message("starting");
    tracing::info!(target_name = %spec.name, kind = spec.kind.name(), "starting target");

    let started = RunningTarget::start(spec, target.dialect.clone(), client, interrupt).await;
    if interrupt.is_cancelled() {
        if let Ok(running) = &started {
            running.stop().await;
        }
        return Err(Interrupted);
    }
    let running = match started {
        Ok(running) => running,
        Err(failure) => {
            progress.abandon_with_message("did not start");
            let reason = &failure.reason;
            tracing::info!(target_name = %spec.name, %reason, "target did not start");
            return Ok(not_started(target, scenarios, failure));
        }
    };
    tracing::info!(target_name = %spec.name, base_url = %running.base_url(), "target ready");

    progress.set_message("running");
    let context = TargetContext {
        name: spec.name.clone(),
        base_url: Arc::new(std::sync::RwLock::new(running.base_url())),
        dialect: target.dialect.clone(),
        capabilities: spec.capabilities.clone(),
        control: running.control(),
        sink: sink.clone(),
        client: client.clone(),
        seed: settings.seed,
        request_timeout: settings.request_timeout,
        schemas: schemas.clone(),
    };
    let on_done = |outcome: &ScenarioOutcome| {
        progress.inc(1);
        progress.set_message(outcome.id.clone());
    };
    let run = run_scenarios(&context, scenarios, settings.parallelism, on_done);
    let outcomes = tokio::select! {
        outcomes = run => outcomes,
        () = interrupt.cancelled() => {
            running.stop().await;
            return Err(Interrupted);
        }
    };

    // A target that died during its scenarios is recorded as crashed, with the
    // status it died with; its scenarios keep the verdicts they earned.
    let died = running.exit_status();
    let load = if settings.load.profiles.is_empty() {
        Vec::new()
    } else {
        // The load runs while the target is still up, gated by the verdicts
        // its scenarios just earned.
        progress.set_message("load");
        let stage_target = StageTarget {
            name: &spec.name,
            kind: spec.kind.name(),
            base_url: running.base_url(),
            healthy: died.is_none(),
            scenarios: &outcomes,
            sampler: running.sampler(),
        };
        run_load_stage(&settings.load, stage_target, interrupt).await
    };
    if interrupt.is_cancelled() {
        running.stop().await;
        return Err(Interrupted);
    }
    let died = died.or_else(|| running.exit_status());
    running.stop().await;
    let log_excerpt = running.log_tail();
    progress.finish_with_message("done");
    tracing::info!(target_name = %spec.name, "target stopped");

    let status = if died.is_some() {
        TargetStatus::Crashed
    } else {
        TargetStatus::Started
    };
    let mut result = target_result(target, status, outcomes);
    result.start_error = died.map(|how| format!("the target died during its scenarios ({how})"));
    result.base_url = Some(running.base_url());
    result.log_excerpt = log_excerpt;
    result.load = load;
    Ok(result)
}

/// The result of a target that never became ready: every scenario `not_run`.
fn not_started(
    target: &PlannedTarget,
    scenarios: &[&Scenario],
    failure: StartFailure,
) -> TargetResult {
    let reason = format!("not run: the target did not start ({})", failure.reason);
    let outcomes = scenarios.iter().map(|scenario| ScenarioOutcome {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        rules: scenario.rules.clone(),
        level: scenario.level,
        verdict: Verdict::NotRun,
        reason: Some(reason.clone()),
        duration_ms: 0,
        steps: Vec::new(),
        deviations: Vec::new(),
    });
    let mut result = target_result(target, failure.status, outcomes.collect());
    result.start_error = Some(failure.reason);
    result.log_excerpt = failure.log_tail;
    result
}

fn target_result(
    target: &PlannedTarget,
    status: TargetStatus,
    outcomes: Vec<ScenarioOutcome>,
) -> TargetResult {
    let spec = &target.spec;
    let kind = spec.kind.name().to_string();
    TargetResult::new(
        spec.name.clone(),
        kind,
        spec.dialect.clone(),
        status,
        outcomes,
    )
}

/// Returns a token cancelled on the first SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed before any target starts, so a signal that
/// arrives while a target is starting is already caught, and the harness stops
/// that target instead of dying with it still running.
fn watch_for_interrupt() -> anyhow::Result<CancellationToken> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("interrupted; stopping");
        cancel.cancel();
    });
    Ok(token)
}

/// Describes the run; called when it ends, to record the finish time.
fn run_meta(
    id: String,
    started_at: OffsetDateTime,
    settings: &RunSettings,
    command_line: Vec<String>,
) -> RunMeta {
    RunMeta {
        id,
        started_at: rfc3339(started_at),
        finished_at: rfc3339(OffsetDateTime::now_utc()),
        seed: settings.seed,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: git_commit(&settings.targets.workspace_root),
        host: HostInfo::current(),
        command_line,
    }
}

/// A run id sorts by time and stays unique when two runs start in the same second.
fn run_id(started_at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = started_at
        .format(&format)
        .expect("constant format fits any UTC time");
    format!("{stamp}-{:04x}", rand::random::<u16>())
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .expect("a UTC time always formats as RFC 3339")
}

/// The checked-out commit, when the workspace is a git repository and git is installed.
fn git_commit(workspace_root: &Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(workspace_root)
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}
