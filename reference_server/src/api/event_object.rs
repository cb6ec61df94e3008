//! The event object of SPEC section 6, as the inbox and
//! `GET /api/events/{id}` render a stored event.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::clock::format_millis;
use crate::error::ApiError;
use crate::store::{Event, StoreError};

/// An event as the API shows it; `payload` is the client's JSON text,
/// written back unchanged (ING-8).
#[derive(Debug, Serialize)]
pub struct EventObject {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub payload: Box<RawValue>,
    pub dedup_id: Option<String>,
    pub status: &'static str,
    pub attempts: i64,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub last_response_status: Option<i64>,
    pub next_attempt_at: Option<String>,
}

impl TryFrom<Event> for EventObject {
    type Error = ApiError;

    fn try_from(event: Event) -> Result<Self, ApiError> {
        let payload = RawValue::from_string(event.payload).map_err(|error| {
            StoreError::Corrupt(format!("payload of event \"{}\": {error}", event.id))
        })?;
        Ok(EventObject {
            id: event.id,
            event_type: event.event_type,
            payload,
            dedup_id: event.dedup_id,
            status: event.status.as_str(),
            attempts: event.attempts,
            created_at: format_millis(event.created_at),
            delivered_at: event.delivered_at.map(format_millis),
            last_error: event.last_error,
            last_response_status: event.last_response_status,
            next_attempt_at: event.next_attempt_at.map(format_millis),
        })
    }
}
