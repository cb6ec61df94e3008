//! The HTTP routes, one file per resource, and the fallbacks that keep
//! unknown routes and methods inside the JSON error contract (GEN-5).

pub mod ack;
pub mod event_object;
pub mod events;
pub mod health;
pub mod inbox;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod webhook;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::ApiError;

/// Every route of the API, without state or middleware.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/keys/generate", post(keys::keys_generate))
        .route("/api/keys", get(keys::keys_get))
        .route("/api/keys/rotate", post(keys::keys_rotate))
        .route(
            "/api/webhook/config",
            post(webhook::webhook_configure).delete(webhook::webhook_delete),
        )
        .route("/api/events", post(events::events_create))
        .route("/api/events/{id}", get(events::events_get))
        .route("/api/inbox", get(inbox::inbox_list))
        .route("/api/ack/{id}", post(ack::ack_create))
        .route("/health", get(health::health_get))
        .route("/health/live", get(health::health_live))
        .route("/health/ready", get(health::health_ready))
        .route("/metrics", get(metrics::metrics_get))
        .route("/openapi.json", get(openapi::openapi_get))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn route_not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
