//! Checks `expect` and `expect_set` tables: statuses, headers, JSONPath
//! assertions with their regexes and bounds, count rules and levels.

use serde_json::Value;

use super::{FileChecker, Site};
use crate::scenario::file::{ExpectSetTable, ExpectTable, JsonCheckTable, StatusTable};
use crate::scenario::model::*;

impl FileChecker<'_> {
    pub(super) fn check_expect(
        &mut self,
        site: &Site,
        table: ExpectTable,
        response: bool,
    ) -> Expect {
        let level = self.level(site, table.level).unwrap_or(Level::Must);
        if !response
            && (table.status.is_some() || table.error.is_some() || table.max_elapsed.is_some())
        {
            let message = "a webhook `expect` checks only `headers`, `json`, `schema` and `body_contains`; remove `status`, `error` and `max_elapsed`";
            self.problem(site, "expect", message.into());
        }

        let status = table.status.map(|status| match status {
            StatusTable::One(status) => vec![status],
            StatusTable::Many(list) => list,
        });
        if let Some(list) = &status
            && (list.is_empty() || list.iter().any(|s| !(100..=599).contains(s)))
        {
            let message =
                format!("expected status {list:?} is not a list of HTTP statuses from 100 to 599");
            self.problem(site, "status", message);
        }

        let mut headers = Vec::new();
        for (name, check) in table.headers {
            let matches = check
                .matches
                .as_deref()
                .and_then(|text| self.regex(site, text));
            if check.exists.is_none() && check.equals.is_none() && check.matches.is_none() {
                self.problem(
                    site,
                    &name,
                    format!("header check {name:?} checks nothing; add exists, equals or matches"),
                );
            }
            let header_level = self.level(site, check.level).unwrap_or(level);
            let check = HeaderCheck {
                name: name.to_ascii_lowercase(),
                exists: check.exists,
                equals: check.equals,
                matches,
            };
            headers.push(Leveled {
                level: header_level,
                check,
            });
        }

        let mut json = Vec::new();
        for table in table.json {
            let check_level = self.level(site, table.level.clone()).unwrap_or(level);
            if let Some(check) = self.check_json(site, table) {
                json.push(Leveled {
                    level: check_level,
                    check,
                });
            }
        }
        for text in &table.body_contains {
            self.template(site, text);
        }
        let max_elapsed = table.max_elapsed.map(|text| {
            let check = self.duration(site, "max_elapsed", Some(text), "0s");
            Leveled { level, check }
        });
        Expect {
            status: status.map(|check| Leveled { level, check }),
            error: table.error.map(|check| Leveled { level, check }),
            schema: table.schema.map(|check| Leveled { level, check }),
            headers,
            json,
            body_contains: (table.body_contains.into_iter())
                .map(|check| Leveled { level, check })
                .collect(),
            max_elapsed,
        }
    }

    fn check_json(&mut self, site: &Site, table: JsonCheckTable) -> Option<JsonCheck> {
        let path = self.json_path(site, &table.path)?;
        let mut checks = Vec::new();
        if let Some(exists) = table.exists {
            checks.push(JsonPredicate::Exists(exists));
        }
        for (value, wrap) in [
            (
                table.equals,
                JsonPredicate::Equals as fn(Value) -> JsonPredicate,
            ),
            (table.not_equals, JsonPredicate::NotEquals),
            (table.contains, JsonPredicate::Contains),
            (table.not_contains, JsonPredicate::NotContains),
        ] {
            if let Some(value) = value {
                self.template_value(site, &value);
                checks.push(wrap(value));
            }
        }
        if let Some(name) = table.type_name {
            match json_type(&name) {
                Some(json_type) => checks.push(JsonPredicate::Type(json_type)),
                None => self.problem(site, &name, format!("type {name:?} is unknown; use string, number, integer, boolean, object, array or null")),
            }
        }
        if let Some(regex) = table
            .matches
            .as_deref()
            .and_then(|text| self.regex(site, text))
        {
            checks.push(JsonPredicate::Matches(regex));
        }
        checks.extend(table.length.map(JsonPredicate::Length));
        checks.extend(table.count.map(JsonPredicate::Count));
        for (bound, comparison) in [
            (table.gt, Comparison::Gt),
            (table.ge, Comparison::Ge),
            (table.lt, Comparison::Lt),
            (table.le, Comparison::Le),
        ] {
            match bound {
                Some(Value::Number(n)) => {
                    checks.push(JsonPredicate::Compare(comparison, Value::Number(n)))
                }
                Some(Value::String(text)) if text.contains("{{") => {
                    self.template(site, &text);
                    checks.push(JsonPredicate::Compare(comparison, Value::String(text)));
                }
                Some(other) => {
                    let message = format!(
                        "bound {other} of a comparison is not a number; write a number or a template such as \"{{{{ count + 1 }}}}\""
                    );
                    self.problem(site, &table.path, message);
                }
                None => {}
            }
        }
        if checks.is_empty() {
            let message = format!(
                "JSONPath assertion {:?} checks nothing; add exists, equals, type or another check",
                table.path
            );
            self.problem(site, &table.path, message);
        }
        Some(JsonCheck { path, checks })
    }

    pub(super) fn check_expect_set(&mut self, site: &Site, table: ExpectSetTable) -> ExpectSet {
        let level = self.level(site, table.level);
        let mut counts = Vec::new();
        for (status, rule) in table.counts {
            let Ok(status) = status.parse::<u16>() else {
                self.problem(
                    site,
                    &status,
                    format!("expect_set status {status:?} is not a number; write it like \"202\""),
                );
                continue;
            };
            match parse_count_rule(&rule) {
                Some(rule) => counts.push((status, rule)),
                None => self.problem(
                    site,
                    &rule,
                    format!(
                        "count {rule:?} is malformed; use a number, \">= N\", \"<= N\" or \"rest\""
                    ),
                ),
            }
        }
        if counts
            .iter()
            .filter(|(_, rule)| *rule == CountRule::Rest)
            .count()
            > 1
        {
            self.problem(
                site,
                "rest",
                "only one status may take the \"rest\" of the answers".into(),
            );
        }
        let same = table
            .same
            .iter()
            .filter_map(|text| self.json_path(site, text))
            .collect();
        ExpectSet {
            level,
            counts,
            same,
        }
    }
}

fn json_type(name: &str) -> Option<JsonType> {
    Some(match name {
        "string" => JsonType::String,
        "number" => JsonType::Number,
        "integer" => JsonType::Integer,
        "boolean" => JsonType::Boolean,
        "object" => JsonType::Object,
        "array" => JsonType::Array,
        "null" => JsonType::Null,
        _ => return None,
    })
}

fn parse_count_rule(text: &str) -> Option<CountRule> {
    let text = text.trim();
    if text == "rest" {
        return Some(CountRule::Rest);
    }
    if let Some(n) = text.strip_prefix(">=") {
        return n.trim().parse().ok().map(CountRule::AtLeast);
    }
    if let Some(n) = text.strip_prefix("<=") {
        return n.trim().parse().ok().map(CountRule::AtMost);
    }
    text.parse().ok().map(CountRule::Exactly)
}
