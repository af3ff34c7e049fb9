//! Quotas and rate limits as Relay models them: Relay's quota objects (`id`, `categories`,
//! `scope`, `scopeId`, `limit`, `window`, `reasonCode`), the per-window counters a quota needs,
//! and the `X-Sentry-Rate-Limits` header both ways, with limits learned from upstream kept
//! until they expire. Time is passed in as Unix seconds. Data categories and what each item
//! counts in them live in [`super::category`].

use std::fmt::Write;

use serde::{Deserialize, Serialize};

pub use super::category::{item_quantities, DataCategory};

/// What a quota counts across.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaScope {
    Organization,
    Project,
    Key,
    #[serde(other)]
    Unknown,
}

impl QuotaScope {
    pub fn name(self) -> &'static str {
        match self {
            QuotaScope::Organization => "organization",
            QuotaScope::Project => "project",
            QuotaScope::Key => "key",
            QuotaScope::Unknown => "unknown",
        }
    }
}

/// One of Relay's quota objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quota {
    /// Needed to count; a quota without id can only reject (`limit: 0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Category names; empty means every category.
    #[serde(default)]
    pub categories: Vec<String>,
    pub scope: QuotaScope,
    /// Restricts the quota to one organization/project/key (by id); any if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_id: Option<String>,
    /// `None` is unlimited, `Some(0)` rejects everything.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Seconds per counting window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
}

/// Who the data belongs to, which decides the quota scopes that apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scoping {
    pub organization_id: u64,
    pub project_id: u64,
    pub public_key: String,
    pub key_id: Option<u64>,
}

impl Scoping {
    fn scope_value(&self, scope: QuotaScope) -> Option<String> {
        match scope {
            QuotaScope::Organization => Some(self.organization_id.to_string()),
            QuotaScope::Project => Some(self.project_id.to_string()),
            QuotaScope::Key => self.key_id.map(|k| k.to_string()).or_else(|| Some(self.public_key.clone())),
            QuotaScope::Unknown => None,
        }
    }
}

impl Quota {
    /// Whether this quota counts data of `category` belonging to `scoping`.
    pub fn applies(&self, scoping: &Scoping, category: DataCategory) -> bool {
        let category_ok =
            self.categories.is_empty() || self.categories.iter().any(|c| DataCategory::from_name(c) == category);
        let Some(value) = scoping.scope_value(self.scope) else { return false };
        category_ok && self.scope_id.as_ref().is_none_or(|id| *id == value)
    }

    /// The counter for the window containing `now`: the shard it lives in (one per quota and
    /// scope value) and the second the window ends, which tells windows apart within the shard.
    /// `None` when the quota cannot count.
    pub fn counter(&self, scoping: &Scoping, now: u64) -> Option<(String, u64)> {
        let (id, window) = (self.id.as_ref()?, self.window.filter(|w| *w > 0)?);
        let value = scoping.scope_value(self.scope)?;
        // A window of centuries ends at the end of time rather than overflowing.
        Some((format!("{id}:{}:{value}", self.scope.name()), (now / window + 1).saturating_mul(window)))
    }
}

/// One limit as the SDK hears it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Empty means every category.
    pub categories: Vec<DataCategory>,
    pub scope: QuotaScope,
    pub reason_code: Option<String>,
    /// When it ends (Unix seconds).
    pub until: u64,
}

impl RateLimit {
    pub fn covers(&self, category: DataCategory) -> bool {
        self.categories.is_empty() || self.categories.contains(&category)
    }

    pub fn retry_after(&self, now: u64) -> u64 {
        self.until.saturating_sub(now).max(1)
    }
}

/// Formats `X-Sentry-Rate-Limits`: `secs:cat;cat:scope:reason, ...`.
pub fn format_header(limits: &[RateLimit], now: u64) -> String {
    let mut out = String::new();
    for limit in limits {
        if !out.is_empty() {
            out.push_str(", ");
        }
        let categories: Vec<&str> = limit.categories.iter().map(|c| c.name()).collect();
        let _ = write!(out, "{}:{}:{}", limit.retry_after(now), categories.join(";"), limit.scope.name());
        if let Some(reason) = &limit.reason_code {
            let _ = write!(out, ":{reason}");
        }
    }
    out
}

/// Parses `X-Sentry-Rate-Limits` from upstream; unknown scopes count as organization-wide.
pub fn parse_header(value: &str, now: u64) -> Vec<RateLimit> {
    value
        .split(',')
        .filter_map(|part| {
            let mut fields = part.trim().split(':');
            let secs: f64 = fields.next()?.trim().parse().ok()?;
            let categories =
                fields.next().unwrap_or("").split(';').filter(|c| !c.is_empty()).map(DataCategory::from_name).collect();
            let scope = match fields.next().unwrap_or("") {
                "project" => QuotaScope::Project,
                "key" => QuotaScope::Key,
                _ => QuotaScope::Organization,
            };
            let reason_code = fields.next().filter(|r| !r.is_empty()).map(str::to_string);
            Some(RateLimit { categories, scope, reason_code, until: now.saturating_add(secs.ceil().max(1.0) as u64) })
        })
        .collect()
}

/// Limits learned from upstream 429s, per project, applied until they expire.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CachedLimits {
    entries: Vec<(u64, RateLimit)>,
}

impl CachedLimits {
    /// Remembers `limits` for `project_id`, forgetting expired ones.
    pub fn learn(&mut self, project_id: u64, limits: Vec<RateLimit>, now: u64) {
        self.entries.retain(|(_, l)| l.until > now);
        self.entries.extend(limits.into_iter().map(|l| (project_id, l)));
    }

    /// The active limit covering `category` for `project_id`, if any.
    pub fn active(&self, project_id: u64, category: DataCategory, now: u64) -> Option<&RateLimit> {
        self.entries
            .iter()
            .filter(|(p, l)| *p == project_id && l.until > now && l.covers(category))
            .map(|(_, l)| l)
            .max_by_key(|l| l.until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoping() -> Scoping {
        Scoping { organization_id: 1, project_id: 42, public_key: "abc".into(), key_id: Some(7) }
    }

    fn quota(scope: QuotaScope, categories: &[&str], scope_id: Option<&str>) -> Quota {
        Quota {
            id: Some("q".into()),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            scope,
            scope_id: scope_id.map(str::to_string),
            limit: Some(10),
            window: Some(60),
            reason_code: Some("quota_exceeded".into()),
        }
    }

    #[test]
    fn quotas_apply_by_category_and_scope() {
        let s = scoping();
        assert!(quota(QuotaScope::Project, &["error"], None).applies(&s, DataCategory::Error));
        assert!(!quota(QuotaScope::Project, &["error"], None).applies(&s, DataCategory::Transaction));
        assert!(quota(QuotaScope::Organization, &[], None).applies(&s, DataCategory::Span));
        assert!(quota(QuotaScope::Key, &[], Some("7")).applies(&s, DataCategory::Error));
        assert!(!quota(QuotaScope::Project, &[], Some("43")).applies(&s, DataCategory::Error));
    }

    #[test]
    fn counters_are_per_window() {
        let q = quota(QuotaScope::Project, &["error"], None);
        assert_eq!(q.counter(&scoping(), 119), Some(("q:project:42".to_string(), 120)));
        assert_eq!(q.counter(&scoping(), 120), Some(("q:project:42".to_string(), 180)));
        let no_id = Quota { id: None, ..q };
        assert_eq!(no_id.counter(&scoping(), 1), None);
    }

    #[test]
    fn the_header_round_trips() {
        let limits = vec![
            RateLimit {
                categories: vec![DataCategory::Error, DataCategory::Transaction],
                scope: QuotaScope::Organization,
                reason_code: Some("quota_exceeded".into()),
                until: 160,
            },
            RateLimit { categories: vec![], scope: QuotaScope::Key, reason_code: None, until: 105 },
        ];
        let header = format_header(&limits, 100);
        assert_eq!(header, "60:error;transaction:organization:quota_exceeded, 5::key");
        assert_eq!(parse_header(&header, 100), limits);
        assert_eq!(parse_header("60:error;transaction:organization:quota_exceeded", 0)[0].until, 60);
        assert!(parse_header("garbage", 0).is_empty());
        // An upstream's absurd retry_after saturates instead of overflowing.
        assert_eq!(parse_header("1e300:error:project", 1000)[0].until, u64::MAX);
        assert_eq!(parse_header("inf:error:project", 1000)[0].until, u64::MAX);
    }

    #[test]
    fn cached_limits_expire() {
        let mut cache = CachedLimits::default();
        cache.learn(42, parse_header("60:error:project", 1000), 1000);
        assert!(cache.active(42, DataCategory::Error, 1059).is_some());
        assert!(cache.active(42, DataCategory::Transaction, 1000).is_none());
        assert!(cache.active(43, DataCategory::Error, 1000).is_none());
        assert!(cache.active(42, DataCategory::Error, 1060).is_none());
    }
}
