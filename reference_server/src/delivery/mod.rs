//! Webhook delivery (SPEC section 9): a worker that claims due events from
//! the store, sends signed attempts with bounded concurrency and stores
//! each result with the next attempt's time.
//!
//! The schedule lives in the store, so a restart resumes it (DLV-12). An
//! event is leased while its attempt runs; when the process dies meanwhile,
//! the event is due again once the lease ends, so a receiver may see an
//! attempt twice and must deduplicate by `webhook-id`.

pub mod attempt;
pub mod schedule;
pub mod signing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use self::attempt::AttemptOutcome;
use self::schedule::RetrySchedule;
use crate::clock;
use crate::store::{ClaimRequest, Delivery, DeliveryRecord, EventStatus, Store};

/// Attempts in flight at once across all organisations.
const MAX_IN_FLIGHT: usize = 64;

/// Attempts in flight at once for one organisation, so a slow receiver
/// holds at most this many slots and others keep flowing (DLV-11). A claim
/// skips organisations at the limit, and one claim takes at most this many
/// per organisation, so an organisation never has twice as many in flight.
const MAX_IN_FLIGHT_PER_ORGANIZATION: usize = 8;

/// How often the store is asked for due events when nothing wakes the
/// worker sooner.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How much longer than the attempt timeout a claim's lease lasts.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Settings of the delivery worker.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    pub timeout: Duration,
}

/// The running worker; [`DeliveryWorker::shutdown`] stops it.
pub struct DeliveryWorker {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Wakes the worker when new deliveries may be due, such as after an
/// ingest into an organisation with a webhook.
#[derive(Clone, Default)]
pub struct DeliveryWaker(Arc<Notify>);

impl DeliveryWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Shared bookkeeping of the attempts in flight.
struct InFlight {
    slots: Arc<Semaphore>,
    per_organization: Mutex<HashMap<String, usize>>,
}

impl DeliveryWorker {
    /// Starts the worker over `store`.
    pub fn start(
        store: Arc<dyn Store>,
        settings: DeliverySettings,
        waker: DeliveryWaker,
    ) -> reqwest::Result<Self> {
        let client = attempt::client(settings.timeout)?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(store, settings, client, waker, stop.clone()));
        Ok(DeliveryWorker { stop, task })
    }

    /// Stops claiming and waits for the attempts in flight, each bounded by
    /// the attempt timeout, to finish and be stored.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "delivery worker ended abnormally");
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    settings: DeliverySettings,
    client: reqwest::Client,
    waker: DeliveryWaker,
    stop: CancellationToken,
) {
    let in_flight = Arc::new(InFlight {
        slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        per_organization: Mutex::new(HashMap::new()),
    });
    let settings = Arc::new(settings);
    let mut attempts = JoinSet::new();

    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = waker.0.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
        }
        while attempts.try_join_next().is_some() {}

        let deliveries = match claim(store.as_ref(), &settings, &in_flight).await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::warn!(%error, "claiming deliveries failed");
                continue;
            }
        };
        for delivery in deliveries {
            let Ok(slot) = in_flight.slots.clone().try_acquire_owned() else {
                break;
            };
            let organization = delivery.event.organization_id.clone();
            *lock(&in_flight.per_organization)
                .entry(organization.clone())
                .or_default() += 1;

            let (store, settings, client) = (store.clone(), settings.clone(), client.clone());
            let in_flight = in_flight.clone();
            attempts.spawn(async move {
                deliver(store.as_ref(), &settings, &client, delivery).await;
                release(&in_flight, &organization);
                drop(slot);
            });
        }
    }

    while attempts.join_next().await.is_some() {}
    tracing::debug!("delivery worker stopped");
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps hold plain counts, which a panicking holder cannot leave
    // half-written.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn release(in_flight: &InFlight, organization: &str) {
    let mut counts = lock(&in_flight.per_organization);
    if let Some(count) = counts.get_mut(organization) {
        *count -= 1;
        if *count == 0 {
            counts.remove(organization);
        }
    }
}

async fn claim(
    store: &dyn Store,
    settings: &DeliverySettings,
    in_flight: &InFlight,
) -> Result<Vec<Delivery>, crate::store::StoreError> {
    let free = in_flight.slots.available_permits();
    if free == 0 {
        return Ok(Vec::new());
    }
    let excluded_organizations = lock(&in_flight.per_organization)
        .iter()
        .filter(|(_, count)| **count >= MAX_IN_FLIGHT_PER_ORGANIZATION)
        .map(|(organization, _)| organization.clone())
        .collect();

    let now = clock::now_millis();
    let lease = settings.timeout + LEASE_MARGIN;
    let request = ClaimRequest {
        now,
        lease_until: now + lease.as_millis() as i64,
        limit: free as u32,
        per_organization: MAX_IN_FLIGHT_PER_ORGANIZATION as u32,
        excluded_organizations,
    };
    store.deliveries_claim(&request).await
}

/// Makes one attempt and stores its result.
async fn deliver(
    store: &dyn Store,
    settings: &DeliverySettings,
    client: &reqwest::Client,
    delivery: Delivery,
) {
    let event_id = delivery.event.id.clone();
    let attempts_made = delivery.event.attempts as usize + 1;
    let outcome = attempt::send(client, &delivery).await;
    let now = clock::now_millis();
    tracing::debug!(
        event_id,
        attempt = attempts_made,
        ?outcome,
        "delivery attempted"
    );

    let record = match outcome {
        AttemptOutcome::Delivered { status } => DeliveryRecord {
            status: EventStatus::Delivered,
            last_error: None,
            last_response_status: Some(i64::from(status)),
            next_attempt_at: None,
            delivered_at: Some(now),
        },
        AttemptOutcome::Gone => DeliveryRecord {
            status: EventStatus::DeadLetter,
            last_error: Some(String::from(
                "the receiver answered 410 Gone; no more attempts",
            )),
            last_response_status: Some(410),
            next_attempt_at: None,
            delivered_at: None,
        },
        AttemptOutcome::Failed {
            status,
            error,
            retry_after,
        } => {
            let next = settings.schedule.next_delay(attempts_made, retry_after);
            DeliveryRecord {
                status: if next.is_some() {
                    EventStatus::Failed
                } else {
                    EventStatus::DeadLetter
                },
                last_error: Some(error),
                last_response_status: status.map(i64::from),
                next_attempt_at: next.map(|delay| now + delay.as_millis() as i64),
                delivered_at: None,
            }
        }
    };
    if let Err(error) = store.delivery_record(&event_id, &record).await {
        // The lease makes the event due again, so the attempt is repeated
        // rather than lost.
        tracing::warn!(event_id, %error, "storing a delivery result failed");
    }
}
