//! A started container target: its private network, sidecar services and the
//! container itself, with restart, kill and pause for fault scenarios.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use futures::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding,
};
use testcontainers::bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, LogsOptions, StopContainerOptions,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::container::{ContainerSpec, ServiceSpec};
use super::docker::cleanup::{remove_run, sweep_leftovers};
use super::docker::image::ensure_image;
use super::docker::stats::StatsSampler;
use super::docker::{connect, run_labels};
use super::health::{HealthCheck, NotReady};
use super::log_buffer::LogBuffer;
use super::running::StartFailure;
use crate::load::resources::ResourceSampler;
use crate::scenario::runner::TargetControl;

/// How long a container has to stop after SIGTERM before Docker kills it.
const STOP_GRACE_SECONDS: i32 = 5;

/// How often a container's state is read to notice that it died.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// A container target the harness started and owns until [`ContainerTarget::stop`].
///
/// Everything it creates (network, services, container, built images) carries
/// the labels of its own run id and is removed together on stop. A restart
/// keeps the container and so its writable layer: data written inside survives
/// it, as for a process target. Docker may give the port a new host port on
/// every start; the base URL follows it.
pub struct ContainerTarget {
    name: String,
    docker: Docker,
    run_id: String,
    container_id: String,
    /// The container port as Docker names it, such as `8080/tcp`.
    port_key: String,
    base_url: RwLock<String>,
    health: HealthCheck,
    ready_log: Option<String>,
    start_timeout: Duration,
    client: reqwest::Client,
    logs: LogBuffer,
    /// How the container ended, once it has and nobody asked it to.
    exit: Arc<Mutex<Option<String>>>,
    /// Set while the harness itself stops the container, so that is no death.
    stopping: Arc<AtomicBool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Follows the container's stats; replaced on every start, since a
    /// stopped container's stats stream ends.
    stats: Mutex<Arc<StatsSampler>>,
    stopped: AtomicBool,
}

impl ContainerTarget {
    /// Creates the network, starts the services and the container, and waits
    /// until the target is healthy.
    ///
    /// On failure or cancellation everything created so far is removed and
    /// the error carries the log tail of what failed.
    pub async fn start(
        name: &str,
        spec: &ContainerSpec,
        health: HealthCheck,
        start_timeout: Duration,
        client: &reqwest::Client,
        cancel: &CancellationToken,
    ) -> Result<Arc<Self>, StartFailure> {
        let logs = LogBuffer::default();
        let docker = connect()
            .await
            .map_err(|error| launch_failure(error, &logs))?;
        sweep_leftovers(&docker).await;
        let run_id = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());

        let created = Starting {
            name,
            spec,
            docker: &docker,
            run_id: &run_id,
            logs: &logs,
            start_timeout,
        };
        let started = tokio::select! {
            started = created.run(health, client) => started,
            () = cancel.cancelled() => Err(NotReady::Cancelled),
        };
        match started {
            Ok(target) => Ok(Arc::new(target)),
            Err(not_ready) => {
                remove_run(&docker, &run_id).await;
                Err(StartFailure::new(not_ready, &logs))
            }
        }
    }

    /// Where the target answers now; it changes when a restart moves the host port.
    pub fn base_url(&self) -> String {
        self.base_url
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The lines the container and its services printed.
    pub fn logs(&self) -> &LogBuffer {
        &self.logs
    }

    /// How the container died, when it ended without the harness asking.
    pub fn exit_status(&self) -> Option<String> {
        self.exit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The container's CPU and memory, for the load stage to sample.
    pub fn sampler(&self) -> Arc<dyn ResourceSampler> {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        stats.clone() as Arc<dyn ResourceSampler>
    }

    /// The id of this target's run, which labels everything it created.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Freezes every process of the container; it answers nothing until resumed.
    pub async fn pause(&self) -> anyhow::Result<()> {
        let name = &self.name;
        self.docker
            .pause_container(&self.container_id)
            .await
            .with_context(|| format!("cannot pause target \"{name}\""))
    }

    /// Resumes a paused container.
    pub async fn resume(&self) -> anyhow::Result<()> {
        let name = &self.name;
        self.docker
            .unpause_container(&self.container_id)
            .await
            .with_context(|| format!("cannot resume target \"{name}\""))
    }

    /// Stops the container and removes everything this target run created.
    ///
    /// Idempotent: the second call does nothing.
    pub async fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        self.stopping.store(true, Ordering::SeqCst);
        let options = StopContainerOptions {
            t: Some(STOP_GRACE_SECONDS),
            ..Default::default()
        };
        let _ = self
            .docker
            .stop_container(&self.container_id, Some(options))
            .await;
        // The stop above ends the log stream, so the last lines are in; a short
        // wait lets the follower copy them before it is aborted.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).stop();
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
        remove_run(&self.docker, &self.run_id).await;
        tracing::debug!(target_name = %self.name, run_id = %self.run_id, "container target removed");
    }

    /// Starts the stopped container again and waits until it is healthy.
    async fn start_again(&self) -> anyhow::Result<String> {
        let name = &self.name;
        let since = unix_seconds();
        self.docker
            .start_container(&self.container_id, None)
            .await
            .with_context(|| format!("cannot start target \"{name}\" again"))?;
        let base_url = host_url(&self.docker, &self.container_id, &self.port_key).await?;
        *self.base_url.write().unwrap_or_else(|p| p.into_inner()) = base_url.clone();
        let follow = follow_logs(&self.docker, &self.container_id, &self.logs, "", since);
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(follow);
        let stats = StatsSampler::start(self.docker.clone(), self.container_id.clone());
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(stats);
        self.stopping.store(false, Ordering::SeqCst);

        let exited = || self.exit_status();
        let ready = self
            .health
            .wait(&self.client, &base_url, self.start_timeout, exited);
        if let Err(not_ready) = ready.await {
            bail!("target \"{name}\" did not come back after a restart: {not_ready}");
        }
        Ok(base_url)
    }
}

#[async_trait]
impl TargetControl for ContainerTarget {
    async fn restart(&self) -> anyhow::Result<String> {
        self.stopping.store(true, Ordering::SeqCst);
        let options = StopContainerOptions {
            t: Some(STOP_GRACE_SECONDS),
            ..Default::default()
        };
        let stopped = self
            .docker
            .stop_container(&self.container_id, Some(options))
            .await;
        stopped.with_context(|| format!("cannot stop target \"{}\"", self.name))?;
        self.start_again().await
    }

    async fn kill_and_start(&self) -> anyhow::Result<String> {
        self.stopping.store(true, Ordering::SeqCst);
        let options = KillContainerOptions {
            signal: "SIGKILL".to_string(),
        };
        let killed = self
            .docker
            .kill_container(&self.container_id, Some(options))
            .await;
        killed.with_context(|| format!("cannot kill target \"{}\"", self.name))?;
        wait_until_stopped(&self.docker, &self.container_id).await;
        self.start_again().await
    }
}

/// The borrowed inputs of one start, so its steps read as short methods.
struct Starting<'a> {
    name: &'a str,
    spec: &'a ContainerSpec,
    docker: &'a Docker,
    run_id: &'a str,
    logs: &'a LogBuffer,
    start_timeout: Duration,
}

impl Starting<'_> {
    async fn run(
        &self,
        health: HealthCheck,
        client: &reqwest::Client,
    ) -> Result<ContainerTarget, NotReady> {
        let labels = run_labels(self.run_id);
        // Building images (a `prepare` step may compile for minutes) is not
        // starting: the start timeout begins once every image exists.
        let (service_images, image) = self.images(&labels).await?;
        let deadline = Instant::now() + self.start_timeout;
        let network = format!("triggers-{}-{}", self.run_id, self.name);
        let request = NetworkCreateRequest {
            name: network.clone(),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        let created = self.docker.create_network(request).await;
        created.map_err(|error| launch(format!("cannot create network \"{network}\": {error}")))?;

        let mut tasks = Vec::new();
        for (service, image) in self.spec.services.iter().zip(service_images) {
            let started = self.start_service(service, image, &network, &labels, deadline);
            tasks.push(started.await?);
        }

        let container = self.create_target(image, &network, &labels).await?;
        let port_key = format!("{}/tcp", self.spec.port);
        let docker = self.docker;
        docker
            .start_container(&container, None)
            .await
            .map_err(|error| launch(format!("cannot start the container: {error}")))?;
        let follower = follow_logs(docker, &container, self.logs, "", 0);
        let base_url = match host_url(docker, &container, &port_key).await {
            Ok(base_url) => base_url,
            Err(error) => {
                // A container that exits at once has lost its port mapping by
                // the time it is inspected: say how it ended, and let its log
                // stream (which ends with it) deliver the last lines first.
                let exited = container_exit(docker, &container).await;
                let _ = tokio::time::timeout(Duration::from_secs(2), follower).await;
                return Err(match exited {
                    Some(how) => launch(format!("the container {how} before it was healthy")),
                    None => launch(format!("{error:#}")),
                });
            }
        };
        tasks.push(follower);
        let target = ContainerTarget {
            name: self.name.to_string(),
            docker: docker.clone(),
            run_id: self.run_id.to_string(),
            container_id: container.clone(),
            port_key,
            base_url: RwLock::new(base_url.clone()),
            health,
            ready_log: self.spec.ready_log.clone(),
            start_timeout: self.start_timeout,
            client: client.clone(),
            logs: self.logs.clone(),
            exit: Arc::new(Mutex::new(None)),
            stopping: Arc::new(AtomicBool::new(false)),
            tasks: Mutex::new(Vec::new()),
            stats: Mutex::new(Arc::new(StatsSampler::start(
                docker.clone(),
                container.clone(),
            ))),
            stopped: AtomicBool::new(false),
        };
        tasks.push(watch_exit(&target));
        target
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(tasks);

        // From here on the target owns the tasks; a failure stops them with it.
        let ready = self.wait_ready(&target, &base_url, deadline).await;
        if let Err(not_ready) = ready {
            target.stop().await;
            return Err(not_ready);
        }
        Ok(target)
    }

    async fn wait_ready(
        &self,
        target: &ContainerTarget,
        base_url: &str,
        deadline: Instant,
    ) -> Result<(), NotReady> {
        // Both waits share one deadline; a timeout names the whole of it.
        let in_container_words = |not_ready| match not_ready {
            NotReady::Timeout { last_error, .. } => NotReady::Timeout {
                timeout: self.start_timeout,
                last_error,
            },
            other => container_words(other),
        };
        let exited = || target.exit_status();
        if let Some(line) = &target.ready_log {
            let waited = wait_for_line(self.logs, "", line, deadline, exited).await;
            waited.map_err(in_container_words)?;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let waited = target
            .health
            .wait(&target.client, base_url, remaining, exited)
            .await;
        waited.map_err(in_container_words)
    }

    /// Finds or builds the image of every service, in order, then the
    /// target's own.
    async fn images(
        &self,
        labels: &HashMap<String, String>,
    ) -> Result<(Vec<String>, String), NotReady> {
        let target = self.name.to_lowercase();
        let mut service_images = Vec::new();
        for service in &self.spec.services {
            let service_name = &service.name;
            let tag = format!("triggers-harness/{target}-{service_name}:{}", self.run_id);
            let image = ensure_image(self.docker, &service.image, &tag, labels).await;
            service_images.push(
                image.map_err(|error| launch(format!("service \"{service_name}\": {error:#}")))?,
            );
        }
        let tag = format!("triggers-harness/{target}:{}", self.run_id);
        let image = ensure_image(self.docker, &self.spec.image, &tag, labels)
            .await
            .map_err(|error| launch(format!("{error:#}")))?;
        Ok((service_images, image))
    }

    async fn create_target(
        &self,
        image: String,
        network: &str,
        labels: &HashMap<String, String>,
    ) -> Result<String, NotReady> {
        let templates = Templates::new(self.spec.port, &self.spec.services);
        let filled = |error: anyhow::Error| launch(format!("{error:#}"));
        let env = templates.env(&self.spec.env).map_err(filled)?;
        let command = self
            .spec
            .command
            .as_deref()
            .map(|command| templates.command(command));
        let command = command.transpose().map_err(filled)?;

        let port_key = format!("{}/tcp", self.spec.port);
        // Loopback only, on a port Docker picks: nothing outside this machine
        // reaches the target, and parallel runs never collide on a port.
        let binding = PortBinding {
            host_ip: Some("127.0.0.1".to_string()),
            host_port: Some(String::new()),
        };
        let host_config = HostConfig {
            port_bindings: Some(HashMap::from([(port_key.clone(), Some(vec![binding]))])),
            extra_hosts: Some(vec!["host.docker.internal:host-gateway".to_string()]),
            memory: self.spec.memory_bytes,
            nano_cpus: self.spec.nano_cpus,
            network_mode: Some(network.to_string()),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image),
            env: Some(env),
            cmd: command,
            exposed_ports: Some(vec![port_key]),
            labels: Some(labels.clone()),
            host_config: Some(host_config),
            ..Default::default()
        };
        let container_name = format!("triggers-{}-{}", self.run_id, self.name);
        self.create(&container_name, body).await
    }

    /// Starts one service and waits for its ready line (or for it to run).
    async fn start_service(
        &self,
        service: &ServiceSpec,
        image: String,
        network: &str,
        labels: &HashMap<String, String>,
        deadline: Instant,
    ) -> Result<JoinHandle<()>, NotReady> {
        let service_name = &service.name;
        let env = service
            .env
            .iter()
            .map(|(key, value)| format!("{key}={value}"));
        let endpoint = EndpointSettings {
            aliases: Some(vec![service.name.clone()]),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image),
            env: Some(env.collect()),
            cmd: service.command.clone(),
            labels: Some(labels.clone()),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_string()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(network.to_string(), endpoint)])),
            }),
            ..Default::default()
        };
        let container_name = format!("triggers-{}-{service_name}", self.run_id);
        let id = self.create(&container_name, body).await?;
        self.docker
            .start_container(&id, None)
            .await
            .map_err(|error| launch(format!("cannot start service \"{service_name}\": {error}")))?;

        let prefix = format!("[{service_name}] ");
        let follow = follow_logs(self.docker, &id, self.logs, &prefix, 0);
        let docker = self.docker;
        let exited = || None;
        let service_exited = async {
            loop {
                if let Some(how) = container_exit(docker, &id).await {
                    return how;
                }
                tokio::time::sleep(WATCH_INTERVAL).await;
            }
        };
        let ready = async {
            match &service.ready_log {
                Some(line) => wait_for_line(self.logs, &prefix, line, deadline, exited).await,
                None => Ok(()),
            }
        };
        tokio::select! {
            ready = ready => ready.map_err(|not_ready| match not_ready {
                NotReady::Timeout { .. } => launch(format!(
                    "service \"{service_name}\" did not print {:?} within {}",
                    service.ready_log.as_deref().unwrap_or_default(),
                    humantime::format_duration(self.start_timeout)
                )),
                other => other,
            })?,
            how = service_exited => {
                return Err(launch(format!("service \"{service_name}\" {how} before it was ready")));
            }
        }
        tracing::info!(target_name = %self.name, service = %service_name, "service ready");
        Ok(follow)
    }

    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, NotReady> {
        let options = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = self.docker.create_container(Some(options), body).await;
        let created = created
            .map_err(|error| launch(format!("cannot create container \"{name}\": {error}")))?;
        Ok(created.id)
    }
}

/// The values a container's `env` and `command` may name: `{{ port }}` and
/// `{{ services.NAME.host }}` (with `.port` and `.address` for a service
/// that declares its port).
struct Templates {
    environment: minijinja::Environment<'static>,
    context: minijinja::Value,
}

impl Templates {
    fn new(port: u16, services: &[ServiceSpec]) -> Templates {
        let mut known = BTreeMap::new();
        for service in services {
            let mut fields = BTreeMap::from([("host", service.name.clone())]);
            if let Some(port) = service.port {
                fields.insert("port", port.to_string());
                fields.insert("address", format!("{}:{port}", service.name));
            }
            known.insert(service.name.clone(), fields);
        }
        let mut environment = minijinja::Environment::new();
        environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        Templates {
            environment,
            context: minijinja::context! { port => port, services => known },
        }
    }

    /// Fills in one value; `what` names it in the error, such as `env PORT`.
    fn render(&self, what: &str, template: &str) -> anyhow::Result<String> {
        let rendered = self.environment.render_str(template, &self.context);
        rendered.with_context(|| {
            format!(
                "cannot fill in {what} = \"{template}\"; known are {{{{ port }}}} and \
                 {{{{ services.NAME.host }}}} (and .port, .address for a service with a port)"
            )
        })
    }

    /// The env as Docker takes it, `KEY=value`, with every value filled in.
    fn env(&self, env: &BTreeMap<String, String>) -> anyhow::Result<Vec<String>> {
        env.iter()
            .map(|(key, template)| {
                let value = self.render(&format!("env {key}"), template)?;
                Ok(format!("{key}={value}"))
            })
            .collect()
    }

    /// The command with every argument filled in.
    fn command(&self, command: &[String]) -> anyhow::Result<Vec<String>> {
        command
            .iter()
            .enumerate()
            .map(|(index, template)| self.render(&format!("command[{index}]"), template))
            .collect()
    }
}

/// The loopback URL Docker mapped the container port to.
async fn host_url(docker: &Docker, container: &str, port_key: &str) -> anyhow::Result<String> {
    let inspected = docker
        .inspect_container(container, None)
        .await
        .context("cannot inspect the started container")?;
    let ports = inspected
        .network_settings
        .and_then(|settings| settings.ports);
    let host_port = ports
        .and_then(|mut ports| ports.remove(port_key))
        .flatten()
        .and_then(|bindings| bindings.into_iter().find_map(|binding| binding.host_port))
        .filter(|port| !port.is_empty());
    match host_port {
        Some(port) => Ok(format!("http://127.0.0.1:{port}")),
        None => bail!("Docker mapped no host port for {port_key}; did the container exit at once?"),
    }
}

/// Copies the container's output into `logs`, each line after `prefix`.
fn follow_logs(
    docker: &Docker,
    container: &str,
    logs: &LogBuffer,
    prefix: &str,
    since: i32,
) -> JoinHandle<()> {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        since,
        ..Default::default()
    };
    let mut stream = docker.logs(container, Some(options));
    let (logs, prefix) = (logs.clone(), prefix.to_string());
    tokio::spawn(async move {
        while let Some(Ok(output)) = stream.next().await {
            let text = output.to_string();
            for line in text.lines().filter(|line| !line.is_empty()) {
                logs.push(format!("{prefix}{line}"));
            }
        }
    })
}

/// Records how the target container ended when it was not the harness's doing.
fn watch_exit(target: &ContainerTarget) -> JoinHandle<()> {
    let (docker, id) = (target.docker.clone(), target.container_id.clone());
    let (exit, stopping) = (target.exit.clone(), target.stopping.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            if stopping.load(Ordering::SeqCst) {
                continue;
            }
            if let Some(how) = container_exit(&docker, &id).await
                && !stopping.load(Ordering::SeqCst)
            {
                *exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(how);
                return;
            }
        }
    })
}

/// How a container ended, or `None` while it runs (or is paused).
async fn container_exit(docker: &Docker, container: &str) -> Option<String> {
    let inspected = match docker.inspect_container(container, None).await {
        Ok(inspected) => inspected,
        Err(error) => return Some(format!("can no longer be inspected ({error})")),
    };
    let state = inspected.state?;
    if state.running == Some(true) {
        return None;
    }
    let code = state.exit_code.unwrap_or(-1);
    let oom = if state.oom_killed == Some(true) {
        ", killed for lack of memory"
    } else {
        ""
    };
    Some(format!("exited with code {code}{oom}"))
}

async fn wait_until_stopped(docker: &Docker, container: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while container_exit(docker, container).await.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a line that starts with `prefix` (the service's name, or
/// nothing for the target) and contains `line` has been printed.
async fn wait_for_line(
    logs: &LogBuffer,
    prefix: &str,
    line: &str,
    deadline: Instant,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<(), NotReady> {
    loop {
        if logs
            .tail(usize::MAX)
            .iter()
            .any(|printed| printed.starts_with(prefix) && printed.contains(line))
        {
            return Ok(());
        }
        if let Some(how) = exited() {
            return Err(NotReady::Exited(how));
        }
        if Instant::now() >= deadline {
            return Err(NotReady::Timeout {
                timeout: Duration::ZERO,
                last_error: format!("no log line contained {line:?}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Says "the container" where the shared wording says "the process".
fn container_words(not_ready: NotReady) -> NotReady {
    match not_ready {
        NotReady::Exited(how) => launch(format!("the container {how} before it was healthy")),
        other => other,
    }
}

fn launch(why: String) -> NotReady {
    NotReady::Launch(why)
}

fn launch_failure(error: anyhow::Error, logs: &LogBuffer) -> StartFailure {
    StartFailure::new(NotReady::Launch(format!("{error:#}")), logs)
}

fn unix_seconds() -> i32 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |elapsed| elapsed.as_secs() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::container::ImageSource;

    fn service(name: &str, port: Option<u16>) -> ServiceSpec {
        ServiceSpec {
            name: name.to_string(),
            image: ImageSource::Local {
                reference: "unused".to_string(),
                build: None,
            },
            port,
            env: BTreeMap::new(),
            command: None,
            ready_log: None,
        }
    }

    #[test]
    fn env_values_name_the_port_and_the_services() {
        let env = BTreeMap::from([
            (
                "DATABASE_URL".to_string(),
                "postgres://{{ services.db.address }}/x".to_string(),
            ),
            ("PORT".to_string(), "{{ port }}".to_string()),
            ("CACHE".to_string(), "{{ services.cache.host }}".to_string()),
        ]);
        let services = [service("db", Some(5432)), service("cache", None)];
        let rendered = Templates::new(8080, &services)
            .env(&env)
            .expect("known names");
        assert_eq!(
            rendered,
            [
                "CACHE=cache",
                "DATABASE_URL=postgres://db:5432/x",
                "PORT=8080"
            ]
        );
    }

    #[test]
    fn an_unknown_name_in_env_is_refused_with_the_key() {
        let env = BTreeMap::from([("URL".to_string(), "{{ services.db.address }}".to_string())]);
        let error = Templates::new(80, &[service("db", None)])
            .env(&env)
            .unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.starts_with("cannot fill in env URL = \"{{ services.db.address }}\""),
            "{message}"
        );
    }

    #[test]
    fn command_arguments_are_filled_in_and_named_when_wrong() {
        let templates = Templates::new(8080, &[service("db", Some(5432))]);
        let command = [
            "--listen",
            "0.0.0.0:{{ port }}",
            "--db",
            "{{ services.db.address }}",
        ];
        let command = command.map(str::to_string);
        let filled = templates.command(&command).expect("known names");
        assert_eq!(filled, ["--listen", "0.0.0.0:8080", "--db", "db:5432"]);

        let wrong = ["{{ services.cache.host }}".to_string()];
        let message = format!("{:#}", templates.command(&wrong).unwrap_err());
        assert!(
            message.starts_with("cannot fill in command[0] = "),
            "{message}"
        );
    }
}
