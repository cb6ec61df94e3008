//! Runs scenarios against one target: bounded parallelism, one organisation set
//! per scenario, a deadline per scenario, and the verdict of each.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

use super::http;
use super::model::{Level, Scenario, StepAction};
use super::outcome::{ScenarioOutcome, StepRecord};
use super::schema::Schemas;
use super::steps;
use super::template::{TemplateError, Templates};
use crate::dialect::{DeviationLog, Dialect};
use crate::sink::Sink;
use crate::verdict::Verdict;

/// Everything the engine needs to play scenarios against one target.
///
/// `schemas` is an addition to the first sketch of this type: the compiled
/// `components.schemas` of docs/openapi.json that `expect.schema` checks use
/// (`Schemas::none()` when no document is at hand).
pub struct TargetContext {
    pub name: String,
    /// The base URL such as `http://127.0.0.1:8080`; replaced after a restart.
    pub base_url: Arc<RwLock<String>>,
    pub dialect: Option<Arc<Dialect>>,
    /// What the target offers: `restart`, `webhook`.
    pub capabilities: BTreeSet<String>,
    pub control: Option<Arc<dyn TargetControl>>,
    pub sink: Arc<Sink>,
    pub client: reqwest::Client,
    /// The run seed; `unique()` and `uuid()` values derive from it.
    pub seed: u64,
    pub request_timeout: Duration,
    pub schemas: Arc<Schemas>,
}

/// Restarts a target on request of a `control` step.
#[async_trait::async_trait]
pub trait TargetControl: Send + Sync {
    /// Stops the target gracefully and starts it again on the same storage;
    /// returns the new base URL.
    async fn restart(&self) -> anyhow::Result<String>;

    /// Kills the target (SIGKILL) and starts it again on the same storage;
    /// returns the new base URL. By default this is a graceful restart.
    async fn kill_and_start(&self) -> anyhow::Result<String> {
        self.restart().await
    }
}

/// Why a step could not be judged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error("no answer to {request}: {cause}")]
    Transport { request: String, cause: String },
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{0}")]
    Scenario(String),
    #[error("target control failed: {0}")]
    Control(String),
}

/// The state of one scenario while it runs.
pub(crate) struct ScenarioRun<'a> {
    pub ctx: &'a TargetContext,
    pub scenario: &'a Scenario,
    pub templates: Templates,
    pub dialect: Arc<Dialect>,
    pub deviations: DeviationLog,
    /// The key of this scenario's sink endpoint.
    pub sink_key: String,
    keys: BTreeMap<String, String>,
}

impl ScenarioRun<'_> {
    /// Redacts secrets in recorded text: `trg_…` and `whsec_…` values, and the
    /// keys of this scenario's organisations whatever their form.
    ///
    /// A key of another form that the scenario only captured (from a rotation)
    /// is not known here and stays visible in the record.
    pub fn redact(&self, text: &str) -> String {
        let mut text = super::outcome::redact(text);
        for key in self.keys.values().filter(|key| key.len() >= 8) {
            if text.contains(key.as_str()) {
                text = text.replace(key.as_str(), "[redacted]");
            }
        }
        text
    }

    /// The sink key of `endpoint`, a named endpoint under the scenario's own
    /// (reached at `{{ sink_url }}/{endpoint}`), or of the main one.
    pub fn sink_endpoint_key(&self, endpoint: Option<&str>) -> String {
        match endpoint {
            Some(endpoint) => format!("{}/{endpoint}", self.sink_key),
            None => self.sink_key.clone(),
        }
    }

    /// The API key of the scenario's organisation `name`.
    pub fn key_of(&self, name: &str) -> Result<String, StepError> {
        self.keys.get(name).cloned().ok_or_else(|| {
            StepError::Scenario(format!(
                "organisation {name:?} is not one of this scenario's"
            ))
        })
    }
}

/// Runs `scenarios` with at most `parallelism` at once; `on_done` sees each
/// outcome as it completes. Outcomes come back in the order of `scenarios`.
///
/// Scenarios that require `restart` run last and alone, since restarting the
/// target would break every scenario running beside them.
pub async fn run_scenarios<'a>(
    ctx: &TargetContext,
    scenarios: &'a [&'a Scenario],
    parallelism: usize,
    on_done: impl Fn(&ScenarioOutcome) + Send + Sync,
) -> Vec<ScenarioOutcome> {
    let on_done = &on_done;
    let exclusive = |s: &Scenario| s.requires.iter().any(|c| c == "restart");
    let play = |(index, scenario): (usize, &&'a Scenario)| play_one(ctx, index, scenario, on_done);

    let shared = scenarios.iter().enumerate().filter(|(_, s)| !exclusive(s));
    let mut outcomes: Vec<(usize, ScenarioOutcome)> = futures::stream::iter(shared)
        .map(play)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    for alone in scenarios.iter().enumerate().filter(|(_, s)| exclusive(s)) {
        outcomes.push(play(alone).await);
    }
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

async fn play_one(
    ctx: &TargetContext,
    index: usize,
    scenario: &Scenario,
    on_done: &(impl Fn(&ScenarioOutcome) + Send + Sync),
) -> (usize, ScenarioOutcome) {
    let outcome = run_scenario(ctx, scenario).await;
    on_done(&outcome);
    (index, outcome)
}

/// Runs one scenario to its outcome; never panics on target behaviour.
pub async fn run_scenario(ctx: &TargetContext, scenario: &Scenario) -> ScenarioOutcome {
    static SINK_KEYS: AtomicU64 = AtomicU64::new(0);
    let started = Instant::now();
    let dialect = ctx
        .dialect
        .clone()
        .unwrap_or_else(|| Arc::new(Dialect::contract()));
    let sink_key = format!(
        "{}-{}",
        scenario.id,
        SINK_KEYS.fetch_add(1, Ordering::Relaxed)
    );
    let mut run = ScenarioRun {
        ctx,
        scenario,
        templates: Templates::new(ctx.seed, &scenario.id),
        dialect,
        deviations: DeviationLog::default(),
        sink_key,
        keys: BTreeMap::new(),
    };
    let mut steps_done = Vec::new();

    let (verdict, reason) = match skip_reason(ctx, &run.dialect, scenario) {
        Some(reason) => (Verdict::NotRun, Some(reason)),
        None => {
            let deadline = scenario_deadline(ctx, scenario);
            match tokio::time::timeout(deadline, play(&mut run, &mut steps_done)).await {
                Ok(judged) => judged,
                Err(_) => {
                    let reason =
                        format!("the scenario did not finish within its deadline of {deadline:?}");
                    (Verdict::Error, Some(reason))
                }
            }
        }
    };
    ctx.sink.forget(&run.sink_key);
    tracing::debug!(scenario = scenario.id, target = ctx.name, %verdict, "scenario judged");

    ScenarioOutcome {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        rules: scenario.rules.clone(),
        level: scenario.level,
        verdict,
        reason,
        duration_ms: started.elapsed().as_millis() as u64,
        steps: steps_done,
        deviations: run.deviations.deviations(),
    }
}

/// Why the scenario cannot run on this target, if it cannot.
fn skip_reason(ctx: &TargetContext, dialect: &Dialect, scenario: &Scenario) -> Option<String> {
    if let Some(missing) = scenario
        .requires
        .iter()
        .find(|c| !ctx.capabilities.contains(*c))
    {
        return Some(format!(
            "target {:?} lacks the {missing:?} capability",
            ctx.name
        ));
    }
    let requests = scenario
        .steps
        .iter()
        .filter_map(|step| step.action.request());
    let missing = requests
        .clone()
        .find_map(|r| dialect.missing_route(&r.method, &r.path));
    let follows_cursor = scenario.steps.iter().any(steps::follows_cursor);
    missing.or_else(|| {
        follows_cursor
            .then(|| dialect.cannot_follow_cursors())
            .flatten()
    })
}

/// A bound on the scenario's run time: a base, plus every wait it asks for,
/// plus a request timeout per request it may send.
fn scenario_deadline(ctx: &TargetContext, scenario: &Scenario) -> Duration {
    let mut deadline = Duration::from_secs(30) + ctx.request_timeout * scenario.orgs.len() as u32;
    for step in &scenario.steps {
        deadline += match &step.action {
            StepAction::Poll { timeout, .. } => *timeout + ctx.request_timeout,
            StepAction::Webhook(webhook) => webhook.timeout,
            StepAction::Sleep(duration) => *duration,
            StepAction::Repeat { count, .. } => ctx.request_timeout * (*count).min(10_000) as u32,
            StepAction::Concurrent { count, .. } => {
                let waves = count.div_ceil(steps::MAX_IN_FLIGHT as u64).max(1);
                ctx.request_timeout * waves.min(10_000) as u32
            }
            StepAction::Control(_) => Duration::from_secs(120),
            _ => ctx.request_timeout,
        };
    }
    deadline
}

/// Creates the organisations, then plays the steps in order and judges them.
async fn play(
    run: &mut ScenarioRun<'_>,
    records: &mut Vec<StepRecord>,
) -> (Verdict, Option<String>) {
    let sink_url = run.ctx.sink.url_for(&run.sink_key);
    run.templates.set("sink_url", json!(sink_url));
    let mut setup = StepRecord::new("create organisations", "setup");
    let created = create_organisations(run, &mut setup).await;
    records.push(setup);
    if let Err(error) = created {
        return judge_error(error);
    }

    // The most severe failure so far: a MUST one beats a SHOULD one, and the
    // earlier of two equally severe ones is kept.
    let mut worst: Option<(Level, String)> = None;
    for step in &run.scenario.steps {
        let mut record = StepRecord::new(&step.name, step.action.kind());
        let result = steps::run_step(run, step, &mut record).await;
        let must = record.failures.iter().find(|f| f.level == Level::Must);
        let first = must.or(record.failures.first()).map(|f| {
            let reason = format!(
                "step {:?}: {} expected {} but was {}",
                step.name, f.expectation, f.expected, f.actual
            );
            (f.level, reason)
        });
        let must_failed = must.is_some();
        records.push(record);
        if let Err(error) = result {
            return judge_error(error);
        }
        if let Some((level, reason)) = first
            && worst
                .as_ref()
                .is_none_or(|(worst_level, _)| level < *worst_level)
        {
            worst = Some((level, reason));
        }
        // Later steps usually depend on what a failed MUST step should have produced.
        if must_failed {
            break;
        }
    }
    match worst {
        None => (Verdict::Pass, None),
        Some((Level::Must, reason)) if run.scenario.level == Level::Must => {
            (Verdict::Fail, Some(reason))
        }
        Some((_, reason)) => (Verdict::NonStrict, Some(reason)),
    }
}

fn judge_error(error: StepError) -> (Verdict, Option<String>) {
    let verdict = match error {
        StepError::Unsupported(_) => Verdict::NotRun,
        _ => Verdict::Error,
    };
    (verdict, Some(error.to_string()))
}

/// Creates each organisation of the scenario through key generation, with a
/// name unique in the run, and binds `key`, `org_id` and `orgs.NAME.*`.
async fn create_organisations(
    run: &mut ScenarioRun<'_>,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    let mut orgs = serde_json::Map::new();
    for (name, tier) in &run.scenario.orgs {
        let prepared = http::Prepared {
            method: "POST".into(),
            path: "/api/keys/generate".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            api_key: None,
            body: http::PreparedBody::Json(json!({
                "organization_name": run.templates.render_string(&format!("{{{{ unique('{name}') }}}}"))?,
                "tier": tier,
            })),
        };
        let answer = http::execute(run, &prepared).await?;
        let key = answer
            .json
            .as_ref()
            .and_then(|b| b.get("api_key"))
            .and_then(Value::as_str);
        let id = answer
            .json
            .as_ref()
            .and_then(|b| b.get("organization_id"))
            .cloned();
        let (Some(key), Some(id), 201) = (key, id, answer.status) else {
            record.exchanges.push(answer.exchange.clone());
            return Err(StepError::Transport {
                request: "POST /api/keys/generate".into(),
                cause: format!(
                    "creating organisation {name:?} answered {} {}, not 201 with api_key and organization_id",
                    answer.status,
                    run.redact(&super::outcome::excerpt(&answer.text))
                ),
            });
        };
        run.keys.insert(name.clone(), key.to_string());
        // The answer was recorded before its key was known; redact it again.
        let mut exchange = answer.exchange.clone();
        if let Some(response) = exchange.response.as_mut() {
            response.body = response.body.as_deref().map(|body| run.redact(body));
        }
        record.exchanges.push(exchange);
        orgs.insert(name.clone(), json!({ "key": key, "id": id }));
        if name == "main" {
            run.templates.set("key", json!(key));
            run.templates.set("org_id", id);
        }
    }
    run.templates.set("orgs", Value::Object(orgs));
    Ok(())
}
