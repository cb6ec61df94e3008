//! The Markdown report (`report.md`), sized for a pull request comment: the
//! targets side by side, the rules they miss, load figures, the full matrix
//! folded away, and the baseline deltas when one was given.

use std::fmt::Write;

use super::baseline::{Comparison, percent};
use super::figures::{exchange_latency, missed_rules, rule_tally};
use super::matrix::Matrix;
use crate::results::RunResults;
use crate::scenario::model::Level;
use crate::verdict::Verdict;

/// The longest free text (a reason, an expected value) quoted in a table cell.
const CELL_CHARS: usize = 120;

/// Renders the whole Markdown report.
pub fn render(results: &RunResults, comparison: Option<&Comparison>) -> String {
    let mut out = String::new();
    let run = &results.run;
    let _ = writeln!(out, "# Triggers API conformance: run `{}`\n", run.id);
    let commit = run
        .git_commit
        .as_deref()
        .map_or("unknown".to_string(), short_commit);
    let _ = writeln!(
        out,
        "Started {}, finished {}; harness {}, commit `{commit}`, seed {}; {} on {} with {} CPUs.\n",
        run.started_at,
        run.finished_at,
        run.harness_version,
        run.seed,
        run.host.os,
        run.host.arch,
        run.host.cpus
    );

    targets_table(&mut out, results);
    missed_rules_table(&mut out, results);
    load_table(&mut out, results);
    if let Some(comparison) = comparison {
        baseline_section(&mut out, comparison);
    }
    scenario_matrix(&mut out, results);
    out
}

/// The verdict of a cell as a word with a sign that reads without colour.
fn badge(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅ pass",
        Verdict::NonStrict => "🟡 non-strict",
        Verdict::Fail => "❌ FAIL",
        Verdict::NotRun => "➖ not run",
        Verdict::Error => "💥 ERROR",
    }
}

fn targets_table(out: &mut String, results: &RunResults) {
    out.push_str("## Targets\n\n");
    out.push_str(
        "| target | status | MUST rules met | SHOULD rules met | scenarios pass / non-strict / fail / not run / error | deviations | request p50 / p99 |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|\n");
    for target in &results.targets {
        let must = rule_tally(results, &target.name, Level::Must);
        let should = rule_tally(results, &target.name, Level::Should);
        let counts = &target.summary;
        let latency = exchange_latency(target).map_or("-".to_string(), |latency| {
            format!("{} ms / {} ms", latency.p50_ms, latency.p99_ms)
        });
        let _ = writeln!(
            out,
            "| {} | {} | {}/{} | {}/{} | {} / {} / {} / {} / {} | {} | {latency} |",
            cell(&target.name),
            target.status.as_str(),
            must.passed,
            must.checked,
            should.passed,
            should.checked,
            counts.pass_count,
            counts.non_strict_count,
            counts.fail_count,
            counts.not_run_count,
            counts.error_count,
            counts.deviation_count,
        );
    }
    for target in &results.targets {
        if let Some(error) = &target.start_error {
            let _ = writeln!(out, "\n`{}` did not run: {}", target.name, cell(error));
        }
    }
    out.push('\n');
}

fn missed_rules_table(out: &mut String, results: &RunResults) {
    out.push_str("## Rules not met\n\n");
    let rows: Vec<(&str, &str, Verdict)> = results
        .targets
        .iter()
        .flat_map(|target| {
            missed_rules(results, &target.name)
                .into_iter()
                .map(|(rule, verdict)| (target.name.as_str(), rule, verdict))
        })
        .collect();
    if rows.is_empty() {
        out.push_str("Every target met every rule its scenarios checked.\n\n");
        return;
    }
    out.push_str("| target | rule | level | verdict | scenarios |\n|---|---|---|---|---|\n");
    for (target, rule_id, verdict) in rows {
        let Some(rule) = results.rules.iter().find(|rule| rule.id == rule_id) else {
            continue;
        };
        let failing: Vec<String> = results
            .targets
            .iter()
            .filter(|candidate| candidate.name == target)
            .flat_map(|candidate| &candidate.scenarios)
            .filter(|outcome| outcome.rules.contains(&rule.id) && outcome.verdict == verdict)
            .map(|outcome| format!("`{}`", outcome.id))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(target),
            rule.id,
            rule.level,
            badge(verdict),
            failing.join(", ")
        );
    }
    out.push('\n');
}

fn load_table(out: &mut String, results: &RunResults) {
    if results.targets.iter().all(|target| target.load.is_empty()) {
        return;
    }
    out.push_str("## Load\n\n");
    out.push_str(
        "| target | profile | level | verdict | throughput/s | p50 ms | p99 ms | p99 corrected ms | errors | 429s |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for target in &results.targets {
        for outcome in &target.load {
            if outcome.levels.is_empty() {
                let reason = outcome.reason.as_deref().unwrap_or("no levels ran");
                let _ = writeln!(
                    out,
                    "| {} | {} | - | {} | {} | | | | | |",
                    cell(&target.name),
                    cell(&outcome.profile),
                    outcome.verdict.as_str(),
                    cell(reason)
                );
            }
            for level in &outcome.levels {
                let errors: u64 = level.errors.values().sum();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.1} | {} | {} | {} | {errors} | {} |",
                    cell(&target.name),
                    cell(&outcome.profile),
                    cell(&level.label),
                    outcome.verdict.as_str(),
                    level.throughput_per_second,
                    millis(level.latency.p50_us),
                    millis(level.latency.p99_us),
                    millis(level.latency_corrected.p99_us),
                    level.rate_limited_count
                );
            }
        }
    }
    out.push('\n');
}

fn baseline_section(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(out, "## Compared with run `{}`\n", comparison.baseline_run);
    let regressions = comparison.regressions();
    if regressions.is_empty() {
        out.push_str("No regression beyond the thresholds.\n\n");
    } else {
        out.push_str("Regressions:\n\n");
        for line in &regressions {
            let _ = writeln!(out, "- {}", cell(line));
        }
        out.push('\n');
    }

    out.push_str("| target | figure | before | after | change |\n|---|---|---|---|---|\n");
    for target in &comparison.targets {
        if !target.in_baseline {
            let _ = writeln!(
                out,
                "| {} | not in the baseline | | | |",
                cell(&target.target)
            );
            continue;
        }
        for figure in &target.figures {
            let before = figure.before.map_or("-".to_string(), number);
            let change = figure.change.map_or("-".to_string(), |change| {
                let sign = if change > 0.0 { "+" } else { "" };
                format!("{sign}{}", percent(change))
            });
            let flag = if figure.regression.is_some() {
                " ⚠️"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {} | {} | {before} | {} | {change}{flag} |",
                cell(&target.target),
                figure.name,
                number(figure.after)
            );
        }
    }
    out.push('\n');
}

/// Every scenario by target, folded so that the page stays short.
fn scenario_matrix(out: &mut String, results: &RunResults) {
    let matrix = Matrix::new(results);
    out.push_str("## Scenarios\n\n<details><summary>Every scenario by target</summary>\n\n");
    let names: Vec<String> = matrix.targets.iter().map(|name| cell(name)).collect();
    let _ = writeln!(out, "| section | scenario | {} |", names.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(names.len()));
    for section in &matrix.sections {
        for row in &section.rows {
            let verdicts: Vec<&str> = (0..names.len())
                .map(|index| badge(row.verdict(index)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} |",
                cell(&section.title),
                row.id,
                verdicts.join(" | ")
            );
        }
    }
    out.push_str("\n</details>\n");
}

/// Text made safe for a table cell: one line, pipes escaped, cut to [`CELL_CHARS`].
fn cell(text: &str) -> String {
    let one_line = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    if one_line.chars().count() <= CELL_CHARS {
        return one_line;
    }
    let kept: String = one_line.chars().take(CELL_CHARS).collect();
    format!("{kept}...")
}

/// Microseconds as milliseconds with one decimal.
fn millis(micros: u64) -> String {
    format!("{:.1}", micros as f64 / 1000.0)
}

/// A figure with at most two decimals and no trailing zeros.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}
