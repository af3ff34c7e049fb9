//! Changes to a project or a DSN key, validated by the caller before the store sees them and
//! written by the store in one transaction: all of a request's changes land, or none do.

use serde::Serialize;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::db::json_column;
use super::rows::{key_row, KEY_COLUMNS};
use super::{FilterSettings, ProjectKey, ScrubSettings};

/// What one request changes in a project; `None` (or empty) leaves a setting as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectChanges {
    /// Browser origins the project accepts (Sentry's `allowedDomains`).
    pub allowed_domains: Option<Vec<String>>,
    /// Days events are kept.
    pub event_retention_days: Option<i64>,
    pub scrubbing: ScrubChanges,
    /// Applied in order to the project's inbound filters.
    pub filters: Vec<FilterChange>,
}

/// Changes to a project's data scrubbing settings (Sentry's project fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubChanges {
    pub scrub_data: Option<bool>,
    pub scrub_defaults: Option<bool>,
    pub scrub_ip_addresses: Option<bool>,
    pub sensitive_fields: Option<Vec<String>>,
    /// Sentry's `safeFields`.
    pub exclude_fields: Option<Vec<String>>,
}

impl ScrubChanges {
    pub fn is_empty(&self) -> bool {
        *self == ScrubChanges::default()
    }

    pub fn apply(&self, s: &mut ScrubSettings) {
        let set = |to: &mut bool, from: Option<bool>| *to = from.unwrap_or(*to);
        set(&mut s.scrub_data, self.scrub_data);
        set(&mut s.scrub_defaults, self.scrub_defaults);
        set(&mut s.scrub_ip_addresses, self.scrub_ip_addresses);
        if let Some(fields) = &self.sensitive_fields {
            s.sensitive_fields = fields.clone();
        }
        if let Some(fields) = &self.exclude_fields {
            s.exclude_fields = fields.clone();
        }
    }
}

/// One change to a project's inbound filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterChange {
    /// Replaces every filter (Relay's `filterSettings`, as the CLI sets them).
    Replace(FilterSettings),
    BrowserExtensions(bool),
    Localhost(bool),
    WebCrawlers(bool),
    LegacyBrowsers(bool),
    /// Which legacy browsers are filtered; an empty list turns the filter off.
    LegacyBrowserSubfilters(Vec<String>),
    ErrorMessages(Vec<String>),
    Releases(Vec<String>),
    BlacklistedIps(Vec<String>),
    /// Transaction name patterns; an empty list turns the filter off.
    IgnoredTransactions(Vec<String>),
}

impl FilterChange {
    pub fn apply(&self, s: &mut FilterSettings) {
        match self.clone() {
            FilterChange::Replace(all) => *s = all,
            FilterChange::BrowserExtensions(on) => s.browser_extensions.is_enabled = on,
            FilterChange::Localhost(on) => s.localhost.is_enabled = on,
            FilterChange::WebCrawlers(on) => s.web_crawlers.is_enabled = on,
            FilterChange::LegacyBrowsers(on) => s.legacy_browsers.is_enabled = on,
            FilterChange::LegacyBrowserSubfilters(list) => {
                s.legacy_browsers.is_enabled = !list.is_empty();
                s.legacy_browsers.options = list;
            }
            FilterChange::ErrorMessages(list) => s.error_messages.patterns = list,
            FilterChange::Releases(list) => s.releases.releases = list,
            FilterChange::BlacklistedIps(list) => s.client_ips.blacklisted_ips = list,
            FilterChange::IgnoredTransactions(list) => {
                s.ignore_transactions.is_enabled = !list.is_empty();
                s.ignore_transactions.patterns = list;
            }
        }
    }
}

/// What one request changes in a DSN key; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyChanges {
    /// Sentry's `name`.
    pub label: Option<String>,
    /// Sentry's `isActive`: an inactive key is refused at ingest.
    pub is_active: Option<bool>,
    /// `Some(None)` clears the rate limit; `Some(Some((window seconds, count)))` sets it.
    pub rate_limit: Option<Option<(u64, u64)>>,
}

fn json_text(value: &impl Serialize) -> sqlx::Result<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

async fn set_project(c: &mut AnyConnection, project_id: i64, column: &str, value: String) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!("UPDATE projects SET {column} = $2 WHERE id = $1")))
        .bind(project_id)
        .bind(value)
        .execute(&mut *c)
        .await
        .map(|_| ())
}

async fn read_project(c: &mut AnyConnection, project_id: i64, column: &str) -> sqlx::Result<serde_json::Value> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {column} FROM projects WHERE id = $1")))
        .bind(project_id)
        .fetch_one(&mut *c)
        .await?;
    json_column(&row, 0)
}

/// Writes `changes` to project `project_id`, in the caller's transaction.
pub(super) async fn update_project(
    tx: &mut AnyConnection,
    project_id: i64,
    changes: &ProjectChanges,
) -> sqlx::Result<()> {
    if let Some(domains) = &changes.allowed_domains {
        set_project(tx, project_id, "allowed_domains", json_text(domains)?).await?;
    }
    if let Some(days) = changes.event_retention_days {
        sqlx::query("UPDATE projects SET event_retention = $2 WHERE id = $1")
            .bind(project_id)
            .bind(days)
            .execute(&mut *tx)
            .await?;
    }
    if !changes.scrubbing.is_empty() {
        let mut scrubbing: ScrubSettings =
            serde_json::from_value(read_project(tx, project_id, "datascrubbing").await?).unwrap_or_default();
        changes.scrubbing.apply(&mut scrubbing);
        set_project(tx, project_id, "datascrubbing", json_text(&scrubbing)?).await?;
    }
    if !changes.filters.is_empty() {
        let mut filters: FilterSettings =
            serde_json::from_value(read_project(tx, project_id, "filters").await?).unwrap_or_default();
        for change in &changes.filters {
            change.apply(&mut filters);
        }
        set_project(tx, project_id, "filters", json_text(&filters)?).await?;
    }
    Ok(())
}

/// Writes `changes` to DSN key `key_id`, in the caller's transaction; the key as it is then.
pub(super) async fn update_key(
    tx: &mut AnyConnection,
    key_id: i64,
    changes: &KeyChanges,
) -> sqlx::Result<Option<ProjectKey>> {
    if let Some(label) = &changes.label {
        sqlx::query("UPDATE project_keys SET label = $2 WHERE id = $1")
            .bind(key_id)
            .bind(label.clone())
            .execute(&mut *tx)
            .await?;
    }
    if let Some(active) = changes.is_active {
        sqlx::query("UPDATE project_keys SET is_active = $2 WHERE id = $1")
            .bind(key_id)
            .bind(i64::from(active))
            .execute(&mut *tx)
            .await?;
    }
    if let Some(limit) = changes.rate_limit {
        let window = limit.map(|(w, _)| i64::try_from(w).unwrap_or(i64::MAX));
        let count = limit.map(|(_, n)| i64::try_from(n).unwrap_or(i64::MAX));
        sqlx::query("UPDATE project_keys SET rate_limit_window = $2, rate_limit_count = $3 WHERE id = $1")
            .bind(key_id)
            .bind(window)
            .bind(count)
            .execute(&mut *tx)
            .await?;
    }
    find(tx, KeyRef::Id(key_id)).await
}

/// Deletes DSN key `key_id`; whether it existed.
pub(super) async fn delete_key(c: &mut AnyConnection, key_id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM project_keys WHERE id = $1").bind(key_id).execute(&mut *c).await?.rows_affected() > 0)
}

/// How a DSN key is named: its numeric id or its public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Id(i64),
    Public(String),
}

impl KeyRef {
    /// A numeric id if `text` is one, else a public key (case-insensitive).
    pub fn parse(text: &str) -> Self {
        text.parse().map(KeyRef::Id).unwrap_or_else(|_| KeyRef::Public(text.to_ascii_lowercase()))
    }
}

pub(super) async fn find(c: &mut AnyConnection, key: KeyRef) -> sqlx::Result<Option<ProjectKey>> {
    let row = match key {
        KeyRef::Id(id) => {
            sqlx::query(AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE id = $1")))
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
        }
        KeyRef::Public(public) => {
            sqlx::query(AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE public_key = $1")))
                .bind(public)
                .fetch_optional(&mut *c)
                .await?
        }
    };
    row.as_ref().map(key_row).transpose()
}
