//! The layers every request passes: request id (GEN-4), a tracing span,
//! request metrics, a panic guard and a timeout, the last two answering
//! with the JSON errors of section 12.

use std::any::Any;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// The header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The route label of requests that match no route, so unknown paths
/// cannot grow the metric's label set without bound.
const UNMATCHED_ROUTE: &str = "unmatched";

/// Wraps every route of `routes` in the request layers.
pub fn apply<S>(routes: Router<S>, timeout: Duration) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let layers = ServiceBuilder::new()
        .layer(middleware::map_request(drop_empty_request_id))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(answer_panic))
        .layer(middleware::from_fn(move |request, next| {
            limit_duration(timeout, request, next)
        }));
    routes.layer(layers)
}

/// An empty `X-Request-ID` names nothing, so it counts as absent and the
/// server generates one (GEN-4); echoing it would answer an empty header.
async fn drop_empty_request_id(mut request: Request) -> Request {
    if request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_some_and(|value| value.as_bytes().trim_ascii().is_empty())
    {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned()
}

fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::debug_span!(
        "request",
        method = %request.method(),
        route,
        request_id,
    )
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = route_of(&request);
    let started = Instant::now();

    let response = next.run(request).await;

    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

fn answer_panic(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("a panic without a message"));
    ApiError::Internal(format!("handler panicked: {detail}")).into_response()
}

/// Answers 503 when a request runs past `timeout`. An ingest already queued
/// may still be stored after its client was told 503; a retry with the same
/// `dedup_id` then gets 409 naming it, so nothing is stored twice.
async fn limit_duration(timeout: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Overloaded.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn broken() -> &'static str {
        panic!("broken handler")
    }

    async fn call(path: &str) -> (StatusCode, serde_json::Value) {
        let routes = Router::new().route("/panic", get(broken)).route(
            "/slow",
            get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
        );
        let app = apply(routes, Duration::from_millis(50));
        let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_panic_answers_the_generic_json_500() {
        let (status, body) = call("/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let expected = serde_json::json!({
            "error": "internal server error",
            "code": "internal_error",
        });
        assert_eq!(body, expected);
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_answers_503() {
        let (status, body) = call("/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "unavailable");
    }
}
