//! Project settings: `GET /settings/{org}/projects/` lists the organization's projects with
//! their DSN; `GET /settings/{org}/projects/{project}/` shows the DSN (pointing at the edge),
//! keys with rate limits, quotas, inbound filters, allowed domains, scrubbing, retention and
//! SDK snippets. Owners change them with forms (`POST .../keys/{key_id}/`,
//! `.../allowed-domains/`, `.../filters/`, `.../data-scrubbing/`, `.../retention/`), each
//! checked whole before one store update; members see them read-only and get 403 on a POST.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{member, query, see_other};
use crate::http::links::dsn_base;
use crate::model::{Project, ProjectKey, QuotaOwner, Role, ScrubSettings};
use crate::state::AppState;
use crate::store::{FilterChange, KeyChanges, KeyRef, ProjectChanges, ScrubChanges};
use crate::web::view::setup::{
    dsn, filters_view, lines, quota_rows, snippets, FiltersView, QuotaRow, Snippet, LEGACY_BROWSERS,
};
use crate::web::view::text::clip;
use crate::web::{render, Chrome, CsrfForm, PageError, Viewer};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/{org}/projects/", get(list))
        .route("/settings/{org}/projects/{project}/", get(detail))
        .route("/settings/{org}/projects/{project}/keys/{key_id}/", post(update_key))
        .route("/settings/{org}/projects/{project}/allowed-domains/", post(update_domains))
        .route("/settings/{org}/projects/{project}/filters/", post(update_filters))
        .route("/settings/{org}/projects/{project}/data-scrubbing/", post(update_scrubbing))
        .route("/settings/{org}/projects/{project}/retention/", post(update_retention))
}

pub struct ProjectRow {
    pub slug: String,
    pub name: String,
    pub dsn: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
pub struct ProjectsPage {
    pub chrome: Chrome,
    pub org: String,
    pub projects: Vec<ProjectRow>,
}

pub struct KeyView {
    pub id: i64,
    pub label: String,
    pub public_key: String,
    pub dsn: String,
    pub active: bool,
    pub rate_window: String,
    pub rate_count: String,
}

pub fn key_view(base: &str, k: &ProjectKey) -> KeyView {
    let (window, count) = k.rate_limit.map(|(w, c)| (w.to_string(), c.to_string())).unwrap_or_default();
    KeyView {
        id: k.id,
        label: clip(&k.label, 200),
        public_key: k.public_key.clone(),
        dsn: dsn(base, k),
        active: k.is_active,
        rate_window: window,
        rate_count: count,
    }
}

#[derive(Template)]
#[template(path = "project.html")]
pub struct ProjectPage {
    pub chrome: Chrome,
    pub org: String,
    pub slug: String,
    pub name: String,
    pub can_edit: bool,
    pub saved: Option<String>,
    pub dsn: String,
    pub keys: Vec<KeyView>,
    pub snippets: Vec<Snippet>,
    pub org_quotas: Vec<QuotaRow>,
    pub project_quotas: Vec<QuotaRow>,
    pub filters: FiltersView,
    pub domains: String,
    pub scrubbing: ScrubSettings,
    pub sensitive_fields: String,
    pub safe_fields: String,
    pub retention: i64,
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let (_, organization) = member(&viewer, &org)?;
    let base = dsn_base(&state, &headers);
    let mut projects = Vec::new();
    for p in state.store.projects(organization.id).await? {
        let keys = state.store.keys(p.id).await?;
        let first = keys.iter().find(|k| k.is_active).or(keys.first());
        projects.push(ProjectRow {
            slug: p.slug.clone(),
            name: clip(&p.name, 200),
            dsn: first.map(|k| dsn(&base, k)).unwrap_or_default(),
        });
    }
    render(&ProjectsPage { chrome: viewer.chrome("Projects", Some(&org), "settings"), org, projects })
}

#[derive(Deserialize, Default)]
struct DetailParams {
    saved: Option<String>,
}

async fn find_project(state: &AppState, org_id: i64, slug: &str) -> Result<Project, PageError> {
    state.store.project(org_id, slug).await?.ok_or(PageError::NotFound)
}

async fn detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((org, slug)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Html<String>, PageError> {
    let (membership, organization) = member(&viewer, &org)?;
    let params: DetailParams = query(raw.as_deref())?;
    let project = find_project(&state, organization.id, &slug).await?;
    let base = dsn_base(&state, &headers);
    let keys: Vec<KeyView> = state.store.keys(project.id).await?.iter().map(|k| key_view(&base, k)).collect();
    let dsn = keys.iter().find(|k| k.active).or(keys.first()).map(|k| k.dsn.clone()).unwrap_or_default();
    let saved = params.saved.map(|s| match s.as_str() {
        "key" => "The key was saved.".to_string(),
        "domains" => "Allowed domains were saved.".into(),
        "filters" => "Inbound filters were saved.".into(),
        "scrubbing" => "Data scrubbing was saved.".into(),
        "retention" => "Retention was saved.".into(),
        _ => "Saved.".into(),
    });
    let page = ProjectPage {
        chrome: viewer.chrome(format!("{} settings", project.slug), Some(&org), "settings"),
        can_edit: membership.role == Role::Owner,
        saved,
        snippets: snippets(&dsn),
        dsn,
        keys,
        org_quotas: quota_rows(&state.store.quotas(QuotaOwner::Organization(organization.id)).await?),
        project_quotas: quota_rows(&state.store.quotas(QuotaOwner::Project(project.id)).await?),
        filters: filters_view(&state.store.filter_settings(project.id).await?),
        domains: project.allowed_domains.join("\n"),
        sensitive_fields: project.scrubbing.sensitive_fields.join("\n"),
        safe_fields: project.scrubbing.exclude_fields.join("\n"),
        scrubbing: project.scrubbing.clone(),
        retention: project.event_retention_days,
        slug: project.slug,
        name: clip(&project.name, 200),
        org,
    };
    render(&page)
}

/// The project a settings form changes, if the viewer owns its organization.
async fn owned_project(state: &AppState, viewer: &Viewer, org: &str, slug: &str) -> Result<Project, PageError> {
    let (membership, organization) = member(viewer, org)?;
    let project = find_project(state, organization.id, slug).await?;
    if membership.role != Role::Owner {
        return Err(PageError::Forbidden);
    }
    Ok(project)
}

fn saved(org: &str, slug: &str, what: &str) -> Response {
    see_other(&format!("/settings/{org}/projects/{slug}/?saved={what}"))
}

fn is_on(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && v != "off")
}

#[derive(Deserialize)]
pub struct KeyForm {
    pub label: Option<String>,
    pub active: Option<String>,
    #[serde(default)]
    pub rate_window: String,
    #[serde(default)]
    pub rate_count: String,
}

/// What a key form asks for: both rate-limit fields empty clears it, both positive sets it.
pub fn key_changes(form: &KeyForm) -> Result<KeyChanges, PageError> {
    let (w, c) = (form.rate_window.trim(), form.rate_count.trim());
    let rate_limit = match (w.is_empty(), c.is_empty()) {
        (true, true) => None,
        (false, false) => {
            let bad =
                || PageError::BadRequest("The rate limit is a window in seconds and a count, both numbers.".into());
            let window: u64 = w.parse().map_err(|_| bad())?;
            let count: u64 = c.parse().map_err(|_| bad())?;
            if window == 0 || window > 86_400 * 366 {
                return Err(PageError::BadRequest("The window is 1 second to a year.".into()));
            }
            Some((window, count))
        }
        _ => return Err(PageError::BadRequest("Give both the window and the count, or neither.".into())),
    };
    let label = form.label.as_deref().map(str::trim).filter(|l| !l.is_empty()).map(|l| clip(l, 64));
    Ok(KeyChanges { label, is_active: Some(is_on(&form.active)), rate_limit: Some(rate_limit) })
}

async fn update_key(
    State(state): State<AppState>,
    Path((org, slug, key_id)): Path<(String, String, String)>,
    CsrfForm { viewer, form }: CsrfForm<KeyForm>,
) -> Result<Response, PageError> {
    let project = owned_project(&state, &viewer, &org, &slug).await?;
    let key_id: i64 = key_id.parse().map_err(|_| PageError::NotFound)?;
    match state.store.find_key(KeyRef::Id(key_id)).await? {
        Some(k) if k.project_id == project.id => {}
        _ => return Err(PageError::NotFound),
    }
    let changes = key_changes(&form)?;
    state.store.update_key(key_id, &changes).await?;
    Ok(saved(&org, &slug, "key"))
}

#[derive(Deserialize)]
pub struct DomainsForm {
    #[serde(default)]
    pub domains: String,
}

async fn update_domains(
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    CsrfForm { viewer, form }: CsrfForm<DomainsForm>,
) -> Result<Response, PageError> {
    let project = owned_project(&state, &viewer, &org, &slug).await?;
    let domains = lines(&form.domains);
    if let Some(bad) = domains.iter().find(|d| d.contains(char::is_whitespace) || d.len() > 255) {
        return Err(PageError::BadRequest(format!("Not a domain pattern: {}", clip(bad, 80))));
    }
    let changes = ProjectChanges { allowed_domains: Some(domains), ..Default::default() };
    state.store.update_project(project.id, &changes).await?;
    Ok(saved(&org, &slug, "domains"))
}

#[derive(Deserialize, Default)]
pub struct FiltersForm {
    pub localhost: Option<String>,
    pub browser_extensions: Option<String>,
    pub web_crawlers: Option<String>,
    pub legacy_browsers: Option<String>,
    #[serde(default)]
    pub legacy: Vec<String>,
    #[serde(default)]
    pub error_messages: String,
    #[serde(default)]
    pub releases: String,
    #[serde(default)]
    pub blacklisted_ips: String,
    #[serde(default)]
    pub ignored_transactions: String,
}

/// The filter changes a filters form asks for (every filter is set, as the form shows all).
pub fn filter_changes(form: &FiltersForm) -> Result<Vec<FilterChange>, PageError> {
    if let Some(unknown) = form.legacy.iter().find(|l| !LEGACY_BROWSERS.contains(&l.as_str())) {
        return Err(PageError::BadRequest(format!("Unknown legacy browser filter {}", clip(unknown, 40))));
    }
    let legacy_on = is_on(&form.legacy_browsers);
    let legacy = if legacy_on && !form.legacy.is_empty() {
        FilterChange::LegacyBrowserSubfilters(form.legacy.clone())
    } else {
        FilterChange::LegacyBrowsers(legacy_on)
    };
    Ok(vec![
        FilterChange::Localhost(is_on(&form.localhost)),
        FilterChange::BrowserExtensions(is_on(&form.browser_extensions)),
        FilterChange::WebCrawlers(is_on(&form.web_crawlers)),
        // Options first, so turning the filter off with no subfilters also clears them.
        FilterChange::LegacyBrowserSubfilters(if legacy_on { form.legacy.clone() } else { Vec::new() }),
        legacy,
        FilterChange::ErrorMessages(lines(&form.error_messages)),
        FilterChange::Releases(lines(&form.releases)),
        FilterChange::BlacklistedIps(lines(&form.blacklisted_ips)),
        FilterChange::IgnoredTransactions(lines(&form.ignored_transactions)),
    ])
}

async fn update_filters(
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    CsrfForm { viewer, form }: CsrfForm<FiltersForm>,
) -> Result<Response, PageError> {
    let project = owned_project(&state, &viewer, &org, &slug).await?;
    let changes = ProjectChanges { filters: filter_changes(&form)?, ..Default::default() };
    state.store.update_project(project.id, &changes).await?;
    Ok(saved(&org, &slug, "filters"))
}

#[derive(Deserialize, Default)]
pub struct ScrubForm {
    pub scrub_data: Option<String>,
    pub scrub_defaults: Option<String>,
    pub scrub_ip_addresses: Option<String>,
    #[serde(default)]
    pub sensitive_fields: String,
    #[serde(default)]
    pub safe_fields: String,
}

pub fn scrub_changes(form: &ScrubForm) -> ScrubChanges {
    ScrubChanges {
        scrub_data: Some(is_on(&form.scrub_data)),
        scrub_defaults: Some(is_on(&form.scrub_defaults)),
        scrub_ip_addresses: Some(is_on(&form.scrub_ip_addresses)),
        sensitive_fields: Some(lines(&form.sensitive_fields)),
        exclude_fields: Some(lines(&form.safe_fields)),
    }
}

async fn update_scrubbing(
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    CsrfForm { viewer, form }: CsrfForm<ScrubForm>,
) -> Result<Response, PageError> {
    let project = owned_project(&state, &viewer, &org, &slug).await?;
    let changes = ProjectChanges { scrubbing: scrub_changes(&form), ..Default::default() };
    state.store.update_project(project.id, &changes).await?;
    Ok(saved(&org, &slug, "scrubbing"))
}

#[derive(Deserialize)]
pub struct RetentionForm {
    pub days: String,
}

async fn update_retention(
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    CsrfForm { viewer, form }: CsrfForm<RetentionForm>,
) -> Result<Response, PageError> {
    let project = owned_project(&state, &viewer, &org, &slug).await?;
    let days: i64 = form
        .days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=3650).contains(d))
        .ok_or_else(|| PageError::BadRequest("Retention is 1 to 3650 days.".into()))?;
    let changes = ProjectChanges { event_retention_days: Some(days), ..Default::default() };
    state.store.update_project(project.id, &changes).await?;
    Ok(saved(&org, &slug, "retention"))
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
