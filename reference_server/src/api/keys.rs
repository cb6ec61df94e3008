//! Organisations and their keys: generation (public), the caller's key
//! information, and rotation (SPEC section 3).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{self, Org};
use crate::body::{self, TextRule};
use crate::clock;
use crate::error::ApiError;
use crate::store::Organization;
use crate::tier::Tier;

const ORGANIZATION_NAME: TextRule = TextRule {
    field: "organization_name",
    max_chars: 200,
};

/// `POST /api/keys/generate`: creates an organisation and its first key.
pub async fn keys_generate(
    State(state): State<AppState>,
    headers: HeaderMap,
    request_body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = body::read(&headers, request_body).await?;
    let object = body::parse_object(&bytes)?;
    let name = ORGANIZATION_NAME.required(&object)?;
    let tier = parse_tier(&object)?;

    let api_key = auth::generate_key();
    let organization = Organization {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        tier,
        api_key_hash: auth::hash_key(&api_key),
        webhook_url: None,
        webhook_secret: None,
        created_at: clock::now_millis(),
    };
    state.store.organization_create(&organization).await?;
    tracing::debug!(organization_id = %organization.id, tier = tier.as_str(), "organization created");

    let answer = json!({
        "api_key": api_key,
        "organization_id": organization.id,
        "organization_name": organization.name,
        "tier": tier.as_str(),
        "rate_limit_per_minute": tier.rate_limit_per_minute(),
        "created_at": clock::format_millis(organization.created_at),
    });
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Reads the optional `tier`; absent or `null` means `free`.
fn parse_tier(object: &body::JsonObject) -> Result<Tier, ApiError> {
    let names = Tier::ALL.map(Tier::as_str).join(", ");
    let invalid = || ApiError::validation("tier", format!("field 'tier' must be one of {names}"));
    match object.get("tier").map(|raw| raw.get()) {
        None | Some("null") => Ok(Tier::Free),
        Some(raw) => {
            let name: String = serde_json::from_str(raw).map_err(|_| invalid())?;
            Tier::parse(&name).ok_or_else(invalid)
        }
    }
}

/// `GET /api/keys`: the caller's organisation, never its key.
pub async fn keys_get(Org(organization): Org) -> Json<Value> {
    Json(json!({
        "organization_id": organization.id,
        "organization_name": organization.name,
        "tier": organization.tier.as_str(),
        "rate_limit_per_minute": organization.tier.rate_limit_per_minute(),
        "webhook_url": organization.webhook_url,
        "created_at": clock::format_millis(organization.created_at),
    }))
}

/// `POST /api/keys/rotate`: replaces the caller's key; the old one stops
/// working once this answers. Any request body is ignored.
pub async fn keys_rotate(
    State(state): State<AppState>,
    Org(organization): Org,
) -> Result<Json<Value>, ApiError> {
    let api_key = auth::generate_key();
    state
        .store
        .organization_rotate_key(&organization.id, &auth::hash_key(&api_key))
        .await?;
    tracing::debug!(organization_id = %organization.id, "key rotated");

    Ok(Json(json!({
        "api_key": api_key,
        "organization_id": organization.id,
    })))
}
