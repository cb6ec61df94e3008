//! The Docker side of container targets, through the Docker API client that
//! testcontainers re-exports: connecting, labelling, images, cleanup, stats.

pub mod cleanup;
pub mod image;
pub mod stats;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use anyhow::Context;
use testcontainers::bollard::Docker;

use super::{TargetKind, TargetSpec};

/// Marks everything the harness creates, so a sweep can find it.
pub const HARNESS_LABEL: &str = "triggers.harness";

/// The id of the target run that created a container, network or image.
pub const RUN_ID_LABEL: &str = "triggers.run-id";

/// The process id of the harness that created it; a sweep removes what a
/// harness that is no longer running left behind.
pub const PID_LABEL: &str = "triggers.pid";

/// Connects to the local Docker engine and agrees on an API version with it.
///
/// The client speaks a newer API than some engines (20.10 speaks 1.41), so the
/// version is negotiated rather than assumed.
pub async fn connect() -> anyhow::Result<Docker> {
    let docker = Docker::connect_with_local_defaults()
        .context("cannot reach the Docker engine; is it running and is DOCKER_HOST right?")?;
    docker
        .negotiate_version()
        .await
        .context("cannot reach the Docker engine; is it running and may this user use it?")
}

/// The labels of one target run: what it owns and who created it.
pub fn run_labels(run_id: &str) -> HashMap<String, String> {
    HashMap::from([
        (HARNESS_LABEL.to_string(), "1".to_string()),
        (RUN_ID_LABEL.to_string(), run_id.to_string()),
        (PID_LABEL.to_string(), std::process::id().to_string()),
    ])
}

/// The address containers reach the host by: the gateway of Docker's default
/// bridge network, which is an address of the host itself.
///
/// The webhook sink binds there when a run has container targets. Host
/// processes reach it too, so one sink URL serves every kind of target, and it
/// stays off the machine's outside interfaces.
pub async fn host_gateway() -> anyhow::Result<IpAddr> {
    let docker = connect().await?;
    let bridge = docker
        .inspect_network("bridge", None)
        .await
        .context("cannot inspect Docker's default \"bridge\" network")?;
    let configs = bridge.ipam.and_then(|ipam| ipam.config).unwrap_or_default();
    let gateway = configs.iter().find_map(|config| {
        let gateway = config.gateway.as_deref().and_then(|text| text.parse().ok());
        gateway.or_else(|| config.subnet.as_deref().and_then(first_host))
    });
    gateway
        .map(IpAddr::V4)
        .context("Docker's \"bridge\" network has no IPv4 gateway to bind the sink on")
}

/// The first host address of an IPv4 subnet such as `172.17.0.0/16`, which
/// is the gateway Docker gives a network when its settings name none (as
/// some engines report the default bridge).
fn first_host(subnet: &str) -> Option<Ipv4Addr> {
    let (network, _) = subnet.split_once('/')?;
    let network: Ipv4Addr = network.parse().ok()?;
    Some(Ipv4Addr::from(u32::from(network).checked_add(1)?))
}

/// Whether a Docker engine answers, for tests that need one.
pub async fn available() -> bool {
    match connect().await {
        Ok(docker) => docker.ping().await.is_ok(),
        Err(_) => false,
    }
}

/// The address the webhook sink binds to: loopback, unless a container target
/// must reach it, then the host's address on Docker's default bridge.
///
/// When that address cannot be found (no Docker engine), the sink stays on
/// loopback; the container targets then fail to start with Docker's own error.
pub async fn sink_ip<'a>(targets: impl IntoIterator<Item = &'a TargetSpec>) -> IpAddr {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let mut targets = targets.into_iter();
    if !targets.any(|spec| matches!(spec.kind, TargetKind::Container(_))) {
        return loopback;
    }
    match host_gateway().await {
        Ok(gateway) => gateway,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "webhook sink stays on loopback");
            loopback
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_gives_its_first_host_as_the_gateway() {
        assert_eq!(
            first_host("172.17.0.0/16"),
            Some(Ipv4Addr::new(172, 17, 0, 1))
        );
        assert_eq!(first_host("10.1.2.0/24"), Some(Ipv4Addr::new(10, 1, 2, 1)));
        assert_eq!(first_host("fd00::/64"), None);
        assert_eq!(first_host("nonsense"), None);
    }
}
