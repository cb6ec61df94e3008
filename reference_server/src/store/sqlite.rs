//! The SQLite backend: one writer connection for every change and a pool of
//! readers, in WAL mode with `synchronous=FULL` so a commit is on disk.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::{
    ClaimRequest, DEDUP_WINDOW_MS, Delivery, DeliveryRecord, Event, EventStatus, InsertOutcome,
    NewEvent, Organization, StatusFilter, Store, StoreError, WebhookConfig,
};
use crate::tier::Tier;

/// How long a connection waits on a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a free connection before storage counts as
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Expired deduplication entries deleted per statement, so a large purge
/// lets ingest batches in between.
const PURGE_CHUNK: i64 = 10_000;

/// Readers run in parallel under WAL; a few suffice for two to four cores.
const READ_CONNECTIONS: u32 = 4;

const EVENT_COLUMNS: &str = "seq, id, organization_id, event_type, payload, dedup_id, status, \
     attempts, last_error, last_response_status, next_attempt_at, created_at, delivered_at";

/// The SQLite store. SQLite allows one writer at a time, so every change
/// goes through a single connection and never waits on another writer.
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, a `sqlite://` URL,
    /// and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;

        let readers = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, readers })
    }
}

fn organization_from_row(row: &SqliteRow) -> Result<Organization, StoreError> {
    let tier_name: String = row.try_get("tier")?;
    let tier = Tier::parse(&tier_name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown tier \"{tier_name}\"")))?;
    Ok(Organization {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        tier,
        api_key_hash: row.try_get("api_key_hash")?,
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: row.try_get("webhook_secret")?,
        created_at: row.try_get("created_at")?,
    })
}

fn event_from_row(row: &SqliteRow) -> Result<Event, StoreError> {
    let status_name: String = row.try_get("status")?;
    let status = EventStatus::parse(&status_name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown event status \"{status_name}\"")))?;
    Ok(Event {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        event_type: row.try_get("event_type")?,
        payload: row.try_get("payload")?,
        dedup_id: row.try_get("dedup_id")?,
        status,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        last_response_status: row.try_get("last_response_status")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// Stores one event inside the batch transaction, or names the event that
/// already holds its `dedup_id`.
async fn insert_one(
    transaction: &mut Transaction<'_, Sqlite>,
    event: &NewEvent,
) -> Result<InsertOutcome, StoreError> {
    if let Some(dedup_id) = &event.dedup_id {
        let earlier = sqlx::query(
            "SELECT event_id FROM dedup \
             WHERE organization_id = ? AND dedup_id = ? AND created_at > ?",
        )
        .bind(&event.organization_id)
        .bind(dedup_id)
        .bind(event.created_at - DEDUP_WINDOW_MS)
        .fetch_optional(&mut **transaction)
        .await?;
        if let Some(row) = earlier {
            let original_id = row.try_get("event_id")?;
            return Ok(InsertOutcome::Duplicate { original_id });
        }

        // An entry past the window is replaced, so the dedup_id counts anew.
        sqlx::query(
            "INSERT OR REPLACE INTO dedup (organization_id, dedup_id, event_id, created_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&event.organization_id)
        .bind(dedup_id)
        .bind(&event.id)
        .bind(event.created_at)
        .execute(&mut **transaction)
        .await?;
    }

    // The webhook URL is read in the same transaction, so an event is
    // scheduled exactly when its organisation had a webhook as it was stored.
    let row = sqlx::query(&format!(
        "INSERT INTO events \
         (id, organization_id, event_type, payload, dedup_id, status, next_attempt_at, created_at) \
         SELECT ?, id, ?, ?, ?, 'pending', \
                CASE WHEN webhook_url IS NULL THEN NULL ELSE ? END, ? \
         FROM organizations WHERE id = ? \
         RETURNING {EVENT_COLUMNS}"
    ))
    .bind(&event.id)
    .bind(&event.event_type)
    .bind(&event.payload)
    .bind(&event.dedup_id)
    .bind(event.created_at)
    .bind(event.created_at)
    .bind(&event.organization_id)
    .fetch_optional(&mut **transaction)
    .await?
    .ok_or_else(|| {
        StoreError::Corrupt(format!(
            "organization \"{}\" of a new event does not exist",
            event.organization_id
        ))
    })?;
    Ok(InsertOutcome::Accepted(event_from_row(&row)?))
}

#[async_trait]
impl Store for SqliteStore {
    async fn organization_create(&self, organization: &Organization) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organizations \
             (id, name, tier, api_key_hash, webhook_url, webhook_secret, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&organization.id)
        .bind(&organization.name)
        .bind(organization.tier.as_str())
        .bind(&organization.api_key_hash)
        .bind(&organization.webhook_url)
        .bind(&organization.webhook_secret)
        .bind(organization.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn organization_by_key_hash(
        &self,
        api_key_hash: &str,
    ) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query("SELECT * FROM organizations WHERE api_key_hash = ?")
            .bind(api_key_hash)
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    async fn organization_rotate_key(
        &self,
        organization_id: &str,
        api_key_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE organizations SET api_key_hash = ? WHERE id = ?")
            .bind(api_key_hash)
            .bind(organization_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn webhook_configure(
        &self,
        organization_id: &str,
        url: Option<&str>,
        new_secret: Option<&str>,
    ) -> Result<WebhookConfig, StoreError> {
        let row = sqlx::query(
            "UPDATE organizations \
             SET webhook_url = ?, webhook_secret = COALESCE(webhook_secret, ?) \
             WHERE id = ? RETURNING webhook_url, webhook_secret",
        )
        .bind(url)
        .bind(new_secret)
        .bind(organization_id)
        .fetch_one(&self.writer)
        .await?;
        Ok(WebhookConfig {
            url: row.try_get("webhook_url")?,
            secret: row.try_get("webhook_secret")?,
        })
    }

    async fn events_insert(&self, events: &[NewEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut transaction = self.writer.begin().await?;
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            outcomes.push(insert_one(&mut transaction, event).await?);
        }
        transaction.commit().await?;
        Ok(outcomes)
    }

    async fn event_get(
        &self,
        organization_id: &str,
        event_id: &str,
    ) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE organization_id = ? AND id = ?"
        ))
        .bind(organization_id)
        .bind(event_id)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn events_list(
        &self,
        organization_id: &str,
        filter: StatusFilter,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        let condition = match filter {
            StatusFilter::All => "1 = 1",
            StatusFilter::Undelivered => "status <> 'delivered'",
            StatusFilter::Only(_) => "status = ?",
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE organization_id = ? AND seq > ? AND {condition} \
             ORDER BY seq LIMIT ?"
        );

        let mut query = sqlx::query(&sql).bind(organization_id).bind(after_seq);
        if let StatusFilter::Only(status) = filter {
            query = query.bind(status.as_str());
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn event_acknowledge(
        &self,
        organization_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE events \
             SET status = 'delivered', delivered_at = COALESCE(delivered_at, ?), \
                 next_attempt_at = NULL \
             WHERE organization_id = ? AND id = ? \
             RETURNING {EVENT_COLUMNS}"
        ))
        .bind(now)
        .bind(organization_id)
        .bind(event_id)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn deliveries_claim(&self, claim: &ClaimRequest) -> Result<Vec<Delivery>, StoreError> {
        let mut transaction = self.writer.begin().await?;
        let excluded = serde_json::to_string(&claim.excluded_organizations)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;

        // Scheduled events of organisations without a URL any more have
        // nowhere to go; they stay in the inbox for pulling.
        sqlx::query(
            "UPDATE events SET next_attempt_at = NULL \
             WHERE next_attempt_at <= ? AND status IN ('pending', 'failed') \
               AND organization_id IN (SELECT id FROM organizations WHERE webhook_url IS NULL)",
        )
        .bind(claim.now)
        .execute(&mut *transaction)
        .await?;

        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS}, webhook_url, webhook_secret FROM ( \
                 SELECT e.*, o.webhook_url, o.webhook_secret, ROW_NUMBER() OVER ( \
                     PARTITION BY e.organization_id ORDER BY e.next_attempt_at, e.seq \
                 ) AS position \
                 FROM events e JOIN organizations o ON o.id = e.organization_id \
                 WHERE e.next_attempt_at <= ? AND e.status IN ('pending', 'failed') \
                   AND o.webhook_url IS NOT NULL AND o.webhook_secret IS NOT NULL \
                   AND e.organization_id NOT IN (SELECT value FROM json_each(?)) \
             ) WHERE position <= ? ORDER BY next_attempt_at, seq LIMIT ?"
        ))
        .bind(claim.now)
        .bind(&excluded)
        .bind(i64::from(claim.per_organization))
        .bind(i64::from(claim.limit))
        .fetch_all(&mut *transaction)
        .await?;

        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = event_from_row(row)?;
            sqlx::query("UPDATE events SET next_attempt_at = ? WHERE seq = ?")
                .bind(claim.lease_until)
                .bind(event.seq)
                .execute(&mut *transaction)
                .await?;
            deliveries.push(Delivery {
                event,
                webhook_url: row.try_get("webhook_url")?,
                webhook_secret: row.try_get("webhook_secret")?,
            });
        }
        transaction.commit().await?;
        Ok(deliveries)
    }

    async fn delivery_record(
        &self,
        event_id: &str,
        record: &DeliveryRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE events \
             SET status = ?, attempts = attempts + 1, last_error = ?, \
                 last_response_status = ?, next_attempt_at = ?, \
                 delivered_at = COALESCE(delivered_at, ?) \
             WHERE id = ? AND status <> 'delivered'",
        )
        .bind(record.status.as_str())
        .bind(&record.last_error)
        .bind(record.last_response_status)
        .bind(record.next_attempt_at)
        .bind(record.delivered_at)
        .bind(event_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn dedup_purge(&self, created_before: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM dedup WHERE rowid IN \
                 (SELECT rowid FROM dedup WHERE created_at <= ? LIMIT ?)",
            )
            .bind(created_before)
            .bind(PURGE_CHUNK)
            .execute(&self.writer)
            .await?
            .rows_affected();
            purged += deleted;
            if deleted < PURGE_CHUNK as u64 {
                return Ok(purged);
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, dedup_id: &str, created_at: i64) -> NewEvent {
        NewEvent {
            id: id.into(),
            organization_id: "org".into(),
            event_type: "t".into(),
            payload: "{}".into(),
            dedup_id: Some(dedup_id.into()),
            created_at,
        }
    }

    #[tokio::test]
    async fn purge_removes_only_expired_dedup_entries() {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", directory.path().join("t.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let organization = Organization {
            id: "org".into(),
            name: "org".into(),
            tier: Tier::Free,
            api_key_hash: "hash".into(),
            webhook_url: None,
            webhook_secret: None,
            created_at: 0,
        };
        store.organization_create(&organization).await.unwrap();

        let now = DEDUP_WINDOW_MS * 10;
        let old = event("old", "a", now - DEDUP_WINDOW_MS - 1);
        let fresh = event("fresh", "b", now - 1);
        store.events_insert(&[old, fresh]).await.unwrap();
        assert_eq!(store.dedup_purge(now - DEDUP_WINDOW_MS).await.unwrap(), 1);

        let again = [event("old-again", "a", now), event("fresh-again", "b", now)];
        let outcomes = store.events_insert(&again).await.unwrap();
        assert!(matches!(outcomes[0], InsertOutcome::Accepted(_)));
        let fresh_id = String::from("fresh");
        assert_eq!(
            outcomes[1],
            InsertOutcome::Duplicate {
                original_id: fresh_id
            }
        );
        store.close().await;
    }
}
