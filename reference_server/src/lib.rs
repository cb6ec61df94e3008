//! The reference server of the Triggers API: the executable form of the
//! contract in `docs/SPEC.md`.
//!
//! # Layout
//!
//! A request enters through [`router`], passes the layers of [`middleware`]
//! (request id, tracing span, metrics, timeout, panic guard) and reaches one
//! handler in [`api`], one file per resource. Authenticated handlers first
//! run the [`auth::Org`] extractor, then read their body with [`body`] and
//! its size limit. Ingest checks [`rate_limit`], then queues the event on the
//! [`store::group_commit`] writer, which stores batches through the
//! [`store::Store`] trait ([`store::sqlite`] for one process, or
//! [`store::postgres`] for replicas sharing a database, by the URL's
//! scheme) and answers each waiter after the commit. The [`delivery`]
//! worker claims due events from the same store and sends signed webhooks.
//!
//! Every failure is an [`error::ApiError`], which renders the JSON error
//! body of SPEC section 12. [`serve`] ties it together: [`connections`]
//! accepts connections under their time and size limits and shuts down
//! gracefully; `main.rs` only parses [`config`] and installs logging.

pub mod api;
pub mod auth;
pub mod body;
pub mod clock;
pub mod config;
pub mod connections;
pub mod delivery;
pub mod error;
pub mod middleware;
pub mod rate_limit;
pub mod store;
pub mod tier;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::config::{Backend, Config, ConfigError};
use crate::delivery::schedule::RetrySchedule;
use crate::delivery::{DeliverySettings, DeliveryWaker, DeliveryWorker};
use crate::rate_limit::IngestLimiter;
use crate::store::group_commit::{GroupCommitWriter, GroupCommitter};
use crate::store::housekeeping::Housekeeping;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

/// What every handler shares. Cloning is cheap: all parts are shared.
#[derive(Clone)]
pub struct AppState {
    /// Reads and the rare writes outside ingest go straight to the store.
    pub store: Arc<dyn Store>,
    /// Ingests go through the group-commit writer instead.
    pub committer: GroupCommitter,
    pub limiter: Arc<IngestLimiter>,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
}

/// Why the server could not start or stopped with a fault.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid configuration")]
    Config(#[from] ConfigError),
    #[error("could not open the database")]
    Storage(#[from] StoreError),
    #[error("the listener failed")]
    Io(#[from] std::io::Error),
    #[error("could not build the webhook client")]
    Delivery(#[from] reqwest::Error),
}

/// A running storage stack: the state for handlers, the writer task that
/// must be drained on shutdown, storage upkeep, and the delivery worker
/// unless disabled.
pub struct Running {
    pub state: AppState,
    pub writer: GroupCommitWriter,
    pub housekeeping: Housekeeping,
    pub delivery: Option<DeliveryWorker>,
}

impl Running {
    /// Opens the storage named by `config` and starts the group-commit
    /// writer and the delivery worker over it.
    pub async fn start(config: Config) -> Result<Self, ServeError> {
        let store: Arc<dyn Store> = match config::check_database_url(&config.database_url)? {
            Backend::Sqlite => Arc::new(SqliteStore::open(&config.database_url).await?),
            Backend::Postgres => Arc::new(PostgresStore::open(&config.database_url).await?),
        };
        let waker = DeliveryWaker::default();
        let (committer, writer) =
            GroupCommitter::start(store.clone(), config.max_batch, waker.clone());

        let delivery = if config.delivery_enabled {
            let settings = DeliverySettings {
                schedule: RetrySchedule::new(config.webhook_retry_schedule.clone()),
                timeout: config.webhook_timeout,
            };
            Some(DeliveryWorker::start(store.clone(), settings, waker)?)
        } else {
            tracing::info!("webhook delivery is disabled");
            None
        };

        let state = AppState {
            store,
            committer,
            limiter: Arc::new(IngestLimiter::default()),
            config: Arc::new(config),
            metrics: api::metrics::handle(),
        };
        Ok(Running {
            housekeeping: Housekeeping::start(state.store.clone()),
            state,
            writer,
            delivery,
        })
    }

    /// Finishes the delivery attempts in flight, stores every queued
    /// ingest and closes the storage.
    pub async fn stop(self) {
        let store = self.state.store.clone();
        drop(self.state);
        if let Some(delivery) = self.delivery {
            delivery.shutdown().await;
        }
        self.housekeeping.shutdown().await;
        self.writer.shutdown().await;
        store.close().await;
    }
}

/// The whole HTTP surface over `state`.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    middleware::apply(api::routes(), timeout).with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then stops accepting,
/// finishes the requests in flight, stores what was queued and closes the
/// storage (DUR-2).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let running = Running::start(config).await?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "listening");

    let app = router(running.state.clone());
    let header_read_timeout = running.state.config.header_read_timeout;
    connections::serve(listener, app, header_read_timeout, shutdown).await;

    tracing::info!("shutting down");
    running.stop().await;
    tracing::info!("stopped");
    Ok(())
}
