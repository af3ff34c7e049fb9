//! Changes to a project or a DSN key, validated by the caller before the store sees them and
//! written by the store in one SQLite transaction: all of a request's changes land, or none do.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::rows::{json_column, key_row, KEY_COLUMNS};
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

fn json_text(value: &impl Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Writes `changes` to project `project_id` in one transaction.
pub(super) fn update_project(c: &mut Connection, project_id: i64, changes: &ProjectChanges) -> rusqlite::Result<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let set = |column: &str, value: &dyn rusqlite::ToSql| {
        tx.execute(&format!("UPDATE projects SET {column} = ?2 WHERE id = ?1"), params![project_id, value])
    };
    if let Some(domains) = &changes.allowed_domains {
        set("allowed_domains", &json_text(domains)?)?;
    }
    if let Some(days) = changes.event_retention_days {
        set("event_retention", &days)?;
    }
    let read = |column: &str| {
        tx.query_row(&format!("SELECT {column} FROM projects WHERE id = ?1"), params![project_id], |r| {
            json_column(r, 0)
        })
    };
    if !changes.scrubbing.is_empty() {
        let mut scrubbing: ScrubSettings = serde_json::from_value(read("datascrubbing")?).unwrap_or_default();
        changes.scrubbing.apply(&mut scrubbing);
        set("datascrubbing", &json_text(&scrubbing)?)?;
    }
    if !changes.filters.is_empty() {
        let mut filters: FilterSettings = serde_json::from_value(read("filters")?).unwrap_or_default();
        for change in &changes.filters {
            change.apply(&mut filters);
        }
        set("filters", &json_text(&filters)?)?;
    }
    tx.commit()
}

/// Writes `changes` to DSN key `key_id` in one transaction; the key as it is then, if it exists.
pub(super) fn update_key(
    c: &mut Connection,
    key_id: i64,
    changes: &KeyChanges,
) -> rusqlite::Result<Option<ProjectKey>> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let set = |assignments: &str, values: &[&dyn rusqlite::ToSql]| {
        let mut all: Vec<&dyn rusqlite::ToSql> = vec![&key_id];
        all.extend_from_slice(values);
        tx.execute(&format!("UPDATE project_keys SET {assignments} WHERE id = ?1"), all.as_slice())
    };
    if let Some(label) = &changes.label {
        set("label = ?2", &[label])?;
    }
    if let Some(active) = changes.is_active {
        set("is_active = ?2", &[&active])?;
    }
    if let Some(limit) = changes.rate_limit {
        let window = limit.map(|(w, _)| i64::try_from(w).unwrap_or(i64::MAX));
        let count = limit.map(|(_, n)| i64::try_from(n).unwrap_or(i64::MAX));
        set("rate_limit_window = ?2, rate_limit_count = ?3", &[&window, &count])?;
    }
    let key = find(&tx, KeyRef::Id(key_id))?;
    tx.commit()?;
    Ok(key)
}

/// Deletes DSN key `key_id`; whether it existed.
pub(super) fn delete_key(c: &mut Connection, key_id: i64) -> rusqlite::Result<bool> {
    Ok(c.execute("DELETE FROM project_keys WHERE id = ?1", params![key_id])? > 0)
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

pub(super) fn find(c: &Connection, key: KeyRef) -> rusqlite::Result<Option<ProjectKey>> {
    let select = format!("SELECT {KEY_COLUMNS} FROM project_keys");
    match key {
        KeyRef::Id(id) => c.query_row(&format!("{select} WHERE id = ?1"), params![id], key_row),
        KeyRef::Public(public) => c.query_row(&format!("{select} WHERE public_key = ?1"), params![public], key_row),
    }
    .optional()
}
