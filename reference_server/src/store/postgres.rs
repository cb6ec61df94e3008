//! The PostgreSQL backend: one shared database for any number of replicas,
//! each with its own pool, group-commit writer and delivery worker.
//!
//! Replicas agree through the database alone: row locks order ingests,
//! unique keys settle duplicates, and leases share out deliveries.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::{
    ClaimRequest, DEDUP_WINDOW_MS, Delivery, DeliveryRecord, Event, EventStatus, InsertOutcome,
    NewEvent, Organization, StatusFilter, Store, StoreError, WebhookConfig,
};
use crate::tier::Tier;

/// How long a request waits for a free connection before storage counts as
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections per replica: the group-commit writer, the delivery worker,
/// housekeeping and the readers of the API share them.
const MAX_CONNECTIONS: u32 = 12;

/// Expired deduplication entries deleted per statement, so a large purge
/// lets ingest batches in between.
const PURGE_CHUNK: i64 = 10_000;

/// How many due events one claim locks before it applies the limit per
/// organisation, as a multiple of the events it may take.
const CLAIM_CANDIDATES_FACTOR: i64 = 4;

const EVENT_COLUMNS: &str = "e.seq, e.id, e.organization_id, e.event_type, e.payload, \
     e.dedup_id, e.status, e.attempts, e.last_error, e.last_response_status, \
     e.next_attempt_at, e.created_at, e.delivered_at";

/// The PostgreSQL store.
///
/// Each event's `seq` counts within its organisation: an ingest
/// transaction locks the organisation's row, numbers its events after the
/// row's `last_seq` and raises it before committing. A second transaction
/// for the same organisation, from any replica, waits on that lock, so
/// within an organisation `seq` order is commit order and inbox cursors
/// never skip an event that commits late.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url`, a `postgres://` or
    /// `postgresql://` URL, and applies the migrations. The migrator holds
    /// a PostgreSQL advisory lock while it works, so replicas that start
    /// together apply each migration once.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

/// Whether PostgreSQL can hold `text`: its text type refuses the NUL
/// character, which no stored id contains, so a lookup by such a value
/// finds nothing without asking.
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

fn organization_from_row(row: &PgRow) -> Result<Organization, StoreError> {
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

fn event_from_row(row: &PgRow) -> Result<Event, StoreError> {
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

/// The state of one organisation of a batch, read under its row lock.
struct Numbering {
    last_seq: i64,
    /// Whether the organisation has a webhook, so its events are scheduled.
    scheduled: bool,
}

/// Locks the rows of every organisation in the batch, in id order so two
/// replicas' batches can never wait on each other in a cycle.
async fn lock_organizations(
    transaction: &mut Transaction<'_, Postgres>,
    events: &[NewEvent],
) -> Result<HashMap<String, Numbering>, StoreError> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.organization_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query(
        "SELECT id, last_seq, webhook_url IS NOT NULL AS scheduled FROM organizations \
         WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut **transaction)
    .await?;

    let mut organizations = HashMap::with_capacity(rows.len());
    for row in &rows {
        let numbering = Numbering {
            last_seq: row.try_get("last_seq")?,
            scheduled: row.try_get("scheduled")?,
        };
        organizations.insert(row.try_get("id")?, numbering);
    }
    Ok(organizations)
}

/// Decides which events of the batch are duplicates, answering for each
/// event the id of the event that already holds its `dedup_id`, if any.
///
/// The first use of a `dedup_id` within the batch claims it in the table
/// (replacing an entry past the window); later uses in the same batch are
/// duplicates of whichever event holds it then. The organisations are
/// locked, so no other transaction changes their entries meanwhile.
async fn check_duplicates(
    transaction: &mut Transaction<'_, Postgres>,
    events: &[NewEvent],
) -> Result<Vec<Option<String>>, StoreError> {
    let mut first_use: HashMap<(&str, &str), usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        if let Some(dedup_id) = &event.dedup_id {
            first_use
                .entry((event.organization_id.as_str(), dedup_id.as_str()))
                .or_insert(index);
        }
    }
    let mut originals = vec![None; events.len()];
    if first_use.is_empty() {
        return Ok(originals);
    }

    let firsts: Vec<&NewEvent> = {
        let mut indexes: Vec<usize> = first_use.values().copied().collect();
        indexes.sort_unstable();
        indexes.into_iter().map(|index| &events[index]).collect()
    };
    let claimed = sqlx::query(
        "INSERT INTO dedup (organization_id, dedup_id, event_id, created_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) \
         ON CONFLICT (organization_id, dedup_id) DO UPDATE \
         SET event_id = EXCLUDED.event_id, created_at = EXCLUDED.created_at \
         WHERE dedup.created_at <= EXCLUDED.created_at - $5 \
         RETURNING organization_id, dedup_id",
    )
    .bind(
        firsts
            .iter()
            .map(|e| e.organization_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        firsts
            .iter()
            .map(|e| e.dedup_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(firsts.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
    .bind(firsts.iter().map(|e| e.created_at).collect::<Vec<_>>())
    .bind(DEDUP_WINDOW_MS)
    .fetch_all(&mut **transaction)
    .await?;
    let mut holders: HashMap<(String, String), String> = HashMap::new();
    for row in &claimed {
        let key: (String, String) = (row.try_get("organization_id")?, row.try_get("dedup_id")?);
        let index = first_use[&(key.0.as_str(), key.1.as_str())];
        holders.insert(key, events[index].id.clone());
    }

    // Entries still inside the window were left alone; their events are
    // the originals.
    let kept: Vec<&NewEvent> = firsts
        .into_iter()
        .filter(|e| {
            let key = (
                e.organization_id.clone(),
                e.dedup_id.clone().unwrap_or_default(),
            );
            !holders.contains_key(&key)
        })
        .collect();
    if !kept.is_empty() {
        let rows = sqlx::query(
            "SELECT d.organization_id, d.dedup_id, d.event_id FROM dedup d \
             JOIN UNNEST($1::text[], $2::text[]) AS k (organization_id, dedup_id) \
               ON d.organization_id = k.organization_id AND d.dedup_id = k.dedup_id",
        )
        .bind(
            kept.iter()
                .map(|e| e.organization_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            kept.iter()
                .map(|e| e.dedup_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut **transaction)
        .await?;
        for row in &rows {
            let key = (row.try_get("organization_id")?, row.try_get("dedup_id")?);
            holders.insert(key, row.try_get("event_id")?);
        }
    }

    for (index, event) in events.iter().enumerate() {
        let Some(dedup_id) = &event.dedup_id else {
            continue;
        };
        let key = (event.organization_id.clone(), dedup_id.clone());
        let holder = holders.get(&key).ok_or_else(|| {
            StoreError::Corrupt(format!("dedup entry \"{dedup_id}\" vanished in its batch"))
        })?;
        if *holder != event.id {
            originals[index] = Some(holder.clone());
        }
    }
    Ok(originals)
}

#[async_trait]
impl Store for PostgresStore {
    async fn organization_create(&self, organization: &Organization) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organizations \
             (id, name, tier, api_key_hash, webhook_url, webhook_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&organization.id)
        .bind(&organization.name)
        .bind(organization.tier.as_str())
        .bind(&organization.api_key_hash)
        .bind(&organization.webhook_url)
        .bind(&organization.webhook_secret)
        .bind(organization.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn organization_by_key_hash(
        &self,
        api_key_hash: &str,
    ) -> Result<Option<Organization>, StoreError> {
        // Read on every request and never cached, so a rotation on one
        // replica locks the old key out of every replica at once.
        let row = sqlx::query(
            "SELECT id, name, tier, api_key_hash, webhook_url, webhook_secret, created_at \
             FROM organizations WHERE api_key_hash = $1",
        )
        .bind(api_key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(organization_from_row).transpose()
    }

    async fn organization_rotate_key(
        &self,
        organization_id: &str,
        api_key_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE organizations SET api_key_hash = $1 WHERE id = $2")
            .bind(api_key_hash)
            .bind(organization_id)
            .execute(&self.pool)
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
             SET webhook_url = $1, webhook_secret = COALESCE(webhook_secret, $2) \
             WHERE id = $3 RETURNING webhook_url, webhook_secret",
        )
        .bind(url)
        .bind(new_secret)
        .bind(organization_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(WebhookConfig {
            url: row.try_get("webhook_url")?,
            secret: row.try_get("webhook_secret")?,
        })
    }

    async fn events_insert(&self, events: &[NewEvent]) -> Result<Vec<InsertOutcome>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let mut organizations = lock_organizations(&mut transaction, events).await?;
        let originals = check_duplicates(&mut transaction, events).await?;

        // Numbering happens here, under the locks, in batch order.
        let mut outcomes = Vec::with_capacity(events.len());
        let mut stored = Vec::with_capacity(events.len());
        for (event, original) in events.iter().zip(originals) {
            if let Some(original_id) = original {
                outcomes.push(InsertOutcome::Duplicate { original_id });
                continue;
            }
            let numbering = organizations
                .get_mut(&event.organization_id)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "organization \"{}\" of a new event does not exist",
                        event.organization_id
                    ))
                })?;
            numbering.last_seq += 1;
            let stored_event = Event {
                seq: numbering.last_seq,
                id: event.id.clone(),
                organization_id: event.organization_id.clone(),
                event_type: event.event_type.clone(),
                payload: event.payload.clone(),
                dedup_id: event.dedup_id.clone(),
                status: EventStatus::Pending,
                attempts: 0,
                last_error: None,
                last_response_status: None,
                next_attempt_at: numbering.scheduled.then_some(event.created_at),
                created_at: event.created_at,
                delivered_at: None,
            };
            stored.push(stored_event.clone());
            outcomes.push(InsertOutcome::Accepted(stored_event));
        }

        if !stored.is_empty() {
            sqlx::query(
                "INSERT INTO events (organization_id, seq, id, event_type, payload, dedup_id, \
                     status, next_attempt_at, created_at) \
                 SELECT o, s, i, t, p, d, 'pending', n, c FROM UNNEST($1::text[], \
                     $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::bigint[], $8::bigint[]) AS u (o, s, i, t, p, d, n, c)",
            )
            .bind(
                stored
                    .iter()
                    .map(|e| e.organization_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(stored.iter().map(|e| e.seq).collect::<Vec<_>>())
            .bind(stored.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
            .bind(
                stored
                    .iter()
                    .map(|e| e.event_type.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                stored
                    .iter()
                    .map(|e| e.payload.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                stored
                    .iter()
                    .map(|e| e.dedup_id.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(stored.iter().map(|e| e.next_attempt_at).collect::<Vec<_>>())
            .bind(stored.iter().map(|e| e.created_at).collect::<Vec<_>>())
            .execute(&mut *transaction)
            .await?;

            let (ids, last_seqs): (Vec<&str>, Vec<i64>) = organizations
                .iter()
                .map(|(id, numbering)| (id.as_str(), numbering.last_seq))
                .unzip();
            sqlx::query(
                "UPDATE organizations o SET last_seq = u.last_seq \
                 FROM UNNEST($1::text[], $2::bigint[]) AS u (id, last_seq) WHERE o.id = u.id",
            )
            .bind(&ids)
            .bind(&last_seqs)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(outcomes)
    }

    async fn event_get(
        &self,
        organization_id: &str,
        event_id: &str,
    ) -> Result<Option<Event>, StoreError> {
        if !storable(event_id) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.organization_id = $1 AND e.id = $2"
        ))
        .bind(organization_id)
        .bind(event_id)
        .fetch_optional(&self.pool)
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
            StatusFilter::All => "TRUE",
            StatusFilter::Undelivered => "e.status <> 'delivered'",
            StatusFilter::Only(_) => "e.status = $4",
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e \
             WHERE e.organization_id = $1 AND e.seq > $2 AND {condition} \
             ORDER BY e.seq LIMIT $3"
        );

        let mut query = sqlx::query(&sql)
            .bind(organization_id)
            .bind(after_seq)
            .bind(i64::from(limit));
        if let StatusFilter::Only(status) = filter {
            query = query.bind(status.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn event_acknowledge(
        &self,
        organization_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<Option<Event>, StoreError> {
        if !storable(event_id) {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "UPDATE events e \
             SET status = 'delivered', delivered_at = COALESCE(e.delivered_at, $1), \
                 next_attempt_at = NULL \
             WHERE e.organization_id = $2 AND e.id = $3 \
             RETURNING {EVENT_COLUMNS}"
        ))
        .bind(now)
        .bind(organization_id)
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn deliveries_claim(&self, claim: &ClaimRequest) -> Result<Vec<Delivery>, StoreError> {
        let mut transaction = self.pool.begin().await?;

        // Scheduled events of organisations without a URL any more have
        // nowhere to go; they stay in the inbox for pulling.
        sqlx::query(
            "UPDATE events SET next_attempt_at = NULL \
             WHERE next_attempt_at <= $1 AND status IN ('pending', 'failed') \
               AND organization_id IN (SELECT id FROM organizations WHERE webhook_url IS NULL)",
        )
        .bind(claim.now)
        .execute(&mut *transaction)
        .await?;

        // SKIP LOCKED lets replicas claim side by side without waiting on
        // each other's candidates; the lease written here keeps every other
        // replica off a claimed event until the attempt is recorded or the
        // lease runs out.
        let rows = sqlx::query(&format!(
            "WITH candidates AS ( \
                 SELECT organization_id, seq, next_attempt_at FROM events \
                 WHERE next_attempt_at <= $1 AND status IN ('pending', 'failed') \
                   AND NOT (organization_id = ANY($2)) \
                 ORDER BY next_attempt_at LIMIT $3 \
                 FOR UPDATE SKIP LOCKED \
             ), ranked AS ( \
                 SELECT organization_id, seq, next_attempt_at, ROW_NUMBER() OVER ( \
                     PARTITION BY organization_id ORDER BY next_attempt_at, seq \
                 ) AS position FROM candidates \
             ), chosen AS ( \
                 SELECT organization_id, seq FROM ranked WHERE position <= $4 \
                 ORDER BY next_attempt_at, seq LIMIT $5 \
             ) \
             UPDATE events e SET next_attempt_at = $6 \
             FROM chosen c, organizations o \
             WHERE e.organization_id = c.organization_id AND e.seq = c.seq \
               AND o.id = e.organization_id \
               AND o.webhook_url IS NOT NULL AND o.webhook_secret IS NOT NULL \
             RETURNING {EVENT_COLUMNS}, o.webhook_url, o.webhook_secret"
        ))
        .bind(claim.now)
        .bind(&claim.excluded_organizations)
        .bind(i64::from(claim.limit) * CLAIM_CANDIDATES_FACTOR)
        .bind(i64::from(claim.per_organization))
        .bind(i64::from(claim.limit))
        .bind(claim.lease_until)
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;

        // RETURNING keeps no order; attempts start oldest event first.
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(Delivery {
                    event: event_from_row(row)?,
                    webhook_url: row.try_get("webhook_url")?,
                    webhook_secret: row.try_get("webhook_secret")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|delivery| (delivery.event.created_at, delivery.event.seq));
        Ok(claimed)
    }

    async fn delivery_record(
        &self,
        event_id: &str,
        record: &DeliveryRecord,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE events \
             SET status = $1, attempts = attempts + 1, last_error = $2, \
                 last_response_status = $3, next_attempt_at = $4, \
                 delivered_at = COALESCE(delivered_at, $5) \
             WHERE id = $6 AND status <> 'delivered'",
        )
        .bind(record.status.as_str())
        .bind(&record.last_error)
        .bind(record.last_response_status)
        .bind(record.next_attempt_at)
        .bind(record.delivered_at)
        .bind(event_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn dedup_purge(&self, created_before: i64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM dedup WHERE ctid IN \
                 (SELECT ctid FROM dedup WHERE created_at <= $1 LIMIT $2)",
            )
            .bind(created_before)
            .bind(PURGE_CHUNK)
            .execute(&self.pool)
            .await?
            .rows_affected();
            purged += deleted;
            if deleted < PURGE_CHUNK as u64 {
                return Ok(purged);
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
