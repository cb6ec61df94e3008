//! The group-commit writer: ingests queue here and one task stores them in
//! batches, one transaction and one disk sync per batch.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{InsertOutcome, NewEvent, Store, StoreError};
use crate::clock;
use crate::delivery::DeliveryWaker;

/// How many ingests may wait for the writer before new ones are refused
/// as overload rather than queued without bound.
const QUEUE_CAPACITY: usize = 8_192;

/// An event waiting to be stored, without the id and time that the writer
/// assigns when it stores the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestRequest {
    pub organization_id: String,
    pub event_type: String,
    pub payload: String,
    pub dedup_id: Option<String>,
}

/// Why an ingest was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    /// The queue is full; the client should retry shortly.
    #[error("ingest queue is full")]
    Overloaded,
    /// The storage refused the batch or the writer has stopped.
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Waiter = oneshot::Sender<Result<InsertOutcome, StoreError>>;

/// The sending side of the writer. Cloning it is cheap; every clone feeds
/// the same writer task.
#[derive(Clone)]
pub struct GroupCommitter {
    sender: mpsc::Sender<(IngestRequest, Waiter)>,
}

/// The writer task; [`GroupCommitWriter::shutdown`] drains it.
pub struct GroupCommitWriter {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl GroupCommitter {
    /// Starts the writer task over `store`, storing up to `max_batch`
    /// waiting events per transaction and waking delivery after a batch
    /// that scheduled any.
    pub fn start(
        store: Arc<dyn Store>,
        max_batch: usize,
        waker: DeliveryWaker,
    ) -> (Self, GroupCommitWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stop = CancellationToken::new();
        let writer = write_batches(store, receiver, max_batch, waker, stop.clone());
        let task = tokio::spawn(writer);
        (GroupCommitter { sender }, GroupCommitWriter { stop, task })
    }

    /// Queues the event and waits until its batch has committed. An `Ok`
    /// answer means the event (or the duplicate verdict) is durable.
    pub async fn ingest(&self, request: IngestRequest) -> Result<InsertOutcome, CommitError> {
        let (waiter, answer) = oneshot::channel();
        self.sender
            .try_send((request, waiter))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => CommitError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => {
                    CommitError::Store(StoreError::WriterStopped)
                }
            })?;
        match answer.await {
            Ok(outcome) => Ok(outcome?),
            Err(_) => Err(CommitError::Store(StoreError::WriterStopped)),
        }
    }
}

impl GroupCommitWriter {
    /// Refuses new ingests, stores every one already queued, and waits for
    /// the writer task to end.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "group-commit writer ended abnormally");
        }
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<(IngestRequest, Waiter)>,
    max_batch: usize,
    waker: DeliveryWaker,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        // Closing the receiver refuses new sends but still yields what is
        // queued, which is exactly the drain that shutdown needs.
        let received = tokio::select! {
            received = receiver.recv_many(&mut batch, max_batch) => received,
            () = stop.cancelled(), if !receiver.is_closed() => {
                receiver.close();
                continue;
            }
        };
        if received == 0 {
            break;
        }
        commit_batch(store.as_ref(), &mut batch, &waker).await;
    }
    tracing::debug!("group-commit writer drained");
}

/// Stores one batch and answers each waiter; a failed transaction fails
/// every event of the batch, none of which was stored.
async fn commit_batch(
    store: &dyn Store,
    batch: &mut Vec<(IngestRequest, Waiter)>,
    waker: &DeliveryWaker,
) {
    let now = clock::now_millis();
    let (requests, waiters): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
    let events: Vec<NewEvent> = requests
        .into_iter()
        .map(|request| NewEvent {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: request.organization_id,
            event_type: request.event_type,
            payload: request.payload,
            dedup_id: request.dedup_id,
            created_at: now,
        })
        .collect();
    metrics::histogram!("triggers_group_commit_batch_size").record(events.len() as f64);

    match store.events_insert(&events).await {
        Ok(outcomes) => {
            let scheduled = outcomes.iter().any(|outcome| {
                matches!(outcome, InsertOutcome::Accepted(event) if event.next_attempt_at.is_some())
            });
            if scheduled {
                waker.wake();
            }
            for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
                // A waiter that has gone away (client disconnected or timed
                // out) no longer needs the answer; its event is stored anyway.
                let _ = waiter.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::error!(error = %error, size = events.len(), "group commit failed");
            for waiter in waiters {
                let _ = waiter.send(Err(error.clone()));
            }
        }
    }
}
