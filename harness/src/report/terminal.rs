//! The report printed at the end of a run: a verdict matrix, a summary per target
//! and the failures, sized for a 100-column terminal.

use std::fmt::Write;

use tabled::builder::Builder;
use tabled::settings::peaker::Priority;
use tabled::settings::{Panel, Style, Width};

use super::matrix::Matrix;
use crate::results::{RunResults, TargetResult};
use crate::verdict::Verdict;

/// The width the report is made to fit.
pub const REPORT_WIDTH: usize = 100;

/// The longest expected or actual value quoted in the failure list.
const VALUE_CHARS: usize = 160;

/// Renders the whole report.
pub fn render(results: &RunResults) -> String {
    let mut out = String::new();
    out.push_str(&matrix(results));
    out.push('\n');
    out.push_str(&summary(results));
    if results.targets.iter().any(|target| !target.load.is_empty()) {
        out.push('\n');
        out.push_str(&load(results));
    }
    let failures = failures(results);
    if !failures.is_empty() {
        out.push('\n');
        out.push_str(&failures);
    }
    out
}

/// The short mark of a verdict in the matrix.
pub fn mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "pass",
        Verdict::NonStrict => "non-strict",
        Verdict::Fail => "FAIL",
        Verdict::NotRun => "-",
        Verdict::Error => "ERROR",
    }
}

/// Scenarios as rows, grouped under their spec section, targets as columns.
fn matrix(results: &RunResults) -> String {
    let matrix = Matrix::new(results);
    let mut builder = Builder::new();
    let header = std::iter::once("scenario").chain(matrix.targets.iter().copied());
    builder.push_record(header);

    let mut panels: Vec<(usize, &str)> = Vec::new();
    for section in &matrix.sections {
        panels.push((builder.count_records(), &section.title));
        for row in &section.rows {
            let marks = (0..matrix.targets.len()).map(|index| mark(row.verdict(index)));
            builder.push_record(std::iter::once(row.id).chain(marks));
        }
    }

    let mut table = builder.build();
    // Panels shift the rows below them, so they go in from the bottom up.
    for (row, section) in panels.into_iter().rev() {
        table.with(Panel::horizontal(row, section));
    }
    fitted(table)
}

/// One line of counts per target.
fn summary(results: &RunResults) -> String {
    let mut builder = Builder::new();
    builder.push_record([
        "target",
        "status",
        "pass",
        "non-strict",
        "fail",
        "not run",
        "error",
        "deviations",
    ]);
    for target in &results.targets {
        let counts = &target.summary;
        builder.push_record([
            target.name.clone(),
            target.status.as_str().to_string(),
            counts.pass_count.to_string(),
            counts.non_strict_count.to_string(),
            counts.fail_count.to_string(),
            counts.not_run_count.to_string(),
            counts.error_count.to_string(),
            counts.deviation_count.to_string(),
        ]);
    }
    fitted(builder.build())
}

/// One row per target, profile and level: the verdict, the rate, latency
/// as measured in milliseconds, failures, 429s and events not stored; a
/// profile that did not run gets one row with the reason. The Markdown and
/// HTML reports add the corrected latency and the rest.
fn load(results: &RunResults) -> String {
    const COLUMNS: usize = 10;
    let mut builder = Builder::new();
    builder.push_record([
        "target", "profile", "level", "verdict", "req/s", "p50 ms", "p99 ms", "errors", "429s",
        "missing",
    ]);
    let millis = |micros: u64| format!("{:.1}", micros as f64 / 1000.0);
    for target in &results.targets {
        for outcome in &target.load {
            let verdict = outcome.verdict.as_str().to_string();
            if outcome.levels.is_empty() {
                let reason = outcome.reason.as_deref().unwrap_or("no levels ran");
                let mut row = vec![target.name.clone(), outcome.profile.clone()];
                row.extend(["-".to_string(), verdict, reason.to_string()]);
                row.resize(COLUMNS, String::new());
                builder.push_record(row);
                continue;
            }
            for level in &outcome.levels {
                let missing = level.persistence.as_ref().map(|p| p.missing_count);
                builder.push_record([
                    target.name.clone(),
                    outcome.profile.clone(),
                    level.label.clone(),
                    verdict.clone(),
                    format!("{:.0}", level.throughput_per_second),
                    millis(level.latency.p50_us),
                    millis(level.latency.p99_us),
                    level.errors.values().sum::<u64>().to_string(),
                    level.rate_limited_count.to_string(),
                    missing.map_or("-".to_string(), |count| count.to_string()),
                ]);
            }
        }
    }
    fitted(builder.build())
}

/// A table in the report's style, cut to [`REPORT_WIDTH`] by shortening its
/// widest columns first.
fn fitted(mut table: tabled::Table) -> String {
    table.with(Style::sharp());
    table.with(
        Width::truncate(REPORT_WIDTH)
            .priority(Priority::max(true))
            .suffix("~"),
    );
    table.to_string() + "\n"
}

/// Targets that did not start, then every scenario that did not pass, with the
/// expectations that failed.
fn failures(results: &RunResults) -> String {
    let mut out = String::new();
    for target in &results.targets {
        if let Some(error) = &target.start_error {
            let _ = writeln!(out, "{}: {error}", target.name);
            write_log_tail(&mut out, target);
        }
        for outcome in &target.scenarios {
            if matches!(outcome.verdict, Verdict::Pass | Verdict::NotRun) {
                continue;
            }
            // The reason repeats the first failed expectation, so it is shown only
            // when no expectation failed (an error, a step that could not run).
            let failed_steps = outcome.steps.iter().any(|step| !step.failures.is_empty());
            let header = format!("{} {} [{}]", mark(outcome.verdict), target.name, outcome.id);
            match (&outcome.reason, failed_steps) {
                (Some(reason), false) => {
                    let _ = writeln!(out, "{header}: {}", shorten(reason));
                }
                _ => {
                    let _ = writeln!(out, "{header}");
                }
            }
            for step in &outcome.steps {
                for failure in &step.failures {
                    let _ = writeln!(
                        out,
                        "    step \"{}\": {} ({}): expected {}, got {}",
                        step.name,
                        failure.expectation,
                        failure.level,
                        shorten(&failure.expected.to_string()),
                        shorten(&failure.actual.to_string())
                    );
                }
            }
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("Failures:\n{out}")
    }
}

/// The last few log lines of a target that did not start, indented.
fn write_log_tail(out: &mut String, target: &TargetResult) {
    const LINES: usize = 10;
    let skip = target.log_excerpt.len().saturating_sub(LINES);
    for line in target.log_excerpt.iter().skip(skip) {
        let _ = writeln!(out, "    | {}", shorten(line));
    }
}

/// Cuts a value to [`VALUE_CHARS`] characters so one failure stays a few lines.
fn shorten(text: &str) -> String {
    if text.chars().count() <= VALUE_CHARS {
        return text.to_string();
    }
    let kept: String = text.chars().take(VALUE_CHARS).collect();
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::results::{HostInfo, RuleResult, RunMeta, TargetStatus};
    use crate::scenario::model::Level;
    use crate::scenario::outcome::ScenarioOutcome;
    use crate::scenario::outcome::{ExpectationFailure, StepRecord};

    fn outcome(id: &str, rule: &str, verdict: Verdict) -> ScenarioOutcome {
        ScenarioOutcome {
            id: id.to_string(),
            title: String::new(),
            rules: vec![rule.to_string()],
            level: Level::Must,
            verdict,
            reason: None,
            duration_ms: 0,
            steps: Vec::new(),
            deviations: Vec::new(),
        }
    }

    fn rule(id: &str, section: &str) -> RuleResult {
        RuleResult {
            id: id.to_string(),
            level: Level::Must,
            section: section.to_string(),
            scenarios: Vec::new(),
            verdicts: BTreeMap::new(),
        }
    }

    fn results() -> RunResults {
        let mut failed = outcome("ops-health", "OPS-1", Verdict::Fail);
        failed.reason = Some("status expected 200 but was 404".to_string());
        failed.steps.push(StepRecord {
            name: "ask".to_string(),
            kind: "request".to_string(),
            exchanges: Vec::new(),
            failures: vec![ExpectationFailure {
                expectation: "status".to_string(),
                expected: json!(200),
                actual: json!(404),
                level: Level::Must,
            }],
        });
        let fast = TargetResult::new(
            "fast".to_string(),
            "url".to_string(),
            None,
            TargetStatus::Started,
            vec![outcome("ingest-accepts", "ING-1", Verdict::Pass), failed],
        );
        let mut broken = TargetResult::new(
            "broken".to_string(),
            "process".to_string(),
            None,
            TargetStatus::FailedToStart,
            vec![
                outcome("ingest-accepts", "ING-1", Verdict::NotRun),
                outcome("ops-health", "OPS-1", Verdict::NotRun),
            ],
        );
        broken.start_error =
            Some("the process exited before it was healthy (exit status: 3)".into());
        broken.log_excerpt = vec!["cannot open the database".to_string()];

        RunResults {
            schema_version: 1,
            run: RunMeta {
                id: "run".to_string(),
                started_at: String::new(),
                finished_at: String::new(),
                seed: 1,
                harness_version: String::new(),
                git_commit: None,
                host: HostInfo::current(),
                command_line: Vec::new(),
            },
            targets: vec![fast, broken],
            rules: vec![
                rule("OPS-1", "10. Health, metrics and documents (OPS)"),
                rule("ING-1", "5. Ingest (ING)"),
            ],
        }
    }

    #[test]
    fn renders_the_matrix_summary_and_failures() {
        let expected = "\
┌───────────────────┬─────────┬───────────┐
│ scenario          │ fast    │ broken    │
├───────────────────┼─────────┼───────────┤
│ 5. Ingest (ING)                         │
│ ingest-accepts    │ pass    │ -         │
│ 10. Health, metrics and documents (OPS) │
│ ops-health        │ FAIL    │ -         │
└───────────────────┴─────────┴───────────┘

┌────────┬─────────────────┬──────┬────────────┬──────┬─────────┬───────┬────────────┐
│ target │ status          │ pass │ non-strict │ fail │ not run │ error │ deviations │
├────────┼─────────────────┼──────┼────────────┼──────┼─────────┼───────┼────────────┤
│ fast   │ started         │ 1    │ 0          │ 1    │ 0       │ 0     │ 0          │
│ broken │ failed_to_start │ 0    │ 0          │ 0    │ 2       │ 0     │ 0          │
└────────┴─────────────────┴──────┴────────────┴──────┴─────────┴───────┴────────────┘
";
        let rendered = render(&results());
        assert!(rendered.starts_with(expected), "{rendered}");
        assert!(
            rendered
                .lines()
                .all(|line| line.chars().count() <= REPORT_WIDTH)
        );
        let failures = "\
Failures:
FAIL fast [ops-health]
    step \"ask\": status (MUST): expected 200, got 404
broken: the process exited before it was healthy (exit status: 3)
    | cannot open the database
";
        assert!(rendered.ends_with(failures), "{rendered}");
    }

    #[test]
    fn wide_runs_fit_the_report_width() {
        let mut wide = results();
        let long_id = "a-scenario-id-that-is-much-longer-than-any-column-should-be-in-a-table";
        let template = wide.targets[0].clone();
        wide.targets = (0..6)
            .map(|index| {
                let mut target = template.clone();
                target.name = format!("implementation-number-{index}");
                target.scenarios[0].id = long_id.to_string();
                target
            })
            .collect();
        let rendered = render(&wide);
        let widest = rendered.lines().map(|line| line.chars().count()).max();
        assert_eq!(widest, Some(REPORT_WIDTH), "{rendered}");
    }
}
