//! The `repeat` and `concurrent` steps: one request sent many times, each
//! answer judged alone and all of them together by `expect_set`.

use std::collections::BTreeSet;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::scenario::expect::check_set;
use crate::scenario::http::{Answer, execute, prepare};
use crate::scenario::model::{CaptureFrom, ExpectSet, Level, RequestSpec};
use crate::scenario::outcome::{ExpectationFailure, StepRecord};
use crate::scenario::runner::{ScenarioRun, StepError};

use super::request::judge;

/// At most this many requests of a concurrent step are in flight at once.
pub const MAX_IN_FLIGHT: usize = 256;

/// At most this many exchanges of one step are kept in the record.
pub const MAX_RECORDED: usize = 20;

/// Sends the request `count` times (one after the other, or all at once) and judges the answers.
pub(crate) async fn run_batch(
    run: &mut ScenarioRun<'_>,
    spec: &RequestSpec,
    count: u64,
    expect_set: &ExpectSet,
    concurrent: bool,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    // One rendering serves every copy, so `unique()` in the body stays the same.
    let prepared = prepare(run, spec)?;
    let answers: Vec<Answer> = if concurrent {
        let shared = &*run;
        let results: Vec<Result<Answer, StepError>> = futures::stream::iter(0..count)
            .map(|_| execute(shared, &prepared))
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect::<Result<_, _>>()?
    } else {
        let mut answers = Vec::new();
        for _ in 0..count {
            answers.push(execute(run, &prepared).await?);
        }
        answers
    };

    record.exchanges.extend(
        answers
            .iter()
            .take(MAX_RECORDED)
            .map(|a| a.exchange.clone()),
    );
    let mut seen = BTreeSet::new();
    for (index, answer) in answers.iter().enumerate() {
        for mut failure in judge(run, spec, answer) {
            // One failure per expectation keeps the record readable for large batches.
            if seen.insert(failure.expectation.clone()) {
                failure.expectation =
                    format!("{} (answer {} of {count})", failure.expectation, index + 1);
                record.failures.push(failure);
            }
        }
    }
    let bodies: Vec<(u16, Option<Value>)> =
        answers.iter().map(|a| (a.status, a.json.clone())).collect();
    record
        .failures
        .extend(check_set(expect_set, &bodies, Level::Must));
    if record.failures.is_empty() {
        record.failures.extend(capture_first(run, spec, &answers));
    }
    Ok(())
}

/// Binds each capture to the first answer that has a value for it.
fn capture_first(
    run: &mut ScenarioRun<'_>,
    spec: &RequestSpec,
    answers: &[Answer],
) -> Vec<ExpectationFailure> {
    let mut failures = Vec::new();
    for capture in &spec.captures {
        let value = answers.iter().find_map(|answer| match &capture.source {
            CaptureFrom::Path(path) => answer
                .json
                .as_ref()
                .and_then(|b| path.path.query(b).first().cloned()),
            CaptureFrom::Header(name) => answer
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| json!(v)),
        });
        match value {
            Some(value) => run.templates.set(&capture.name, value),
            None => failures.push(ExpectationFailure {
                expectation: format!("capture {} from any answer", capture.name),
                expected: json!("a value"),
                actual: Value::Null,
                level: Level::Must,
            }),
        }
    }
    failures
}
