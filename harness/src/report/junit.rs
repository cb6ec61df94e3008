//! The JUnit XML report (`junit.xml`): one test suite per target, one test
//! case per scenario, in the Ant/Jenkins format CI systems read.
//!
//! MUST failures are `<failure>`, errors `<error>`, scenarios that did not run
//! `<skipped>`; a SHOULD miss passes and is told in the case's `<system-out>`.

use std::fmt::Write;

use crate::results::{RunResults, TargetResult};
use crate::scenario::outcome::ScenarioOutcome;
use crate::verdict::Verdict;

/// The test case that stands for a target's start, present only when it did not start.
pub const START_CASE: &str = "target start";

/// Renders the whole JUnit document.
pub fn render(results: &RunResults) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let totals = results
        .targets
        .iter()
        .map(suite_counts)
        .fold(Counts::default(), Counts::add);
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
        attribute(&format!("triggers conformance {}", results.run.id)),
        totals.tests,
        totals.failures,
        totals.errors,
        totals.skipped,
        seconds(totals.millis)
    );
    for (index, target) in results.targets.iter().enumerate() {
        suite(&mut out, results, index, target);
    }
    out.push_str("</testsuites>\n");
    out
}

/// The counts a suite's attributes carry.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    millis: u64,
}

impl Counts {
    fn add(self, other: Counts) -> Counts {
        Counts {
            tests: self.tests + other.tests,
            failures: self.failures + other.failures,
            errors: self.errors + other.errors,
            skipped: self.skipped + other.skipped,
            millis: self.millis + other.millis,
        }
    }
}

fn suite_counts(target: &TargetResult) -> Counts {
    let mut counts = Counts::default();
    if target.start_error.is_some() {
        counts.tests += 1;
        counts.errors += 1;
    }
    for outcome in &target.scenarios {
        counts.tests += 1;
        counts.millis += outcome.duration_ms;
        match outcome.verdict {
            Verdict::Fail => counts.failures += 1,
            Verdict::Error => counts.errors += 1,
            Verdict::NotRun => counts.skipped += 1,
            Verdict::Pass | Verdict::NonStrict => {}
        }
    }
    counts
}

fn suite(out: &mut String, results: &RunResults, index: usize, target: &TargetResult) {
    let counts = suite_counts(target);
    // The Ant schema wants a timestamp without a zone; the run's start is UTC.
    let timestamp = results.run.started_at.trim_end_matches('Z');
    let timestamp = timestamp.split('.').next().unwrap_or(timestamp);
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" package=\"{name}\" id=\"{index}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\" hostname=\"localhost\">",
        counts.tests,
        counts.failures,
        counts.errors,
        counts.skipped,
        seconds(counts.millis),
        attribute(timestamp),
        name = attribute(&target.name),
    );

    out.push_str("    <properties>\n");
    let properties = [
        ("kind", target.kind.clone()),
        ("status", target.status.as_str().to_string()),
        ("dialect", target.dialect.clone().unwrap_or_default()),
        ("deviations", target.summary.deviation_count.to_string()),
        ("seed", results.run.seed.to_string()),
    ];
    for (name, value) in properties {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            attribute(&value)
        );
    }
    out.push_str("    </properties>\n");

    if let Some(error) = &target.start_error {
        let _ = writeln!(
            out,
            "    <testcase classname=\"{}\" name=\"{START_CASE}\" time=\"0\">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>",
            attribute(&target.name),
            attribute(error),
            target.status.as_str(),
            text(&target.log_excerpt.join("\n"))
        );
    }
    for outcome in &target.scenarios {
        case(out, target, outcome);
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>",
        text(&target.log_excerpt.join("\n"))
    );
}

fn case(out: &mut String, target: &TargetResult, outcome: &ScenarioOutcome) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">",
        attribute(&target.name),
        attribute(&outcome.id),
        seconds(outcome.duration_ms)
    );
    let reason = outcome.reason.as_deref().unwrap_or_default();
    match outcome.verdict {
        Verdict::Pass => {}
        Verdict::NotRun => {
            let _ = write!(out, "\n      <skipped message=\"{}\"/>", attribute(reason));
        }
        Verdict::Fail | Verdict::Error => {
            let element = if outcome.verdict == Verdict::Fail {
                "failure"
            } else {
                "error"
            };
            let _ = write!(
                out,
                "\n      <{element} message=\"{}\" type=\"{}\">{}</{element}>",
                attribute(reason),
                outcome.level,
                text(&failure_details(outcome))
            );
        }
        Verdict::NonStrict => {
            let details = format!("SHOULD missed: {reason}\n{}", failure_details(outcome));
            let _ = write!(
                out,
                "\n      <system-out>{}</system-out>",
                text(details.trim_end())
            );
        }
    }
    if outcome.verdict == Verdict::Pass {
        out.push_str("</testcase>\n");
    } else {
        out.push_str("\n    </testcase>\n");
    }
}

/// The rules checked and every failed expectation, one per line.
fn failure_details(outcome: &ScenarioOutcome) -> String {
    let mut details = format!("rules: {}\n", outcome.rules.join(", "));
    for step in &outcome.steps {
        for failure in &step.failures {
            let _ = writeln!(
                details,
                "step \"{}\": {} ({}): expected {}, got {}",
                step.name, failure.expectation, failure.level, failure.expected, failure.actual
            );
        }
    }
    details
}

/// Milliseconds as seconds with three decimals, as the `time` attributes want.
fn seconds(millis: u64) -> String {
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// Escapes text for an attribute value.
fn attribute(value: &str) -> String {
    escape(value, true)
}

/// Escapes text for element content.
fn text(value: &str) -> String {
    escape(value, false)
}

/// Escapes markup characters and drops the control characters XML 1.0 cannot
/// hold at all, which a target's log or a response body may contain.
fn escape(value: &str, in_attribute: bool) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' if in_attribute => escaped.push_str("&quot;"),
            '\n' if in_attribute => escaped.push_str("&#10;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            '\u{FFFE}' | '\u{FFFF}' => {}
            control if control < ' ' => {}
            other => escaped.push(other),
        }
    }
    escaped
}
