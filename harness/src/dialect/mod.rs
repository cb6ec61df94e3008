//! Dialects: a target's known differences from the contract, as data, and the
//! mapping between the engine (which speaks the contract) and the wire.
//!
//! `load_dialect` reads and checks a file; `apply.rs` maps requests and answers
//! and counts every mapping it applies as a deviation.

mod apply;
mod paging;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;
use serde_json_path::JsonPath;

pub use apply::{DeviationLog, RouteKey, WireRequest};

/// A checked dialect file.
#[derive(Debug, Clone, Default)]
pub struct Dialect {
    pub name: String,
    pub description: String,
    /// Contract route to target route; `None` when the target has no such route.
    pub(crate) routes: BTreeMap<RouteKey, Option<RouteKey>>,
    /// Contract route to (target status to contract status).
    pub(crate) status: BTreeMap<RouteKey, BTreeMap<u16, u16>>,
    /// Contract route to (contract field to target field) for request bodies.
    pub(crate) request_fields: BTreeMap<RouteKey, BTreeMap<String, String>>,
    /// Contract route to (target field path to contract field name) for answers.
    pub(crate) response_fields: BTreeMap<RouteKey, BTreeMap<String, String>>,
    /// Target field path to contract field name in webhook delivery bodies.
    pub(crate) webhook_fields: BTreeMap<String, String>,
    /// Contract tier to target tier.
    pub(crate) tiers: BTreeMap<String, String>,
    health_path: String,
    health_ok_values: Vec<String>,
    pub(crate) error_message: Option<(String, JsonPath)>,
    pub(crate) error_code: Option<(String, JsonPath)>,
    pub(crate) paging: Paging,
    /// The query parameter and answer field of offset paging.
    pub(crate) offset_param: String,
    pub(crate) total_field: String,
}

/// How a target pages its inbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paging {
    /// The contract's opaque `cursor` / `next_cursor`.
    #[default]
    Cursor,
    /// `offset` and `total`: a cursor is sent as the offset, and `next_cursor`
    /// is derived from the offset, the page length and the total.
    Offset,
    /// Only `limit`; scenarios that follow cursors cannot be expressed.
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DialectFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    routes: BTreeMap<String, String>,
    #[serde(default)]
    status: BTreeMap<String, BTreeMap<String, u16>>,
    #[serde(default)]
    request_fields: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    response_fields: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    webhook_fields: BTreeMap<String, String>,
    #[serde(default)]
    tiers: BTreeMap<String, String>,
    health: Option<HealthTable>,
    errors: Option<ErrorsTable>,
    paging: Option<PagingTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthTable {
    path: Option<String>,
    ok_values: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorsTable {
    message: Option<String>,
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PagingTable {
    style: Paging,
    offset_param: Option<String>,
    total_field: Option<String>,
}

/// Reads and checks a dialect file; errors name the file, the line and what to fix.
pub fn load_dialect(path: &Path) -> anyhow::Result<Dialect> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("reading dialect file {:?}", path.display().to_string()))?;
    parse_dialect(&source)
        .with_context(|| format!("in dialect file {:?}", path.display().to_string()))
}

/// Parses and checks the text of a dialect file.
pub fn parse_dialect(source: &str) -> anyhow::Result<Dialect> {
    let file: DialectFile = toml::from_str(source).map_err(|error| {
        let (line, column) =
            crate::scenario::line_column(source, error.span().map_or(0, |s| s.start));
        anyhow::anyhow!("{line}:{column}: {}", error.message().trim_end_matches('.'))
    })?;

    let mut routes = BTreeMap::new();
    for (contract, target) in &file.routes {
        let target = match target.as_str() {
            "none" => None,
            target => Some(RouteKey::parse(target).context("in [routes]")?),
        };
        routes.insert(RouteKey::parse(contract).context("in [routes]")?, target);
    }
    let mut status = BTreeMap::new();
    for (route, table) in &file.status {
        let mut map = BTreeMap::new();
        for (target, contract) in table {
            let Ok(target_status) = target.parse::<u16>() else {
                bail!(
                    "in [status] of {route:?}: {target:?} is not a status; write it like \"200\""
                );
            };
            map.insert(target_status, *contract);
        }
        status.insert(RouteKey::parse(route).context("in [status]")?, map);
    }
    let request_fields = keyed_by_route(&file.request_fields, "request_fields")?;
    let response_fields = keyed_by_route(&file.response_fields, "response_fields")?;
    for fields in response_fields.values() {
        for path in fields.keys() {
            apply::check_field_path(path).context("in [response_fields]")?;
        }
    }
    for path in file.webhook_fields.keys() {
        apply::check_field_path(path).context("in [webhook_fields]")?;
    }

    let paging = file.paging.unwrap_or(PagingTable {
        style: Paging::Cursor,
        offset_param: None,
        total_field: None,
    });
    let health = file.health.unwrap_or(HealthTable {
        path: None,
        ok_values: None,
    });
    let errors = file.errors.unwrap_or(ErrorsTable {
        message: None,
        code: None,
    });
    let compile = |field: &str, text: Option<String>| -> anyhow::Result<_> {
        text.map(|text| {
            let path = JsonPath::parse(&text).map_err(|error| {
                anyhow::anyhow!("in [errors]: {field} {text:?} is not a JSONPath ({error})")
            })?;
            Ok((text, path))
        })
        .transpose()
    };
    Ok(Dialect {
        name: file.name,
        description: file.description,
        routes,
        status,
        request_fields,
        response_fields,
        webhook_fields: file.webhook_fields,
        tiers: file.tiers,
        health_path: health.path.unwrap_or_else(|| "/health".to_string()),
        health_ok_values: health.ok_values.unwrap_or_else(|| vec!["ok".to_string()]),
        error_message: compile("message", errors.message)?,
        error_code: compile("code", errors.code)?,
        paging: paging.style,
        offset_param: paging.offset_param.unwrap_or_else(|| "offset".to_string()),
        total_field: paging.total_field.unwrap_or_else(|| "total".to_string()),
    })
}

fn keyed_by_route(
    table: &BTreeMap<String, BTreeMap<String, String>>,
    section: &str,
) -> anyhow::Result<BTreeMap<RouteKey, BTreeMap<String, String>>> {
    table
        .iter()
        .map(|(route, fields)| {
            let key = RouteKey::parse(route).with_context(|| format!("in [{section}]"))?;
            Ok((key, fields.clone()))
        })
        .collect()
}

impl Dialect {
    /// The health path the readiness wait polls (`/health` by default).
    pub fn health_path(&self) -> &str {
        if self.health_path.is_empty() {
            "/health"
        } else {
            &self.health_path
        }
    }

    /// Whether a health answer body says the target is up: its `status` is one
    /// of the dialect's ok values (`"ok"` by default).
    pub fn health_ok(&self, body: &[u8]) -> bool {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return false;
        };
        // An empty list (or a default-built dialect) means the contract's "ok".
        let status = value.get("status").and_then(Value::as_str);
        match (status, self.health_ok_values.is_empty()) {
            (Some(status), true) => status == "ok",
            (Some(status), false) => self.health_ok_values.iter().any(|ok| ok == status),
            (None, _) => false,
        }
    }

    /// The contract's own behaviour: no mapping at all.
    pub fn contract() -> Dialect {
        Dialect {
            name: "contract".to_string(),
            health_path: "/health".to_string(),
            health_ok_values: vec!["ok".to_string()],
            ..Dialect::default()
        }
    }

    /// Why a request matching `method path` cannot be sent, when the dialect
    /// says the target has no such route.
    pub fn missing_route(&self, method: &str, path: &str) -> Option<String> {
        let (route, _) = self.contract_route(method, path)?;
        let missing = matches!(self.routes.get(&route), Some(None));
        missing.then(|| {
            format!(
                "dialect {:?} says the target has no route {route}",
                self.name
            )
        })
    }

    /// Why a scenario that follows inbox cursors cannot run: the target pages
    /// by limit only. Offset paging is mapped (see `paging.rs`).
    pub fn cannot_follow_cursors(&self) -> Option<String> {
        let name = &self.name;
        (self.paging == Paging::None).then(|| {
            format!("dialect {name:?} says the target pages by limit only, and this scenario follows cursors")
        })
    }
}
