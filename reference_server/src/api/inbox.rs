//! The inbox: an organisation's events, oldest first, paged by an opaque
//! cursor (SPEC section 6).

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::event_object::EventObject;
use crate::AppState;
use crate::auth::Org;
use crate::error::ApiError;
use crate::store::{EventStatus, StatusFilter};

/// The page size without `limit`.
const DEFAULT_LIMIT: u32 = 100;

/// The largest page a client may ask for.
const MAX_LIMIT: u32 = 1_000;

/// Marks cursors this server issued, so a cursor made up by a client (or
/// issued by a future, different scheme) is refused rather than misread.
const CURSOR_PREFIX: &str = "seq:";

/// One page of the inbox.
#[derive(Debug, Serialize)]
pub struct InboxPage {
    pub events: Vec<EventObject>,
    /// Null once no more events match.
    pub next_cursor: Option<String>,
}

/// The checked query of one inbox request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InboxQuery {
    filter: StatusFilter,
    limit: u32,
    after_seq: i64,
}

/// `GET /api/inbox`: the page of events after the cursor. The cursor is
/// the caller's organisation's `seq` of the last event listed, and both
/// backends keep the invariant that makes it gap-free (INBOX-6): within one
/// organisation, an event that commits later has a higher `seq`. SQLite
/// has one writer and a global sequence; PostgreSQL numbers each
/// organisation's events under its row lock, across every replica. A walk
/// therefore never passes an event that is not yet committed.
pub async fn inbox_list(
    State(state): State<AppState>,
    Org(organization): Org,
    uri: Uri,
) -> Result<Json<InboxPage>, ApiError> {
    let query = parse_query(uri.query().unwrap_or_default())?;

    // One extra row tells whether another page follows.
    let mut events = state
        .store
        .events_list(
            &organization.id,
            query.filter,
            query.after_seq,
            query.limit + 1,
        )
        .await?;
    let more = events.len() > query.limit as usize;
    events.truncate(query.limit as usize);

    let next_cursor = match events.last() {
        Some(last) if more => Some(encode_cursor(last.seq)),
        _ => None,
    };
    let events = events
        .into_iter()
        .map(EventObject::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Json(InboxPage {
        events,
        next_cursor,
    }))
}

fn parse_query(query: &str) -> Result<InboxQuery, ApiError> {
    let mut parsed = InboxQuery {
        filter: StatusFilter::Undelivered,
        limit: DEFAULT_LIMIT,
        after_seq: 0,
    };
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "status" => parsed.filter = parse_status(&value)?,
            "limit" => parsed.limit = parse_limit(&value)?,
            "cursor" => parsed.after_seq = decode_cursor(&value)?,
            _ => {}
        }
    }
    Ok(parsed)
}

fn parse_status(value: &str) -> Result<StatusFilter, ApiError> {
    match value {
        "undelivered" => Ok(StatusFilter::Undelivered),
        "all" => Ok(StatusFilter::All),
        other => EventStatus::parse(other)
            .map(StatusFilter::Only)
            .ok_or_else(|| {
                ApiError::validation(
                    "status",
                    format!(
                        "status \"{other}\" is unknown; use pending, delivered, failed, \
                     dead_letter, undelivered or all"
                    ),
                )
            }),
    }
}

fn parse_limit(value: &str) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| {
            ApiError::validation(
                "limit",
                format!("limit \"{value}\" must be an integer from 1 to {MAX_LIMIT}"),
            )
        })
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
}

fn decode_cursor(value: &str) -> Result<i64, ApiError> {
    let invalid = || {
        ApiError::validation(
            "cursor",
            format!("cursor \"{value}\" was not issued by this server; use a next_cursor value"),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix(CURSOR_PREFIX)
        .and_then(|seq| seq.parse::<i64>().ok())
        .filter(|seq| *seq >= 0)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_strangers_are_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        for stranger in ["", "42", "c2VxOg", "c2VxOi0x", "%%%"] {
            let error = decode_cursor(stranger).unwrap_err();
            assert_eq!(error.code(), "validation_failed", "cursor {stranger:?}");
        }
    }
}
