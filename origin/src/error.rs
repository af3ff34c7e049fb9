//! The origin's one error type for its web API, mapped to statuses and `{"detail": ...}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

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
    /// Storage failed; the client may retry.
    Unavailable(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Unavailable(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
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
            ApiError::Unavailable(e) => {
                tracing::error!(error = %e, "storage error");
                (StatusCode::SERVICE_UNAVAILABLE, "storage is unavailable, try again".to_string())
            }
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}
