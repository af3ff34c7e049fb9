//! What came with events, in Sentry's API shapes: an event's attachments (listed, and
//! downloaded with `?download=1`) and a project's user feedback.

use axum::extract::State;
use axum::http::header::{HeaderMap, HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::http::auth::OrgAuth;
use crate::http::extract::{Path, Query};
use crate::http::links::{base_url, page, Paging};
use crate::http::serialize::iso;
use crate::state::AppState;
use crate::store::{Attachment, Project, UserReport};

/// An event's attachments and a project's user feedback.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/0/projects/{org}/{project}/events/{event_id}/attachments/", get(attachments))
        .route("/api/0/projects/{org}/{project}/events/{event_id}/attachments/{attachment_id}/", get(attachment))
        .route("/api/0/projects/{org}/{project}/user-feedback/", get(user_feedback))
}

/// The project and the plain id of a stored event of it; 404 when either is unknown.
async fn stored_event(
    state: &AppState,
    auth: &OrgAuth,
    (org, project, event_id): (&str, &str, &str),
) -> Result<(Project, String), ApiError> {
    let project = auth.project(state, org, project).await?;
    let id = picket::core::EventId::parse(event_id).ok_or(ApiError::NotFound)?.simple();
    state.store.event(project.id, &id).await?.ok_or(ApiError::NotFound)?;
    Ok((project, id))
}

fn attachment_json(a: &Attachment) -> Value {
    json!({
        "id": a.id.to_string(),
        "event_id": a.event_id,
        "type": a.attachment_type,
        "name": a.name,
        "mimetype": a.content_type,
        "dateCreated": iso(a.received_ms),
        "size": a.size,
        "headers": { "Content-Type": a.content_type },
        "sha1": a.sha1,
    })
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/attachments/`
async fn attachments(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, event_id)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (project, id) = stored_event(&state, &auth, (&org, &project, &event_id)).await?;
    let list = state.store.attachments(project.id, &id).await?;
    Ok(Json(Value::Array(list.iter().map(attachment_json).collect())))
}

#[derive(Deserialize)]
struct Download {
    download: Option<String>,
}

/// `GET .../attachments/{attachment_id}/`: its details, or with `?download=1` its bytes.
async fn attachment(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project, event_id, attachment_id)): Path<(String, String, String, i64)>,
    Query(query): Query<Download>,
) -> Result<Response, ApiError> {
    let (project, id) = stored_event(&state, &auth, (&org, &project, &event_id)).await?;
    let (meta, body) = state.store.attachment(project.id, &id, attachment_id).await?.ok_or(ApiError::NotFound)?;
    if !query.download.as_deref().is_some_and(|d| matches!(d, "1" | "true" | "")) {
        return Ok(Json(attachment_json(&meta)).into_response());
    }
    let content_type =
        HeaderValue::from_str(&meta.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    // The name goes out quoted, with anything that could end the quote or the header replaced.
    let safe: String = meta
        .name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok(([(CONTENT_TYPE, content_type), (CONTENT_DISPOSITION, disposition)], body).into_response())
}

fn report_json(r: &UserReport, project: &Project, org: &str) -> Value {
    let issue = r.issue.as_ref().map(|(id, short, title)| {
        json!({ "id": id.to_string(), "shortId": format!("{}-{short}", project.slug.to_uppercase()), "title": title,
                "project": { "slug": project.slug }, "organization": org })
    });
    json!({
        "id": r.id.to_string(),
        "eventID": r.event_id,
        "name": r.name,
        "email": r.email,
        "comments": r.comments,
        "dateCreated": iso(r.received_ms),
        "user": null,
        "event": { "id": r.event_id, "eventID": r.event_id },
        "issue": issue,
    })
}

/// `GET /api/0/projects/{org}/{project}/user-feedback/`, newest first, with `Link` paging.
async fn user_feedback(
    State(state): State<AppState>,
    auth: OrgAuth,
    Path((org, project)): Path<(String, String)>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = auth.project(&state, &org, &project).await?;
    let (offset, limit) = (paging.offset()?, paging.limit());
    let rows = state.store.user_reports(project.id, offset, limit + 1).await?;
    let url = format!("{}/api/0/projects/{org}/{}/user-feedback/", base_url(&headers), project.slug);
    page(rows, offset, limit, &url, |r| report_json(r, &project, &org))
}
