//! Inbound filters through Sentry's own web API: `GET /api/0/projects/{org}/{project}/filters/`,
//! `PUT …/filters/{filter_id}/` with `{"active": true}` (`legacy-browsers` takes
//! `{"subfilters": [...]}`), and the project options `filters:error_messages`,
//! `filters:releases`, `filters:blacklisted_ips` and `filters:ignored_transactions` (one
//! pattern per line) on `PUT /api/0/projects/{org}/{project}/`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::auth::OrgAuth;
use crate::store::FilterSettings;

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

pub async fn list(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    Ok(Json(listing(&state.store.filter_settings(project.id).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, filter_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let change: Map<String, Value> =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    let mut settings = state.store.filter_settings(project.id).await?;
    let active = change.get("active").and_then(Value::as_bool);
    match filter_id.as_str() {
        "browser-extensions" => settings.browser_extensions.is_enabled = active.ok_or_else(needs_active)?,
        "localhost" => settings.localhost.is_enabled = active.ok_or_else(needs_active)?,
        "web-crawlers" => settings.web_crawlers.is_enabled = active.ok_or_else(needs_active)?,
        "legacy-browsers" => {
            let subfilters: Option<Vec<String>> =
                change.get("subfilters").and_then(|v| serde_json::from_value(v.clone()).ok());
            match (subfilters, active) {
                (Some(list), _) => {
                    settings.legacy_browsers.is_enabled = !list.is_empty();
                    settings.legacy_browsers.options = list;
                }
                (None, Some(on)) => settings.legacy_browsers.is_enabled = on,
                (None, None) => return Err(ApiError::BadRequest("send \"active\" or \"subfilters\"".into())),
            }
        }
        _ => return Err(ApiError::NotFound),
    }
    state.store.set_filter_settings(project.id, &settings).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn needs_active() -> ApiError {
    ApiError::BadRequest("send {\"active\": true|false}".into())
}

/// Applies Sentry's `filters:*` project options (newline-separated patterns).
pub fn apply_options(settings: &mut FilterSettings, options: &Map<String, Value>) -> Result<bool, ApiError> {
    let mut changed = false;
    for (key, value) in options {
        let lines = || -> Result<Vec<String>, ApiError> {
            let text = value.as_str().ok_or_else(|| ApiError::BadRequest(format!("{key} is a string of lines")))?;
            Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
        };
        match key.as_str() {
            "filters:error_messages" => settings.error_messages.patterns = lines()?,
            "filters:releases" => settings.releases.releases = lines()?,
            "filters:blacklisted_ips" => settings.client_ips.blacklisted_ips = lines()?,
            "filters:ignored_transactions" => {
                settings.ignore_transactions.patterns = lines()?;
                settings.ignore_transactions.is_enabled = !settings.ignore_transactions.patterns.is_empty();
            }
            _ => continue,
        }
        changed = true;
    }
    Ok(changed)
}
