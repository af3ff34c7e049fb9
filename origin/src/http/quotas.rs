//! Quotas and DSN key rate limits. Key rate limits follow Sentry's own web API
//! (`PUT /api/0/projects/{org}/{project}/keys/{key_id}/` with `{"rateLimit": {"window", "count"}}`);
//! organization and project quotas, which Sentry keeps internal, get Picket endpoints in the
//! same style: `GET`/`PUT /api/0/organizations/{org}/quotas/` and
//! `/api/0/projects/{org}/{project}/quotas/` with a list of Relay quota objects.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::auth::OrgAuth;
use crate::http::serialize;
use crate::store::{Quota, QuotaOwner};

fn parse_quotas(body: &[u8]) -> Result<Vec<Quota>, ApiError> {
    let quotas: Vec<Quota> =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid quota list: {e}")))?;
    for q in &quotas {
        if q.limit.is_some_and(|l| l > 0) && (q.id.is_none() || q.window.is_none_or(|w| w == 0)) {
            return Err(ApiError::BadRequest("a quota with a limit above 0 needs an id and a window".into()));
        }
    }
    Ok(quotas)
}

pub async fn org_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path(org): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = auth.org(&org)?;
    Ok(Json(
        serde_json::to_value(state.store.quotas(QuotaOwner::Organization(org.id)).await?).expect("quotas serialize"),
    ))
}

pub async fn set_org_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path(org): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let org = auth.org(&org)?;
    let quotas = parse_quotas(&body)?;
    state.store.set_quotas(QuotaOwner::Organization(org.id), &quotas).await?;
    Ok(Json(serde_json::to_value(quotas).expect("quotas serialize")))
}

pub async fn project_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    Ok(Json(
        serde_json::to_value(state.store.quotas(QuotaOwner::Project(project.id)).await?).expect("quotas serialize"),
    ))
}

pub async fn set_project_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let quotas = parse_quotas(&body)?;
    state.store.set_quotas(QuotaOwner::Project(project.id), &quotas).await?;
    Ok(Json(serde_json::to_value(quotas).expect("quotas serialize")))
}

#[derive(Deserialize)]
struct RateLimit {
    window: u64,
    count: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyUpdate {
    /// `null` clears the limit.
    #[serde(default)]
    rate_limit: Option<Option<RateLimit>>,
}

/// `PUT /api/0/projects/{org}/{project}/keys/{key_id}/`, as Sentry's API takes it.
pub async fn update_key(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, key_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let keys = state.store.keys(project.id).await?;
    let key = keys.iter().find(|k| k.id.to_string() == key_id || k.public_key == key_id).ok_or(ApiError::NotFound)?;
    let update: KeyUpdate =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    if let Some(limit) = update.rate_limit {
        let limit = match limit {
            Some(RateLimit { window, count }) if window > 0 => Some((window, count)),
            Some(_) => return Err(ApiError::BadRequest("rateLimit.window must be above 0".into())),
            None => None,
        };
        state.store.set_key_rate_limit(key.id, limit).await?;
    }
    let keys = state.store.keys(project.id).await?;
    let key = keys.iter().find(|k| k.id.to_string() == key_id || k.public_key == key_id).ok_or(ApiError::NotFound)?;
    Ok(Json(serialize::key(key, &crate::http::api::dsn_base(&state, &headers))))
}
