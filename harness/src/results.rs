//! The results file: one versioned JSON document per run, the source every report renders from.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::load::outcome::{LoadOutcome, LoadVerdict};
use crate::scenario::model::Level;
use crate::scenario::outcome::{Deviation, ScenarioOutcome};
use crate::scenario::rules::Rule;
use crate::verdict::Verdict;

/// The version this harness writes and reads. A change that an older reader
/// would misunderstand bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one run found out.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RunResults {
    /// Always [`SCHEMA_VERSION`] for files this harness writes.
    pub schema_version: u32,
    pub run: RunMeta,
    /// In the order the targets were declared.
    pub targets: Vec<TargetResult>,
    /// Every rule of the spec, with the worst verdict per target of the
    /// scenarios that check it.
    pub rules: Vec<RuleResult>,
}

/// When, where and how the run happened, so that two runs can be compared.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RunMeta {
    /// UTC start time plus a short random suffix, also the report directory's name.
    pub id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC.
    pub finished_at: String,
    /// Seeds every generated value, so a run can be repeated.
    pub seed: u64,
    pub harness_version: String,
    /// The workspace's commit, when it is a git checkout.
    pub git_commit: Option<String>,
    pub host: HostInfo,
    /// The arguments the harness was started with, program name first.
    pub command_line: Vec<String>,
}

/// The machine the run happened on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct HostInfo {
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    /// Total memory, when the platform tells it.
    pub memory_bytes: Option<u64>,
}

/// How far a target got.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// It started, was measured and was still running at the end.
    Started,
    /// It could not be launched or exited before it was healthy.
    FailedToStart,
    /// It never answered its health check within its start timeout.
    StartTimeout,
    /// It started but had died by the end of its scenarios.
    Crashed,
    /// Its kind cannot be started by this harness yet.
    Unsupported,
}

impl TargetStatus {
    /// The name used in the results file and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Started => "started",
            TargetStatus::FailedToStart => "failed_to_start",
            TargetStatus::StartTimeout => "start_timeout",
            TargetStatus::Crashed => "crashed",
            TargetStatus::Unsupported => "unsupported",
        }
    }

    /// Whether the target was up for the whole of its scenarios.
    pub fn is_healthy(self) -> bool {
        self == TargetStatus::Started
    }
}

/// One target's part of the run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct TargetResult {
    pub name: String,
    /// `process`, `url` or `container`.
    pub kind: String,
    pub dialect: Option<String>,
    pub status: TargetStatus,
    /// The worst scenario verdict; `error` when the target was not measured.
    pub verdict: Verdict,
    /// Why the target did not start or how it died.
    pub start_error: Option<String>,
    pub base_url: Option<String>,
    /// One outcome per selected scenario, `not_run` ones included.
    pub scenarios: Vec<ScenarioOutcome>,
    /// The dialect mappings applied across all scenarios, summed.
    pub deviations: Vec<Deviation>,
    /// The last lines the target printed (process targets only).
    pub log_excerpt: Vec<String>,
    pub summary: Summary,
    /// One entry per load profile run (or skipped) against this target.
    #[serde(default)]
    pub load: Vec<LoadOutcome>,
}

/// Counts of scenario verdicts for one target.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Summary {
    pub pass_count: u64,
    pub non_strict_count: u64,
    pub fail_count: u64,
    pub not_run_count: u64,
    pub error_count: u64,
    /// The sum of every deviation's count.
    pub deviation_count: u64,
}

/// One spec rule across targets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RuleResult {
    pub id: String,
    pub level: Level,
    /// The spec section heading the rule sits under.
    pub section: String,
    /// The selected scenarios that name this rule.
    pub scenarios: Vec<String>,
    /// Target name to the worst verdict of those scenarios; `not_run` when none ran.
    pub verdicts: BTreeMap<String, Verdict>,
}

impl TargetResult {
    /// Builds a target's result from its outcomes, filling in the derived fields.
    pub fn new(
        name: String,
        kind: String,
        dialect: Option<String>,
        status: TargetStatus,
        scenarios: Vec<ScenarioOutcome>,
    ) -> Self {
        let deviations = sum_deviations(&scenarios);
        let summary = Summary::count(&scenarios, &deviations);
        let verdict = if status.is_healthy() {
            scenarios.iter().fold(Verdict::NotRun, |worst, outcome| {
                worst.combine(outcome.verdict)
            })
        } else {
            Verdict::Error
        };
        TargetResult {
            name,
            kind,
            dialect,
            status,
            verdict,
            start_error: None,
            base_url: None,
            scenarios,
            deviations,
            log_excerpt: Vec::new(),
            summary,
            load: Vec::new(),
        }
    }

    /// Whether every load profile that ran against this target passed its
    /// thresholds; a skipped profile does not count against it.
    pub fn load_passed(&self) -> bool {
        self.load
            .iter()
            .all(|outcome| matches!(outcome.verdict, LoadVerdict::Pass | LoadVerdict::Skipped))
    }

    /// Whether this target met every MUST: it stayed up and no scenario failed
    /// or ended in an error.
    pub fn meets_every_must(&self) -> bool {
        let failed =
            |outcome: &ScenarioOutcome| matches!(outcome.verdict, Verdict::Fail | Verdict::Error);
        self.status.is_healthy() && !self.scenarios.iter().any(failed)
    }
}

impl Summary {
    fn count(scenarios: &[ScenarioOutcome], deviations: &[Deviation]) -> Self {
        let mut summary = Summary::default();
        for outcome in scenarios {
            let counter = match outcome.verdict {
                Verdict::Pass => &mut summary.pass_count,
                Verdict::NonStrict => &mut summary.non_strict_count,
                Verdict::Fail => &mut summary.fail_count,
                Verdict::NotRun => &mut summary.not_run_count,
                Verdict::Error => &mut summary.error_count,
            };
            *counter += 1;
        }
        summary.deviation_count = deviations.iter().map(|deviation| deviation.count).sum();
        summary
    }
}

/// Merges the deviations of many scenarios, adding up the counts of equal mappings.
fn sum_deviations(scenarios: &[ScenarioOutcome]) -> Vec<Deviation> {
    let mut sums: BTreeMap<(String, String), u64> = BTreeMap::new();
    for deviation in scenarios.iter().flat_map(|outcome| &outcome.deviations) {
        let key = (deviation.dialect.clone(), deviation.mapping.clone());
        *sums.entry(key).or_default() += deviation.count;
    }
    let merged = sums.into_iter();
    merged
        .map(|((dialect, mapping), count)| Deviation {
            dialect,
            mapping,
            count,
        })
        .collect()
}

/// Rolls scenario verdicts up to rules: per rule and target, the worst verdict
/// of the scenarios that name the rule.
pub fn roll_up_rules(rules: &[Rule], targets: &[TargetResult]) -> Vec<RuleResult> {
    let mut results = Vec::with_capacity(rules.len());
    for rule in rules {
        let names_rule = |outcome: &&ScenarioOutcome| outcome.rules.contains(&rule.id);
        let mut verdicts = BTreeMap::new();
        for target in targets {
            let linked = target.scenarios.iter().filter(names_rule);
            let worst = linked.fold(Verdict::NotRun, |worst, outcome| {
                worst.combine(outcome.verdict)
            });
            verdicts.insert(target.name.clone(), worst);
        }

        let mut scenarios: Vec<String> = Vec::new();
        let all_outcomes = targets.iter().flat_map(|target| &target.scenarios);
        for outcome in all_outcomes.filter(names_rule) {
            if !scenarios.contains(&outcome.id) {
                scenarios.push(outcome.id.clone());
            }
        }
        results.push(RuleResult {
            id: rule.id.clone(),
            level: rule.level,
            section: rule.section.clone(),
            scenarios,
            verdicts,
        });
    }
    results
}

impl RunResults {
    /// Whether every target met every MUST; decides the exit code.
    pub fn all_must_passed(&self) -> bool {
        self.targets.iter().all(TargetResult::meets_every_must)
    }

    /// Whether no load profile failed a threshold or could not run on any target.
    pub fn all_load_passed(&self) -> bool {
        self.targets.iter().all(TargetResult::load_passed)
    }

    /// Writes the results as pretty JSON, creating the directory if needed.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(directory) = path.parent() {
            std::fs::create_dir_all(directory)
                .with_context(|| format!("cannot create \"{}\"", directory.display()))?;
        }
        let json = serde_json::to_string_pretty(self).context("cannot encode the results")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write results to \"{}\"", path.display()))
    }

    /// Reads a results file, refusing versions this harness does not know.
    pub fn read(path: &Path) -> anyhow::Result<RunResults> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read results file \"{}\"", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("results file \"{}\" is not JSON", path.display()))?;
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(SCHEMA_VERSION)) {
            let found = version.map_or("none".to_string(), |version| version.to_string());
            bail!(
                "results file \"{}\" has schema_version {found}; this harness reads version {SCHEMA_VERSION}",
                path.display()
            );
        }
        serde_json::from_value(value).with_context(|| {
            format!(
                "results file \"{}\" does not match the schema",
                path.display()
            )
        })
    }
}

impl HostInfo {
    /// Describes the machine the harness runs on.
    pub fn current() -> Self {
        HostInfo {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: total_memory(),
        }
    }
}

/// Total memory from `/proc/meminfo`; `None` elsewhere.
fn total_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kibibytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kibibytes * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        id: &str,
        rules: &[&str],
        verdict: Verdict,
        deviations: &[(&str, u64)],
    ) -> ScenarioOutcome {
        ScenarioOutcome {
            id: id.to_string(),
            title: format!("{id} title"),
            rules: rules.iter().map(|rule| rule.to_string()).collect(),
            level: Level::Must,
            verdict,
            reason: None,
            duration_ms: 1,
            steps: Vec::new(),
            deviations: deviations
                .iter()
                .map(|(mapping, count)| Deviation {
                    dialect: "legacy".to_string(),
                    mapping: mapping.to_string(),
                    count: *count,
                })
                .collect(),
        }
    }

    fn rule(id: &str) -> Rule {
        Rule {
            id: id.to_string(),
            level: Level::Must,
            text: String::new(),
            section: "5. Ingest (ING)".to_string(),
        }
    }

    fn target(name: &str, status: TargetStatus, scenarios: Vec<ScenarioOutcome>) -> TargetResult {
        TargetResult::new(name.to_string(), "url".to_string(), None, status, scenarios)
    }

    #[test]
    fn rules_take_the_worst_verdict_of_their_scenarios() {
        let a = target(
            "a",
            TargetStatus::Started,
            vec![
                outcome("s1", &["ING-1"], Verdict::Pass, &[]),
                outcome("s2", &["ING-1", "ING-2"], Verdict::NonStrict, &[]),
                outcome("s3", &["ING-2"], Verdict::NotRun, &[]),
            ],
        );
        let b = target(
            "b",
            TargetStatus::Started,
            vec![outcome("s3", &["ING-2"], Verdict::Fail, &[])],
        );

        let rules = roll_up_rules(&[rule("ING-1"), rule("ING-2"), rule("ING-3")], &[a, b]);
        let verdicts = |index: usize| -> Vec<(String, Verdict)> {
            rules[index]
                .verdicts
                .iter()
                .map(|(name, verdict)| (name.clone(), *verdict))
                .collect()
        };
        assert_eq!(
            verdicts(0),
            [
                ("a".into(), Verdict::NonStrict),
                ("b".into(), Verdict::NotRun)
            ]
        );
        assert_eq!(
            verdicts(1),
            [
                ("a".into(), Verdict::NonStrict),
                ("b".into(), Verdict::Fail)
            ]
        );
        assert_eq!(
            verdicts(2),
            [("a".into(), Verdict::NotRun), ("b".into(), Verdict::NotRun)]
        );
        assert_eq!(rules[1].scenarios, ["s2", "s3"]);
        assert!(rules[2].scenarios.is_empty());
    }

    #[test]
    fn summaries_count_verdicts_and_sum_deviations() {
        let result = target(
            "a",
            TargetStatus::Started,
            vec![
                outcome("s1", &["ING-1"], Verdict::Pass, &[("status 200 -> 202", 2)]),
                outcome(
                    "s2",
                    &["ING-1"],
                    Verdict::Error,
                    &[("status 200 -> 202", 3), ("x", 1)],
                ),
                outcome("s3", &["ING-1"], Verdict::NotRun, &[]),
            ],
        );
        let expected = Summary {
            pass_count: 1,
            non_strict_count: 0,
            fail_count: 0,
            not_run_count: 1,
            error_count: 1,
            deviation_count: 6,
        };
        assert_eq!(result.summary, expected);
        assert_eq!(result.verdict, Verdict::Error);
        let merged: Vec<(&str, u64)> = result
            .deviations
            .iter()
            .map(|d| (d.mapping.as_str(), d.count))
            .collect();
        assert_eq!(merged, [("status 200 -> 202", 5), ("x", 1)]);
        assert!(!result.meets_every_must());
    }

    #[test]
    fn a_target_that_did_not_start_fails_the_run() {
        let result = target("a", TargetStatus::StartTimeout, Vec::new());
        assert_eq!(result.verdict, Verdict::Error);
        assert!(!result.meets_every_must());
        let passing = target(
            "b",
            TargetStatus::Started,
            vec![outcome("s", &[], Verdict::NonStrict, &[])],
        );
        assert!(passing.meets_every_must());
    }

    fn sample_results() -> RunResults {
        RunResults {
            schema_version: SCHEMA_VERSION,
            run: RunMeta {
                id: "20261203T190000Z-abcd".to_string(),
                started_at: "2026-12-03T19:00:00Z".to_string(),
                finished_at: "2026-12-03T19:01:00Z".to_string(),
                seed: 42,
                harness_version: "0.1.0".to_string(),
                git_commit: None,
                host: HostInfo::current(),
                command_line: vec!["harness".to_string(), "run".to_string()],
            },
            targets: vec![target(
                "a",
                TargetStatus::Started,
                vec![outcome("s1", &["ING-1"], Verdict::Pass, &[])],
            )],
            rules: Vec::new(),
        }
    }

    #[test]
    fn results_survive_a_round_trip_and_refuse_other_versions() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("run").join("results.json");
        let results = sample_results();
        results.write(&path).expect("written");
        assert_eq!(RunResults::read(&path).expect("read back"), results);

        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("text")).expect("json");
        json["schema_version"] = 2.into();
        std::fs::write(&path, json.to_string()).expect("rewrite");
        let error = RunResults::read(&path).expect_err("version 2 is refused");
        assert_eq!(
            error.to_string(),
            format!(
                "results file \"{}\" has schema_version 2; this harness reads version 1",
                path.display()
            )
        );
    }

    #[test]
    fn the_json_schema_describes_the_results() {
        let schema = serde_json::to_value(schemars::schema_for!(RunResults)).expect("schema");
        let required = schema["required"].as_array().expect("required fields");
        assert!(required.contains(&"schema_version".into()), "{schema}");
        let instance = serde_json::to_value(sample_results()).expect("instance");
        let validator = jsonschema::validator_for(&schema).expect("a valid schema");
        assert!(validator.is_valid(&instance));
    }
}
