//! The Sentry-shaped web API (`/api/0/...`), enough for `sentry-cli issues list`,
//! `events list` and friends: Bearer tokens, cursor paging with `Link` headers.

use axum::extract::{RawQuery, State};
use axum::http::header::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::http::auth::{bearer, OrgAuth};
use crate::http::extract::{parse_json, Body, Path, Query};
use crate::http::links::{base_url, dsn_base, page, Paging};
use crate::http::serialize;
use crate::state::AppState;
use crate::store::{IssueQuery, IssueSelection, IssueStatus, ProjectChanges, ScrubChanges};

/// Projects, DSN keys (list, create), issues and events.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/0/", get(root))
        .route("/api/0/projects/", get(all_projects))
        .route("/api/0/organizations/{org}/projects/", get(org_projects))
        .route("/api/0/projects/{org}/{project}/", get(project).put(update_project))
        .route("/api/0/projects/{org}/{project}/keys/", get(keys).post(create_key))
        .route("/api/0/projects/{org}/{project}/issues/", get(issues).put(update_issues))
        .route("/api/0/organizations/{org}/issues/{id}/", get(org_issue).put(update_org_issue))
        .route("/api/0/organizations/{org}/issues/{id}/events/", get(org_issue_events))
        .route("/api/0/projects/{org}/{project}/events/", get(events))
        .route("/api/0/projects/{org}/{project}/events/{event_id}/", get(event))
}

/// `GET /api/0/`: who the token is (`auth: null` without a valid one), as Sentry answers.
async fn root(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let auth = match bearer(&headers) {
        Some(token) => OrgAuth::of_token(&state, token).await?,
        None => None,
    };
    let scopes = json!({ "scopes": ["org:read", "project:read", "project:write", "event:read", "event:write"] });
    let user = auth
        .as_ref()
        .and_then(|a| a.user.as_ref())
        .map(|u| json!({ "id": u.id.to_string(), "email": u.email, "username": u.email, "name": u.email }));
    Ok(Json(json!({ "version": "0", "auth": auth.map(|_| scopes), "user": user })))
}

/// Splits a search query into a status filter and free-text words. Without a `query`
/// parameter Sentry lists unresolved issues; an empty one lists all.
fn issue_query(raw: Option<&str>) -> Result<(Option<String>, Vec<String>), ApiError> {
    let raw = raw.unwrap_or("is:unresolved");
    let mut status = None;
    let mut text = Vec::new();
    for token in raw.split_whitespace() {
        match token.strip_prefix("is:") {
            Some(s @ ("unresolved" | "resolved" | "ignored")) => status = Some(s.to_string()),
            Some(other) => return Err(ApiError::BadRequest(format!("unsupported search: is:{other}"))),
            None => text.push(token.to_string()),
        }
    }
    Ok((status, text))
}

/// `GET /api/0/projects/{org}/{project}/`
async fn project(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    Ok(Json(serialize::project_details(&project, auth.org(&org)?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectUpdate {
    allowed_domains: Option<Vec<String>>,
    /// Picket's own field (Relay's project config key): days events are kept.
    event_retention: Option<i64>,
    data_scrubber: Option<bool>,
    data_scrubber_defaults: Option<bool>,
    #[serde(rename = "scrubIPAddresses")]
    scrub_ip_addresses: Option<bool>,
    sensitive_fields: Option<Vec<String>>,
    safe_fields: Option<Vec<String>>,
    /// Sentry's project options; `filters:*` set inbound filter patterns.
    options: Option<serde_json::Map<String, Value>>,
}

impl ProjectUpdate {
    /// The changes this update asks for, or why it is refused (then nothing is written).
    fn changes(self) -> Result<ProjectChanges, ApiError> {
        if let Some(days) = self.event_retention.filter(|d| !(1..=3650).contains(d)) {
            return Err(ApiError::BadRequest(format!("eventRetention is 1 to 3650 days, not {days}")));
        }
        let filters = match &self.options {
            Some(options) => crate::http::filters::option_changes(options)?,
            None => Vec::new(),
        };
        let domains = self
            .allowed_domains
            .map(|list| list.into_iter().map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect::<Vec<_>>());
        Ok(ProjectChanges {
            allowed_domains: domains,
            event_retention_days: self.event_retention,
            scrubbing: ScrubChanges {
                scrub_data: self.data_scrubber,
                scrub_defaults: self.data_scrubber_defaults,
                scrub_ip_addresses: self.scrub_ip_addresses,
                sensitive_fields: self.sensitive_fields,
                exclude_fields: self.safe_fields,
            },
            filters,
        })
    }
}

/// `PUT /api/0/projects/{org}/{project}/` with Sentry's fields: the whole request is checked,
/// then written in one transaction, so a refused request changes nothing.
async fn update_project(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, slug)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &slug).await?;
    let changes = parse_json::<ProjectUpdate>(&body)?.changes()?;
    state.store.update_project(project.id, &changes).await?;
    let project = auth.project(&state, &org, &slug).await?;
    Ok(Json(serialize::project_details(&project, auth.org(&org)?)))
}

async fn issues(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let (status, text) = issue_query(paging.query.as_deref())?;
    let (offset, limit) = (paging.offset()?, paging.limit());
    let query = IssueQuery { status, text, offset, limit: limit + 1 };
    let rows = state.store.issues(project.id, &query).await?;
    let base = base_url(&headers);
    let url = format!("{base}/api/0/projects/{org}/{}/issues/", project.slug);
    let org = auth.org(&org)?;
    page(rows, offset, limit, &url, |i| serialize::issue(i, org, &project, &base))
}

async fn events(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let (offset, limit) = (paging.offset()?, paging.limit());
    let rows = state.store.events(project.id, offset, limit + 1).await?;
    let url = format!("{}/api/0/projects/{org}/{}/events/", base_url(&headers), project.slug);
    page(rows, offset, limit, &url, |e| serialize::event(e, false))
}

async fn event(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, event_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let id = picket::core::EventId::parse(&event_id).ok_or(ApiError::NotFound)?;
    let event = state.store.event(project.id, &id.simple()).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(serialize::event(&event, true)))
}

#[derive(Deserialize)]
struct StatusChange {
    status: String,
}

fn parse_status_change(body: &[u8]) -> Result<IssueStatus, ApiError> {
    let change: StatusChange = parse_json(body)?;
    IssueStatus::parse(&change.status)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown status {:?}", change.status)))
}

/// `PUT /api/0/projects/{org}/{project}/issues/?id=1&id=2` (or `?status=…`, or all) with
/// `{"status": "resolved" | "unresolved" | "ignored"}`, as `sentry-cli issues resolve` sends.
async fn update_issues(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let status = parse_status_change(&body)?;
    let mut ids = Vec::new();
    let mut with_status = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "id" => {
                ids.push(value.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("invalid issue id {value:?}")))?)
            }
            "status" => {
                with_status = Some(
                    IssueStatus::parse(&value)
                        .ok_or_else(|| ApiError::BadRequest(format!("unknown status {value:?}")))?,
                )
            }
            _ => {}
        }
    }
    let which = match (ids.is_empty(), with_status) {
        (false, _) => IssueSelection::Ids(ids),
        (true, Some(s)) => IssueSelection::WithStatus(s),
        (true, None) => IssueSelection::All,
    };
    state.store.set_issue_status(project.id, &which, status).await?;
    Ok(Json(json!({ "status": status.as_str(), "statusDetails": {} })))
}

/// `GET /api/0/organizations/{org}/issues/{id}/`
async fn org_issue(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, id)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (issue, project) = auth.issue(&state, &org, id).await?;
    Ok(Json(serialize::issue(&issue, auth.org(&org)?, &project, &base_url(&headers))))
}

/// `PUT /api/0/organizations/{org}/issues/{id}/` with `{"status": ...}`.
async fn update_org_issue(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, id)): Path<(String, i64)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let (_, project) = auth.issue(&state, &org, id).await?;
    let status = parse_status_change(&body)?;
    state.store.set_issue_status(project.id, &IssueSelection::Ids(vec![id]), status).await?;
    let (issue, project) = auth.issue(&state, &org, id).await?;
    Ok(Json(serialize::issue(&issue, auth.org(&org)?, &project, &base_url(&headers))))
}

/// `GET /api/0/organizations/{org}/issues/{id}/events/`
async fn org_issue_events(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, id)): Path<(String, i64)>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth.issue(&state, &org, id).await?;
    let (offset, limit) = (paging.offset()?, paging.limit());
    let rows = state.store.issue_events(id, offset, limit + 1).await?;
    let url = format!("{}/api/0/organizations/{org}/issues/{id}/events/", base_url(&headers));
    page(rows, offset, limit, &url, |e| serialize::event(e, false))
}

/// `GET /api/0/projects/`: every project the token's organization has.
async fn all_projects(State(state): State<AppState>, auth: OrgAuth) -> Result<Json<Value>, ApiError> {
    let mut all = Vec::new();
    for org in auth.organizations() {
        let projects = state.store.projects(org.id).await?;
        all.extend(projects.iter().map(|p| serialize::project_details(p, org)));
    }
    Ok(Json(Value::Array(all)))
}

/// `GET /api/0/organizations/{org}/projects/`
async fn org_projects(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path(org): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = auth.org(&org)?;
    let projects = state.store.projects(org.id).await?;
    Ok(Json(Value::Array(projects.iter().map(|p| serialize::project_details(p, org)).collect())))
}

/// `GET /api/0/projects/{org}/{project}/keys/`
async fn keys(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let base = dsn_base(&state, &headers);
    let keys = state.store.keys(project.id).await?;
    Ok(Json(Value::Array(keys.iter().map(|k| serialize::key(k, &base)).collect())))
}

#[derive(Deserialize, Default)]
struct NewKey {
    name: Option<String>,
}

/// `POST /api/0/projects/{org}/{project}/keys/` with `{"name": ...}`: 201 and the new key.
async fn create_key(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let new: NewKey = if body.is_empty() { NewKey::default() } else { parse_json(&body)? };
    let label = new.name.unwrap_or_else(|| "Default".to_string());
    let key = state.store.create_key(project.id, &label, &crate::ids::public_key()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(serialize::key(&key, &dsn_base(&state, &headers)))))
}
