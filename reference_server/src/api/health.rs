//! Health probes (SPEC section 10): the process is up, and storage answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// `GET /health`: the server is serving requests.
pub async fn health_get() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/live`: the process runs.
pub async fn health_live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: storage answers a query. The 503 body carries both
/// the probe's `status` and the error fields of section 12 (OPS-3).
pub async fn health_ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "storage is not ready");
            let body = json!({
                "status": "unavailable",
                "error": "storage is unreachable",
                "code": "unavailable",
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
