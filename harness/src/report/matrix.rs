//! The scenario-by-target matrix every format draws: scenarios grouped under
//! their spec section, in the spec's order, with one outcome per target.

use std::collections::BTreeMap;

use crate::results::RunResults;
use crate::scenario::outcome::ScenarioOutcome;
use crate::verdict::Verdict;

/// The section of scenarios whose first rule the spec does not list.
pub const OTHER_SECTION: &str = "Other";

/// Scenarios as rows grouped by section, targets as columns.
#[derive(Debug)]
pub struct Matrix<'a> {
    /// Target names, in the order the targets were declared.
    pub targets: Vec<&'a str>,
    pub sections: Vec<Section<'a>>,
}

/// The rows of one spec section.
#[derive(Debug)]
pub struct Section<'a> {
    /// The heading, such as `5. Ingest (ING)`.
    pub title: String,
    pub rows: Vec<Row<'a>>,
}

/// One scenario across targets.
#[derive(Debug)]
pub struct Row<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub rules: &'a [String],
    /// One entry per target, `None` where that target did not select the scenario.
    pub cells: Vec<Option<Cell<'a>>>,
}

/// One scenario on one target: where it sits in the results and what it found.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    pub target_index: usize,
    pub scenario_index: usize,
    pub outcome: &'a ScenarioOutcome,
}

impl Row<'_> {
    /// The verdict shown for a target, `not_run` where it has no outcome.
    pub fn verdict(&self, target_index: usize) -> Verdict {
        self.cells[target_index].map_or(Verdict::NotRun, |cell| cell.outcome.verdict)
    }
}

impl<'a> Matrix<'a> {
    /// Builds the matrix; rows keep the order in which the targets list their
    /// scenarios, sections follow their number in the spec.
    pub fn new(results: &'a RunResults) -> Matrix<'a> {
        let section_of_rule: BTreeMap<&str, &str> = results
            .rules
            .iter()
            .map(|rule| (rule.id.as_str(), rule.section.as_str()))
            .collect();
        let section_of = |outcome: &ScenarioOutcome| {
            let first_rule = outcome.rules.first().map(String::as_str);
            first_rule
                .and_then(|rule| section_of_rule.get(rule).copied())
                .unwrap_or(OTHER_SECTION)
                .to_string()
        };

        let target_count = results.targets.len();
        let mut sections: Vec<Section<'a>> = Vec::new();
        let mut position: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (target_index, target) in results.targets.iter().enumerate() {
            for (scenario_index, outcome) in target.scenarios.iter().enumerate() {
                let (section_index, row_index) = match position.get(outcome.id.as_str()) {
                    Some(found) => *found,
                    None => {
                        let found = insert_row(&mut sections, section_of(outcome), outcome);
                        sections[found.0].rows[found.1].cells = vec![None; target_count];
                        position.insert(&outcome.id, found);
                        found
                    }
                };
                sections[section_index].rows[row_index].cells[target_index] = Some(Cell {
                    target_index,
                    scenario_index,
                    outcome,
                });
            }
        }

        // A stable sort keeps sections the spec does not number in first-seen order.
        sections.sort_by_key(|section| section_rank(&section.title));
        Matrix {
            targets: results.targets.iter().map(|t| t.name.as_str()).collect(),
            sections,
        }
    }

    /// Every row, section by section.
    pub fn rows(&self) -> impl Iterator<Item = &Row<'a>> {
        self.sections.iter().flat_map(|section| &section.rows)
    }
}

/// Appends a row for `outcome` under `title`, opening the section if needed,
/// and says where it went.
fn insert_row<'a>(
    sections: &mut Vec<Section<'a>>,
    title: String,
    outcome: &'a ScenarioOutcome,
) -> (usize, usize) {
    let section_index = match sections.iter().position(|s| s.title == title) {
        Some(index) => index,
        None => {
            sections.push(Section {
                title,
                rows: Vec::new(),
            });
            sections.len() - 1
        }
    };
    let rows = &mut sections[section_index].rows;
    rows.push(Row {
        id: &outcome.id,
        title: &outcome.title,
        rules: &outcome.rules,
        cells: Vec::new(),
    });
    (section_index, rows.len() - 1)
}

/// Sorts sections by their number in the spec ("5. Ingest" before "10. Health").
pub fn section_rank(section: &str) -> u32 {
    let digits: String = section.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(u32::MAX)
}
