//! The storage contract: what the API needs from a database, independent of
//! which database holds it.

pub mod group_commit;
pub mod housekeeping;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::tier::Tier;

/// How long a `dedup_id` blocks a repeat within one organisation (ING-9).
/// Expired entries are replaced when their `dedup_id` comes back and
/// purged by [`housekeeping`] otherwise.
pub const DEDUP_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A fault of the storage itself; never caused by client input.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached in time or the connection broke.
    #[error("storage unreachable")]
    Unreachable(#[source] Arc<sqlx::Error>),
    /// A query failed for another reason.
    #[error("storage query failed")]
    Query(#[source] Arc<sqlx::Error>),
    /// The schema migrations could not be applied at start-up.
    #[error("storage migration failed")]
    Migration(#[source] Arc<sqlx::migrate::MigrateError>),
    /// A stored row holds a value the server never writes.
    #[error("stored row is corrupt; {0}")]
    Corrupt(String),
    /// The group-commit writer has stopped, so nothing more can be stored.
    #[error("storage writer has stopped")]
    WriterStopped,
}

impl StoreError {
    /// Whether the fault is one of reaching the storage, which the API
    /// answers with 503 rather than 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unreachable(_) | StoreError::WriterStopped)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unreachable(Arc::new(error))
            }
            other => StoreError::Query(Arc::new(other)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(Arc::new(error))
    }
}

/// An organisation, the tenant that owns keys, events and a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub tier: Tier,
    /// Lowercase hex SHA-256 of the current API key; the key itself is
    /// never stored.
    pub api_key_hash: String,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// The webhook target of an organisation after a configuration change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: Option<String>,
    /// Kept across URL changes and removal once created (HOOK-3).
    pub secret: Option<String>,
}

/// The delivery state of an event as the inbox names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventStatus {
    Pending,
    Delivered,
    Failed,
    DeadLetter,
}

impl EventStatus {
    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Delivered => "delivered",
            EventStatus::Failed => "failed",
            EventStatus::DeadLetter => "dead_letter",
        }
    }

    /// The status named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(EventStatus::Pending),
            "delivered" => Some(EventStatus::Delivered),
            "failed" => Some(EventStatus::Failed),
            "dead_letter" => Some(EventStatus::DeadLetter),
            _ => None,
        }
    }
}

/// Which events an inbox listing selects (INBOX-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every status except `delivered`.
    Undelivered,
    All,
    Only(EventStatus),
}

/// An event ready to be stored; the group-commit writer fills in the id and
/// time just before the transaction that stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub organization_id: String,
    pub event_type: String,
    /// The payload's JSON text exactly as the client sent it (ING-8).
    pub payload: String,
    pub dedup_id: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A stored event with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The storage order within the organisation; inbox cursors page by
    /// it. It grows in commit order per organisation, but may be global
    /// (SQLite) or counted per organisation (PostgreSQL).
    pub seq: i64,
    pub id: String,
    pub organization_id: String,
    pub event_type: String,
    pub payload: String,
    pub dedup_id: Option<String>,
    pub status: EventStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub last_response_status: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// What happened to one event of a stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored and committed.
    Accepted(Event),
    /// Not stored: the organisation used the `dedup_id` within the window
    /// for the event `original_id`.
    Duplicate { original_id: String },
}

/// An event claimed for one delivery attempt, with its organisation's
/// webhook target as it stands at the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event: Event,
    pub webhook_url: String,
    /// The `whsec_` secret; every organisation with a URL has one.
    pub webhook_secret: String,
}

/// Which due events one claim may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Events due at or before this time (Unix milliseconds) are taken.
    pub now: i64,
    /// Claimed events are due again at this time, so an attempt lost to a
    /// crash is retried once the lease runs out (DLV-12).
    pub lease_until: i64,
    /// The most events to take.
    pub limit: u32,
    /// The most events to take for any one organisation.
    pub per_organization: u32,
    /// Organisations to skip, such as those at their concurrency limit.
    pub excluded_organizations: Vec<String>,
}

/// The result of one delivery attempt, as stored on the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `delivered`, `failed` (another attempt is due) or `dead_letter`.
    pub status: EventStatus,
    pub last_error: Option<String>,
    pub last_response_status: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
}

/// The storage behind the API. Every method is one transaction, so a
/// method that returns `Ok` has committed durably.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new organisation with the hash of its first key.
    async fn organization_create(&self, organization: &Organization) -> Result<(), StoreError>;

    /// The organisation whose current key hashes to `api_key_hash`.
    async fn organization_by_key_hash(
        &self,
        api_key_hash: &str,
    ) -> Result<Option<Organization>, StoreError>;

    /// Replaces the organisation's key hash, so the old key stops working
    /// as soon as this returns.
    async fn organization_rotate_key(
        &self,
        organization_id: &str,
        api_key_hash: &str,
    ) -> Result<(), StoreError>;

    /// Sets or clears the webhook URL. `new_secret` is stored only when the
    /// organisation has no secret yet; the answer holds the secret in force.
    async fn webhook_configure(
        &self,
        organization_id: &str,
        url: Option<&str>,
        new_secret: Option<&str>,
    ) -> Result<WebhookConfig, StoreError>;

    /// Stores a batch of events in one transaction, checking each
    /// `dedup_id` inside it, and answers one outcome per event in order.
    /// Events of organisations with a webhook are scheduled for delivery
    /// at their creation time.
    async fn events_insert(&self, events: &[NewEvent]) -> Result<Vec<InsertOutcome>, StoreError>;

    /// One event of one organisation.
    async fn event_get(
        &self,
        organization_id: &str,
        event_id: &str,
    ) -> Result<Option<Event>, StoreError>;

    /// Up to `limit` events of one organisation with `seq` above
    /// `after_seq`, oldest first. Cursor walks stay gap-free only while,
    /// within one organisation, `seq` grows in commit order: SQLite's
    /// single writer ensures it for its global sequence, and PostgreSQL
    /// numbers each organisation's events under that organisation's row
    /// lock.
    async fn events_list(
        &self,
        organization_id: &str,
        filter: StatusFilter,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;

    /// Marks the event delivered at `now` unless it already is, cancels any
    /// due delivery, and answers the event as stored afterwards.
    async fn event_acknowledge(
        &self,
        organization_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<Option<Event>, StoreError>;

    /// Takes due deliveries and leases them. Due events whose organisation
    /// no longer has a webhook URL are unscheduled instead.
    async fn deliveries_claim(&self, claim: &ClaimRequest) -> Result<Vec<Delivery>, StoreError>;

    /// Stores the result of an attempt and counts it, unless the event was
    /// acknowledged meanwhile: an acknowledgement always wins (ACK-4).
    async fn delivery_record(
        &self,
        event_id: &str,
        record: &DeliveryRecord,
    ) -> Result<(), StoreError>;

    /// Deletes deduplication entries created at or before `created_before`
    /// and answers how many went.
    async fn dedup_purge(&self, created_before: i64) -> Result<u64, StoreError>;

    /// Checks that the storage answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Waits for open connections to finish and closes them.
    async fn close(&self);
}
