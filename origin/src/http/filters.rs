//! Inbound filters through Sentry's own web API: `GET /api/0/projects/{org}/{project}/filters/`,
//! `PUT …/filters/{filter_id}/` with `{"active": true}` (`legacy-browsers` takes
//! `{"subfilters": [...]}`), and the project options `filters:error_messages`,
//! `filters:releases`, `filters:blacklisted_ips` and `filters:ignored_transactions` (one
//! pattern per line) on `PUT /api/0/projects/{org}/{project}/`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::http::auth::OrgAuth;
use crate::http::extract::{parse_json, Body, Path};
use crate::state::AppState;
use crate::store::{FilterChange, FilterSettings, ProjectChanges};

/// The legacy browser subfilters the core knows (see `picket::core::filter`), for the API and
/// the settings page.
pub const LEGACY_BROWSERS: &[&str] = &[
    "default",
    "ie_pre_9",
    "ie9",
    "ie10",
    "ie11",
    "opera_pre_15",
    "opera_mini_pre_8",
    "android_pre_4",
    "safari_pre_6",
    "edge_pre_79",
];

/// A project's inbound filters.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/0/projects/{org}/{project}/filters/", get(list))
        .route("/api/0/projects/{org}/{project}/filters/{filter_id}/", put(update))
}

/// The filters Sentry lists, with whether each is on.
fn listing(s: &FilterSettings) -> Value {
    let legacy: Value = if s.legacy_browsers.is_enabled {
        if s.legacy_browsers.options.is_empty() {
            json!(true)
        } else {
            json!(s.legacy_browsers.options)
        }
    } else {
        json!(false)
    };
    json!([
        { "id": "browser-extensions", "active": s.browser_extensions.is_enabled },
        { "id": "localhost", "active": s.localhost.is_enabled },
        { "id": "legacy-browsers", "active": legacy },
        { "id": "web-crawlers", "active": s.web_crawlers.is_enabled },
    ])
}

async fn list(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    Ok(Json(listing(&state.store.filter_settings(project.id).await?)))
}

/// `PUT …/filters/{filter_id}/`: the change is checked, then written in one transaction.
async fn update(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, filter_id)): Path<(String, String, String)>,
    Body(body): Body,
) -> Result<StatusCode, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let change = filter_change(&filter_id, &parse_json(&body)?)?;
    state.store.update_project(project.id, &ProjectChanges { filters: vec![change], ..Default::default() }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `{"active": ...}` (or, for `legacy-browsers`, `{"subfilters": [...]}`) asks of a filter.
fn filter_change(filter_id: &str, change: &Map<String, Value>) -> Result<FilterChange, ApiError> {
    let active = || change.get("active").and_then(Value::as_bool).ok_or_else(needs_active);
    Ok(match filter_id {
        "browser-extensions" => FilterChange::BrowserExtensions(active()?),
        "localhost" => FilterChange::Localhost(active()?),
        "web-crawlers" => FilterChange::WebCrawlers(active()?),
        "legacy-browsers" => match change.get("subfilters") {
            Some(list) => {
                let list: Vec<String> = serde_json::from_value(list.clone())
                    .map_err(|_| ApiError::BadRequest("subfilters is a list of strings".into()))?;
                if let Some(unknown) = list.iter().find(|s| !LEGACY_BROWSERS.contains(&s.as_str())) {
                    return Err(ApiError::BadRequest(format!("unknown legacy browser subfilter {unknown:?}")));
                }
                FilterChange::LegacyBrowserSubfilters(list)
            }
            None if change.contains_key("active") => FilterChange::LegacyBrowsers(active()?),
            None => return Err(ApiError::BadRequest("send \"active\" or \"subfilters\"".into())),
        },
        _ => return Err(ApiError::NotFound),
    })
}

fn needs_active() -> ApiError {
    ApiError::BadRequest("send {\"active\": true|false}".into())
}

/// The changes Sentry's `filters:*` project options ask for (newline-separated patterns);
/// other options are not Picket's and are ignored.
pub fn option_changes(options: &Map<String, Value>) -> Result<Vec<FilterChange>, ApiError> {
    let mut changes = Vec::new();
    for (key, value) in options {
        let change: fn(Vec<String>) -> FilterChange = match key.as_str() {
            "filters:error_messages" => FilterChange::ErrorMessages,
            "filters:releases" => FilterChange::Releases,
            "filters:blacklisted_ips" => FilterChange::BlacklistedIps,
            "filters:ignored_transactions" => FilterChange::IgnoredTransactions,
            _ => continue,
        };
        let text = value.as_str().ok_or_else(|| ApiError::BadRequest(format!("{key} is a string of lines")))?;
        changes.push(change(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()));
    }
    Ok(changes)
}
