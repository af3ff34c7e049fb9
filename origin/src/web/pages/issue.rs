//! One issue: `GET /organizations/{org}/issues/{id}/` (its latest event), `.../events/latest/`
//! and `.../events/{event_id}/` (a chosen one) show the issue's header and the event in full;
//! `POST /organizations/{org}/issues/{id}/` changes its status; `.../events/{event_id}/json/`
//! is the stored event as JSON and `.../attachments/{attachment_id}/` downloads a file, both
//! under the session. Another organization's issue, or an event of another issue, is a 404.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::{back_to, member, now_ms, see_other};
use crate::model::{Attachment, Event, Issue, IssueStatus, Organization, Project, UserReport};
use crate::state::AppState;
use crate::web::view::event::{event_view, raw_json, EventView};
use crate::web::view::text::{bytes, clip, count, When};
use crate::web::{render, Chrome, CsrfForm, PageError, Viewer};

/// The most of the stored JSON the page itself shows; the JSON route has all of it.
const RAW_MAX: usize = 200_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/organizations/{org}/issues/{id}/", get(latest).post(set_status))
        .route("/organizations/{org}/issues/{id}/events/{event_id}/", get(chosen))
        .route("/organizations/{org}/issues/{id}/events/{event_id}/json/", get(json))
        .route("/organizations/{org}/issues/{id}/events/{event_id}/attachments/{attachment_id}/", get(download))
}

/// The issue's header.
pub struct Header {
    pub id: i64,
    pub short_id: String,
    pub project: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub status: String,
    pub substatus: String,
    pub count: String,
    pub users: String,
    pub reports: String,
    pub first_seen: When,
    pub last_seen: When,
}

pub fn header(issue: &Issue, project: &Project, now: i64) -> Header {
    Header {
        id: issue.id,
        short_id: format!("{}-{}", project.slug.to_uppercase(), issue.short_id_number),
        project: project.slug.clone(),
        title: clip(&issue.title, 500),
        culprit: clip(&issue.culprit, 500),
        level: issue.level.clone(),
        status: issue.status.clone(),
        substatus: issue.substatus.clone(),
        count: count(issue.times_seen.max(0) as u64),
        users: count(issue.user_count.max(0) as u64),
        reports: count(issue.user_report_count.max(0) as u64),
        first_seen: When::new(now, issue.first_seen_ms),
        last_seen: When::new(now, issue.last_seen_ms),
    }
}

pub struct AttachmentRow {
    pub href: String,
    pub name: String,
    pub content_type: String,
    pub size: String,
    pub kind: String,
}

pub struct Feedback {
    pub name: String,
    pub email: String,
    pub comments: String,
    pub when: When,
}

/// The event shown, with what surrounds it.
pub struct EventPart {
    pub id: String,
    pub when: When,
    pub platform: String,
    pub view: EventView,
    pub attachments: Vec<AttachmentRow>,
    pub feedback: Vec<Feedback>,
    pub older: Option<String>,
    pub newer: Option<String>,
    pub json_href: String,
    pub raw: String,
}

#[derive(Template)]
#[template(path = "issue.html")]
pub struct IssuePage {
    pub chrome: Chrome,
    pub org: String,
    pub issue: Header,
    pub event: Option<EventPart>,
    /// This page's URL, for the status form to come back to.
    pub here: String,
}

/// Builds the event part from stored records (no storage access: testable with fixtures).
#[allow(clippy::too_many_arguments)]
pub fn event_part(
    org: &str,
    issue_id: i64,
    event: &Event,
    attachments: &[Attachment],
    reports: &[UserReport],
    (older, newer): (Option<String>, Option<String>),
    now: i64,
) -> EventPart {
    let base = format!("/organizations/{org}/issues/{issue_id}/events");
    let id = &event.event_id;
    EventPart {
        id: id.clone(),
        when: When::new(now, event.timestamp_ms),
        platform: event.platform.clone().unwrap_or_default(),
        view: event_view(&event.payload),
        attachments: attachments
            .iter()
            .map(|a| AttachmentRow {
                href: format!("{base}/{id}/attachments/{}/", a.id),
                name: clip(&a.name, 300),
                content_type: clip(&a.content_type, 200),
                size: bytes(a.size),
                kind: a.attachment_type.clone(),
            })
            .collect(),
        feedback: reports
            .iter()
            .map(|r| Feedback {
                name: clip(&r.name, 200),
                email: clip(&r.email, 200),
                comments: clip(&r.comments, 10_000),
                when: When::new(now, r.received_ms),
            })
            .collect(),
        older: older.map(|e| format!("{base}/{e}/")),
        newer: newer.map(|e| format!("{base}/{e}/")),
        json_href: format!("{base}/{id}/json/"),
        raw: raw_json(&event.payload, RAW_MAX),
    }
}

/// The issue, if the viewer's organization has it.
async fn find_issue(state: &AppState, org: &Organization, id: &str) -> Result<(Issue, Project), PageError> {
    let id: i64 = id.parse().map_err(|_| PageError::NotFound)?;
    state.store.issue(org.id, id).await?.ok_or(PageError::NotFound)
}

/// The issue's event `event_id` (`latest` for the newest); 404 if it belongs to another issue.
async fn find_event(state: &AppState, issue: &Issue, event_id: &str) -> Result<Option<Event>, PageError> {
    if event_id == "latest" {
        return Ok(state.store.issue_events(issue.id, 0, 1).await?.into_iter().next());
    }
    let id = picket::core::EventId::parse(event_id).ok_or(PageError::NotFound)?;
    match state.store.event(issue.project_id, &id.simple()).await? {
        Some(e) if e.issue_id == issue.id => Ok(Some(e)),
        _ => Err(PageError::NotFound),
    }
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    org: &str,
    id: &str,
    event_id: &str,
) -> Result<Html<String>, PageError> {
    let (_, organization) = member(viewer, org)?;
    let (issue, project) = find_issue(state, organization, id).await?;
    let event = find_event(state, &issue, event_id).await?;
    let now = now_ms();
    let event = match event {
        Some(e) => {
            let attachments = state.store.attachments(project.id, &e.event_id).await?;
            let reports = state.store.event_user_reports(project.id, &e.event_id).await?;
            let near = state.store.neighbour_events(project.id, &e.event_id).await?;
            Some(event_part(org, issue.id, &e, &attachments, &reports, near, now))
        }
        None => None,
    };
    let here = match event_id {
        "latest" => format!("/organizations/{org}/issues/{}/", issue.id),
        e => format!("/organizations/{org}/issues/{}/events/{}/", issue.id, super::enc(e)),
    };
    let page = IssuePage {
        chrome: viewer.chrome(clip(&issue.title, 80), Some(org), "issues"),
        org: org.to_string(),
        issue: header(&issue, &project, now),
        event,
        here,
    };
    render(&page)
}

async fn latest(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, id)): Path<(String, String)>,
) -> Result<Html<String>, PageError> {
    page(&state, &viewer, &org, &id, "latest").await
}

async fn chosen(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, id, event_id)): Path<(String, String, String)>,
) -> Result<Html<String>, PageError> {
    page(&state, &viewer, &org, &id, &event_id).await
}

/// The stored event as JSON (pretty-printed), for the viewer's session.
async fn json(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, id, event_id)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let (issue, _) = find_issue(&state, organization, &id).await?;
    let event = find_event(&state, &issue, &event_id).await?.ok_or(PageError::NotFound)?;
    let body = serde_json::to_string_pretty(&event.payload).unwrap_or_default();
    Ok(([(CONTENT_TYPE, "application/json"), (X_CONTENT_TYPE_OPTIONS, "nosniff")], body).into_response())
}

/// `Content-Disposition: attachment` with a plain-ASCII name (quotes and controls replaced).
pub fn disposition(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect();
    let safe = if safe.trim().is_empty() { "attachment".to_string() } else { clip(&safe, 200) };
    format!("attachment; filename=\"{safe}\"")
}

async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, id, event_id, attachment_id)): Path<(String, String, String, String)>,
) -> Result<Response, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let (issue, project) = find_issue(&state, organization, &id).await?;
    let event = find_event(&state, &issue, &event_id).await?.ok_or(PageError::NotFound)?;
    let attachment_id: i64 = attachment_id.parse().map_err(|_| PageError::NotFound)?;
    let (attachment, body) =
        state.store.attachment(project.id, &event.event_id, attachment_id).await?.ok_or(PageError::NotFound)?;
    // Always a download, never shown inline: the bytes are whatever an SDK sent.
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (CONTENT_DISPOSITION, disposition(&attachment.name)),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct StatusForm {
    pub status: String,
    pub next: Option<String>,
}

async fn set_status(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
    CsrfForm { viewer, form }: CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let (issue, _) = find_issue(&state, organization, &id).await?;
    let status = IssueStatus::parse(&form.status).ok_or_else(|| PageError::BadRequest("Unknown status.".into()))?;
    state.store.set_organization_issue_status(organization.id, &[issue.id], status).await?;
    let fallback = format!("/organizations/{org}/issues/{}/", issue.id);
    Ok(see_other(&back_to(form.next.as_deref(), &fallback, &fallback)))
}

#[cfg(test)]
#[path = "issue_tests.rs"]
mod tests;
