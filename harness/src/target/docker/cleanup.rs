//! Removing what the harness created: one target run's containers, network and
//! images when it ends, and the leftovers of harnesses that were killed.

use std::collections::HashMap;

use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    ListContainersOptions, ListImagesOptions, ListNetworksOptions, RemoveContainerOptions,
    RemoveImageOptions,
};

use super::{HARNESS_LABEL, PID_LABEL, RUN_ID_LABEL};

/// Removes every container, network and image labelled with `run_id`.
///
/// Containers go first (forcefully, with their anonymous volumes), since a
/// network or image in use cannot be removed. Failures are logged and the
/// removal goes on, so one stuck object does not keep the others alive.
pub async fn remove_run(docker: &Docker, run_id: &str) {
    let label = format!("{RUN_ID_LABEL}={run_id}");
    remove_labelled(docker, &label, |_| true).await;
}

/// Removes what harnesses that are no longer running left behind: a run killed
/// with SIGKILL, or a machine that lost power, cannot clean up after itself.
///
/// Objects of a live harness process (this one, or another run at the same
/// time) are kept, so concurrent runs do not sweep each other away.
pub async fn sweep_leftovers(docker: &Docker) {
    let label = format!("{HARNESS_LABEL}=1");
    let abandoned = |labels: &HashMap<String, String>| {
        let pid = labels
            .get(PID_LABEL)
            .and_then(|pid| pid.parse::<u32>().ok());
        pid.is_none_or(|pid| !process_alive(pid))
    };
    remove_labelled(docker, &label, abandoned).await;
}

async fn remove_labelled(
    docker: &Docker,
    label: &str,
    wanted: impl Fn(&HashMap<String, String>) -> bool,
) {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let containers = ListContainersOptions {
        all: true,
        filters: Some(filters.clone()),
        ..Default::default()
    };
    for container in docker
        .list_containers(Some(containers))
        .await
        .unwrap_or_default()
    {
        let (Some(id), labels) = (container.id, container.labels.unwrap_or_default()) else {
            continue;
        };
        if wanted(&labels) {
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            let removed = docker.remove_container(&id, Some(options)).await;
            log_failure("container", &id, removed);
        }
    }

    let networks = ListNetworksOptions {
        filters: Some(filters.clone()),
    };
    for network in docker
        .list_networks(Some(networks))
        .await
        .unwrap_or_default()
    {
        let (Some(id), labels) = (network.id, network.labels.unwrap_or_default()) else {
            continue;
        };
        if wanted(&labels) {
            log_failure("network", &id, docker.remove_network(&id).await);
        }
    }

    let images = ListImagesOptions {
        filters: Some(filters),
        ..Default::default()
    };
    for image in docker.list_images(Some(images)).await.unwrap_or_default() {
        if wanted(&image.labels) {
            let options = RemoveImageOptions {
                force: true,
                ..Default::default()
            };
            let removed = docker.remove_image(&image.id, Some(options), None).await;
            log_failure("image", &image.id, removed.map(drop));
        }
    }
}

fn log_failure<E: std::fmt::Display>(kind: &str, id: &str, outcome: Result<(), E>) {
    match outcome {
        Ok(()) => tracing::debug!(kind, id, "removed"),
        Err(error) => tracing::warn!(kind, id, %error, "cannot remove a harness object"),
    }
}

/// Whether a process with this id runs on this machine.
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
