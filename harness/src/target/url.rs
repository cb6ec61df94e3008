//! Url targets: a server that is already running; the harness only checks its health.

use anyhow::bail;

use super::{RawTarget, reject_field};

/// The fields of a `kind = "url"` target.
#[derive(Clone, Debug)]
pub struct UrlSpec {
    /// Where the server answers, without a trailing slash.
    pub base_url: String,
}

impl UrlSpec {
    pub(crate) fn from_raw(raw: &RawTarget) -> anyhow::Result<Self> {
        reject_field(&raw.command, "command", "url", "process")?;
        reject_field(&raw.env, "env", "url", "process or container")?;
        reject_field(&raw.cwd, "cwd", "url", "process")?;
        super::reject_container_fields(raw, "url")?;
        let Some(text) = &raw.base_url else {
            bail!("a url target needs `base_url`, such as \"http://127.0.0.1:8000\"");
        };
        let parsed = url::Url::parse(text)
            .map_err(|error| anyhow::anyhow!("base_url \"{text}\" is not a URL: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            bail!("base_url \"{text}\" must be an http or https URL with a host");
        }
        Ok(UrlSpec {
            base_url: text.trim_end_matches('/').to_string(),
        })
    }
}
