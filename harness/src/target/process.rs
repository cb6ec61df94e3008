//! Process targets: a local command the harness spawns, watches, restarts and stops.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::health::{HealthCheck, NotReady};
use super::log_buffer::LogBuffer;
use super::running::StartFailure;
use super::{RawTarget, reject_field, resolve};
use crate::scenario::runner::TargetControl;

/// How long a target has to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long a stop waits for the last lines of a stopped process to be read.
const CAPTURE_DRAIN: Duration = Duration::from_secs(1);

/// The fields of a `kind = "process"` target.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    /// The program and its arguments; each may use `{{ port }}` and `{{ data_dir }}`.
    pub command: Vec<String>,
    /// Extra environment variables, templated like the command.
    pub env: BTreeMap<String, String>,
    /// The working directory, absolute; relative programs are found from here.
    pub cwd: PathBuf,
}

impl ProcessSpec {
    pub(crate) fn from_raw(raw: &RawTarget, workspace_root: &Path) -> anyhow::Result<Self> {
        reject_field(&raw.base_url, "base_url", "process", "url")?;
        super::reject_container_fields(raw, "process")?;
        let command = raw.command.clone().unwrap_or_default();
        if command
            .first()
            .is_none_or(|program| program.trim().is_empty())
        {
            bail!(
                "a process target needs `command`, a list such as \
                 [\"./server\", \"--port\", \"{{{{ port }}}}\"]"
            );
        }
        let cwd = match &raw.cwd {
            Some(cwd) => resolve(workspace_root, cwd),
            None => workspace_root.to_path_buf(),
        };
        Ok(ProcessSpec {
            command,
            env: raw.env.clone().unwrap_or_default(),
            cwd,
        })
    }
}

/// A started process target.
///
/// The port and data directory are chosen once and kept across restarts, so a
/// restart finds the data it wrote before (the durability scenarios rely on it).
/// The port is found by binding port 0 and releasing it, so another program may
/// take it in between; a start that fails that way is reported, not retried.
pub struct ProcessTarget {
    name: String,
    command: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    base_url: String,
    health: HealthCheck,
    start_timeout: Duration,
    client: reqwest::Client,
    logs: LogBuffer,
    child: Mutex<Option<Child>>,
    /// The tasks copying stdout and stderr into `logs`, finished on stop.
    capture_tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    /// Removed when the target is dropped, after the process has stopped.
    _data_dir: tempfile::TempDir,
}

impl ProcessTarget {
    /// Renders the templates, spawns the command and waits until it is healthy.
    ///
    /// On failure the process is stopped and the error carries its log tail.
    pub async fn start(
        name: &str,
        spec: &ProcessSpec,
        health: HealthCheck,
        start_timeout: Duration,
        client: &reqwest::Client,
        cancel: &CancellationToken,
    ) -> Result<Arc<Self>, StartFailure> {
        let logs = LogBuffer::default();
        let client = client.clone();
        let target = match Self::prepare(name, spec, health, start_timeout, client, logs.clone()) {
            Ok(target) => Arc::new(target),
            Err(error) => {
                return Err(StartFailure::new(
                    NotReady::Launch(format!("{error:#}")),
                    &logs,
                ));
            }
        };
        let started = tokio::select! {
            started = target.spawn_and_wait() => started,
            () = cancel.cancelled() => Err(NotReady::Cancelled),
        };
        match started {
            Ok(()) => Ok(target),
            Err(not_ready) => {
                target.stop().await;
                Err(StartFailure::new(not_ready, &logs))
            }
        }
    }

    fn prepare(
        name: &str,
        spec: &ProcessSpec,
        health: HealthCheck,
        start_timeout: Duration,
        client: reqwest::Client,
        logs: LogBuffer,
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("harness-{name}-"))
            .tempdir()
            .context("cannot create the target's data directory")?;
        let port = free_port()?;
        let mut context = BTreeMap::new();
        context.insert("port", port.to_string());
        context.insert("data_dir", data_dir.path().display().to_string());

        let mut command = Vec::with_capacity(spec.command.len());
        for argument in &spec.command {
            command.push(render(argument, &context)?);
        }
        if command[0].contains('/') {
            command[0] = resolve(&spec.cwd, &command[0]).display().to_string();
        }
        let mut env = BTreeMap::new();
        for (key, value) in &spec.env {
            env.insert(key.clone(), render(value, &context)?);
        }

        Ok(ProcessTarget {
            name: name.to_string(),
            command,
            env,
            cwd: spec.cwd.clone(),
            base_url: format!("http://127.0.0.1:{port}"),
            health,
            start_timeout,
            client,
            logs,
            child: Mutex::new(None),
            capture_tasks: std::sync::Mutex::new(Vec::new()),
            _data_dir: data_dir,
        })
    }

    /// The URL the target listens on; it stays the same across restarts.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The lines the process printed, shared with the capture tasks.
    pub fn logs(&self) -> &LogBuffer {
        &self.logs
    }

    async fn spawn_and_wait(&self) -> Result<(), NotReady> {
        let mut command = Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .envs(&self.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group keeps a terminal's Ctrl-C away from the
            // target (the harness stops it in order) and lets stop() reach any
            // children a wrapper script started.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|error| {
            let program = &self.command[0];
            let cwd = self.cwd.display();
            NotReady::Launch(format!("cannot run \"{program}\" in \"{cwd}\": {error}"))
        })?;
        if let Some(stdout) = child.stdout.take() {
            self.capture_tasks().push(self.logs.capture(stdout));
        }
        if let Some(stderr) = child.stderr.take() {
            self.capture_tasks().push(self.logs.capture(stderr));
        }
        tracing::debug!(target_name = %self.name, pid = child.id(), "target process spawned");
        *self.child.lock().await = Some(child);

        let exited = || self.try_exit_status();
        let ready = self
            .health
            .wait(&self.client, &self.base_url, self.start_timeout, exited);
        ready.await
    }

    /// How the process ended, if it has; `None` while it runs.
    pub fn try_exit_status(&self) -> Option<String> {
        let mut guard = self.child.try_lock().ok()?;
        let child = guard.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(error) => Some(format!("its status cannot be read: {error}")),
        }
    }

    /// Sends SIGTERM to the process group, waits [`STOP_GRACE`], then kills it.
    pub async fn stop(&self) {
        self.stop_with(Signal::SIGTERM).await;
    }

    /// Sends `signal` to the process group and waits for the process to end,
    /// killing it when it is still running after [`STOP_GRACE`].
    async fn stop_with(&self, signal: Signal) {
        let Some(child) = self.child.lock().await.take() else {
            return;
        };
        self.end_process(child, signal).await;
        self.finish_capture().await;
    }

    async fn end_process(&self, mut child: Child, signal: Signal) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let Some(pid) = child.id() else {
            return;
        };
        let group = Pid::from_raw(pid as i32);
        let _ = killpg(group, signal);
        let ended = tokio::time::timeout(STOP_GRACE, child.wait()).await;
        if ended.is_err() {
            let name = &self.name;
            tracing::warn!(target_name = %name, pid, %signal, "target ignored the signal; killed");
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait().await;
        }
        tracing::debug!(target_name = %self.name, pid, "target process stopped");
    }

    /// Waits briefly for the capture tasks to read what the process wrote last.
    ///
    /// Its pipes close when it exits, so this is quick; a grandchild that keeps
    /// them open only costs [`CAPTURE_DRAIN`].
    async fn finish_capture(&self) {
        let tasks: Vec<JoinHandle<()>> = self.capture_tasks().drain(..).collect();
        let all_read = futures::future::join_all(tasks);
        let _ = tokio::time::timeout(CAPTURE_DRAIN, all_read).await;
    }

    fn capture_tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.capture_tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl TargetControl for ProcessTarget {
    async fn restart(&self) -> anyhow::Result<String> {
        self.stop_with(Signal::SIGTERM).await;
        self.start_again().await
    }

    async fn kill_and_start(&self) -> anyhow::Result<String> {
        self.stop_with(Signal::SIGKILL).await;
        self.start_again().await
    }
}

impl ProcessTarget {
    async fn start_again(&self) -> anyhow::Result<String> {
        if let Err(not_ready) = self.spawn_and_wait().await {
            bail!(
                "target \"{}\" did not come back after a restart: {not_ready}",
                self.name
            );
        }
        Ok(self.base_url.clone())
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free loopback port for the target")?;
    Ok(listener
        .local_addr()
        .context("cannot read the free port")?
        .port())
}

/// Renders one command or environment template with `port` and `data_dir`.
fn render(template: &str, context: &BTreeMap<&str, String>) -> anyhow::Result<String> {
    let mut environment = minijinja::Environment::new();
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    environment.render_str(template, context).with_context(|| {
        format!(
            "cannot fill in \"{template}\"; only {{{{ port }}}} and {{{{ data_dir }}}} are known"
        )
    })
}
