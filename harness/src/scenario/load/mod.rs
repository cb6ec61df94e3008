//! Reads scenario files and checks them into the model, reporting every problem
//! with its file, line and column and what to change. Requests and expectations
//! are checked in `request.rs` and `expect.rs`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use regex::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

mod expect;
mod request;

use super::file::{ScenarioFile, ScenarioTable, StepTable};
use super::model::*;
use super::template;

/// The capabilities a scenario may require; a target declares the ones it offers.
pub const CAPABILITIES: &[&str] = &["restart", "webhook"];

/// The most copies of one scripted sink answer that `times` may ask for.
const MAX_SINK_TIMES: u32 = 10_000;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Loads every `*.toml` file under `dir` (recursively, in name order).
///
/// All problems of all files are gathered into one error, one line each, so a
/// writer fixes a whole batch at once instead of one per run.
pub fn load_scenarios(dir: &Path) -> anyhow::Result<Vec<Scenario>> {
    let mut files = Vec::new();
    collect_toml_files(dir, &mut files)
        .with_context(|| format!("reading scenario directory {:?}", dir.display().to_string()))?;
    files.sort();

    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file)
            .with_context(|| format!("reading scenario file {:?}", file.display().to_string()))?;
        let mut checker = FileChecker::new(file, &source);
        scenarios.extend(checker.check_file());
        problems.extend(checker.problems);
    }

    let mut first_seen: HashMap<&str, (&Path, usize)> = HashMap::new();
    for scenario in &scenarios {
        if let Some((file, line)) = first_seen.insert(&scenario.id, (&scenario.file, scenario.line))
        {
            problems.push(format!(
                "{}:{}: scenario id {:?} is already used at {}:{}; give each scenario its own id",
                scenario.file.display(),
                scenario.line,
                scenario.id,
                file.display(),
                line
            ));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} problem(s) in the scenarios under {:?}:\n{}",
            problems.len(),
            dir.display().to_string(),
            problems.join("\n")
        );
    }
    Ok(scenarios)
}

/// Loads the scenarios of one TOML text; `file` only names it in messages.
pub fn load_scenarios_from_str(file: &Path, source: &str) -> anyhow::Result<Vec<Scenario>> {
    let mut checker = FileChecker::new(file, source);
    let scenarios = checker.check_file();
    if !checker.problems.is_empty() {
        bail!("{}", checker.problems.join("\n"));
    }
    Ok(scenarios)
}

fn collect_toml_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_toml_files(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "toml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Turns a byte offset into a 1-based line and column.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |n| before.len() - n - 1)
        + 1;
    (line, column)
}

/// Checks one file, gathering problems instead of stopping at the first.
struct FileChecker<'a> {
    file: &'a Path,
    source: &'a str,
    problems: Vec<String>,
}

/// Where in the source a problem is reported: a span and the text to look for in it.
#[derive(Clone)]
struct Site {
    span: Range<usize>,
}

impl<'a> FileChecker<'a> {
    fn new(file: &'a Path, source: &'a str) -> Self {
        FileChecker {
            file,
            source,
            problems: Vec::new(),
        }
    }

    /// Records a problem at the first occurrence of `needle` inside `site`, or
    /// at the start of `site` when the needle is not found there.
    fn problem(&mut self, site: &Site, needle: &str, message: String) {
        // The span of an array-of-tables entry covers only its header, so the
        // search runs on to the next `[[scenario` header.
        let from = site.span.start.min(self.source.len());
        let next_header = self.source[from..]
            .char_indices()
            .skip(1)
            .find(|(n, _)| self.source[from + n..].starts_with("\n[[scenario"))
            .map_or(self.source.len(), |(n, _)| from + n);
        let region = &self.source[from..next_header.max(site.span.end.min(self.source.len()))];
        let offset = match needle.is_empty() {
            true => site.span.start,
            false => region
                .find(needle)
                .map_or(site.span.start, |n| site.span.start + n),
        };
        let (line, column) = line_column(self.source, offset);
        self.problems.push(format!(
            "{}:{line}:{column}: {message}",
            self.file.display()
        ));
    }

    fn check_file(&mut self) -> Vec<Scenario> {
        let parsed: ScenarioFile = match toml::from_str(self.source) {
            Ok(parsed) => parsed,
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                let message = error.message().trim_end_matches('.').to_string();
                self.problem(&Site { span }, "", message);
                return Vec::new();
            }
        };
        if parsed.scenario.is_empty() {
            let message = "no [[scenario]] table; a scenario file holds at least one".to_string();
            self.problem(&Site { span: 0..0 }, "", message);
        }
        parsed
            .scenario
            .into_iter()
            .filter_map(|table| self.check_scenario(table))
            .collect()
    }

    fn check_scenario(&mut self, table: ScenarioTable) -> Option<Scenario> {
        let before = self.problems.len();
        let id_site = Site {
            span: table.id.span(),
        };
        let id = table.id.into_inner();
        let kebab = Regex::new("^[a-z0-9]+(-[a-z0-9]+)*$").expect("constant regex");
        if !kebab.is_match(&id) {
            self.problem(
                &id_site,
                "",
                format!("scenario id {id:?} is not kebab-case; use lowercase words joined by '-'"),
            );
        }

        let rules_site = Site {
            span: table.rules.span(),
        };
        let rules = table.rules.into_inner();
        if rules.is_empty() {
            self.problem(
                &rules_site,
                "",
                format!("scenario {id:?} names no rule; list the ids of docs/SPEC.md it checks"),
            );
        }
        let level_site = Site {
            span: table.level.span(),
        };
        let level = Level::parse(table.level.get_ref()).unwrap_or_else(|| {
            let message = format!(
                "level {:?} is unknown; use \"MUST\" or \"SHOULD\"",
                table.level.get_ref()
            );
            self.problem(&level_site, "", message);
            Level::Must
        });

        let requires_site = Site {
            span: table.requires.as_ref().map_or(0..0, |r| r.span()),
        };
        let requires = table.requires.map(|r| r.into_inner()).unwrap_or_default();
        for capability in &requires {
            if !CAPABILITIES.contains(&capability.as_str()) {
                let message =
                    format!("capability {capability:?} is unknown; use one of {CAPABILITIES:?}");
                self.problem(&requires_site, capability, message);
            }
        }
        let orgs = self.check_orgs(table.orgs);

        let mut steps = Vec::new();
        if table.steps.is_empty() {
            self.problem(
                &id_site,
                "",
                format!("scenario {id:?} has no steps; add [[scenario.steps]] tables"),
            );
        }
        for (index, step) in table.steps.into_iter().enumerate() {
            let site = Site { span: step.span() };
            if let Some(step) = self.check_step(&site, index, step.into_inner(), &orgs) {
                steps.push(step);
            }
        }

        let line = line_column(self.source, id_site.span.start).0;
        (self.problems.len() == before).then(|| Scenario {
            id,
            title: table.title,
            rules,
            level,
            tags: table.tags,
            requires,
            orgs,
            steps,
            file: self.file.to_path_buf(),
            line,
        })
    }

    fn check_orgs(
        &mut self,
        orgs: Option<toml::Spanned<BTreeMap<String, String>>>,
    ) -> BTreeMap<String, String> {
        let Some(orgs) = orgs else {
            return BTreeMap::from([("main".to_string(), "pro".to_string())]);
        };
        let site = Site { span: orgs.span() };
        let mut orgs = orgs.into_inner();
        for (name, tier) in &orgs {
            if !["free", "pro", "business", "enterprise"].contains(&tier.as_str()) {
                let message = format!(
                    "organisation {name:?} has tier {tier:?}; use free, pro, business or enterprise"
                );
                self.problem(&site, name, message);
            }
            if name == "none" {
                self.problem(
                    &site,
                    name,
                    "an organisation may not be called \"none\"; that name means no key".into(),
                );
            }
        }
        orgs.entry("main".to_string())
            .or_insert_with(|| "pro".to_string());
        orgs
    }

    fn check_step(
        &mut self,
        site: &Site,
        index: usize,
        mut step: StepTable,
        orgs: &BTreeMap<String, String>,
    ) -> Option<Step> {
        let before = self.problems.len();
        let name = step
            .name
            .take()
            .unwrap_or_else(|| format!("step {}", index + 1));
        let kind = step.kind.take().unwrap_or_else(|| "request".to_string());

        let action = match kind.as_str() {
            "request" => self
                .check_request(site, &mut step, orgs)
                .map(StepAction::Request),
            "poll" => {
                let interval = self.duration(site, "interval", step.interval.take(), "200ms");
                let timeout = self.duration(site, "timeout", step.timeout.take(), "10s");
                let request = self.check_request(site, &mut step, orgs);
                request.map(|request| StepAction::Poll {
                    request,
                    interval,
                    timeout,
                })
            }
            "repeat" | "concurrent" => {
                let count = step.count.take().unwrap_or_else(|| {
                    self.problem(
                        site,
                        "",
                        format!("a {kind} step needs `count`, the number of requests"),
                    );
                    0
                });
                let expect_set =
                    self.check_expect_set(site, step.expect_set.take().unwrap_or_default());
                let request = self.check_request(site, &mut step, orgs);
                request.map(|request| match kind.as_str() {
                    "repeat" => StepAction::Repeat {
                        request,
                        count,
                        expect_set,
                    },
                    _ => StepAction::Concurrent {
                        request,
                        count,
                        expect_set,
                    },
                })
            }
            "sink" => Some(self.check_sink(site, &mut step)),
            "webhook" => self.check_webhook(site, &mut step).map(StepAction::Webhook),
            "sleep" => {
                let duration = step.duration.take();
                if duration.is_none() {
                    self.problem(
                        site,
                        "",
                        "a sleep step needs `duration`, such as \"500ms\"".into(),
                    );
                }
                Some(StepAction::Sleep(
                    self.duration(site, "duration", duration, "0s"),
                ))
            }
            "control" => {
                let action = match step.action.take().as_deref() {
                    Some("restart") => ControlAction::Restart,
                    Some("kill_and_start") => ControlAction::KillAndStart,
                    other => {
                        let message = format!(
                            "control action {other:?} is unknown; use \"restart\" or \"kill_and_start\""
                        );
                        self.problem(site, "action", message);
                        ControlAction::Restart
                    }
                };
                Some(StepAction::Control(action))
            }
            other => {
                let message = format!(
                    "step kind {other:?} is unknown; use request, poll, repeat, concurrent, sink, webhook, sleep or control"
                );
                self.problem(site, "kind", message);
                None
            }
        };
        self.reject_leftovers(site, &kind, &step);
        if self.problems.len() > before {
            return None;
        }
        let line = line_column(self.source, site.span.start).0;
        Some(Step {
            name,
            line,
            action: action?,
        })
    }

    /// Reports fields that were set but mean nothing for this step kind; every
    /// kind takes the fields it understands out of the table first.
    fn reject_leftovers(&mut self, site: &Site, kind: &str, step: &StepTable) {
        let set = [
            ("method", step.method.is_some()),
            ("path", step.path.is_some()),
            ("query", step.query.is_some()),
            ("headers", step.headers.is_some()),
            ("auth", step.auth.is_some()),
            ("json", step.json.is_some()),
            ("body", step.body.is_some()),
            ("generate", step.generate.is_some()),
            ("capture", step.capture.is_some()),
            ("expect", step.expect.is_some()),
            ("interval", step.interval.is_some()),
            ("timeout", step.timeout.is_some()),
            ("count", step.count.is_some()),
            ("expect_set", step.expect_set.is_some()),
            ("responses", step.responses.is_some()),
            ("endpoint", step.endpoint.is_some()),
            ("signature", step.signature.is_some()),
            ("secret", step.secret.is_some()),
            ("same_webhook_id", step.same_webhook_id.is_some()),
            ("min_spacing", step.min_spacing.is_some()),
            ("duration", step.duration.is_some()),
            ("action", step.action.is_some()),
        ];
        for (field, _) in set.iter().filter(|(_, present)| *present) {
            let message = format!(
                "field `{field}` does not apply to a {kind} step; remove it or change `kind`"
            );
            self.problem(site, field, message);
        }
    }

    fn duration(
        &mut self,
        site: &Site,
        field: &str,
        text: Option<String>,
        default: &str,
    ) -> Duration {
        let text = text.unwrap_or_else(|| default.to_string());
        humantime::parse_duration(&text).unwrap_or_else(|_| {
            let message = format!(
                "`{field}` {text:?} is not a duration; write it like \"250ms\", \"5s\" or \"2m\""
            );
            self.problem(site, &text, message);
            Duration::ZERO
        })
    }

    fn level(&mut self, site: &Site, text: Option<String>) -> Option<Level> {
        let text = text?;
        let level = Level::parse(&text);
        if level.is_none() {
            self.problem(
                site,
                &text,
                format!("level {text:?} is unknown; use \"MUST\" or \"SHOULD\""),
            );
        }
        level
    }

    fn template(&mut self, site: &Site, text: &str) {
        if let Err(error) = template::check_syntax(text) {
            self.problem(
                site,
                text,
                format!("template {text:?} does not parse: {error}"),
            );
        }
    }

    fn template_value(&mut self, site: &Site, value: &Value) {
        match value {
            Value::String(text) => self.template(site, text),
            Value::Array(items) => items
                .iter()
                .for_each(|item| self.template_value(site, item)),
            Value::Object(map) => map
                .values()
                .for_each(|item| self.template_value(site, item)),
            _ => {}
        }
    }

    fn json_path(&mut self, site: &Site, text: &str) -> Option<CompiledPath> {
        match JsonPath::parse(text) {
            Ok(path) => Some(CompiledPath {
                text: text.to_string(),
                path,
            }),
            Err(error) => {
                let message = format!(
                    "JSONPath {text:?} is invalid ({error}); write an RFC 9535 path such as \"$.events[0].id\""
                );
                self.problem(site, text, message);
                None
            }
        }
    }

    fn regex(&mut self, site: &Site, text: &str) -> Option<Regex> {
        Regex::new(text)
            .map_err(|error| {
                // The regex crate draws a multi-line picture; its last line says what is wrong.
                let error = error.to_string();
                let reason = error
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ");
                self.problem(site, text, format!("regex {text:?} is invalid: {reason}"))
            })
            .ok()
    }

    fn check_sink(&mut self, site: &Site, step: &mut StepTable) -> StepAction {
        let mut responses = Vec::new();
        for table in step.responses.take().unwrap_or_default() {
            if !(100..=599).contains(&table.status) {
                self.problem(
                    site,
                    "status",
                    format!("sink status {} is not an HTTP status", table.status),
                );
            }
            let (delay, delay_max) = match table.delay {
                Some(text) => self.delay(site, &text),
                None => (None, None),
            };
            let times = table.times.unwrap_or(1);
            if !(1..=MAX_SINK_TIMES).contains(&times) {
                self.problem(
                    site,
                    "times",
                    format!("sink `times` {times} is out of range; use 1 to {MAX_SINK_TIMES}"),
                );
            }
            let response = SinkResponse {
                status: table.status,
                delay,
                delay_max,
                retry_after: table.retry_after,
            };
            let times = times.min(MAX_SINK_TIMES) as usize;
            responses.extend(std::iter::repeat_n(response, times));
        }
        let endpoint = self.endpoint(site, step);
        StepAction::Sink {
            endpoint,
            responses,
        }
    }

    /// A sink answer's `delay`: one duration, or a range `"1s..2s"` that
    /// each answer draws its own delay from.
    fn delay(&mut self, site: &Site, text: &str) -> (Option<Duration>, Option<Duration>) {
        let Some((low, high)) = text.split_once("..") else {
            return (
                Some(self.duration(site, "delay", Some(text.to_string()), "0s")),
                None,
            );
        };
        let (low, high) = (
            humantime::parse_duration(low.trim()),
            humantime::parse_duration(high.trim()),
        );
        match (low, high) {
            (Ok(low), Ok(high)) if low <= high => (Some(low), Some(high)),
            _ => {
                let message = format!(
                    "`delay` {text:?} is not a range; write it like \"1s..2s\", the shorter first"
                );
                self.problem(site, text, message);
                (None, None)
            }
        }
    }

    /// A named sink endpoint: one path segment of lowercase letters, digits
    /// and dashes, so `{{ sink_url }}/{endpoint}` is a URL as written.
    fn endpoint(&mut self, site: &Site, step: &mut StepTable) -> Option<String> {
        let endpoint = step.endpoint.take()?;
        let valid = !endpoint.is_empty()
            && endpoint.len() <= 64
            && endpoint
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            self.problem(
                site,
                &endpoint,
                format!(
                    "endpoint {endpoint:?} is not a valid name; use up to 64 lowercase letters, digits and dashes"
                ),
            );
        }
        Some(endpoint)
    }

    fn check_webhook(&mut self, site: &Site, step: &mut StepTable) -> Option<WebhookSpec> {
        let count = step.count.take().unwrap_or(1);
        let timeout = self.duration(site, "timeout", step.timeout.take(), "10s");
        let expect = self.check_expect(site, step.expect.take().unwrap_or_default(), false);
        let signature = step.signature.take().unwrap_or(false);
        let secret = step.secret.take();
        if signature && secret.is_none() {
            self.problem(
                site,
                "signature",
                "`signature = true` needs `secret`, the captured name holding the webhook secret"
                    .into(),
            );
        }
        let min_spacing = step
            .min_spacing
            .take()
            .map(|text| self.duration(site, "min_spacing", Some(text), "0s"));
        let endpoint = self.endpoint(site, step);
        Some(WebhookSpec {
            endpoint,
            count,
            timeout,
            expect,
            signature_secret: if signature { secret } else { None },
            same_webhook_id: step.same_webhook_id.take().unwrap_or(false),
            min_spacing,
        })
    }
}
