//! Container targets: an image run in Docker. Only the file model exists so far.
//!
//! Starting one is refused with a clear verdict until the container work lands.

use std::collections::BTreeMap;

use anyhow::bail;

use super::{RawTarget, reject_field};

/// The fields of a `kind = "container"` target.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    /// The image reference, which must already be present locally.
    pub image: String,
    /// The port the server listens on inside the container.
    pub port: u16,
    /// Environment variables for the container.
    pub env: BTreeMap<String, String>,
    /// Replaces the image's command when set.
    pub command: Option<Vec<String>>,
}

/// The reason every container target is refused today.
pub const NOT_BUILT: &str = "container targets are not built yet; \
    run the image yourself and declare it as a url target";

impl ContainerSpec {
    pub(crate) fn from_raw(raw: &RawTarget) -> anyhow::Result<Self> {
        reject_field(&raw.base_url, "base_url", "container", "url")?;
        reject_field(&raw.cwd, "cwd", "container", "process")?;
        let Some(image) = raw.image.clone().filter(|image| !image.trim().is_empty()) else {
            bail!("a container target needs `image`, such as \"triggers-reference:latest\"");
        };
        let Some(port) = raw.port.filter(|port| *port != 0) else {
            bail!("a container target needs `port`, the port its server listens on inside");
        };
        if raw
            .command
            .as_ref()
            .is_some_and(|command| command.is_empty())
        {
            bail!("`command` of a container target must not be empty; leave it out instead");
        }
        Ok(ContainerSpec {
            image,
            port,
            env: raw.env.clone().unwrap_or_default(),
            command: raw.command.clone(),
        })
    }
}
