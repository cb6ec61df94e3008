//! Load profiles: the TOML files under `scenarios/load/`, read and checked
//! into the model the drivers run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::outcome::LoadModelKind;
use super::threshold::Threshold;

/// A checked profile, ready to run.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub model: LoadModelKind,
    /// Users (closed model) or arrivals per second (open model), one level each, run in turn.
    pub levels: Vec<u32>,
    /// Open model only: the most requests in flight at once.
    pub pool: u32,
    /// Organisations created on the target before the load; users spread across them.
    pub organizations: u32,
    /// The contract tier of those organisations.
    pub tier: String,
    /// Spec rules a target must pass for the profile to run against it.
    pub requires_rules: Vec<String>,
    /// Closed model: the time over which users start.
    pub ramp: Duration,
    /// Load sent after the ramp whose answers are not counted.
    pub warmup: Duration,
    /// The measured part of each level.
    pub hold: Duration,
    /// How long the persistence check may wait for accepted events to show.
    pub drain_deadline: Duration,
    pub transactions: Vec<TransactionSpec>,
    pub thresholds: Vec<Threshold>,
}

/// One weighted kind of request in the profile's mix.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionSpec {
    pub kind: TransactionKind,
    pub weight: u32,
}

/// What a transaction sends.
#[derive(Clone, Debug, PartialEq)]
pub enum TransactionKind {
    /// `POST /api/events` with a fresh `dedup_id`, a type and payload drawn
    /// from the lists; each accepted id is kept for the persistence check.
    Ingest {
        payload_bytes: Vec<usize>,
        event_types: Vec<String>,
    },
    /// `GET /api/inbox`, following `next_cursor` for up to `pages` pages.
    Inbox { page_size: u32, pages: u32 },
    /// `POST /api/ack/{id}` of an event an inbox read returned (or one just accepted).
    Ack,
    /// An ingest repeating a `dedup_id` already accepted: 409 is the expected answer.
    Duplicate,
    /// `GET /health`: no storage work, for measuring the harness and the
    /// target's HTTP stack alone.
    Health,
}

impl TransactionKind {
    /// The name used in results and logs.
    pub fn name(&self) -> &'static str {
        match self {
            TransactionKind::Ingest { .. } => "ingest",
            TransactionKind::Inbox { .. } => "inbox",
            TransactionKind::Ack => "ack",
            TransactionKind::Duplicate => "duplicate",
            TransactionKind::Health => "health",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    model: String,
    levels: Vec<u32>,
    pool: Option<u32>,
    #[serde(default = "default_organizations")]
    organizations: u32,
    #[serde(default = "default_tier")]
    tier: String,
    #[serde(default)]
    requires_rules: Vec<String>,
    #[serde(default)]
    ramp: Option<String>,
    #[serde(default)]
    warmup: Option<String>,
    hold: String,
    #[serde(default)]
    drain_deadline: Option<String>,
    transactions: Vec<TransactionFile>,
    #[serde(default)]
    thresholds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionFile {
    kind: String,
    weight: u32,
    #[serde(default)]
    payload_bytes: Vec<usize>,
    #[serde(default)]
    event_types: Vec<String>,
    page_size: Option<u32>,
    pages: Option<u32>,
}

fn default_organizations() -> u32 {
    4
}

fn default_tier() -> String {
    "enterprise".to_string()
}

/// The largest payload the contract accepts, less room for the envelope.
const MAX_PAYLOAD_BYTES: usize = 256 * 1024 - 1024;

/// Reads `<dir>/<name>.toml`, naming the known profiles when it does not exist.
pub fn load_profile(dir: &Path, name: &str) -> anyhow::Result<Profile> {
    let path = dir.join(format!("{name}.toml"));
    if !path.is_file() {
        let known = list_profiles(dir)?.join(", ");
        bail!(
            "no load profile named \"{name}\" in \"{}\"; known profiles: {known}",
            dir.display()
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read load profile \"{}\"", path.display()))?;
    let profile =
        parse_profile(&text).with_context(|| format!("load profile \"{}\"", path.display()))?;
    if profile.name != name {
        bail!(
            "load profile \"{}\" is named \"{}\"; a profile's name must match its file name",
            path.display(),
            profile.name
        );
    }
    Ok(profile)
}

/// The names of the profiles in `dir`, sorted.
pub fn list_profiles(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read load profile directory \"{}\"", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let path: PathBuf = entry.context("cannot list load profiles")?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && let Some(stem) = path.file_stem()
        {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Parses and checks a profile's text.
pub fn parse_profile(text: &str) -> anyhow::Result<Profile> {
    let file: ProfileFile = toml::from_str(text)?;
    let model = match file.model.as_str() {
        "closed" => LoadModelKind::Closed,
        "open" => LoadModelKind::Open,
        other => bail!("model \"{other}\" is unknown; use \"closed\" or \"open\""),
    };
    if file.levels.is_empty() || file.levels.contains(&0) {
        bail!("`levels` must list at least one level, each above 0");
    }
    let pool = match (model, file.pool) {
        (LoadModelKind::Open, Some(pool)) if pool > 0 => pool,
        (LoadModelKind::Open, _) => bail!("an open profile needs `pool`, above 0"),
        (LoadModelKind::Closed, None) => 0,
        (LoadModelKind::Closed, Some(_)) => {
            bail!("`pool` applies only to the open model; the closed model's levels are its users")
        }
    };
    if model == LoadModelKind::Open && file.ramp.is_some() {
        bail!("`ramp` applies only to the closed model; an open profile starts at its full rate");
    }
    if file.organizations == 0 {
        bail!("`organizations` must be at least 1");
    }
    let hold = parse_duration("hold", &file.hold)?;
    if hold.is_zero() {
        bail!("`hold` must be longer than 0s");
    }

    // Checks after parsing have no position in the file, so they name the
    // transaction by its place in the list.
    let transactions = file
        .transactions
        .into_iter()
        .enumerate()
        .map(|(index, transaction)| {
            let kind = transaction.kind.clone();
            check_transaction(transaction)
                .with_context(|| format!("transaction {} (\"{kind}\")", index + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if transactions
        .iter()
        .all(|transaction| transaction.weight == 0)
    {
        bail!("`transactions` must list at least one with a weight above 0");
    }
    let thresholds = file
        .thresholds
        .iter()
        .map(|text| text.parse())
        .collect::<anyhow::Result<Vec<Threshold>>>()?;

    let duration = |field: &str, value: Option<String>, default: Duration| {
        value.map_or(Ok(default), |text| parse_duration(field, &text))
    };
    Ok(Profile {
        name: file.name,
        description: file.description,
        model,
        levels: file.levels,
        pool,
        organizations: file.organizations,
        tier: file.tier,
        requires_rules: file.requires_rules,
        ramp: duration("ramp", file.ramp, Duration::ZERO)?,
        warmup: duration("warmup", file.warmup, Duration::ZERO)?,
        hold,
        drain_deadline: duration(
            "drain_deadline",
            file.drain_deadline,
            Duration::from_secs(10),
        )?,
        transactions,
        thresholds,
    })
}

fn parse_duration(field: &str, text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text)
        .with_context(|| format!("{field} \"{text}\" is not a duration such as \"30s\" or \"2m\""))
}

fn check_transaction(file: TransactionFile) -> anyhow::Result<TransactionSpec> {
    let kind = match file.kind.as_str() {
        "ingest" => {
            let payload_bytes = if file.payload_bytes.is_empty() {
                vec![256]
            } else {
                file.payload_bytes
            };
            if let Some(size) = payload_bytes.iter().find(|size| **size > MAX_PAYLOAD_BYTES) {
                bail!("`payload_bytes` {size} is above the limit of {MAX_PAYLOAD_BYTES}");
            }
            let event_types = if file.event_types.is_empty() {
                vec!["load.event".to_string()]
            } else {
                file.event_types
            };
            TransactionKind::Ingest {
                payload_bytes,
                event_types,
            }
        }
        "inbox" => {
            let page_size = file.page_size.unwrap_or(100);
            if !(1..=1000).contains(&page_size) {
                bail!("`page_size` {page_size} is outside 1..=1000");
            }
            TransactionKind::Inbox {
                page_size,
                pages: file.pages.unwrap_or(1).max(1),
            }
        }
        "ack" => TransactionKind::Ack,
        "duplicate" => TransactionKind::Duplicate,
        "health" => TransactionKind::Health,
        other => bail!(
            "`kind` \"{other}\" is unknown; use \"ingest\", \"inbox\", \"ack\", \"duplicate\" or \"health\""
        ),
    };
    Ok(TransactionSpec {
        kind,
        weight: file.weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &str = r#"
        name = "mixed"
        model = "closed"
        levels = [4, 8]
        ramp = "1s"
        hold = "2s"
        thresholds = ["p99 < 100ms"]
        [[transactions]]
        kind = "ingest"
        weight = 70
        payload_bytes = [128, 4096]
        [[transactions]]
        kind = "inbox"
        weight = 20
        page_size = 50
        pages = 2
        [[transactions]]
        kind = "ack"
        weight = 10
    "#;

    #[test]
    fn a_mixed_profile_reads_with_its_defaults() {
        let profile = parse_profile(MIXED).expect("valid");
        assert_eq!(profile.levels, [4, 8]);
        assert_eq!(profile.organizations, 4);
        assert_eq!(profile.tier, "enterprise");
        assert_eq!(profile.ramp, Duration::from_secs(1));
        assert_eq!(profile.warmup, Duration::ZERO);
        assert_eq!(profile.drain_deadline, Duration::from_secs(10));
        assert_eq!(
            profile.transactions[1].kind,
            TransactionKind::Inbox {
                page_size: 50,
                pages: 2
            }
        );
        assert_eq!(profile.thresholds.len(), 1);
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", parse_profile(text).expect_err("invalid"))
    }

    #[test]
    fn mistakes_say_what_to_fix() {
        let open_without_pool = MIXED.replace("\"closed\"", "\"open\"");
        assert_eq!(
            error_of(&open_without_pool),
            "an open profile needs `pool`, above 0"
        );
        let zero_level = MIXED.replace("[4, 8]", "[0]");
        assert_eq!(
            error_of(&zero_level),
            "`levels` must list at least one level, each above 0"
        );
        let bad_kind = MIXED.replace("\"ack\"", "\"delete\"");
        assert_eq!(
            error_of(&bad_kind),
            "transaction 3 (\"delete\"): `kind` \"delete\" is unknown; \
             use \"ingest\", \"inbox\", \"ack\", \"duplicate\" or \"health\""
        );
        let big = MIXED.replace("4096", "300000");
        assert_eq!(
            error_of(&big),
            "transaction 1 (\"ingest\"): `payload_bytes` 300000 is above the limit of 261120"
        );
    }

    #[test]
    fn shipped_profiles_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/load");
        let names = list_profiles(&dir).expect("listed");
        for wanted in [
            "ci-smoke",
            "ingest-only",
            "mixed",
            "burst",
            "sweep",
            "open-rate",
        ] {
            assert!(
                names.iter().any(|name| name == wanted),
                "{wanted} in {names:?}"
            );
        }
        for name in &names {
            load_profile(&dir, name).unwrap_or_else(|error| panic!("{name}: {error:#}"));
        }
    }
}
