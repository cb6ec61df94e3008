//! Judges one answer (or one webhook delivery) against an `expect` table, and
//! the answers of a repeat or concurrent step against an `expect_set`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::*;
use super::outcome::{ExpectationFailure, excerpt};
use super::schema::Schemas;
use super::template::Templates;

/// What is judged: a status (0 for a webhook delivery), headers in lowercase and the body.
pub struct Observed<'a> {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: &'a [(String, String)],
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<&'a Value>,
    pub text: &'a str,
    /// How long the answer took; `None` for a webhook delivery.
    pub elapsed: Option<std::time::Duration>,
}

impl Observed<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn body_for_message(&self) -> Value {
        match self.json {
            Some(json) => json.clone(),
            None => Value::String(excerpt(self.text)),
        }
    }
}

fn failure(
    expectation: String,
    expected: Value,
    actual: Value,
    level: Level,
) -> ExpectationFailure {
    ExpectationFailure {
        expectation,
        expected,
        actual,
        level,
    }
}

/// Every expectation of `expect` that `observed` breaks.
pub fn check(
    expect: &Expect,
    observed: &Observed,
    templates: &Templates,
    schemas: &Schemas,
) -> Vec<ExpectationFailure> {
    let mut failures = Vec::new();
    if let Some(Leveled {
        level,
        check: allowed,
    }) = &expect.status
        && !allowed.contains(&observed.status)
    {
        let expected = if allowed.len() == 1 {
            json!(allowed[0])
        } else {
            json!(allowed)
        };
        failures.push(failure(
            "status".into(),
            expected,
            json!(observed.status),
            *level,
        ));
    }
    if let Some(Leveled { level, check: code }) = &expect.error {
        let body = observed.json;
        let has_message = body
            .and_then(|b| b.get("error"))
            .is_some_and(Value::is_string);
        let actual_code = body.and_then(|b| b.get("code")).and_then(Value::as_str);
        if !has_message || actual_code != Some(code.as_str()) {
            let expected = json!({ "error": "a message string", "code": code });
            failures.push(failure(
                "error body".into(),
                expected,
                observed.body_for_message(),
                *level,
            ));
        }
    }
    if let Some(Leveled { level, check: name }) = &expect.schema {
        let expectation = format!("schema {name}");
        match (
            observed.json,
            schemas.violations(name, observed.json.unwrap_or(&Value::Null)),
        ) {
            (None, _) => failures.push(failure(
                expectation,
                json!("a JSON body"),
                observed.body_for_message(),
                *level,
            )),
            (_, Err(error)) => {
                failures.push(failure(expectation, json!(name), json!(error), *level))
            }
            (Some(_), Ok(violations)) if !violations.is_empty() => {
                failures.push(failure(expectation, json!(name), json!(violations), *level))
            }
            _ => {}
        }
    }
    for Leveled { level, check } in &expect.headers {
        failures.extend(
            check_header(check, observed, templates).map(|(e, x, a)| failure(e, x, a, *level)),
        );
    }
    for Leveled { level, check } in &expect.json {
        // A body that is not JSON fails each check once, showing the body,
        // rather than as a path that found nothing.
        if observed.json.is_none() {
            let expectation = format!("json {}", check.path.text);
            let actual = observed.body_for_message();
            failures.push(failure(expectation, json!("a JSON body"), actual, *level));
            continue;
        }
        for (expectation, expected, actual) in check_json(check, observed.json, templates) {
            failures.push(failure(expectation, expected, actual, *level));
        }
    }
    for Leveled { level, check } in &expect.body_contains {
        let wanted = templates
            .render_string(check)
            .unwrap_or_else(|_| check.clone());
        if !observed.text.contains(&wanted) {
            let expectation = format!("body contains {wanted:?}");
            let actual = Value::String(excerpt(observed.text));
            failures.push(failure(expectation, json!(wanted), actual, *level));
        }
    }
    if let (
        Some(Leveled {
            level,
            check: limit,
        }),
        Some(elapsed),
    ) = (&expect.max_elapsed, observed.elapsed)
        && elapsed > *limit
    {
        let expected = json!(format!("at most {}", humantime::format_duration(*limit)));
        let actual = json!(format!("{} ms", elapsed.as_millis()));
        failures.push(failure("elapsed".into(), expected, actual, *level));
    }
    failures
}

/// A broken check: what was checked, what was expected, what was found.
pub type Miss = (String, Value, Value);

fn check_header(check: &HeaderCheck, observed: &Observed, templates: &Templates) -> Option<Miss> {
    let actual = observed.header(&check.name);
    let name = &check.name;
    let shown = actual.map_or(Value::Null, |v| json!(v));
    if let Some(exists) = check.exists
        && actual.is_some() != exists
    {
        return Some((format!("header {name} exists"), json!(exists), shown));
    }
    if let Some(template) = &check.equals {
        let expected = templates
            .render_string(template)
            .unwrap_or_else(|e| e.to_string());
        if actual != Some(expected.as_str()) {
            return Some((format!("header {name} equals"), json!(expected), shown));
        }
    }
    if let Some(regex) = &check.matches
        && !actual.is_some_and(|value| regex.is_match(value))
    {
        let expectation = format!("header {name} matches");
        return Some((expectation, json!(regex.as_str()), shown));
    }
    None
}

/// Judges one JSONPath assertion; a body that is not JSON selects nothing.
pub fn check_json(check: &JsonCheck, body: Option<&Value>, templates: &Templates) -> Vec<Miss> {
    let nodes: Vec<&Value> = body
        .map(|b| check.path.path.query(b).all())
        .unwrap_or_default();
    let path = &check.path.text;
    let shown = match nodes.as_slice() {
        [] => Value::Null,
        [one] => (*one).clone(),
        many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
    };
    let render = |value: &Value| {
        templates
            .render_value(value)
            .unwrap_or_else(|e| json!(e.to_string()))
    };

    let mut misses = Vec::new();
    for predicate in &check.checks {
        let (name, expected, holds) = match predicate {
            JsonPredicate::Exists(exists) => ("exists", json!(exists), nodes.is_empty() != *exists),
            JsonPredicate::Count(count) => ("count", json!(count), nodes.len() as u64 == *count),
            JsonPredicate::Equals(value) => {
                let expected = render(value);
                let holds = !nodes.is_empty() && same_json(&shown, &expected);
                ("equals", expected, holds)
            }
            JsonPredicate::NotEquals(value) => {
                let expected = render(value);
                let holds = !nodes.is_empty() && !same_json(&shown, &expected);
                ("not_equals", expected, holds)
            }
            JsonPredicate::Contains(value) => {
                let expected = render(value);
                (
                    "contains",
                    expected.clone(),
                    candidates(&nodes).any(|n| same_json(n, &expected)),
                )
            }
            JsonPredicate::NotContains(value) => {
                let expected = render(value);
                (
                    "not_contains",
                    expected.clone(),
                    !candidates(&nodes).any(|n| same_json(n, &expected)),
                )
            }
            JsonPredicate::Type(json_type) => {
                let holds = !nodes.is_empty() && nodes.iter().all(|n| has_type(n, *json_type));
                (
                    "type",
                    json!(format!("{json_type:?}").to_lowercase()),
                    holds,
                )
            }
            JsonPredicate::Matches(regex) => {
                let holds = !nodes.is_empty()
                    && nodes
                        .iter()
                        .all(|n| n.as_str().is_some_and(|s| regex.is_match(s)));
                ("matches", json!(regex.as_str()), holds)
            }
            JsonPredicate::Length(length) => {
                let holds = matches!(nodes.as_slice(), [one] if length_of(one) == Some(*length));
                ("length", json!(length), holds)
            }
            JsonPredicate::Compare(comparison, bound) => {
                let bound = render(bound);
                let holds = !nodes.is_empty()
                    && bound.as_f64().is_some_and(|bound| {
                        nodes
                            .iter()
                            .all(|n| n.as_f64().is_some_and(|x| compare(x, *comparison, bound)))
                    });
                let name = match comparison {
                    Comparison::Gt => "gt",
                    Comparison::Ge => "ge",
                    Comparison::Lt => "lt",
                    Comparison::Le => "le",
                };
                (name, json!(bound), holds)
            }
        };
        if !holds {
            let actual = match predicate {
                JsonPredicate::Count(_) => json!(nodes.len()),
                JsonPredicate::Length(_) => json!(nodes.first().and_then(|n| length_of(n))),
                _ => shown.clone(),
            };
            misses.push((format!("json {path} {name}"), expected, actual));
        }
    }
    misses
}

/// The values `contains` looks among: the selected nodes, and when the path
/// selects exactly one array, that array's elements too.
fn candidates<'a>(nodes: &'a [&'a Value]) -> impl Iterator<Item = &'a Value> {
    let elements = match nodes {
        [Value::Array(items)] => items.as_slice(),
        _ => &[],
    };
    nodes.iter().copied().chain(elements.iter())
}

/// JSON equality where numbers compare by value, so `1` equals `1.0`.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn has_type(value: &Value, json_type: JsonType) -> bool {
    match json_type {
        JsonType::String => value.is_string(),
        JsonType::Number => value.is_number(),
        JsonType::Integer => value.is_i64() || value.is_u64(),
        JsonType::Boolean => value.is_boolean(),
        JsonType::Object => value.is_object(),
        JsonType::Array => value.is_array(),
        JsonType::Null => value.is_null(),
    }
}

fn length_of(value: &Value) -> Option<u64> {
    match value {
        Value::Array(items) => Some(items.len() as u64),
        Value::Object(map) => Some(map.len() as u64),
        Value::String(text) => Some(text.chars().count() as u64),
        _ => None,
    }
}

fn compare(value: f64, comparison: Comparison, bound: f64) -> bool {
    match comparison {
        Comparison::Gt => value > bound,
        Comparison::Ge => value >= bound,
        Comparison::Lt => value < bound,
        Comparison::Le => value <= bound,
    }
}

/// Judges the answers of a repeat or concurrent step: `(status, body)` each.
pub fn check_set(
    set: &ExpectSet,
    answers: &[(u16, Option<Value>)],
    level: Level,
) -> Vec<ExpectationFailure> {
    let level = set.level.unwrap_or(level);
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    for (status, _) in answers {
        *by_status.entry(*status).or_default() += 1;
    }

    let mut failures = Vec::new();
    if !set.counts.is_empty() {
        let unlisted: BTreeMap<u16, u64> = by_status
            .iter()
            .filter(|(status, _)| !set.counts.iter().any(|(s, _)| s == *status))
            .map(|(s, n)| (*s, *n))
            .collect();
        if !unlisted.is_empty() {
            let listed: Vec<u16> = set.counts.iter().map(|(s, _)| *s).collect();
            failures.push(failure(
                "expect_set statuses".into(),
                json!(listed),
                json!(unlisted),
                level,
            ));
        }
    }
    for (status, rule) in &set.counts {
        let seen = by_status.get(status).copied().unwrap_or(0);
        let (holds, expected) = match rule {
            CountRule::Exactly(n) => (seen == *n, json!(n)),
            CountRule::AtLeast(n) => (seen >= *n, json!(format!(">= {n}"))),
            CountRule::AtMost(n) => (seen <= *n, json!(format!("<= {n}"))),
            CountRule::Rest => (true, json!("rest")),
        };
        if !holds {
            failures.push(failure(
                format!("expect_set count of {status}"),
                expected,
                json!(seen),
                level,
            ));
        }
    }
    for path in &set.same {
        let values: Vec<Value> = answers
            .iter()
            .filter_map(|(_, body)| body.as_ref())
            .filter_map(|body| path.path.query(body).first().cloned())
            .collect();
        if values.windows(2).any(|pair| !same_json(&pair[0], &pair[1])) {
            let expectation = format!("expect_set same {}", path.text);
            failures.push(failure(
                expectation,
                json!("one value"),
                Value::Array(values),
                level,
            ));
        }
    }
    failures
}
