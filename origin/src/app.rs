//! The router: merges each `http` module's `routes()` and adds what no route takes (JSON 404
//! and 405 under `/api/0/`, a handler's panic as a JSON 500), with ingest as the fallback
//! (timed for `/metrics`), and one layer over everything that logs and counts storage failures.

use axum::extract::State;
use axum::routing::get;
use axum::Router;

use crate::error;
use crate::http::{api, fallback, filters, ingest, items, metrics, quotas, relay, stats};
use crate::state::AppState;
use crate::web;

async fn fallback(State(state): State<AppState>, request: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.method() == axum::http::Method::GET && web::is_page_path(request.uri().path()) {
        return web::no_page(request.uri().clone()).await;
    }
    let started = std::time::Instant::now();
    let path = request.uri().path().to_string();
    let response = ingest::ingest(State(state.clone()), request).await.into_response();
    state.metrics.ingest(&path, response.status().as_u16(), started.elapsed());
    response
}

/// Builds the origin's router over `state`: each module's routes, then what no route takes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(quotas::routes())
        .merge(filters::routes())
        .merge(stats::routes())
        .merge(items::routes())
        .merge(relay::routes())
        .merge(web::routes())
        .route("/metrics", get(metrics::serve))
        // The web API answers JSON for what no route takes: unknown paths (404), wrong methods (405).
        .route("/api/0/{*rest}", axum::routing::any(fallback::no_route))
        .method_not_allowed_fallback(fallback::wrong_method)
        .route_layer(fallback::catch_panic())
        // Everything else is judged by the core: ingest endpoints, health checks, and 404s;
        // but under the UI's prefixes a page answers (a redirect to the slashed URL, or a 404).
        .fallback(fallback)
        // Outermost, so it sees every answer: the one place a storage failure is logged.
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), error::log_causes))
        .with_state(state)
}
