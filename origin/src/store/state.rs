//! The project state the origin serves edges (Relay's `projectconfigs` shape), assembled from
//! a project's row, its DSN keys, and the quotas of its organization, itself and its keys.

use picket::core::config::{ProjectConfig, ProjectState, PublicKeyConfig};
use picket::core::quota::QuotaScope;
use serde_json::Value;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::{flag_column, json_column};
use super::rows::{key_row, KEY_COLUMNS};
use super::{FilterSettings, ProjectKey, Quota, ScrubSettings};

/// A DSN key's rate limit as a Relay quota of scope `key`.
fn key_quota(key: &ProjectKey) -> Option<Quota> {
    let (window, count) = key.rate_limit?;
    Some(Quota {
        id: Some(format!("key-rate-limit:{}", key.id)),
        categories: vec!["error".into(), "security".into()],
        scope: QuotaScope::Key,
        scope_id: Some(key.id.to_string()),
        limit: Some(count),
        window: Some(window),
        reason_code: Some("key_quota".into()),
    })
}

/// The state of the project that owns `public_key`, if any.
pub async fn project_state(c: &mut AnyConnection, public_key: &str) -> sqlx::Result<Option<ProjectState>> {
    let row = sqlx::query(
        "SELECT p.id, p.organization_id, p.slug, p.disabled, p.allowed_domains, p.event_retention, p.datascrubbing, \
         p.filters, p.quotas, o.quotas FROM project_keys k JOIN projects p ON p.id = k.project_id \
         JOIN organizations o ON o.id = p.organization_id WHERE k.public_key = $1",
    )
    .bind(public_key.to_string())
    .fetch_optional(&mut *c)
    .await?;
    let Some(r) = row else {
        return Ok(None);
    };
    let (project_id, organization_id, slug, disabled): (i64, i64, String, bool) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, flag_column(&r, 3)?);
    let (domains, retention, scrubbing, filters) =
        (json_column(&r, 4)?, r.try_get::<i64, _>(5)?, json_column(&r, 6)?, json_column(&r, 7)?);
    let (own, org) = (json_column(&r, 8)?, json_column(&r, 9)?);
    let keys =
        sqlx::query(AssertSqlSafe(format!("SELECT {KEY_COLUMNS} FROM project_keys WHERE project_id = $1 ORDER BY id")))
            .bind(project_id)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(key_row)
            .collect::<sqlx::Result<Vec<_>>>()?;
    let public_keys = keys
        .iter()
        .map(|k| PublicKeyConfig {
            public_key: k.public_key.clone(),
            numeric_id: Some(k.id as u64),
            is_enabled: k.is_active,
        })
        .collect();
    // Organization quotas, then the project's, then each DSN key's rate limit.
    let listed = |v: Value| serde_json::from_value::<Vec<Quota>>(v).unwrap_or_default();
    let mut quotas = listed(org);
    quotas.extend(listed(own));
    quotas.extend(keys.iter().filter_map(key_quota));
    let scrubbing: ScrubSettings = serde_json::from_value(scrubbing).unwrap_or_default();
    let other = [
        ("eventRetention".to_string(), Value::from(retention)),
        ("datascrubbingSettings".to_string(), serde_json::to_value(scrubbing).unwrap_or_default()),
    ];
    Ok(Some(ProjectState {
        project_id: project_id as u64,
        disabled,
        public_keys,
        slug: Some(slug),
        organization_id: Some(organization_id as u64),
        config: ProjectConfig {
            allowed_domains: serde_json::from_value(domains).unwrap_or_default(),
            quotas,
            filter_settings: serde_json::from_value::<FilterSettings>(filters).unwrap_or_default(),
            other: other.into_iter().collect(),
        },
    }))
}
