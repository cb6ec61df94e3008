//! What running a scenario produced: the verdict, every exchange and every
//! failed expectation. These types are part of the results file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Level;
use crate::verdict::Verdict;

/// The largest excerpt of a request or response body kept in the results.
pub const EXCERPT_BYTES: usize = 4096;

/// The judged result of one scenario against one target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ScenarioOutcome {
    pub id: String,
    pub title: String,
    pub rules: Vec<String>,
    pub level: Level,
    pub verdict: Verdict,
    /// Why the verdict is not `pass`: the first failure, the error, or why it did not run.
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub steps: Vec<StepRecord>,
    /// Dialect mappings applied while this scenario ran.
    pub deviations: Vec<Deviation>,
}

/// What one step sent, received and found wrong.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct StepRecord {
    pub name: String,
    pub kind: String,
    pub exchanges: Vec<Exchange>,
    pub failures: Vec<ExpectationFailure>,
}

impl StepRecord {
    /// An empty record for the step `name` of kind `kind`.
    pub fn new(name: &str, kind: &str) -> StepRecord {
        StepRecord {
            name: name.to_string(),
            kind: kind.to_string(),
            exchanges: Vec::new(),
            failures: Vec::new(),
        }
    }
}

/// One HTTP request and its answer, with secrets redacted and bodies cut to
/// [`EXCERPT_BYTES`]; for a webhook step, one delivery received by the sink.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Exchange {
    pub request: RequestRecord,
    /// Absent when no answer came (connection refused, timeout).
    pub response: Option<ResponseRecord>,
    pub elapsed_ms: u64,
}

/// The request side of an exchange, as sent on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RequestRecord {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// The response side of an exchange, as received on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ResponseRecord {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// One expectation that did not hold.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct ExpectationFailure {
    /// What was checked, such as `status` or `json $.id type`.
    pub expectation: String,
    pub expected: Value,
    pub actual: Value,
    pub level: Level,
}

/// A dialect mapping applied to a target, with how often it was applied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub struct Deviation {
    pub dialect: String,
    /// The mapping in words, such as `route POST /api/ack/{id} -> POST /api/inbox/ack/{id}`.
    pub mapping: String,
    pub count: u64,
}

/// Cuts `text` to at most [`EXCERPT_BYTES`] on a character boundary, saying how much was cut.
pub fn excerpt(text: &str) -> String {
    if text.len() <= EXCERPT_BYTES {
        return text.to_string();
    }
    let mut end = EXCERPT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], text.len())
}

/// Replaces API keys and webhook secrets in recorded text, keeping their prefixes.
pub fn redact(text: &str) -> String {
    static SECRET: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(trg_|whsec_)[A-Za-z0-9+/=_\-]+").expect("constant regex")
    });
    SECRET.replace_all(text, "${1}[redacted]").into_owned()
}
