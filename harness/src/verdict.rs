//! The verdict of a scenario, a rule or a target: one ordered scale for all of them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a scenario (or anything aggregated from scenarios) was judged.
///
/// The variants are ordered from best to worst except for `NotRun`, so the
/// worst of several verdicts is their maximum; `Error` sorts last because a
/// target that could not be judged must never look better than one that failed.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// Only SHOULD-level expectations (or a SHOULD-level scenario) failed.
    NonStrict,
    /// A MUST-level expectation failed.
    Fail,
    /// The scenario was skipped, for example for a missing capability.
    NotRun,
    /// The target could not be reached or answered garbage, so nothing could be judged.
    Error,
}

impl Verdict {
    /// The lowercase name used in reports and in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NonStrict => "non_strict",
            Verdict::Fail => "fail",
            Verdict::NotRun => "not_run",
            Verdict::Error => "error",
        }
    }

    /// The worst of two verdicts, where `NotRun` counts only when nothing else ran.
    pub fn combine(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::NotRun, other) | (other, Verdict::NotRun) => other,
            (a, b) => a.max(b),
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
