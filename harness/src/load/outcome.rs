//! The load phase's part of the results file: per target and profile, one
//! entry per level of the sweep, with latency, status codes, errors,
//! persistence and resource figures, and the verdicts of the profile's thresholds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One profile run against one target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct LoadOutcome {
    /// The profile's name, as in `scenarios/load/<name>.toml`.
    pub profile: String,
    /// `closed` (users looping) or `open` (a fixed arrival rate).
    pub model: LoadModelKind,
    /// `pass` when every threshold held at every level, `fail` when one did
    /// not, `skipped` when the target was not loaded, `error` when the load
    /// could not be set up (for example organisations could not be created).
    pub verdict: LoadVerdict,
    /// Why the target was skipped or the load could not run.
    pub reason: Option<String>,
    /// The organisations created on the target before the load started.
    pub organization_count: u32,
    /// One entry per level, in the order they ran; empty when skipped.
    pub levels: Vec<LevelOutcome>,
}

/// The load model of a profile.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadModelKind {
    /// A fixed number of users, each sending its next request once the last one answered.
    Closed,
    /// Requests start at a fixed rate whatever the target's answers; arrivals
    /// that could not start on time are counted as dropped.
    Open,
}

/// The overall judgement of a profile on a target.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadVerdict {
    Pass,
    Fail,
    Skipped,
    Error,
}

impl LoadVerdict {
    /// The lowercase name used in reports and in the results file.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadVerdict::Pass => "pass",
            LoadVerdict::Fail => "fail",
            LoadVerdict::Skipped => "skipped",
            LoadVerdict::Error => "error",
        }
    }
}

/// The figures of one level (one concurrency or one arrival rate) of a profile.
///
/// Every figure except `resources` and `persistence` counts only the hold:
/// requests answered during the ramp and the warmup are excluded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct LevelOutcome {
    /// A short name for the level, such as `users=64` or `rate=500/s`.
    pub label: String,
    /// Concurrent users (closed model) or the size of the request pool (open model).
    pub users: u32,
    /// The target arrival rate per second (open model only).
    pub rate_per_second: Option<f64>,
    /// The measured part of the level, in milliseconds.
    pub hold_ms: u64,
    /// Requests answered (or failed) during the hold.
    pub request_count: u64,
    /// Every request of the level, ramp, warmup and hold together: what the
    /// target saw, for comparing with its own counters.
    pub sent_count: u64,
    /// `request_count` divided by the hold.
    pub throughput_per_second: f64,
    /// Latency as measured, every request once.
    pub latency: LatencySummary,
    /// Latency corrected for coordinated omission: a stalled request also
    /// accounts for the requests a steady client would have sent meanwhile.
    pub latency_corrected: LatencySummary,
    /// HTTP status code (as text) to count; requests with no answer are under `errors`.
    pub status_counts: BTreeMap<String, u64>,
    /// Error kind (`timeout`, `connect`, `unexpected_status`, `body`...) to count.
    pub errors: BTreeMap<String, u64>,
    /// Answers with status 429, also counted in `status_counts`.
    pub rate_limited_count: u64,
    /// Transaction name to requests sent, for checking the mix.
    pub transactions: BTreeMap<String, u64>,
    /// Open model only: arrivals that could not start on time because every
    /// slot of the pool was busy; zero for the closed model.
    pub dropped_arrival_count: u64,
    /// Whether the accepted events became visible in the inboxes.
    pub persistence: Option<PersistenceOutcome>,
    /// The target's CPU and memory over the level, when it can be sampled.
    pub resources: Vec<ResourceSample>,
    /// One entry per threshold of the profile.
    pub thresholds: Vec<ThresholdOutcome>,
}

/// Latency percentiles read from a histogram, in microseconds.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct LatencySummary {
    /// The number of values in the histogram (corrected ones include the synthesised values).
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

/// Whether what the target acknowledged was stored: the accepted events read
/// back from the inboxes after the hold.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct PersistenceOutcome {
    /// `ids` when every accepted event's id was looked for; `counts` when the
    /// target's ids could not be matched and only the number of events was compared.
    pub method: PersistenceMethod,
    /// Ingests answered with the target's accepted status during the whole level.
    pub accepted_count: u64,
    /// Accepted events found in the inboxes by the end of the check.
    pub stored_count: u64,
    /// Accepted events still missing at the drain deadline.
    pub missing_count: u64,
    /// Time from the end of the level to the moment the last accepted event
    /// became visible; `None` when some were still missing at the deadline.
    pub persistence_lag_ms: Option<u64>,
    /// How long the check was allowed to wait.
    pub drain_deadline_ms: u64,
}

/// How persistence was checked.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersistenceMethod {
    Ids,
    Counts,
}

/// One reading of the target's resource use.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ResourceSample {
    /// Milliseconds since the level started (ramp included).
    pub at_ms: u64,
    /// CPU time used since the previous sample over wall time, in percent of
    /// one core (200 means two busy cores).
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
}

/// One threshold checked against one level.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ThresholdOutcome {
    /// The threshold as written in the profile, such as `p99 < 100ms`.
    pub expression: String,
    /// The measured value, in the threshold's unit (milliseconds, percent, per second, count).
    pub observed: f64,
    pub passed: bool,
}
