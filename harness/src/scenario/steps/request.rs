//! The `request` and `poll` steps: send, judge, capture.

use std::time::Duration;

use serde_json::{Value, json};

use crate::scenario::expect::{Observed, check};
use crate::scenario::http::{Answer, execute, prepare};
use crate::scenario::model::{CaptureFrom, Level, RequestSpec};
use crate::scenario::outcome::{ExpectationFailure, StepRecord};
use crate::scenario::runner::{ScenarioRun, StepError};

/// Sends the request once, judges the answer and captures from it.
pub(crate) async fn run_request(
    run: &mut ScenarioRun<'_>,
    spec: &RequestSpec,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    let prepared = prepare(run, spec)?;
    let answer = execute(run, &prepared).await?;
    record.exchanges.push(answer.exchange.clone());
    record.failures.extend(judge(run, spec, &answer));
    if record.failures.is_empty() {
        record.failures.extend(capture(run, spec, &answer));
    }
    Ok(())
}

/// Repeats the request every `interval` until its expectations hold or
/// `timeout` passes; the last attempt's failures are the step's.
pub(crate) async fn run_poll(
    run: &mut ScenarioRun<'_>,
    spec: &RequestSpec,
    interval: Duration,
    timeout: Duration,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut attempts = 0u64;
    loop {
        attempts += 1;
        let prepared = prepare(run, spec)?;
        let answer = execute(run, &prepared).await?;
        let failures = judge(run, spec, &answer);
        let done = failures.is_empty() || tokio::time::Instant::now() + interval > deadline;
        if done {
            // Only the last answer is kept: earlier ones are expected to differ.
            record.exchanges.push(answer.exchange.clone());
            record
                .failures
                .extend(failures.into_iter().map(|mut failure| {
                    failure.expectation =
                        format!("{} (after {attempts} attempts)", failure.expectation);
                    failure
                }));
            if record.failures.is_empty() {
                record.failures.extend(capture(run, spec, &answer));
            }
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}

/// The expectations of `spec` that `answer` breaks.
pub(crate) fn judge(
    run: &ScenarioRun<'_>,
    spec: &RequestSpec,
    answer: &Answer,
) -> Vec<ExpectationFailure> {
    let observed = Observed {
        status: answer.status,
        headers: &answer.headers,
        json: answer.json.as_ref(),
        text: &answer.text,
        elapsed: Some(std::time::Duration::from_millis(answer.exchange.elapsed_ms)),
    };
    check(&spec.expect, &observed, &run.templates, &run.ctx.schemas)
}

/// Binds every capture of `spec`; a capture that finds nothing is a MUST failure,
/// since the steps after it cannot run meaningfully.
fn capture(
    run: &mut ScenarioRun<'_>,
    spec: &RequestSpec,
    answer: &Answer,
) -> Vec<ExpectationFailure> {
    let mut failures = Vec::new();
    for capture in &spec.captures {
        let (value, source) = match &capture.source {
            CaptureFrom::Path(path) => {
                let value = answer
                    .json
                    .as_ref()
                    .and_then(|body| path.path.query(body).first().cloned());
                (value, path.text.clone())
            }
            CaptureFrom::Header(name) => {
                let value = answer
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| json!(v));
                (value, format!("header {name}"))
            }
        };
        match value {
            Some(value) => run.templates.set(&capture.name, value),
            None => failures.push(ExpectationFailure {
                expectation: format!("capture {} from {source}", capture.name),
                expected: json!("a value"),
                actual: Value::Null,
                level: Level::Must,
            }),
        }
    }
    failures
}
