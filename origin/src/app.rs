//! The router: ingest (through the shared core), the relay API for signed edges, and the web API.

use axum::routing::{get, post};
use axum::Router;

use crate::http::{api, extract, filters, ingest, items, quotas, relay, stats};
use crate::state::AppState;

/// Builds the origin's router over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/0/", get(api::root))
        .route("/api/0/projects/", get(api::all_projects))
        .route("/api/0/organizations/{org}/projects/", get(api::org_projects))
        .route("/api/0/projects/{org}/{project}/", get(api::project).put(api::update_project))
        .route("/api/0/projects/{org}/{project}/keys/", get(api::keys).post(api::create_key))
        .route("/api/0/projects/{org}/{project}/issues/", get(api::issues).put(api::update_issues))
        .route("/api/0/organizations/{org}/issues/{id}/", get(api::org_issue).put(api::update_org_issue))
        .route("/api/0/organizations/{org}/issues/{id}/events/", get(api::org_issue_events))
        .route("/api/0/projects/{org}/{project}/events/", get(api::events))
        .route("/api/0/projects/{org}/{project}/events/{event_id}/", get(api::event))
        .route(
            "/api/0/projects/{org}/{project}/keys/{key_id}/",
            axum::routing::put(quotas::update_key).delete(quotas::delete_key),
        )
        .route("/api/0/projects/{org}/{project}/filters/", get(filters::list))
        .route("/api/0/projects/{org}/{project}/filters/{filter_id}/", axum::routing::put(filters::update))
        .route("/api/0/projects/{org}/{project}/quotas/", get(quotas::project_quotas).put(quotas::set_project_quotas))
        .route("/api/0/organizations/{org}/quotas/", get(quotas::org_quotas).put(quotas::set_org_quotas))
        .route("/api/0/organizations/{org}/stats_v2/", get(stats::stats_v2))
        .route("/api/0/relays/projectconfigs/", post(relay::project_configs))
        .route("/api/0/relays/outcomes/", post(relay::outcomes))
        .merge(items::routes())
        // The web API answers JSON for what no route takes: unknown paths (404), wrong methods (405).
        .route("/api/0/{*rest}", axum::routing::any(extract::no_route))
        .method_not_allowed_fallback(extract::wrong_method)
        .route_layer(extract::catch_panic())
        // Everything else is judged by the core: ingest endpoints, health checks, and 404s.
        .fallback(ingest::ingest)
        .with_state(state)
}
