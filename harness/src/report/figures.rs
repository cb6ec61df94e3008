//! The numbers reports compare targets by: conformance counts, the latency of
//! conformance exchanges, and the load phase's throughput and latency per level.

use hdrhistogram::Histogram;

use crate::load::outcome::LoadOutcome;
use crate::results::TargetResult;
use crate::scenario::model::Level;
use crate::verdict::Verdict;

/// How many of a target's rules, of one level, held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleTally {
    /// Rules whose scenarios all passed.
    pub passed: usize,
    /// Rules at least one scenario checked on this target.
    pub checked: usize,
}

/// Counts the rules of `level` a target met, out of those its scenarios checked.
///
/// A rule holds only when every scenario checking it passed: non-strict is
/// how a missed SHOULD is recorded, so it counts as missed.
pub fn rule_tally(results: &crate::results::RunResults, target: &str, level: Level) -> RuleTally {
    let mut tally = RuleTally::default();
    let verdicts = results
        .rules
        .iter()
        .filter(|rule| rule.level == level)
        .filter_map(|rule| rule.verdicts.get(target));
    for verdict in verdicts {
        if *verdict == Verdict::NotRun {
            continue;
        }
        tally.checked += 1;
        if *verdict == Verdict::Pass {
            tally.passed += 1;
        }
    }
    tally
}

/// The rule ids a target did not meet, worst first: failed or in error, then non-strict.
pub fn missed_rules<'a>(
    results: &'a crate::results::RunResults,
    target: &str,
) -> Vec<(&'a str, Verdict)> {
    let mut missed: Vec<(&str, Verdict)> = results
        .rules
        .iter()
        .filter_map(|rule| {
            let verdict = *rule.verdicts.get(target)?;
            let missed = matches!(verdict, Verdict::Fail | Verdict::Error | Verdict::NonStrict);
            missed.then_some((rule.id.as_str(), verdict))
        })
        .collect();
    missed.sort_by_key(|(_, verdict)| std::cmp::Reverse(*verdict));
    missed
}

/// Latency of the requests the conformance scenarios sent, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExchangeLatency {
    pub count: usize,
    pub p50_ms: u64,
    pub p90_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

/// The percentiles the latency curves are drawn through.
pub const CURVE_PERCENTILES: [f64; 7] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 100.0];

/// Every answered exchange's elapsed time, in milliseconds, as a histogram;
/// webhook deliveries included, since the sink records how long each took to
/// arrive. `None` when nothing was answered.
pub fn exchange_times(target: &TargetResult) -> Option<Histogram<u64>> {
    let exchanges = target
        .scenarios
        .iter()
        .flat_map(|outcome| &outcome.steps)
        .flat_map(|step| &step.exchanges);
    // Three significant figures: a millisecond is exact up to a second.
    let mut histogram = Histogram::<u64>::new(3).expect("3 significant figures are valid");
    for exchange in exchanges.filter(|exchange| exchange.response.is_some()) {
        histogram
            .record(exchange.elapsed_ms)
            .expect("auto-resizing histogram");
    }
    (!histogram.is_empty()).then_some(histogram)
}

/// The value at `percentile` (0 to 100) of a histogram.
pub fn percentile(histogram: &Histogram<u64>, percentile: f64) -> u64 {
    histogram.value_at_quantile(percentile / 100.0)
}

/// The conformance exchange latency of a target; `None` when nothing was answered.
pub fn exchange_latency(target: &TargetResult) -> Option<ExchangeLatency> {
    let times = exchange_times(target)?;
    Some(ExchangeLatency {
        count: times.len() as usize,
        p50_ms: percentile(&times, 50.0),
        p90_ms: percentile(&times, 90.0),
        p99_ms: percentile(&times, 99.0),
        max_ms: times.max(),
    })
}

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// What a figure measures, which decides the threshold that guards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureKind {
    /// Requests per second of a load level.
    Throughput,
    /// The corrected 99th percentile latency of a load level, in milliseconds.
    LoadP99,
    /// A figure shown for comparison only, never gated.
    Informative,
}

/// One named number of a target, comparable across runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Unique within a target, such as `load ingest-burst users=64 throughput/s`.
    pub name: String,
    pub value: f64,
    pub better: Better,
    pub kind: FigureKind,
}

/// The figures a baseline comparison looks at, in a stable order.
pub fn target_figures(target: &TargetResult) -> Vec<Figure> {
    let mut figures = vec![
        figure(
            "conformance passed",
            target.summary.pass_count as f64,
            Better::Higher,
        ),
        figure(
            "conformance failed",
            target.summary.fail_count as f64,
            Better::Lower,
        ),
        figure(
            "conformance non-strict",
            target.summary.non_strict_count as f64,
            Better::Lower,
        ),
    ];
    if let Some(latency) = exchange_latency(target) {
        figures.push(figure(
            "conformance p50 ms",
            latency.p50_ms as f64,
            Better::Lower,
        ));
        figures.push(figure(
            "conformance p99 ms",
            latency.p99_ms as f64,
            Better::Lower,
        ));
    }
    for outcome in &target.load {
        figures.extend(load_figures(outcome));
    }
    figures
}

fn figure(name: &str, value: f64, better: Better) -> Figure {
    Figure {
        name: name.to_string(),
        value,
        better,
        kind: FigureKind::Informative,
    }
}

/// Throughput and corrected latency of every level of one profile.
fn load_figures(outcome: &LoadOutcome) -> Vec<Figure> {
    let mut figures = Vec::new();
    for level in &outcome.levels {
        let prefix = format!("load {} {}", outcome.profile, level.label);
        figures.push(Figure {
            name: format!("{prefix} throughput/s"),
            value: level.throughput_per_second,
            better: Better::Higher,
            kind: FigureKind::Throughput,
        });
        figures.push(Figure {
            name: format!("{prefix} p99 ms"),
            value: level.latency_corrected.p99_us as f64 / 1000.0,
            better: Better::Lower,
            kind: FigureKind::LoadP99,
        });
    }
    figures
}
