//! Quotas and DSN keys. Keys follow Sentry's own web API:
//! `PUT /api/0/projects/{org}/{project}/keys/{key_id}/` with `name`, `isActive` and
//! `rateLimit` (`{"window", "count"}`), and `DELETE` on the same path;
//! organization and project quotas, which Sentry keeps internal, get Picket endpoints in the
//! same style: `GET`/`PUT /api/0/organizations/{org}/quotas/` and
//! `/api/0/projects/{org}/{project}/quotas/` with a list of Relay quota objects.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::http::auth::OrgAuth;
use crate::http::extract::{parse_json, Body, Path};
use crate::http::links::dsn_base;
use crate::http::serialize;
use crate::state::AppState;
use crate::store::{KeyChanges, KeyRef, ProjectKey, Quota, QuotaOwner};

/// A DSN key (update, delete) and organization and project quotas.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/0/projects/{org}/{project}/keys/{key_id}/", put(update_key).delete(delete_key))
        .route("/api/0/projects/{org}/{project}/quotas/", get(project_quotas).put(set_project_quotas))
        .route("/api/0/organizations/{org}/quotas/", get(org_quotas).put(set_org_quotas))
}

/// A quota list, checked whole before anything is written.
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

async fn org_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path(org): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = auth.org(&org)?;
    Ok(Json(
        serde_json::to_value(state.store.quotas(QuotaOwner::Organization(org.id)).await?).expect("quotas serialize"),
    ))
}

async fn set_org_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path(org): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let org = auth.org(&org)?;
    let quotas = parse_quotas(&body)?;
    state.store.set_quotas(QuotaOwner::Organization(org.id), &quotas).await?;
    Ok(Json(serde_json::to_value(quotas).expect("quotas serialize")))
}

async fn project_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    Ok(Json(
        serde_json::to_value(state.store.quotas(QuotaOwner::Project(project.id)).await?).expect("quotas serialize"),
    ))
}

async fn set_project_quotas(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    Body(body): Body,
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
    name: Option<String>,
    is_active: Option<bool>,
    /// `null` clears the limit; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<RateLimit>>,
}

/// A field that is present, even as `null` (`Some(None)`); serde's default makes absent `None`.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl KeyUpdate {
    /// The changes this update asks for, or why it is refused (then nothing is written).
    fn changes(self) -> Result<KeyChanges, ApiError> {
        let label = match self.name.as_deref().map(str::trim) {
            Some(name) if name.is_empty() || name.chars().count() > 64 => {
                return Err(ApiError::BadRequest("name is 1 to 64 characters".into()))
            }
            name => name.map(str::to_string),
        };
        let fits = |n: u64| i64::try_from(n).is_ok();
        let rate_limit = match self.rate_limit {
            Some(Some(RateLimit { window, count })) if window > 0 && fits(window) && fits(count) => {
                Some(Some((window, count)))
            }
            Some(Some(_)) => {
                return Err(ApiError::BadRequest("rateLimit.window must be above 0, and both below 2^63".into()))
            }
            other => other.map(|_| None),
        };
        Ok(KeyChanges { label, is_active: self.is_active, rate_limit })
    }
}

/// The DSN key `key_id` (numeric id or public key) of the project `org/project`, if the
/// token may see it.
async fn project_key(
    state: &AppState,
    auth: &OrgAuth,
    org: &str,
    project: &str,
    key_id: &str,
) -> Result<ProjectKey, ApiError> {
    let project = auth.project(state, org, project).await?;
    let key = state.store.find_key(KeyRef::parse(key_id)).await?;
    key.filter(|k| k.project_id == project.id).ok_or(ApiError::NotFound)
}

/// `PUT /api/0/projects/{org}/{project}/keys/{key_id}/`, as Sentry's API takes it: the whole
/// request is checked, then written in one transaction.
async fn update_key(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, key_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let key = project_key(&state, &auth, &org, &project, &key_id).await?;
    let changes = parse_json::<KeyUpdate>(&body)?.changes()?;
    let key = state.store.update_key(key.id, &changes).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(serialize::key(&key, &dsn_base(&state, &headers))))
}

/// `DELETE /api/0/projects/{org}/{project}/keys/{key_id}/`: 204; ingest refuses the key from then on.
async fn delete_key(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, key_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let key = project_key(&state, &auth, &org, &project, &key_id).await?;
    if !state.store.delete_key(key.id).await? {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
