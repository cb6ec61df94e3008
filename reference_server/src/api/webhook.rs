//! The webhook target of an organisation and its signing secret (SPEC
//! section 8).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Org;
use crate::body;
use crate::error::ApiError;

/// The longest webhook URL accepted, in characters (HOOK-2).
pub const MAX_URL_CHARS: usize = 2_048;

/// The prefix of signing secrets, as Standard Webhooks names them.
pub const SECRET_PREFIX: &str = "whsec_";

/// Makes a signing secret: the prefix and 32 random bytes in base64.
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// `POST /api/webhook/config`: sets the URL; the secret is made on the
/// first configuration and kept afterwards (HOOK-3).
pub async fn webhook_configure(
    State(state): State<AppState>,
    Org(organization): Org,
    headers: HeaderMap,
    request_body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = body::read(&headers, request_body).await?;
    let object = body::parse_object(&bytes)?;
    let url = parse_url(&object)?;

    let config = state
        .store
        .webhook_configure(&organization.id, Some(&url), Some(&generate_secret()))
        .await?;
    tracing::debug!(organization_id = %organization.id, "webhook configured");
    Ok(Json(json!({
        "webhook_url": config.url,
        "webhook_secret": config.secret,
    })))
}

/// `DELETE /api/webhook/config`: removes the URL, so later events are not
/// delivered by webhook. The secret stays for a later configuration.
pub async fn webhook_delete(
    State(state): State<AppState>,
    Org(organization): Org,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .webhook_configure(&organization.id, None, None)
        .await?;
    tracing::debug!(organization_id = %organization.id, "webhook removed");
    Ok(Json(json!({ "webhook_url": null })))
}

fn parse_url(object: &body::JsonObject) -> Result<String, ApiError> {
    let invalid = |reason: &str| {
        ApiError::validation(
            "webhook_url",
            format!("field 'webhook_url' must be an absolute http or https URL; {reason}"),
        )
    };
    let raw = object
        .get("webhook_url")
        .ok_or_else(|| invalid("it is missing"))?;
    let text: String =
        serde_json::from_str(raw.get()).map_err(|_| invalid("it is not a string"))?;
    if text.chars().count() > MAX_URL_CHARS {
        return Err(invalid("it is longer than 2048 characters"));
    }

    let url = url::Url::parse(&text).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(&format!(
            "the scheme \"{}\" is not allowed",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    Ok(text)
}
