//! Conformance scenarios: the file model, loading and checking, templating,
//! expectations and the runner that plays them against a target.
//!
//! A run goes `load_suite` → `Suite::filter` → `runner::run_scenarios`, which
//! yields one [`ScenarioOutcome`] per scenario.

pub mod expect;
mod file;
mod generate;
mod http;
mod load;
pub mod model;
pub mod outcome;
mod raw_http;
pub mod rules;
pub mod runner;
pub mod schema;
mod steps;
pub mod template;

use std::path::Path;

use anyhow::bail;

pub(crate) use load::line_column;
pub use load::{CAPABILITIES, load_scenarios, load_scenarios_from_str};
pub use model::{Level, Scenario};
pub use outcome::{Deviation, ScenarioOutcome};
pub use rules::{Coverage, Rule, load_spec_rules};
pub use runner::{TargetContext, TargetControl, run_scenarios};
pub use schema::Schemas;

/// Every scenario of a directory, checked.
#[derive(Debug, Clone)]
pub struct Suite {
    pub scenarios: Vec<Scenario>,
}

/// Loads every scenario file under `dir`; the error names each file, line and
/// what to fix.
pub fn load_suite(dir: &Path) -> anyhow::Result<Suite> {
    Ok(Suite {
        scenarios: load_scenarios(dir)?,
    })
}

/// Which scenarios to run; an empty list admits everything on that axis.
#[derive(Debug, Clone, Default)]
pub struct ScenarioFilter {
    pub ids: Vec<String>,
    pub tags: Vec<String>,
    pub levels: Vec<Level>,
}

impl ScenarioFilter {
    /// Whether `scenario` passes every axis of the filter.
    pub fn admits(&self, scenario: &Scenario) -> bool {
        (self.ids.is_empty() || self.ids.contains(&scenario.id))
            && (self.tags.is_empty() || scenario.tags.iter().any(|t| self.tags.contains(t)))
            && (self.levels.is_empty() || self.levels.contains(&scenario.level))
    }
}

impl Suite {
    /// The scenarios the filter admits, in file order.
    pub fn filter(&self, filter: &ScenarioFilter) -> Vec<&Scenario> {
        self.scenarios.iter().filter(|s| filter.admits(s)).collect()
    }

    /// How the suite covers the rules of the spec.
    pub fn coverage(&self, spec_rules: &[Rule]) -> Coverage {
        Coverage::of(&self.scenarios, spec_rules)
    }

    /// Fails when a scenario names a rule the spec lacks, naming file and line.
    pub fn check_rules(&self, spec_rules: &[Rule]) -> anyhow::Result<()> {
        let problems: Vec<String> = self
            .scenarios
            .iter()
            .flat_map(|s| s.rules.iter().map(move |rule| (s, rule)))
            .filter(|(_, rule)| !spec_rules.iter().any(|known| &known.id == *rule))
            .map(|(s, rule)| {
                format!(
                    "{}:{}: scenario {:?} names rule {rule:?}, which docs/SPEC.md does not define; use an id from its rule tables",
                    s.file.display(),
                    s.line,
                    s.id
                )
            })
            .collect();
        if !problems.is_empty() {
            bail!("{}", problems.join("\n"));
        }
        Ok(())
    }

    /// Fails when a scenario expects a schema the OpenAPI document lacks.
    pub fn check_schemas(&self, schemas: &Schemas) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for scenario in &self.scenarios {
            for name in scenario.steps.iter().flat_map(steps::schema_names) {
                if let Err(error) = schemas.validator(name) {
                    problems.push(format!(
                        "{}:{}: {error}",
                        scenario.file.display(),
                        scenario.line
                    ));
                }
            }
        }
        if !problems.is_empty() {
            bail!("{}", problems.join("\n"));
        }
        Ok(())
    }
}
