//! `GET /metrics`: the origin's metrics ([`crate::metrics`]) in Prometheus' text format, with
//! the queue's depth and lag read from the store when scraped. It answers anyone who can reach
//! the origin unless a token is set (`--metrics-token`, `PICKET_METRICS_TOKEN`); then only
//! `Authorization: Bearer <token>`.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = state.metrics_token.as_deref() {
        let given = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if given.is_none_or(|g| crate::ids::token_digest(g) != crate::ids::token_digest(token)) {
            return (StatusCode::UNAUTHORIZED, "a metrics token is needed\n").into_response();
        }
    }
    let (depth, oldest) = match state.store.queue_stats().await {
        Ok(stats) => stats,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: could not read the queue");
            state.metrics.store_error("metrics");
            (state.queue.waiting(), None)
        }
    };
    let text = state.metrics.render(depth, oldest, chrono::Utc::now().timestamp_millis());
    ([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}
