//! The step kinds: each file plays one kind and records what it saw into a
//! [`StepRecord`]. Failed expectations go into the record; an `Err` means the
//! step could not be judged at all.

mod batch;
mod control;
mod request;
mod webhook;

pub(crate) use batch::MAX_IN_FLIGHT;

use super::model::{Step, StepAction};
use super::outcome::StepRecord;
use super::runner::{ScenarioRun, StepError};

/// Plays one step.
pub(crate) async fn run_step(
    run: &mut ScenarioRun<'_>,
    step: &Step,
    record: &mut StepRecord,
) -> Result<(), StepError> {
    match &step.action {
        StepAction::Request(spec) => request::run_request(run, spec, record).await,
        StepAction::Poll {
            request,
            interval,
            timeout,
        } => request::run_poll(run, request, *interval, *timeout, record).await,
        StepAction::Repeat {
            request,
            count,
            expect_set,
        } => batch::run_batch(run, request, *count, expect_set, false, record).await,
        StepAction::Concurrent {
            request,
            count,
            expect_set,
        } => batch::run_batch(run, request, *count, expect_set, true, record).await,
        StepAction::Sink {
            endpoint,
            responses,
        } => {
            let key = run.sink_endpoint_key(endpoint.as_deref());
            run.ctx.sink.script(&key, responses.clone());
            Ok(())
        }
        StepAction::Webhook(spec) => webhook::run_webhook(run, spec, record).await,
        StepAction::Sleep(duration) => {
            tokio::time::sleep(*duration).await;
            Ok(())
        }
        StepAction::Control(action) => control::run_control(run, *action).await,
    }
}

/// Whether a step follows inbox cursors, which only cursor-paging targets can do.
pub(crate) fn follows_cursor(step: &Step) -> bool {
    let Some(request) = step.action.request() else {
        return false;
    };
    let in_query = request.query.iter().any(|(name, _)| name == "cursor");
    let in_path = request.path.contains("cursor=");
    let in_expect = request
        .expect
        .json
        .iter()
        .any(|j| j.check.path.text.contains("next_cursor"));
    let in_capture = request.captures.iter().any(|c| match &c.source {
        super::model::CaptureFrom::Path(path) => path.text.contains("next_cursor"),
        super::model::CaptureFrom::Header(_) => false,
    });
    in_query || in_path || in_expect || in_capture
}

/// The schema names a step's expectations use.
pub(crate) fn schema_names(step: &Step) -> Vec<&str> {
    let expect = match &step.action {
        StepAction::Webhook(webhook) => Some(&webhook.expect),
        action => action.request().map(|request| &request.expect),
    };
    expect
        .and_then(|e| e.schema.as_ref())
        .map(|s| s.check.as_str())
        .into_iter()
        .collect()
}
