//! Periodic storage upkeep: deleting deduplication entries past their
//! window, which nothing else would ever remove.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{DEDUP_WINDOW_MS, Store};
use crate::clock;

/// How often expired entries are purged. Expired entries never block an
/// ingest, so the interval only bounds how much space they hold.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// The running upkeep task; [`Housekeeping::shutdown`] stops it.
pub struct Housekeeping {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Housekeeping {
    /// Starts purging on `store` every [`PURGE_INTERVAL`], the first time
    /// right away.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(store, stop.clone()));
        Housekeeping { stop, task }
    }

    /// Stops the task, waiting for a purge in progress.
    pub async fn shutdown(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "housekeeping ended abnormally");
        }
    }
}

async fn run(store: Arc<dyn Store>, stop: CancellationToken) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let created_before = clock::now_millis() - DEDUP_WINDOW_MS;
        match store.dedup_purge(created_before).await {
            Ok(purged) => tracing::debug!(purged, "expired dedup entries purged"),
            Err(error) => tracing::warn!(%error, "purging expired dedup entries failed"),
        }
    }
}
