//! The published JSON Schema of the results file, generated from the results
//! types so that it cannot drift from what the harness writes.

use crate::results::RunResults;

/// Where the schema is published, from the workspace root.
pub const SCHEMA_PATH: &str = "docs/results.schema.json";

/// The schema of [`RunResults`] as pretty JSON, ending in a newline.
pub fn results_schema() -> String {
    let schema = schemars::schema_for!(RunResults);
    let json = serde_json::to_string_pretty(&schema).expect("a JSON Schema always encodes");
    json + "\n"
}
