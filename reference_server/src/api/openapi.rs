//! `GET /openapi.json`: the OpenAPI 3.1 document of the contract (OPS-5),
//! compiled into the binary from `docs/openapi.json`.

use axum::http::header;
use axum::response::IntoResponse;

/// The document as kept in the repository.
pub const OPENAPI_DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// `GET /openapi.json`.
pub async fn openapi_get() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_DOCUMENT,
    )
}
