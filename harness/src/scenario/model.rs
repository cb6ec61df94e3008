//! The checked scenario model the runner interprets: every template string is
//! kept as written, every JSONPath and regex is already compiled.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json_path::JsonPath;

/// How a missed expectation is judged: MUST fails, SHOULD is non-strict.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema,
)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
}

impl Level {
    /// Parses `MUST` or `SHOULD`, the only spellings the files use.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "MUST" => Some(Level::Must),
            "SHOULD" => Some(Level::Should),
            _ => None,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        })
    }
}

/// One checked conformance scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    /// Rule ids of docs/SPEC.md; never empty.
    pub rules: Vec<String>,
    pub level: Level,
    pub tags: Vec<String>,
    /// Capabilities the target must offer, such as `webhook` or `restart`.
    pub requires: Vec<String>,
    /// Organisation name to contract tier; always holds `main`.
    pub orgs: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    /// The file the scenario came from and the line of its `id`.
    pub file: PathBuf,
    pub line: usize,
}

/// One step: a name for reports, the line it starts on, and what it does.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub line: usize,
    pub action: StepAction,
}

/// What a step does; one variant per `kind` of docs/SCENARIOS.md.
#[derive(Debug, Clone)]
pub enum StepAction {
    Request(RequestSpec),
    Poll {
        request: RequestSpec,
        interval: Duration,
        timeout: Duration,
    },
    Repeat {
        request: RequestSpec,
        count: u64,
        expect_set: ExpectSet,
    },
    Concurrent {
        request: RequestSpec,
        count: u64,
        expect_set: ExpectSet,
    },
    Sink {
        /// The sink endpoint scripted; `None` is the scenario's main one.
        endpoint: Option<String>,
        responses: Vec<SinkResponse>,
    },
    Webhook(WebhookSpec),
    Sleep(Duration),
    Control(ControlAction),
}

impl StepAction {
    /// The `kind` name as the files spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Request(_) => "request",
            StepAction::Poll { .. } => "poll",
            StepAction::Repeat { .. } => "repeat",
            StepAction::Concurrent { .. } => "concurrent",
            StepAction::Sink { .. } => "sink",
            StepAction::Webhook(_) => "webhook",
            StepAction::Sleep(_) => "sleep",
            StepAction::Control(_) => "control",
        }
    }

    /// The request this step sends, if it sends one.
    pub fn request(&self) -> Option<&RequestSpec> {
        match self {
            StepAction::Request(request)
            | StepAction::Poll { request, .. }
            | StepAction::Repeat { request, .. }
            | StepAction::Concurrent { request, .. } => Some(request),
            _ => None,
        }
    }
}

/// An HTTP request with its captures and expectations; strings are templates.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Upper-case method, checked against the usual HTTP verbs.
    pub method: String,
    pub path: String,
    pub query: Vec<(String, Value)>,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    pub body: Body,
    pub captures: Vec<Capture>,
    pub expect: Expect,
}

/// Which key the request carries in `X-API-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The key of one of the scenario's organisations.
    Org(String),
    /// No key header at all.
    None,
    /// A literal (template) value, for example a rotated-away key.
    Literal(String),
}

/// The one body source of a request.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    /// A JSON value whose strings are templates.
    Json(Value),
    /// A raw template string sent as is.
    Raw(String),
    Generate(Generate),
}

/// A generated body; sizes are exact byte counts of the sent body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generate {
    /// A valid event of exactly this many bytes.
    Event { bytes: usize },
    /// A valid event whose payload nests this deep.
    Nested { depth: usize },
    /// This many bytes that are not JSON.
    Filler { bytes: usize },
}

/// A value captured from a response into the scenario's template scope.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub source: CaptureFrom,
}

/// Where a capture reads from.
#[derive(Debug, Clone)]
pub enum CaptureFrom {
    Path(CompiledPath),
    Header(String),
}

/// A JSONPath with the text it was compiled from, for messages.
#[derive(Debug, Clone)]
pub struct CompiledPath {
    pub text: String,
    pub path: JsonPath,
}

/// The expectations on one response (or one webhook delivery).
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub status: Option<Leveled<Vec<u16>>>,
    pub error: Option<Leveled<String>>,
    pub schema: Option<Leveled<String>>,
    pub headers: Vec<Leveled<HeaderCheck>>,
    pub json: Vec<Leveled<JsonCheck>>,
    /// Strings the raw body must contain (templates).
    pub body_contains: Vec<Leveled<String>>,
    /// The longest the answer may take, from sending the request to the
    /// last byte of the body.
    pub max_elapsed: Option<Leveled<std::time::Duration>>,
}

impl Expect {
    /// Whether nothing at all is expected.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.error.is_none()
            && self.schema.is_none()
            && self.headers.is_empty()
            && self.json.is_empty()
            && self.body_contains.is_empty()
            && self.max_elapsed.is_none()
    }
}

/// An expectation and the level at which its miss is judged.
#[derive(Debug, Clone)]
pub struct Leveled<T> {
    pub level: Level,
    pub check: T,
}

/// A check on one response header (name in lowercase).
#[derive(Debug, Clone)]
pub struct HeaderCheck {
    pub name: String,
    pub exists: Option<bool>,
    pub equals: Option<String>,
    pub matches: Option<Regex>,
}

/// One JSONPath assertion with every check it carries.
#[derive(Debug, Clone)]
pub struct JsonCheck {
    pub path: CompiledPath,
    pub checks: Vec<JsonPredicate>,
}

/// One check on the nodes a JSONPath selects.
#[derive(Debug, Clone)]
pub enum JsonPredicate {
    Exists(bool),
    Equals(Value),
    NotEquals(Value),
    Type(JsonType),
    Matches(Regex),
    Length(u64),
    Contains(Value),
    NotContains(Value),
    Count(u64),
    /// The bound is a number or a template that renders to one.
    Compare(Comparison, Value),
}

/// The JSON type names of a `type` check; `integer` is a number without a fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
    Null,
}

/// The numeric comparisons `gt`, `ge`, `lt` and `le`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Ge,
    Lt,
    Le,
}

/// How the answers of a repeat or concurrent step are judged together.
#[derive(Debug, Clone, Default)]
pub struct ExpectSet {
    pub level: Option<Level>,
    /// Status to the number of answers with it; at most one `rest`.
    pub counts: Vec<(u16, CountRule)>,
    /// Every answer with a body has the same value at each of these paths.
    pub same: Vec<CompiledPath>,
}

/// How many answers a status must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountRule {
    Exactly(u64),
    AtLeast(u64),
    AtMost(u64),
    /// Every answer not claimed by another status.
    Rest,
}

/// One scripted answer of the webhook sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkResponse {
    pub status: u16,
    /// How long the sink holds the answer: this long, or, with `delay_max`,
    /// a time drawn evenly between the two for each answer.
    pub delay: Option<Duration>,
    pub delay_max: Option<Duration>,
    pub retry_after: Option<u64>,
}

/// What a webhook step waits for and checks.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    /// The sink endpoint waited on; `None` is the scenario's main one.
    pub endpoint: Option<String>,
    /// Exactly this many deliveries must have arrived when the step judges.
    pub count: u64,
    pub timeout: Duration,
    /// Checked on the last delivery; `status`, `error` and `schema` do not apply.
    pub expect: Expect,
    /// The captured name holding the `whsec_` secret, when signatures are checked.
    pub signature_secret: Option<String>,
    pub same_webhook_id: bool,
    pub min_spacing: Option<Duration>,
}

/// What a control step does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    Restart,
    KillAndStart,
}
