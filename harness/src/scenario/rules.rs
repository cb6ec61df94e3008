//! The numbered rules of docs/SPEC.md and how the scenarios cover them.

use std::path::Path;

use anyhow::Context;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{Level, Scenario};

/// One rule of the contract, as its table row states it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct Rule {
    /// Such as `ING-9`.
    pub id: String,
    pub level: Level,
    pub text: String,
    /// The `##` heading the rule sits under, such as `5. Ingest (ING)`.
    pub section: String,
}

/// Reads every rule row (`| ID-N | MUST | text |`) of the spec.
pub fn load_spec_rules(spec_md: &Path) -> anyhow::Result<Vec<Rule>> {
    let text = std::fs::read_to_string(spec_md)
        .with_context(|| format!("reading the spec {:?}", spec_md.display().to_string()))?;
    let rules = parse_spec_rules(&text);
    if rules.is_empty() {
        anyhow::bail!(
            "the spec {:?} has no rule rows; rows look like \"| ING-1 | MUST | text |\"",
            spec_md.display().to_string()
        );
    }
    Ok(rules)
}

/// Parses the rule rows of a spec text; rows outside rule tables are ignored.
pub fn parse_spec_rules(text: &str) -> Vec<Rule> {
    let row = Regex::new(r"^\|\s*([A-Z]+-\d+)\s*\|\s*(MUST|SHOULD)\s*\|\s*(.*?)\s*\|\s*$")
        .expect("constant regex");
    let mut section = String::new();
    let mut rules = Vec::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading.trim().to_string();
        } else if let Some(found) = row.captures(line) {
            rules.push(Rule {
                id: found[1].to_string(),
                level: Level::parse(&found[2]).expect("the regex admits only MUST and SHOULD"),
                text: found[3].to_string(),
                section: section.clone(),
            });
        }
    }
    rules
}

/// Which scenarios check each rule, and which rule ids no spec row defines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Coverage {
    pub rules: Vec<RuleCoverage>,
    /// `(scenario id, rule id)` for every rule id a scenario names that the spec lacks.
    pub unknown: Vec<(String, String)>,
}

/// One rule and the ids of the scenarios that name it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct RuleCoverage {
    pub rule: Rule,
    pub scenarios: Vec<String>,
}

impl Coverage {
    /// Relates scenarios to spec rules.
    pub fn of(scenarios: &[Scenario], spec_rules: &[Rule]) -> Coverage {
        let rules = spec_rules
            .iter()
            .map(|rule| RuleCoverage {
                rule: rule.clone(),
                scenarios: scenarios
                    .iter()
                    .filter(|s| s.rules.contains(&rule.id))
                    .map(|s| s.id.clone())
                    .collect(),
            })
            .collect();
        let unknown = scenarios
            .iter()
            .flat_map(|s| s.rules.iter().map(move |r| (s.id.clone(), r.clone())))
            .filter(|(_, rule)| !spec_rules.iter().any(|known| &known.id == rule))
            .collect();
        Coverage { rules, unknown }
    }

    /// The rules no scenario checks.
    pub fn uncovered(&self) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .filter(|r| r.scenarios.is_empty())
            .map(|r| &r.rule)
    }
}
