//! What the router answers by itself, as `{"detail": ...}` JSON: an `/api/0/` path no route
//! has (404), a method the route does not take (405), and a handler's panic (500).

use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Any `/api/0/...` path no route has.
pub async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// A route's path with a method it does not take (axum adds the `Allow` header).
pub async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Answers a panic in an API handler (a bug) with a JSON 500 instead of a dropped connection.
pub fn catch_panic() -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    fn panicked(panic: Box<dyn std::any::Any + Send>) -> Response {
        let what = panic.downcast_ref::<&str>().copied().or(panic.downcast_ref::<String>().map(String::as_str));
        tracing::error!(panic = what.unwrap_or("?"), "an API handler panicked");
        ApiError::Internal.into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(panicked as fn(_) -> _)
}
