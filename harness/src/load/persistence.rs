//! After a level, reads the organisations' inboxes back until every accepted
//! event is visible or the drain deadline passes: acknowledged is not stored.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::outcome::{PersistenceMethod, PersistenceOutcome};
use super::workload::Organization;

/// The pause between two reads of an inbox that still misses events.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
struct Page {
    events: Vec<Event>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    id: String,
}

/// Checks that the ids accepted since the last check are in the inboxes.
///
/// When a target answered some ingests without an id, those cannot be
/// looked up: the check then compares counts, the number of events in the
/// inbox against everything accepted so far (`accepted_total`, kept across levels).
pub async fn check_persistence(
    client: &reqwest::Client,
    base_url: &str,
    organizations: &[Arc<Organization>],
    accepted_total: &mut [u64],
    drain_deadline: Duration,
) -> anyhow::Result<PersistenceOutcome> {
    let started = Instant::now();
    let deadline = started + drain_deadline;
    let mut wanted: Vec<HashSet<String>> = Vec::with_capacity(organizations.len());
    let mut without_id = 0;
    let mut accepted_count = 0;
    for (index, organization) in organizations.iter().enumerate() {
        let (ids, anonymous) = organization.take_accepted();
        accepted_count += ids.len() as u64 + anonymous;
        accepted_total[index] += ids.len() as u64 + anonymous;
        without_id += anonymous;
        wanted.push(ids.into_iter().collect());
    }
    let method = if without_id == 0 {
        PersistenceMethod::Ids
    } else {
        PersistenceMethod::Counts
    };

    let mut last_seen = None;
    loop {
        let mut missing = 0;
        for (index, organization) in organizations.iter().enumerate() {
            if method == PersistenceMethod::Ids && wanted[index].is_empty() {
                continue;
            }
            let stored = read_inbox(client, base_url, &organization.api_key).await?;
            missing += match method {
                PersistenceMethod::Ids => {
                    wanted[index].retain(|id| !stored.contains(id));
                    wanted[index].len() as u64
                }
                PersistenceMethod::Counts => {
                    accepted_total[index].saturating_sub(stored.len() as u64)
                }
            };
        }
        if missing == 0 {
            last_seen = Some(started.elapsed());
        }
        if missing == 0 || Instant::now() >= deadline {
            return Ok(PersistenceOutcome {
                method,
                accepted_count,
                stored_count: accepted_count.saturating_sub(missing),
                missing_count: missing,
                persistence_lag_ms: last_seen.map(|lag| lag.as_millis() as u64),
                drain_deadline_ms: drain_deadline.as_millis() as u64,
            });
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Every event id in one organisation's inbox, following the cursor to the end.
async fn read_inbox(
    client: &reqwest::Client,
    base_url: &str,
    api_key: &str,
) -> anyhow::Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base_url}/api/inbox"))
            .header("x-api-key", api_key)
            .query(&[("status", "all"), ("limit", "1000")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.context("cannot read an inbox back")?;
        let status = response.status();
        if !status.is_success() {
            bail!("reading an inbox back answered {status}");
        }
        let page: Page = response
            .json()
            .await
            .context("an inbox page is not the expected JSON")?;
        ids.extend(page.events.into_iter().map(|event| event.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(ids),
        }
    }
}
