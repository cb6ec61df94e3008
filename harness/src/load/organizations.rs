//! Creates the organisations a profile spreads its users across, so one
//! organisation's rate limit does not cut the load.

use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::workload::Organization;

#[derive(Deserialize)]
struct Generated {
    api_key: String,
}

/// Creates `count` organisations of `tier` on the target, named after the profile.
pub async fn create_organizations(
    client: &reqwest::Client,
    base_url: &str,
    profile: &str,
    tier: &str,
    count: u32,
) -> anyhow::Result<Vec<Arc<Organization>>> {
    let mut organizations = Vec::with_capacity(count as usize);
    for index in 0..count {
        let body = serde_json::json!({
            "organization_name": format!("load-{profile}-{index}"),
            "tier": tier,
        });
        let response = client
            .post(format!("{base_url}/api/keys/generate"))
            .json(&body)
            .send()
            .await
            .context("cannot create a load organisation")?;
        let status = response.status();
        if status.as_u16() != 201 {
            let text = response.text().await.unwrap_or_default();
            bail!("creating load organisation {index} (tier \"{tier}\") answered {status}: {text}");
        }
        let generated: Generated = response
            .json()
            .await
            .context("the key generation answer has no api_key")?;
        organizations.push(Arc::new(Organization::new(generated.api_key)));
    }
    Ok(organizations)
}
