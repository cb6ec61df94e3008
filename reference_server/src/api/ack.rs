//! Acknowledgement: the consumer marks an event delivered (SPEC section 7).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Org;
use crate::clock;
use crate::error::ApiError;

/// `POST /api/ack/{id}`: marks the event delivered and cancels any pending
/// delivery. A repeat answers the first acknowledgement's time (ACK-2).
pub async fn ack_create(
    State(state): State<AppState>,
    Org(organization): Org,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::EventNotFound)?;
    let event = state
        .store
        .event_acknowledge(&organization.id, &id, clock::now_millis())
        .await?
        .ok_or(ApiError::EventNotFound)?;
    tracing::debug!(event_id = %event.id, "event acknowledged");

    let acknowledged_at = event.delivered_at.map(clock::format_millis);
    Ok(Json(json!({
        "id": event.id,
        "status": event.status.as_str(),
        "acknowledged_at": acknowledged_at,
    })))
}
