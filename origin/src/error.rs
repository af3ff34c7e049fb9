//! The origin's one error type for every handler (web API, relay API, ingest), mapped to a
//! status and `{"detail": ...}` JSON without side effects; a storage failure's cause rides on
//! the response, and [`log_causes`] (one layer over the whole router) logs it once.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Seconds a client is asked to wait before retrying a 503.
const RETRY_AFTER_SECS: &str = "5";

#[derive(Debug)]
pub enum ApiError {
    /// No valid token.
    Unauthorized,
    /// Absent, or not visible to this token's organization.
    NotFound,
    /// No API route has this path.
    NoRoute,
    /// The route exists, but not with this method.
    MethodNotAllowed,
    BadRequest(String),
    /// A body over what the endpoint takes.
    TooLarge,
    /// An edge-only endpoint without a relay signature.
    Unsigned,
    /// A relay signature that is malformed, wrong, stale or replayed.
    BadSignature(String),
    /// Signed by a Relay id the origin does not trust.
    UntrustedRelay,
    /// A request the framework refused, with its status (an unreadable body, say).
    Rejected(StatusCode, String),
    /// A handler panicked (a bug); the panic was caught and logged.
    Internal,
    /// The processing queue is full: nothing was accepted; the client may retry later.
    Busy,
    /// Storage failed: nothing was done; the client may retry.
    Unavailable(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Unavailable(e)
    }
}

impl From<crate::commit::CommitError> for ApiError {
    fn from(e: crate::commit::CommitError) -> Self {
        match e {
            crate::commit::CommitError::Busy => ApiError::Busy,
            crate::commit::CommitError::Failed(e) => ApiError::Unavailable(e),
        }
    }
}

/// Why storage failed, carried on a 503's extensions for [`log_causes`].
#[derive(Clone, Debug)]
pub struct StorageFailure(pub Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut cause = None;
        let (status, detail) = match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Invalid token".to_string()),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "The requested resource does not exist".to_string()),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "no API endpoint has this path".to_string()),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take this method".to_string())
            }
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            ApiError::Rejected(status, why) => (status, why),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large".to_string()),
            ApiError::Unsigned => {
                (StatusCode::UNAUTHORIZED, "this endpoint takes requests signed by a trusted edge".to_string())
            }
            ApiError::BadSignature(why) => (StatusCode::UNAUTHORIZED, why),
            ApiError::UntrustedRelay => (StatusCode::FORBIDDEN, "the relay is not trusted".to_string()),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_string()),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "the origin is busy processing, try again".to_string()),
            ApiError::Unavailable(e) => {
                cause = Some(StorageFailure(Arc::new(e)));
                (StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable, try again".to_string())
            }
        };
        let mut response = (status, Json(json!({ "detail": detail }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        response
    }
}

/// Middleware over the whole router: logs (and counts) the storage failure behind a response, once.
pub async fn log_causes(
    axum::extract::State(metrics): axum::extract::State<Arc<crate::metrics::Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(StorageFailure(e)) = response.extensions().get::<StorageFailure>() {
        metrics.store_error("request");
        tracing::error!(error = %e, "storage is unavailable");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failure_is_a_503_with_retry_after_and_its_cause() {
        let response = ApiError::from(anyhow::anyhow!("disk on fire")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), RETRY_AFTER_SECS);
        let StorageFailure(cause) = response.extensions().get::<StorageFailure>().unwrap();
        assert_eq!(cause.to_string(), "disk on fire");
    }

    #[test]
    fn other_errors_carry_no_cause_and_no_retry_after() {
        for error in [ApiError::NotFound, ApiError::Internal, ApiError::BadRequest("no".into())] {
            let response = error.into_response();
            assert!(response.extensions().get::<StorageFailure>().is_none());
            assert!(response.headers().get(RETRY_AFTER).is_none());
        }
    }
}
