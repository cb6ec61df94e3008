//! The HTML report (`report.html`): one self-contained page with the targets
//! side by side, the rules they miss, the scenario matrix with its evidence one
//! click away, charts as inline SVG, and the run's metadata.
//!
//! The page is built from a view model rendered through `report.html` (beside
//! this file); it loads nothing from the network.

use anyhow::Context;
use minijinja::Environment;
use serde::Serialize;

use super::baseline::{Comparison, percent};
use super::charts::{self, Series};
use super::figures::{
    CURVE_PERCENTILES, exchange_latency, exchange_times, missed_rules, percentile, rule_tally,
};
use super::matrix::Matrix;
use crate::load::outcome::{LatencySummary, LoadOutcome};
use crate::results::{RunResults, TargetResult};
use crate::scenario::model::Level;
use crate::scenario::outcome::{Exchange, ScenarioOutcome};
use crate::verdict::Verdict;

const TEMPLATE: &str = include_str!("report.html");

/// Renders the whole page.
pub fn render(results: &RunResults, comparison: Option<&Comparison>) -> anyhow::Result<String> {
    let page = Page::new(results, comparison)?;
    let mut environment = Environment::new();
    environment
        .add_template("report.html", TEMPLATE)
        .context("the HTML report template does not parse")?;
    let template = environment
        .get_template("report.html")
        .context("the HTML report template is missing")?;
    template
        .render(&page)
        .context("cannot render the HTML report")
}

/// Everything the template shows.
#[derive(Serialize)]
struct Page {
    run: RunView,
    targets: Vec<TargetView>,
    /// Rules at least one target did not meet, worst first.
    missed_rules: Vec<RuleRow>,
    /// Every rule, grouped by section.
    rule_sections: Vec<RuleSection>,
    matrix: MatrixView,
    charts: Vec<ChartView>,
    load_rows: Vec<LoadRow>,
    evidence: Vec<EvidenceView>,
    comparison: Option<ComparisonView>,
}

#[derive(Serialize)]
struct RunView {
    id: String,
    started_at: String,
    finished_at: String,
    seed: u64,
    harness_version: String,
    git_commit: String,
    host: String,
    command_line: String,
    schema_version: u32,
    scenario_count: usize,
    rule_count: usize,
}

#[derive(Serialize)]
struct TargetView {
    name: String,
    colour: String,
    kind: String,
    dialect: Option<String>,
    status: &'static str,
    healthy: bool,
    verdict: &'static str,
    /// A one-line answer: does it meet the contract?
    headline: String,
    must_passed: usize,
    must_checked: usize,
    should_passed: usize,
    should_checked: usize,
    pass: u64,
    non_strict: u64,
    fail: u64,
    not_run: u64,
    error: u64,
    deviation_count: u64,
    deviations: Vec<String>,
    missed_rules: Vec<(String, &'static str)>,
    latency: Option<String>,
    load: Vec<LoadVerdictView>,
    start_error: Option<String>,
    log_excerpt: String,
}

#[derive(Serialize)]
struct LoadVerdictView {
    profile: String,
    verdict: &'static str,
    peak: String,
}

#[derive(Serialize)]
struct RuleRow {
    id: String,
    level: String,
    section: String,
    scenarios: String,
    /// Per target: the class and the word of its verdict.
    cells: Vec<(&'static str, &'static str)>,
}

#[derive(Serialize)]
struct RuleSection {
    title: String,
    rules: Vec<RuleRow>,
}

#[derive(Serialize)]
struct MatrixView {
    targets: Vec<String>,
    sections: Vec<MatrixSection>,
}

#[derive(Serialize)]
struct MatrixSection {
    title: String,
    rows: Vec<MatrixRow>,
}

#[derive(Serialize)]
struct MatrixRow {
    id: String,
    title: String,
    rules: String,
    /// Whether every target got the same verdict; the page can hide such rows.
    uniform_pass: bool,
    cells: Vec<MatrixCell>,
}

#[derive(Serialize)]
struct MatrixCell {
    verdict: &'static str,
    label: &'static str,
    /// The evidence element's id, absent where the target lacks the scenario.
    anchor: Option<String>,
    duration_ms: Option<u64>,
}

#[derive(Serialize)]
struct ChartView {
    title: String,
    note: String,
    svg: String,
}

#[derive(Serialize)]
struct LoadRow {
    target: String,
    profile: String,
    level: String,
    verdict: &'static str,
    throughput: String,
    p50: String,
    p99: String,
    p99_corrected: String,
    errors: u64,
    rate_limited: u64,
    thresholds: String,
}

#[derive(Serialize)]
struct EvidenceView {
    anchor: String,
    target: String,
    scenario: String,
    title: String,
    verdict: &'static str,
    label: &'static str,
    level: String,
    rules: String,
    duration_ms: u64,
    reason: Option<String>,
    failures: Vec<FailureView>,
    steps: Vec<StepView>,
    deviations: Vec<String>,
    /// The target's last log lines, shown where the scenario did not pass.
    log_excerpt: Option<String>,
}

#[derive(Serialize)]
struct FailureView {
    step: String,
    expectation: String,
    level: String,
    expected: String,
    actual: String,
}

#[derive(Serialize)]
struct StepView {
    name: String,
    kind: String,
    exchanges: Vec<ExchangeView>,
}

#[derive(Serialize)]
struct ExchangeView {
    summary: String,
    request: String,
    response: String,
}

#[derive(Serialize)]
struct ComparisonView {
    baseline_run: String,
    regressions: Vec<String>,
    rows: Vec<DeltaRow>,
}

#[derive(Serialize)]
struct DeltaRow {
    target: String,
    figure: String,
    before: String,
    after: String,
    change: String,
    /// `better`, `worse`, `same` or `regression`, for the colour.
    class: &'static str,
}

impl Page {
    fn new(results: &RunResults, comparison: Option<&Comparison>) -> anyhow::Result<Page> {
        let matrix = Matrix::new(results);
        Ok(Page {
            run: run_view(results, &matrix),
            targets: results
                .targets
                .iter()
                .enumerate()
                .map(|(index, target)| target_view(results, index, target))
                .collect(),
            missed_rules: missed_rule_rows(results),
            rule_sections: rule_sections(results),
            matrix: matrix_view(&matrix),
            charts: chart_views(results)?,
            load_rows: load_rows(results),
            evidence: evidence_views(results),
            comparison: comparison.map(comparison_view),
        })
    }
}

fn run_view(results: &RunResults, matrix: &Matrix<'_>) -> RunView {
    let run = &results.run;
    let memory = run.host.memory_bytes.map_or(String::new(), |bytes| {
        format!(", {:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    });
    RunView {
        id: run.id.clone(),
        started_at: run.started_at.clone(),
        finished_at: run.finished_at.clone(),
        seed: run.seed,
        harness_version: run.harness_version.clone(),
        git_commit: run
            .git_commit
            .clone()
            .unwrap_or_else(|| "unknown".to_string()),
        host: format!(
            "{} {}, {} CPUs{memory}",
            run.host.os, run.host.arch, run.host.cpus
        ),
        command_line: run.command_line.join(" "),
        schema_version: results.schema_version,
        scenario_count: matrix.rows().count(),
        rule_count: results.rules.len(),
    }
}

/// The class name a verdict is coloured by.
fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::NonStrict => "non-strict",
        Verdict::Fail => "fail",
        Verdict::NotRun => "not-run",
        Verdict::Error => "error",
    }
}

/// The word a verdict is shown as.
fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::NonStrict => "non-strict",
        Verdict::Fail => "FAIL",
        Verdict::NotRun => "not run",
        Verdict::Error => "ERROR",
    }
}

fn target_view(results: &RunResults, index: usize, target: &TargetResult) -> TargetView {
    let must = rule_tally(results, &target.name, Level::Must);
    let should = rule_tally(results, &target.name, Level::Should);
    let missed = missed_rules(results, &target.name);
    let headline = if !target.status.is_healthy() {
        format!("not measured: {}", target.status.as_str().replace('_', " "))
    } else if target.meets_every_must() {
        "meets every MUST rule it was checked on".to_string()
    } else {
        let failing = missed
            .iter()
            .filter(|(_, verdict)| matches!(verdict, Verdict::Fail | Verdict::Error))
            .count();
        format!("misses {failing} MUST rule(s)")
    };
    let summary = &target.summary;
    TargetView {
        name: target.name.clone(),
        colour: charts::css_colour(index),
        kind: target.kind.clone(),
        dialect: target.dialect.clone(),
        status: target.status.as_str(),
        healthy: target.status.is_healthy(),
        verdict: verdict_class(target.verdict),
        headline,
        must_passed: must.passed,
        must_checked: must.checked,
        should_passed: should.passed,
        should_checked: should.checked,
        pass: summary.pass_count,
        non_strict: summary.non_strict_count,
        fail: summary.fail_count,
        not_run: summary.not_run_count,
        error: summary.error_count,
        deviation_count: summary.deviation_count,
        deviations: target
            .deviations
            .iter()
            .map(|deviation| {
                format!(
                    "{}: {} (×{})",
                    deviation.dialect, deviation.mapping, deviation.count
                )
            })
            .collect(),
        missed_rules: missed
            .into_iter()
            .map(|(rule, verdict)| (rule.to_string(), verdict_class(verdict)))
            .collect(),
        latency: exchange_latency(target).map(|latency| {
            format!(
                "p50 {} ms · p90 {} ms · p99 {} ms over {} requests",
                latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.count
            )
        }),
        load: target.load.iter().map(load_verdict_view).collect(),
        start_error: target.start_error.clone(),
        log_excerpt: target.log_excerpt.join("\n"),
    }
}

fn load_verdict_view(outcome: &LoadOutcome) -> LoadVerdictView {
    let peak = outcome
        .levels
        .iter()
        .max_by(|a, b| a.throughput_per_second.total_cmp(&b.throughput_per_second))
        .map_or(String::new(), |level| {
            format!(
                "peak {:.0}/s at {}, p99 {}",
                level.throughput_per_second,
                level.label,
                millis(level.latency_corrected.p99_us)
            )
        });
    LoadVerdictView {
        profile: outcome.profile.clone(),
        verdict: outcome.verdict.as_str(),
        peak: if peak.is_empty() {
            outcome.reason.clone().unwrap_or_default()
        } else {
            peak
        },
    }
}

fn rule_row(results: &RunResults, rule: &crate::results::RuleResult) -> RuleRow {
    RuleRow {
        id: rule.id.clone(),
        level: rule.level.to_string(),
        section: rule.section.clone(),
        scenarios: rule.scenarios.join(", "),
        cells: results
            .targets
            .iter()
            .map(|target| {
                let verdict = rule.verdicts.get(&target.name).copied();
                let verdict = verdict.unwrap_or(Verdict::NotRun);
                (verdict_class(verdict), verdict_label(verdict))
            })
            .collect(),
    }
}

fn missed_rule_rows(results: &RunResults) -> Vec<RuleRow> {
    let mut missed: Vec<(Verdict, RuleRow)> = results
        .rules
        .iter()
        .filter_map(|rule| {
            let worst = rule
                .verdicts
                .values()
                .copied()
                .filter(|verdict| {
                    matches!(verdict, Verdict::Fail | Verdict::Error | Verdict::NonStrict)
                })
                .max()?;
            Some((worst, rule_row(results, rule)))
        })
        .collect();
    missed.sort_by_key(|(worst, _)| std::cmp::Reverse(*worst));
    missed.into_iter().map(|(_, row)| row).collect()
}

fn rule_sections(results: &RunResults) -> Vec<RuleSection> {
    let mut sections: Vec<RuleSection> = Vec::new();
    for rule in &results.rules {
        if sections
            .last()
            .is_none_or(|section| section.title != rule.section)
        {
            sections.push(RuleSection {
                title: rule.section.clone(),
                rules: Vec::new(),
            });
        }
        if let Some(section) = sections.last_mut() {
            section.rules.push(rule_row(results, rule));
        }
    }
    sections
}

/// The id of the evidence element of a target's scenario.
fn anchor(target_index: usize, scenario_index: usize) -> String {
    format!("ev-{target_index}-{scenario_index}")
}

fn matrix_view(matrix: &Matrix<'_>) -> MatrixView {
    let sections = matrix
        .sections
        .iter()
        .map(|section| MatrixSection {
            title: section.title.clone(),
            rows: section
                .rows
                .iter()
                .map(|row| {
                    let verdicts: Vec<Verdict> = (0..matrix.targets.len())
                        .map(|index| row.verdict(index))
                        .collect();
                    MatrixRow {
                        id: row.id.to_string(),
                        title: row.title.to_string(),
                        rules: row.rules.join(", "),
                        uniform_pass: verdicts.iter().all(|verdict| *verdict == Verdict::Pass),
                        cells: row
                            .cells
                            .iter()
                            .zip(verdicts)
                            .map(|(cell, verdict)| MatrixCell {
                                verdict: verdict_class(verdict),
                                label: verdict_label(verdict),
                                anchor: cell
                                    .map(|cell| anchor(cell.target_index, cell.scenario_index)),
                                duration_ms: cell.map(|cell| cell.outcome.duration_ms),
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    MatrixView {
        targets: matrix.targets.iter().map(|name| name.to_string()).collect(),
        sections,
    }
}

fn millis(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

/// The curve of a latency summary, as `(percentile, ms)` points.
fn summary_curve(latency: &LatencySummary) -> Vec<(f64, f64)> {
    let points = [
        (50.0, latency.p50_us),
        (90.0, latency.p90_us),
        (95.0, latency.p95_us),
        (99.0, latency.p99_us),
        (99.9, latency.p999_us),
        (100.0, latency.max_us),
    ];
    points
        .into_iter()
        .map(|(percentile, micros)| (percentile, micros as f64 / 1000.0))
        .collect()
}

fn chart_views(results: &RunResults) -> anyhow::Result<Vec<ChartView>> {
    let mut views = Vec::new();
    for profile in profiles(results) {
        views.extend(profile_charts(results, &profile)?);
    }

    let conformance: Vec<Series> = results
        .targets
        .iter()
        .enumerate()
        .filter_map(|(index, target)| {
            let times = exchange_times(target)?;
            let points = CURVE_PERCENTILES
                .iter()
                .map(|at| (*at, percentile(&times, *at) as f64))
                .collect();
            Some(Series {
                name: target.name.clone(),
                colour_index: index,
                points,
            })
        })
        .collect();
    if !conformance.is_empty() {
        views.push(ChartView {
            title: "Conformance request latency".to_string(),
            note: "Every request the conformance scenarios sent, one at a time or a few at \
                   once; a rough guide to speed, not a load test. Timings are whole milliseconds."
                .to_string(),
            svg: charts::percentile_curves("Conformance request latency", &conformance)?,
        });
    }
    Ok(views)
}

/// The load profiles any target ran, in first-seen order.
fn profiles(results: &RunResults) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for outcome in results.targets.iter().flat_map(|target| &target.load) {
        if !names.contains(&outcome.profile) {
            names.push(outcome.profile.clone());
        }
    }
    names
}

/// Throughput per level, the latency curve of each target's busiest level,
/// and CPU and memory over the profile's levels.
fn profile_charts(results: &RunResults, profile: &str) -> anyhow::Result<Vec<ChartView>> {
    let outcomes: Vec<(usize, &TargetResult, &LoadOutcome)> = results
        .targets
        .iter()
        .enumerate()
        .filter_map(|(index, target)| {
            let outcome = target
                .load
                .iter()
                .find(|outcome| outcome.profile == profile)?;
            (!outcome.levels.is_empty()).then_some((index, target, outcome))
        })
        .collect();
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }

    let mut levels: Vec<String> = Vec::new();
    for (_, _, outcome) in &outcomes {
        for level in &outcome.levels {
            if !levels.contains(&level.label) {
                levels.push(level.label.clone());
            }
        }
    }
    let throughput: Vec<Series> = outcomes
        .iter()
        .map(|(index, target, outcome)| Series {
            name: target.name.clone(),
            colour_index: *index,
            points: outcome
                .levels
                .iter()
                .filter_map(|level| {
                    let position = levels.iter().position(|label| *label == level.label)?;
                    Some((position as f64, level.throughput_per_second))
                })
                .collect(),
        })
        .collect();
    let title = format!("{profile}: throughput per level");
    let mut views = vec![ChartView {
        svg: charts::bars(&title, &levels, &throughput, "requests per second")?,
        title,
        note: "Requests answered per second during each level's hold.".to_string(),
    }];

    let curves: Vec<Series> = outcomes
        .iter()
        .filter_map(|(index, target, outcome)| {
            let busiest = outcome.levels.last()?;
            Some(Series {
                name: format!("{} ({})", target.name, busiest.label),
                colour_index: *index,
                points: summary_curve(&busiest.latency_corrected),
            })
        })
        .collect();
    let title = format!("{profile}: latency at the last level");
    views.push(ChartView {
        svg: charts::percentile_curves(&title, &curves)?,
        title,
        note: "Corrected for coordinated omission: a stalled request also counts the \
               requests a steady client would have sent meanwhile."
            .to_string(),
    });

    let cpu = resource_series(&outcomes, |sample| sample.cpu_percent);
    let memory = resource_series(&outcomes, |sample| {
        sample.rss_bytes as f64 / (1u64 << 20) as f64
    });
    if cpu.iter().any(|series| !series.points.is_empty()) {
        let title = format!("{profile}: CPU over time");
        views.push(ChartView {
            svg: charts::over_time(&title, &cpu, "CPU (% of one core)")?,
            title,
            note: "Sampled from the target's process through every level, ramp included."
                .to_string(),
        });
        let title = format!("{profile}: memory over time");
        views.push(ChartView {
            svg: charts::over_time(&title, &memory, "resident memory (MiB)")?,
            title,
            note: "Resident set size of the target's process.".to_string(),
        });
    }
    Ok(views)
}

/// One series per target of a resource figure, its levels laid end to end.
fn resource_series(
    outcomes: &[(usize, &TargetResult, &LoadOutcome)],
    value: impl Fn(&crate::load::outcome::ResourceSample) -> f64,
) -> Vec<Series> {
    outcomes
        .iter()
        .map(|(index, target, outcome)| {
            let mut offset_ms = 0;
            let mut points = Vec::new();
            for level in &outcome.levels {
                for sample in &level.resources {
                    points.push(((offset_ms + sample.at_ms) as f64 / 1000.0, value(sample)));
                }
                offset_ms += level.resources.last().map_or(0, |sample| sample.at_ms);
            }
            Series {
                name: target.name.clone(),
                colour_index: *index,
                points,
            }
        })
        .collect()
}

fn load_rows(results: &RunResults) -> Vec<LoadRow> {
    let mut rows = Vec::new();
    for target in &results.targets {
        for outcome in &target.load {
            for level in &outcome.levels {
                let failed: Vec<&str> = level
                    .thresholds
                    .iter()
                    .filter(|threshold| !threshold.passed)
                    .map(|threshold| threshold.expression.as_str())
                    .collect();
                rows.push(LoadRow {
                    target: target.name.clone(),
                    profile: outcome.profile.clone(),
                    level: level.label.clone(),
                    verdict: outcome.verdict.as_str(),
                    throughput: format!("{:.1}", level.throughput_per_second),
                    p50: millis(level.latency.p50_us),
                    p99: millis(level.latency.p99_us),
                    p99_corrected: millis(level.latency_corrected.p99_us),
                    errors: level.errors.values().sum(),
                    rate_limited: level.rate_limited_count,
                    thresholds: if failed.is_empty() {
                        format!("{} held", level.thresholds.len())
                    } else {
                        format!("broken: {}", failed.join("; "))
                    },
                });
            }
        }
    }
    rows
}

fn evidence_views(results: &RunResults) -> Vec<EvidenceView> {
    let mut views = Vec::new();
    for (target_index, target) in results.targets.iter().enumerate() {
        for (scenario_index, outcome) in target.scenarios.iter().enumerate() {
            views.push(evidence_view(
                target,
                outcome,
                anchor(target_index, scenario_index),
            ));
        }
    }
    views
}

fn evidence_view(target: &TargetResult, outcome: &ScenarioOutcome, anchor: String) -> EvidenceView {
    let failures = outcome
        .steps
        .iter()
        .flat_map(|step| {
            step.failures.iter().map(|failure| FailureView {
                step: step.name.clone(),
                expectation: failure.expectation.clone(),
                level: failure.level.to_string(),
                expected: pretty_value(&failure.expected),
                actual: pretty_value(&failure.actual),
            })
        })
        .collect();
    let passed = matches!(outcome.verdict, Verdict::Pass | Verdict::NotRun);
    let log_excerpt =
        (!passed && !target.log_excerpt.is_empty()).then(|| target.log_excerpt.join("\n"));
    EvidenceView {
        anchor,
        target: target.name.clone(),
        scenario: outcome.id.clone(),
        title: outcome.title.clone(),
        verdict: verdict_class(outcome.verdict),
        label: verdict_label(outcome.verdict),
        level: outcome.level.to_string(),
        rules: outcome.rules.join(", "),
        duration_ms: outcome.duration_ms,
        reason: outcome.reason.clone(),
        failures,
        steps: outcome
            .steps
            .iter()
            .map(|step| StepView {
                name: step.name.clone(),
                kind: step.kind.clone(),
                exchanges: step.exchanges.iter().map(exchange_view).collect(),
            })
            .collect(),
        deviations: outcome
            .deviations
            .iter()
            .map(|deviation| {
                format!(
                    "{}: {} (×{})",
                    deviation.dialect, deviation.mapping, deviation.count
                )
            })
            .collect(),
        log_excerpt,
    }
}

fn pretty_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

/// A request and its response as they would read on the wire, JSON bodies indented.
fn exchange_view(exchange: &Exchange) -> ExchangeView {
    let request = &exchange.request;
    let mut request_text = format!("{} {}\n", request.method, request.url);
    for (name, value) in &request.headers {
        request_text.push_str(&format!("{name}: {value}\n"));
    }
    if let Some(body) = &request.body {
        request_text.push('\n');
        request_text.push_str(&pretty_body(body));
    }

    let (status, response_text) = match &exchange.response {
        None => (
            "no answer".to_string(),
            "no answer (refused, reset or timed out)".to_string(),
        ),
        Some(response) => {
            let mut text = format!("{}\n", response.status);
            for (name, value) in &response.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            if let Some(body) = &response.body {
                text.push('\n');
                text.push_str(&pretty_body(body));
            }
            (response.status.to_string(), text)
        }
    };
    ExchangeView {
        summary: format!(
            "{} {} → {status} in {} ms",
            request.method,
            path_of(&request.url),
            exchange.elapsed_ms
        ),
        request: request_text,
        response: response_text,
    }
}

/// The path and query of a URL, which is what tells exchanges apart.
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or("/", |start| &after_scheme[start..])
}

fn pretty_body(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| body.to_string())
}

fn comparison_view(comparison: &Comparison) -> ComparisonView {
    let mut rows = Vec::new();
    for target in &comparison.targets {
        if !target.in_baseline {
            rows.push(DeltaRow {
                target: target.target.clone(),
                figure: "not in the baseline".to_string(),
                before: String::new(),
                after: String::new(),
                change: String::new(),
                class: "same",
            });
        }
        for figure in &target.figures {
            let class = if figure.regression.is_some() {
                "regression"
            } else {
                match figure.direction() {
                    std::cmp::Ordering::Greater => "better",
                    std::cmp::Ordering::Less => "worse",
                    std::cmp::Ordering::Equal => "same",
                }
            };
            rows.push(DeltaRow {
                target: target.target.clone(),
                figure: figure.name.clone(),
                before: figure
                    .before
                    .map_or("-".to_string(), |value| format!("{value:.2}")),
                after: format!("{:.2}", figure.after),
                change: figure.change.map_or("-".to_string(), |change| {
                    let sign = if change > 0.0 { "+" } else { "" };
                    format!("{sign}{}", percent(change))
                }),
                class,
            });
        }
    }
    ComparisonView {
        baseline_run: comparison.baseline_run.clone(),
        regressions: comparison.regressions(),
        rows,
    }
}
