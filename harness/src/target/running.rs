//! A started target of any kind: its base URL, its control handle, its logs and how to stop it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::container::NOT_BUILT;
use super::health::{HealthCheck, NotReady};
use super::log_buffer::{LOG_EXCERPT_LINES, LogBuffer};
use super::process::ProcessTarget;
use super::{TargetKind, TargetSpec};
use crate::dialect::Dialect;
use crate::results::TargetStatus;
use crate::scenario::runner::TargetControl;

/// Why a target could not be used, ready for the results file.
#[derive(Debug)]
pub struct StartFailure {
    /// `failed_to_start`, `start_timeout` or `unsupported`.
    pub status: TargetStatus,
    /// What went wrong, in a sentence an operator can act on.
    pub reason: String,
    /// The last lines the target printed, oldest first.
    pub log_tail: Vec<String>,
}

impl StartFailure {
    pub(crate) fn new(not_ready: NotReady, logs: &LogBuffer) -> Self {
        let status = match not_ready {
            NotReady::Timeout { .. } => TargetStatus::StartTimeout,
            NotReady::Launch(_) | NotReady::Exited(_) | NotReady::Cancelled => {
                TargetStatus::FailedToStart
            }
        };
        StartFailure {
            status,
            reason: not_ready.to_string(),
            log_tail: logs.tail(LOG_EXCERPT_LINES),
        }
    }
}

/// A target that answered its health check and can be measured.
pub enum RunningTarget {
    /// Started by the harness, which owns its lifecycle.
    Process(Arc<ProcessTarget>),
    /// Reached at a URL; nothing to stop.
    Url { base_url: String },
}

impl RunningTarget {
    /// Starts (or reaches) the target and waits until it is healthy.
    ///
    /// Cancelling `cancel` abandons the wait; a process is stopped before this
    /// returns, so nothing the harness spawned outlives an interrupted run.
    pub async fn start(
        spec: &TargetSpec,
        dialect: Option<Arc<Dialect>>,
        client: &reqwest::Client,
        cancel: &CancellationToken,
    ) -> Result<RunningTarget, StartFailure> {
        let health = HealthCheck::new(spec.health.as_deref(), dialect);
        match &spec.kind {
            TargetKind::Process(process) => {
                let timeout = spec.start_timeout;
                let start =
                    ProcessTarget::start(&spec.name, process, health, timeout, client, cancel);
                let started = start.await?;
                Ok(RunningTarget::Process(started))
            }
            TargetKind::Url(url) => {
                let never_exits = || None;
                let wait = health.wait(client, &url.base_url, spec.start_timeout, never_exits);
                let ready = tokio::select! {
                    ready = wait => ready,
                    () = cancel.cancelled() => Err(NotReady::Cancelled),
                };
                ready.map_err(|not_ready| StartFailure::new(not_ready, &LogBuffer::default()))?;
                Ok(RunningTarget::Url {
                    base_url: url.base_url.clone(),
                })
            }
            TargetKind::Container(_) => Err(StartFailure {
                status: TargetStatus::Unsupported,
                reason: NOT_BUILT.to_string(),
                log_tail: Vec::new(),
            }),
        }
    }

    /// Where the target answers.
    pub fn base_url(&self) -> String {
        match self {
            RunningTarget::Process(process) => process.base_url().to_string(),
            RunningTarget::Url { base_url } => base_url.clone(),
        }
    }

    /// The restart handle, for targets whose lifecycle the harness owns.
    pub fn control(&self) -> Option<Arc<dyn TargetControl>> {
        match self {
            RunningTarget::Process(process) => Some(process.clone() as Arc<dyn TargetControl>),
            RunningTarget::Url { .. } => None,
        }
    }

    /// How the target died, when it is no longer running.
    pub fn exit_status(&self) -> Option<String> {
        match self {
            RunningTarget::Process(process) => process.try_exit_status(),
            RunningTarget::Url { .. } => None,
        }
    }

    /// The last lines the target printed; empty for targets the harness did not start.
    pub fn log_tail(&self) -> Vec<String> {
        match self {
            RunningTarget::Process(process) => process.logs().tail(LOG_EXCERPT_LINES),
            RunningTarget::Url { .. } => Vec::new(),
        }
    }

    /// Stops what the harness started; a no-op for url targets.
    pub async fn stop(&self) {
        if let RunningTarget::Process(process) = self {
            process.stop().await;
        }
    }
}
