//! The `control` step: restarts the target through its control handle and
//! points the run at the base URL it comes back on.

use crate::scenario::model::ControlAction;
use crate::scenario::runner::{ScenarioRun, StepError};

/// Restarts (or kills and starts) the target.
pub(crate) async fn run_control(
    run: &mut ScenarioRun<'_>,
    action: ControlAction,
) -> Result<(), StepError> {
    let Some(control) = &run.ctx.control else {
        let reason = format!(
            "target {:?} has no control handle for a restart",
            run.ctx.name
        );
        return Err(StepError::Unsupported(reason));
    };
    let restarted = match action {
        ControlAction::Restart => control.restart().await,
        ControlAction::KillAndStart => control.kill_and_start().await,
    };
    let base_url = restarted.map_err(|error| StepError::Control(format!("{error:#}")))?;
    tracing::info!(
        target = run.ctx.name,
        base_url,
        "target restarted by a scenario"
    );
    *run.ctx.base_url.write().expect("base url lock") = base_url;
    Ok(())
}
