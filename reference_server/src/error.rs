//! The one error type of the API and its JSON answer (SPEC section 12).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::store::StoreError;
use crate::store::group_commit::CommitError;

/// Everything that can go wrong while answering a request. The 4xx variants
/// tell the client what to fix; the 5xx ones answer a generic message and
/// their detail is logged once, here.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the X-API-Key header is missing; send the key from POST /api/keys/generate")]
    MissingApiKey,
    #[error("the API key is not valid; it was never issued or has been rotated")]
    InvalidApiKey,
    #[error("the request body is not valid JSON; {0}")]
    InvalidJson(String),
    #[error("the request body must be sent with Content-Type \"application/json\"")]
    UnsupportedMediaType,
    #[error("{message}")]
    Validation {
        /// The first offending field, or `body` when the body is not an object.
        field: &'static str,
        message: String,
    },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("an event with this dedup_id was accepted in the last 24 hours")]
    DuplicateEvent { original_id: String },
    #[error("no event with this id exists for your organization")]
    EventNotFound,
    #[error("the ingest rate limit of {limit} events per minute is used up; retry later")]
    RateLimited {
        /// Whole seconds until a retry can succeed, at least 1.
        retry_after: u64,
        limit: u32,
    },
    #[error("no route matches this path")]
    NotFound,
    #[error("this route does not accept the method")]
    MethodNotAllowed,
    #[error("the server is overloaded or shutting down; retry later")]
    Overloaded,
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error("internal fault; {0}")]
    Internal(String),
}

impl ApiError {
    /// A validation failure of `field`.
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field,
            message: message.into(),
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingApiKey | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::DuplicateEvent { .. } => StatusCode::CONFLICT,
            ApiError::EventNotFound | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(error) if error.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code of section 12.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingApiKey => "missing_api_key",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::DuplicateEvent { .. } => "duplicate_event",
            ApiError::EventNotFound => "event_not_found",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Overloaded => "unavailable",
            ApiError::Storage(error) if error.is_unavailable() => "unavailable",
            ApiError::Storage(_) | ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<CommitError> for ApiError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::Overloaded => ApiError::Overloaded,
            CommitError::Store(error) => ApiError::Storage(error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = Map::new();

        if status.is_server_error() {
            // The cause chain may name files or queries; the client gets a
            // generic sentence and the operator gets the detail, once.
            let source = std::error::Error::source(&self).map(ToString::to_string);
            tracing::error!(error = %self, source, status = status.as_u16(), "request failed");
            let message = match status {
                StatusCode::SERVICE_UNAVAILABLE => "the service is unavailable; retry later",
                _ => "internal server error",
            };
            body.insert("error".into(), json!(message));
        } else {
            body.insert("error".into(), json!(self.to_string()));
        }
        body.insert("code".into(), json!(self.code()));

        match &self {
            ApiError::Validation { field, .. } => {
                body.insert("field".into(), json!(field));
            }
            ApiError::DuplicateEvent { original_id } => {
                body.insert("original_id".into(), json!(original_id));
            }
            ApiError::PayloadTooLarge { limit } => {
                body.insert("limit".into(), json!(limit));
            }
            _ => {}
        }

        let mut response = (status, Json(Value::Object(body))).into_response();
        let retry_after = match &self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(error: ApiError) -> (StatusCode, Option<HeaderValue>, Value) {
        let response = error.into_response();
        let status = response.status();
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("read the body");
        let body = serde_json::from_slice(&bytes).expect("a JSON body");
        (status, retry_after, body)
    }

    // No request can break the database under a running conformance suite,
    // so the choice between 503 and 500 for storage faults is checked here.
    #[tokio::test]
    async fn unreachable_storage_answers_503_with_retry_after() {
        let (status, retry_after, body) = answer(StoreError::WriterStopped.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after, Some(HeaderValue::from(1)));
        assert_eq!(body["code"], "unavailable");
        assert_eq!(body["error"], "the service is unavailable; retry later");
    }

    #[tokio::test]
    async fn other_storage_faults_answer_500_without_their_detail() {
        let fault = StoreError::Corrupt("row 7 of \"/data/triggers.db\"".into());
        let (status, retry_after, body) = answer(fault.into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry_after, None);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("triggers.db"), "{body}");
    }
}
