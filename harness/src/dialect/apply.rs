//! Applies a dialect between the engine and the wire: routes, request fields and
//! tiers on the way out; statuses, response fields, tiers and error bodies on the
//! way back. Every mapping applied is counted in a [`DeviationLog`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use super::Dialect;
use crate::scenario::outcome::Deviation;

/// A route as `METHOD /path/{param}`; `{...}` segments match any one segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    pub method: String,
    pub segments: Vec<String>,
}

impl RouteKey {
    /// Parses `"POST /api/ack/{id}"`.
    pub fn parse(text: &str) -> anyhow::Result<RouteKey> {
        let (method, path) = text.trim().split_once(' ').ok_or_else(|| {
            anyhow::anyhow!("route {text:?} is malformed; write it like \"POST /api/ack/{{id}}\"")
        })?;
        let path = path.trim();
        if !path.starts_with('/') || method.chars().any(|c| !c.is_ascii_alphabetic()) {
            anyhow::bail!("route {text:?} is malformed; write it like \"POST /api/ack/{{id}}\"");
        }
        Ok(RouteKey {
            method: method.to_ascii_uppercase(),
            segments: split_path(path),
        })
    }

    /// The parameters of `path` when it matches this route, by segment position.
    fn matches(&self, method: &str, path: &str) -> Option<Vec<String>> {
        let segments = split_path(path);
        if !self.method.eq_ignore_ascii_case(method) || segments.len() != self.segments.len() {
            return None;
        }
        let mut parameters = Vec::new();
        for (pattern, segment) in self.segments.iter().zip(segments) {
            if is_parameter(pattern) {
                parameters.push(segment);
            } else if *pattern != segment {
                return None;
            }
        }
        Some(parameters)
    }

    /// The concrete path of this route with `parameters` filled in, in order.
    fn fill(&self, parameters: &[String]) -> String {
        let mut parameters = parameters.iter();
        let mut path = String::new();
        for segment in &self.segments {
            path.push('/');
            match is_parameter(segment) {
                true => path.push_str(parameters.next().map_or("", String::as_str)),
                false => path.push_str(segment),
            }
        }
        if path.is_empty() {
            "/".to_string()
        } else {
            path
        }
    }

    fn literal_segments(&self) -> usize {
        self.segments.iter().filter(|s| !is_parameter(s)).count()
    }
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} /{}", self.method, self.segments.join("/"))
    }
}

fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_parameter(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// Counts the mappings one dialect applied, by their description.
#[derive(Debug, Default)]
pub struct DeviationLog {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl DeviationLog {
    fn record(&self, dialect: &str, mapping: String) {
        let mut counts = self.counts.lock().expect("deviation log lock");
        *counts.entry((dialect.to_string(), mapping)).or_default() += 1;
    }

    /// Every mapping recorded so far, in a stable order.
    pub fn deviations(&self) -> Vec<Deviation> {
        let counts = self.counts.lock().expect("deviation log lock");
        counts
            .iter()
            .map(|((dialect, mapping), count)| Deviation {
                dialect: dialect.clone(),
                mapping: mapping.clone(),
                count: *count,
            })
            .collect()
    }
}

/// A request as it goes on the wire after mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct WireRequest {
    pub method: String,
    /// Path plus any query string.
    pub path: String,
    /// The contract route the request matched in the dialect, for mapping its answer.
    pub route: Option<RouteKey>,
    /// The offset sent when an inbox cursor was mapped to offset paging.
    pub offset: Option<u64>,
}

/// Checks a response field path such as `events[].event_type`.
pub(crate) fn check_field_path(path: &str) -> anyhow::Result<()> {
    let bad = path.is_empty()
        || path.split('.').any(|part| {
            let name = part.strip_suffix("[]").unwrap_or(part);
            name.is_empty() || name.contains(['[', ']', ' '])
        })
        || path.ends_with("[]");
    if bad {
        anyhow::bail!(
            "field path {path:?} is malformed; write names joined by '.', with '[]' after an array, such as \"events[].event_type\""
        );
    }
    Ok(())
}

impl Dialect {
    /// Every route the dialect mentions, most specific first.
    fn known_routes(&self) -> Vec<&RouteKey> {
        let mut routes: Vec<&RouteKey> = self
            .routes
            .keys()
            .chain(self.status.keys())
            .chain(self.request_fields.keys())
            .chain(self.response_fields.keys())
            .collect();
        routes.sort_by_key(|route| std::cmp::Reverse(route.literal_segments()));
        routes.dedup();
        routes
    }

    /// The contract route a request matches, with its path parameters.
    pub fn contract_route(&self, method: &str, path: &str) -> Option<(RouteKey, Vec<String>)> {
        let path = path.split('?').next().unwrap_or(path);
        self.known_routes()
            .into_iter()
            .find_map(|route| route.matches(method, path).map(|p| (route.clone(), p)))
    }

    /// Maps a contract request onto the target's wire form; fails with the reason
    /// when the target has no such route.
    pub fn map_request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&mut Value>,
        log: &DeviationLog,
    ) -> Result<WireRequest, String> {
        let mut wire = self.map_route_and_fields(method, path_and_query, body, log)?;
        let is_inbox = method == "GET" && path_and_query.split('?').next() == Some("/api/inbox");
        if is_inbox {
            self.map_cursor_to_offset(&mut wire, log);
        }
        Ok(wire)
    }

    fn map_route_and_fields(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&mut Value>,
        log: &DeviationLog,
    ) -> Result<WireRequest, String> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let Some((route, parameters)) = self.contract_route(method, path) else {
            let request = WireRequest {
                method: method.to_string(),
                path: path_and_query.to_string(),
                route: None,
                offset: None,
            };
            return Ok(self.map_generate_tier(request, body, log));
        };

        let mut wire = WireRequest {
            method: method.to_string(),
            path: path.to_string(),
            route: Some(route.clone()),
            offset: None,
        };
        match self.routes.get(&route) {
            Some(None) => {
                return Err(format!(
                    "dialect {:?} says the target has no route {route}",
                    self.name
                ));
            }
            Some(Some(target)) => {
                wire.method = target.method.clone();
                wire.path = target.fill(&parameters);
                self.note(log, format!("route {route} -> {target}"));
            }
            None => {}
        }
        if let Some(query) = query {
            wire.path = format!("{}?{query}", wire.path);
        }

        let mut body = body;
        if let (Some(fields), Some(Value::Object(map))) =
            (self.request_fields.get(&route), body.as_deref_mut())
        {
            for (contract, target) in fields {
                if let Some(value) = map.remove(contract) {
                    map.insert(target.clone(), value);
                    self.note(log, format!("request field {route} {contract} -> {target}"));
                }
            }
        }
        Ok(self.map_generate_tier(wire, body, log))
    }

    /// Renames a contract tier in a key generation body to the target's tier.
    fn map_generate_tier(
        &self,
        wire: WireRequest,
        body: Option<&mut Value>,
        log: &DeviationLog,
    ) -> WireRequest {
        let is_generate =
            wire.method == "POST" && wire.path.split('?').next() == Some("/api/keys/generate");
        if let (true, Some(Value::Object(map))) = (is_generate, body) {
            let target = map
                .get("tier")
                .and_then(Value::as_str)
                .and_then(|tier| self.tiers.get(tier));
            if let Some(target) = target.cloned() {
                let contract = map.insert("tier".to_string(), Value::String(target.clone()));
                let contract = contract
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                self.note(log, format!("tier {contract} -> {target}"));
            }
        }
        wire
    }

    /// Maps a target's answer back to the contract: status, fields, tiers and
    /// the error body. Returns the contract status.
    pub fn map_response(
        &self,
        route: Option<&RouteKey>,
        status: u16,
        body: Option<&mut Value>,
        log: &DeviationLog,
    ) -> u16 {
        let status_map = route.and_then(|r| Some((r, self.status.get(r)?.get(&status)?)));
        let contract_status = match status_map {
            Some((route, mapped)) => {
                self.note(log, format!("status {route} {status} -> {mapped}"));
                *mapped
            }
            None => status,
        };
        let Some(body) = body else {
            return contract_status;
        };

        if let Some(route) = route
            && let Some(fields) = self.response_fields.get(route)
        {
            for (target, contract) in fields {
                let segments: Vec<&str> = target.split('.').collect();
                if rename_at(body, &segments, contract) > 0 {
                    let mapping = format!("response field {route} {target} -> {contract}");
                    self.note(log, mapping);
                }
            }
        }
        self.map_response_tier(body, log);
        if contract_status >= 400 {
            self.map_error_body(body, log);
        }
        contract_status
    }

    /// Renames the fields of a webhook delivery body to the contract's names.
    pub fn map_delivery(&self, body: &mut Value, log: &DeviationLog) {
        for (target, contract) in &self.webhook_fields {
            let segments: Vec<&str> = target.split('.').collect();
            if rename_at(body, &segments, contract) > 0 {
                self.note(log, format!("webhook field {target} -> {contract}"));
            }
        }
    }

    fn map_response_tier(&self, body: &mut Value, log: &DeviationLog) {
        let Some(tier) = body.get("tier").and_then(Value::as_str) else {
            return;
        };
        let contract = self
            .tiers
            .iter()
            .find(|(_, target)| target.as_str() == tier);
        if let Some((contract, target)) = contract.map(|(c, t)| (c.clone(), t.clone())) {
            body["tier"] = Value::String(contract.clone());
            self.note(log, format!("tier {target} -> {contract}"));
        }
    }

    /// Copies the target's error message and code to the contract's `error` and `code`.
    fn map_error_body(&self, body: &mut Value, log: &DeviationLog) {
        let mappings = [("error", &self.error_message), ("code", &self.error_code)];
        let mut found = Vec::new();
        for (field, source) in mappings {
            let Some((text, path)) = source else { continue };
            let value = path.query(body).first().cloned();
            if let Some(value) = value {
                found.push((field, text.clone(), value));
            }
        }
        if found.is_empty() {
            return;
        }
        if !body.is_object() {
            *body = Value::Object(serde_json::Map::new());
        }
        for (field, text, value) in found {
            if body.get(field) != Some(&value) {
                body[field] = value;
                self.note(log, format!("error body {text} -> $.{field}"));
            }
        }
    }

    pub(crate) fn note(&self, log: &DeviationLog, mapping: String) {
        log.record(&self.name, mapping);
    }
}

/// Renames the field at `segments` (with `name[]` stepping into every element
/// of an array) to `new_name`; returns how many fields were renamed.
fn rename_at(value: &mut Value, segments: &[&str], new_name: &str) -> usize {
    let Some((first, rest)) = segments.split_first() else {
        return 0;
    };
    let Value::Object(map) = value else {
        return 0;
    };
    if rest.is_empty() {
        return match map.remove(*first) {
            Some(found) => {
                map.insert(new_name.to_string(), found);
                1
            }
            None => 0,
        };
    }
    match first.strip_suffix("[]") {
        Some(array) => match map.get_mut(array) {
            Some(Value::Array(items)) => items
                .iter_mut()
                .map(|item| rename_at(item, rest, new_name))
                .sum(),
            _ => 0,
        },
        None => map
            .get_mut(*first)
            .map_or(0, |inner| rename_at(inner, rest, new_name)),
    }
}
