//! `GET /organizations/{org}/issues/`: the organization's issues across its projects (Sentry's
//! `query` syntax: `is:unresolved|resolved|ignored` and words in the title; `project`; `cursor`
//! as an offset), each with a sparkline of events per hour over the last 24 hours from one
//! query for the whole page; `POST /organizations/{org}/issues/bulk/` resolves, ignores or
//! unresolves the checked issues and goes back to the list.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{back_to, enc, member, now_ms, query, see_other};
use crate::model::{Issue, IssueQuery, IssueStatus, Project};
use crate::state::AppState;
use crate::web::view::svg::{sparkline, Sparkline, SPARK_H, SPARK_W};
use crate::web::view::text::{clip, count, When};
use crate::web::{render, Chrome, CsrfForm, PageError, Viewer};

/// Issues per page.
pub const PAGE: usize = 25;
const HOUR_MS: i64 = 3_600_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/organizations/{org}/issues/", get(list))
        .route("/organizations/{org}/issues/bulk/", post(bulk))
}

#[derive(Deserialize, Default)]
pub struct ListParams {
    pub query: Option<String>,
    pub project: Option<String>,
    pub cursor: Option<String>,
}

/// A search as the list reads it: status, words, the text of the search box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    pub status: Option<IssueStatus>,
    pub words: Vec<String>,
    /// An `is:` the list does not know, to say so on the page.
    pub unknown: Option<String>,
}

/// Parses Sentry's issue search (`is:unresolved` when absent; an empty query lists all).
pub fn parse_search(raw: Option<&str>) -> Search {
    let mut search = Search { status: None, words: Vec::new(), unknown: None };
    for token in raw.unwrap_or("is:unresolved").split_whitespace().take(20) {
        match token.strip_prefix("is:") {
            Some(s) => match IssueStatus::parse(s) {
                Some(status) => search.status = Some(status),
                None => search.unknown = Some(clip(token, 50)),
            },
            None => search.words.push(clip(token, 200)),
        }
    }
    search
}

/// A cursor as an offset: `25`, or Sentry's `0:25:0`.
pub fn parse_cursor(raw: Option<&str>) -> Result<usize, PageError> {
    let Some(c) = raw.filter(|c| !c.is_empty()) else { return Ok(0) };
    let offset = if c.contains(':') { c.split(':').nth(1).unwrap_or("") } else { c };
    offset
        .parse::<usize>()
        .ok()
        .filter(|o| *o <= i64::MAX as usize / 2)
        .ok_or_else(|| PageError::BadRequest(format!("Bad cursor: {}", clip(c, 40))))
}

pub struct IssueRow {
    pub id: i64,
    pub short_id: String,
    pub project: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub status: String,
    pub count: String,
    pub users: String,
    pub first_seen: When,
    pub last_seen: When,
    pub spark: Sparkline,
}

/// A project in the filter's `<select>`.
pub struct ProjectOption {
    pub id: i64,
    pub slug: String,
    pub selected: bool,
}

pub struct Tab {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "issues.html")]
pub struct IssuesPage {
    pub chrome: Chrome,
    pub org: String,
    pub query: String,
    pub project: Option<i64>,
    pub projects: Vec<ProjectOption>,
    pub tabs: Vec<Tab>,
    pub rows: Vec<IssueRow>,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// This page's URL, for forms to come back to.
    pub here: String,
    pub notice: Option<String>,
    pub spark_w: f64,
    pub spark_h: f64,
}

/// Counts per hour for each issue over the 24 buckets starting at `from_ms`.
pub fn hourly(counts: &[(i64, i64, u64)], from_ms: i64) -> HashMap<i64, Vec<u64>> {
    let mut out: HashMap<i64, Vec<u64>> = HashMap::new();
    for &(issue, bucket, n) in counts {
        let slot = (bucket.saturating_sub(from_ms) / HOUR_MS) as usize;
        let series = out.entry(issue).or_insert_with(|| vec![0; 24]);
        if let Some(s) = series.get_mut(slot) {
            *s = s.saturating_add(n);
        }
    }
    out
}

/// A row of the list.
pub fn row(issue: &Issue, project: Option<&Project>, hours: Option<&Vec<u64>>, now: i64) -> IssueRow {
    let slug = project.map(|p| p.slug.clone()).unwrap_or_default();
    IssueRow {
        id: issue.id,
        short_id: format!("{}-{}", slug.to_uppercase(), issue.short_id_number),
        project: slug,
        title: clip(&issue.title, 300),
        culprit: clip(&issue.culprit, 300),
        level: issue.level.clone(),
        status: issue.status.clone(),
        count: count(issue.times_seen.max(0) as u64),
        users: count(issue.user_count.max(0) as u64),
        first_seen: When::new(now, issue.first_seen_ms),
        last_seen: When::new(now, issue.last_seen_ms),
        spark: sparkline(hours.map(Vec::as_slice).unwrap_or(&[0; 24])),
    }
}

fn list_url(org: &str, query: &str, project: Option<i64>, offset: usize) -> String {
    let mut url = format!("/organizations/{org}/issues/?query={}", enc(query));
    if let Some(p) = project {
        url.push_str(&format!("&project={p}"));
    }
    if offset > 0 {
        url.push_str(&format!("&cursor={offset}"));
    }
    url
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let params: ListParams = query(raw.as_deref())?;
    let search = parse_search(params.query.as_deref());
    let text = params.query.clone().unwrap_or_else(|| "is:unresolved".into());
    let project = match params.project.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(p.parse::<i64>().map_err(|_| PageError::BadRequest("Bad project id.".into()))?),
        None => None,
    };
    let offset = parse_cursor(params.cursor.as_deref())?;
    let projects = state.store.projects(organization.id).await?;
    let q = IssueQuery {
        status: search.status.map(|s| s.as_str().to_string()),
        text: search.words.clone(),
        offset,
        limit: PAGE + 1,
    };
    let mut issues = state.store.organization_issues(organization.id, project, &q).await?;
    let more = issues.len() > PAGE;
    issues.truncate(PAGE);
    let now = now_ms();
    let to = (now / HOUR_MS + 1) * HOUR_MS;
    let from = to - 24 * HOUR_MS;
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let hours = hourly(&state.store.issue_event_counts(&ids, from, to, HOUR_MS).await?, from);
    let rows =
        issues.iter().map(|i| row(i, projects.iter().find(|p| p.id == i.project_id), hours.get(&i.id), now)).collect();
    let words = search.words.join(" ");
    let tab = |label, status: Option<IssueStatus>| {
        let q = match status {
            Some(s) => format!("is:{} {words}", s.as_str()).trim().to_string(),
            None => words.clone(),
        };
        Tab { label, href: list_url(&org, &q, project, 0), current: search.status == status }
    };
    let tabs = vec![
        tab("Unresolved", Some(IssueStatus::Unresolved)),
        tab("Resolved", Some(IssueStatus::Resolved)),
        tab("Ignored", Some(IssueStatus::Ignored)),
        tab("All", None),
    ];
    let page = IssuesPage {
        chrome: viewer.chrome("Issues", Some(&org), "issues"),
        here: list_url(&org, &text, project, offset),
        prev: (offset > 0).then(|| list_url(&org, &text, project, offset.saturating_sub(PAGE))),
        next: more.then(|| list_url(&org, &text, project, offset + PAGE)),
        org,
        query: text,
        project,
        projects: projects
            .iter()
            .map(|p| ProjectOption { id: p.id, slug: p.slug.clone(), selected: Some(p.id) == project })
            .collect(),
        tabs,
        rows,
        notice: search.unknown.map(|u| format!("Unknown search term {u}; it was left out.")),
        spark_w: SPARK_W,
        spark_h: SPARK_H,
    };
    render(&page)
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    pub id: Vec<i64>,
    pub status: String,
    pub next: Option<String>,
}

async fn bulk(
    State(state): State<AppState>,
    Path(org): Path<String>,
    CsrfForm { viewer, form }: CsrfForm<BulkForm>,
) -> Result<Response, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let status = IssueStatus::parse(&form.status).ok_or_else(|| PageError::BadRequest("Unknown status.".into()))?;
    if !form.id.is_empty() {
        state.store.set_organization_issue_status(organization.id, &form.id, status).await?;
    }
    let fallback = format!("/organizations/{org}/issues/");
    Ok(see_other(&back_to(form.next.as_deref(), &fallback, &fallback)))
}

#[cfg(test)]
#[path = "issues_tests.rs"]
mod tests;
