//! The scenario file format exactly as TOML spells it, before any checking.
//!
//! Every table denies unknown fields so a typo is reported with its line; the
//! checked model in `model.rs` is built from these types by `load.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

/// One scenario file: any number of `[[scenario]]` tables.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    #[serde(default)]
    pub scenario: Vec<ScenarioTable>,
}

/// One `[[scenario]]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioTable {
    pub id: Spanned<String>,
    pub title: String,
    pub rules: Spanned<Vec<String>>,
    pub level: Spanned<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub requires: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub orgs: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub steps: Vec<Spanned<StepTable>>,
}

/// One `[[scenario.steps]]` table; which fields are allowed depends on `kind`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepTable {
    pub name: Option<String>,
    pub kind: Option<String>,

    // The request fields, shared by request, poll, repeat and concurrent.
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<BTreeMap<String, Value>>,
    pub headers: Option<BTreeMap<String, String>>,
    pub auth: Option<String>,
    pub json: Option<Value>,
    pub body: Option<String>,
    pub generate: Option<GenerateTable>,
    pub capture: Option<BTreeMap<String, CaptureSource>>,
    pub expect: Option<ExpectTable>,

    // Poll, webhook.
    pub interval: Option<String>,
    pub timeout: Option<String>,

    // Repeat, concurrent, webhook.
    pub count: Option<u64>,
    pub expect_set: Option<ExpectSetTable>,

    // Sink.
    pub responses: Option<Vec<SinkResponseTable>>,

    // Sink, webhook.
    pub endpoint: Option<String>,

    // Webhook.
    pub signature: Option<bool>,
    pub secret: Option<String>,
    pub same_webhook_id: Option<bool>,
    pub min_spacing: Option<String>,

    // Sleep.
    pub duration: Option<String>,

    // Control.
    pub action: Option<String>,
}

/// A generated request body.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct GenerateTable {
    pub kind: String,
    pub bytes: Option<usize>,
    pub depth: Option<usize>,
}

/// Where a captured value comes from: a JSONPath into the body, or a header.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum CaptureSource {
    Path(String),
    Header(HeaderCapture),
}

/// `name = { header = "x-name" }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderCapture {
    pub header: String,
}

/// The `expect` table of a request or a webhook step.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectTable {
    pub status: Option<StatusTable>,
    pub error: Option<String>,
    pub schema: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderCheckTable>,
    #[serde(default)]
    pub json: Vec<JsonCheckTable>,
    /// Strings the raw body must contain, for answers that are not JSON.
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// The longest the answer may take, as a duration such as `"100ms"`.
    pub max_elapsed: Option<String>,
    pub level: Option<String>,
}

/// One status or a list of allowed statuses.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum StatusTable {
    One(u16),
    Many(Vec<u16>),
}

/// A check on one response header.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeaderCheckTable {
    pub exists: Option<bool>,
    pub equals: Option<String>,
    pub matches: Option<String>,
    pub level: Option<String>,
}

/// One JSONPath assertion.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct JsonCheckTable {
    pub path: String,
    pub exists: Option<bool>,
    pub equals: Option<Value>,
    pub not_equals: Option<Value>,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub matches: Option<String>,
    pub length: Option<u64>,
    pub contains: Option<Value>,
    pub not_contains: Option<Value>,
    pub count: Option<u64>,
    pub gt: Option<Value>,
    pub ge: Option<Value>,
    pub lt: Option<Value>,
    pub le: Option<Value>,
    pub level: Option<String>,
}

/// `expect_set` of repeat and concurrent steps.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectSetTable {
    #[serde(default)]
    pub counts: BTreeMap<String, String>,
    #[serde(default)]
    pub same: Vec<String>,
    pub level: Option<String>,
}

/// One scripted answer of the webhook sink.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkResponseTable {
    pub status: u16,
    pub delay: Option<String>,
    pub retry_after: Option<u64>,
    pub times: Option<u32>,
}
