//! Ingest (`POST /api/events`, SPEC section 5) and reading one event back
//! (`GET /api/events/{id}`).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::event_object::EventObject;
use crate::AppState;
use crate::auth::Org;
use crate::body::{self, TextRule};
use crate::clock;
use crate::error::ApiError;
use crate::rate_limit::Decision;
use crate::store::group_commit::IngestRequest;
use crate::store::{InsertOutcome, Organization};

const TYPE: TextRule = TextRule {
    field: "type",
    max_chars: 255,
};

const DEDUP_ID: TextRule = TextRule {
    field: "dedup_id",
    max_chars: 255,
};

/// `POST /api/events`: stores an event and answers 202 once it is durable.
/// The rate limit is taken before the body is read, so a limited client
/// costs no parsing, and its headers go on every answer (RATE-3).
pub async fn events_create(
    State(state): State<AppState>,
    Org(organization): Org,
    headers: HeaderMap,
    request_body: Body,
) -> Response {
    let decision = state.limiter.check(&organization);
    let mut response = match decision {
        Decision::Limited { limit, retry_after } => {
            ApiError::RateLimited { retry_after, limit }.into_response()
        }
        Decision::Allowed { .. } => ingest(&state, organization, &headers, request_body)
            .await
            .unwrap_or_else(IntoResponse::into_response),
    };

    let (limit, remaining) = match decision {
        Decision::Allowed { limit, remaining } => (limit, remaining),
        Decision::Limited { limit, .. } => (limit, 0),
    };
    let response_headers = response.headers_mut();
    response_headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    response_headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    response
}

async fn ingest(
    state: &AppState,
    organization: Organization,
    headers: &HeaderMap,
    request_body: Body,
) -> Result<Response, ApiError> {
    let bytes = body::read(headers, request_body).await?;
    let object = body::parse_object(&bytes)?;

    // Fields are checked in the order the contract lists them, so the
    // error names the first offending one (ING-5).
    let event_type = TYPE.required(&object)?;
    let payload = match object.get("payload") {
        None => {
            return Err(ApiError::validation(
                "payload",
                "field 'payload' is required",
            ));
        }
        Some(raw) if raw.get().starts_with('{') => raw.get().to_owned(),
        Some(_) => {
            let message = "field 'payload' must be a JSON object";
            return Err(ApiError::validation("payload", message));
        }
    };
    let dedup_id = DEDUP_ID.optional(&object)?;

    let request = IngestRequest {
        organization_id: organization.id,
        event_type,
        payload,
        dedup_id,
    };
    match state.committer.ingest(request).await? {
        InsertOutcome::Accepted(event) => {
            metrics::counter!("triggers_events_ingested_total").increment(1);
            tracing::debug!(event_id = %event.id, "event accepted");
            let answer = json!({
                "id": event.id,
                "status": "accepted",
                "type": event.event_type,
                "dedup_id": event.dedup_id,
                "created_at": clock::format_millis(event.created_at),
            });
            Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
        }
        InsertOutcome::Duplicate { original_id } => Err(ApiError::DuplicateEvent { original_id }),
    }
}

/// `GET /api/events/{id}`: one event of the caller's organisation. An id
/// that does not even decode is as unknown as any other (ING-12).
pub async fn events_get(
    State(state): State<AppState>,
    Org(organization): Org,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<EventObject>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::EventNotFound)?;
    let event = state
        .store
        .event_get(&organization.id, &id)
        .await?
        .ok_or(ApiError::EventNotFound)?;
    Ok(Json(EventObject::try_from(event)?))
}
