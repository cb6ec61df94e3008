//! Comparison with an older run: deltas per target and figure, and the
//! regressions that thresholds turn into a failing exit code.

use std::collections::BTreeMap;

use super::figures::{Better, FigureKind, target_figures};
use crate::results::{RunResults, TargetResult};
use crate::verdict::Verdict;

/// How much worse a gated figure may get before it counts as a regression,
/// as fractions (0.1 is 10%). `None` leaves the figure ungated.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    pub max_throughput_drop: Option<f64>,
    pub max_p99_rise: Option<f64>,
}

/// The current run set against a baseline run.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline's run id.
    pub baseline_run: String,
    pub thresholds: Thresholds,
    /// One entry per target of the current run, in its order.
    pub targets: Vec<TargetDelta>,
}

/// One target's changes since the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetDelta {
    pub target: String,
    /// False when the baseline has no target of this name; then nothing is compared.
    pub in_baseline: bool,
    pub figures: Vec<FigureDelta>,
    /// Scenarios that passed (strictly or not) in the baseline and fail or err now.
    pub newly_failing: Vec<String>,
    /// Scenarios that failed or erred in the baseline and pass now.
    pub newly_passing: Vec<String>,
}

/// One figure before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureDelta {
    pub name: String,
    /// `None` when the baseline lacks the figure (a new profile or level).
    pub before: Option<f64>,
    pub after: f64,
    /// `(after - before) / before`; `None` without a baseline value or when it was zero.
    pub change: Option<f64>,
    pub better: Better,
    /// The threshold this figure broke, in words, such as `throughput dropped more than 10%`.
    pub regression: Option<String>,
}

impl FigureDelta {
    /// Whether the figure moved the good way, the bad way, or not at all.
    pub fn direction(&self) -> std::cmp::Ordering {
        let (Some(before), after) = (self.before, self.after) else {
            return std::cmp::Ordering::Equal;
        };
        let improved = match self.better {
            Better::Higher => after.partial_cmp(&before),
            Better::Lower => before.partial_cmp(&after),
        };
        improved.unwrap_or(std::cmp::Ordering::Equal)
    }
}

impl Comparison {
    /// Every regression, as `target: what` lines; empty when the run may pass.
    pub fn regressions(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for target in &self.targets {
            for scenario in &target.newly_failing {
                lines.push(format!(
                    "{}: scenario \"{scenario}\" passed in the baseline and fails now",
                    target.target
                ));
            }
            for figure in &target.figures {
                if let Some(regression) = &figure.regression {
                    lines.push(format!("{}: {}: {regression}", target.target, figure.name));
                }
            }
        }
        lines
    }
}

/// Compares `current` with `baseline`, target by target (matched by name).
pub fn compare(current: &RunResults, baseline: &RunResults, thresholds: Thresholds) -> Comparison {
    let targets = current
        .targets
        .iter()
        .map(|target| {
            let old = baseline.targets.iter().find(|old| old.name == target.name);
            match old {
                Some(old) => compare_target(target, old, thresholds),
                None => TargetDelta {
                    target: target.name.clone(),
                    in_baseline: false,
                    figures: Vec::new(),
                    newly_failing: Vec::new(),
                    newly_passing: Vec::new(),
                },
            }
        })
        .collect();
    Comparison {
        baseline_run: baseline.run.id.clone(),
        thresholds,
        targets,
    }
}

fn compare_target(
    current: &TargetResult,
    old: &TargetResult,
    thresholds: Thresholds,
) -> TargetDelta {
    let before: BTreeMap<String, f64> = target_figures(old)
        .into_iter()
        .map(|figure| (figure.name, figure.value))
        .collect();
    let figures = target_figures(current)
        .into_iter()
        .map(|figure| {
            let previous = before.get(&figure.name).copied();
            let change = previous
                .filter(|previous| *previous != 0.0)
                .map(|previous| (figure.value - previous) / previous);
            let regression = change.and_then(|change| breach(figure.kind, change, thresholds));
            FigureDelta {
                name: figure.name,
                before: previous,
                after: figure.value,
                change,
                better: figure.better,
                regression,
            }
        })
        .collect();

    let old_verdicts: BTreeMap<&str, Verdict> = old
        .scenarios
        .iter()
        .map(|outcome| (outcome.id.as_str(), outcome.verdict))
        .collect();
    let mut newly_failing = Vec::new();
    let mut newly_passing = Vec::new();
    for outcome in &current.scenarios {
        let Some(previous) = old_verdicts.get(outcome.id.as_str()) else {
            continue;
        };
        if is_passing(*previous) && is_failing(outcome.verdict) {
            newly_failing.push(outcome.id.clone());
        }
        if is_failing(*previous) && is_passing(outcome.verdict) {
            newly_passing.push(outcome.id.clone());
        }
    }
    TargetDelta {
        target: current.name.clone(),
        in_baseline: true,
        figures,
        newly_failing,
        newly_passing,
    }
}

fn is_passing(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Pass | Verdict::NonStrict)
}

fn is_failing(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Fail | Verdict::Error)
}

/// The threshold a change breaks, in words; `None` when it is within bounds.
fn breach(kind: FigureKind, change: f64, thresholds: Thresholds) -> Option<String> {
    match kind {
        FigureKind::Throughput => {
            let limit = thresholds.max_throughput_drop?;
            (-change > limit).then(|| {
                format!(
                    "throughput dropped {} (limit {})",
                    percent(-change),
                    percent(limit)
                )
            })
        }
        FigureKind::LoadP99 => {
            let limit = thresholds.max_p99_rise?;
            (change > limit)
                .then(|| format!("p99 rose {} (limit {})", percent(change), percent(limit)))
        }
        FigureKind::Informative => None,
    }
}

/// A fraction as a percentage with at most one decimal, such as `12.5%`.
pub fn percent(fraction: f64) -> String {
    let rounded = (fraction * 1000.0).round() / 10.0;
    format!("{rounded}%")
}

/// Parses a threshold such as `10%` or `10` (both ten percent) into a fraction.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%');
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a percentage; write it as \"10%\""))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "\"{text}\" must be a percentage of zero or more, such as \"10%\""
        ));
    }
    Ok(value / 100.0)
}
