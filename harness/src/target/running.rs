//! A started target of any kind: its base URL, its control handle, its logs and how to stop it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::container_target::ContainerTarget;
use super::health::{HealthCheck, NotReady};
use super::log_buffer::{LOG_EXCERPT_LINES, LogBuffer};
use super::process::ProcessTarget;
use super::{TargetKind, TargetSpec};
use crate::dialect::Dialect;
use crate::load::resources::ResourceSampler;
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
    /// Run in Docker by the harness, which removes it and its services on stop.
    Container(Arc<ContainerTarget>),
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
            TargetKind::Container(container) => {
                let timeout = spec.start_timeout;
                let start =
                    ContainerTarget::start(&spec.name, container, health, timeout, client, cancel);
                Ok(RunningTarget::Container(start.await?))
            }
        }
    }

    /// Where the target answers.
    pub fn base_url(&self) -> String {
        match self {
            RunningTarget::Process(process) => process.base_url().to_string(),
            RunningTarget::Url { base_url } => base_url.clone(),
            RunningTarget::Container(container) => container.base_url(),
        }
    }

    /// The restart handle, for targets whose lifecycle the harness owns.
    pub fn control(&self) -> Option<Arc<dyn TargetControl>> {
        match self {
            RunningTarget::Process(process) => Some(process.clone() as Arc<dyn TargetControl>),
            RunningTarget::Container(container) => {
                Some(container.clone() as Arc<dyn TargetControl>)
            }
            RunningTarget::Url { .. } => None,
        }
    }

    /// How the target died, when it is no longer running.
    pub fn exit_status(&self) -> Option<String> {
        match self {
            RunningTarget::Process(process) => process.try_exit_status(),
            RunningTarget::Container(container) => container.exit_status(),
            RunningTarget::Url { .. } => None,
        }
    }

    /// The last lines the target printed; empty for targets the harness did not start.
    pub fn log_tail(&self) -> Vec<String> {
        match self {
            RunningTarget::Process(process) => process.logs().tail(LOG_EXCERPT_LINES),
            RunningTarget::Container(container) => container.logs().tail(LOG_EXCERPT_LINES),
            RunningTarget::Url { .. } => Vec::new(),
        }
    }

    /// Reads the target's CPU and memory through the Docker API, for a
    /// container; `None` for other kinds, which the load stage reads from
    /// `/proc` when they listen on this machine.
    pub fn sampler(&self) -> Option<Arc<dyn ResourceSampler>> {
        match self {
            RunningTarget::Container(container) => Some(container.sampler()),
            _ => None,
        }
    }

    /// Stops what the harness started (a container is removed); a no-op for url targets.
    pub async fn stop(&self) {
        match self {
            RunningTarget::Process(process) => process.stop().await,
            RunningTarget::Container(container) => container.stop().await,
            RunningTarget::Url { .. } => {}
        }
    }
}
