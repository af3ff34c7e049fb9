//! Management commands behind the `picket-origin` CLI: organizations, projects, DSN keys, API
//! tokens and trusted edges. Each prints one JSON object; tokens and edge secret keys are shown
//! once and never stored.

use serde_json::{json, Value};

use crate::ids;
use crate::ids::token_digest;
use crate::store::{FilterChange, KeyChanges, KeyRef, Organization, Project, ProjectChanges, Store, TrustedEdge};

async fn organization(store: &dyn Store, slug: &str) -> anyhow::Result<Organization> {
    store.organization(slug).await?.ok_or_else(|| anyhow::anyhow!("no organization {slug:?}"))
}

async fn project(store: &dyn Store, org: &str, slug: &str) -> anyhow::Result<(Organization, Project)> {
    let org = organization(store, org).await?;
    let project =
        store.project(org.id, slug).await?.ok_or_else(|| anyhow::anyhow!("no project {slug:?} in {}", org.slug))?;
    Ok((org, project))
}

fn check_slug(slug: &str) -> anyhow::Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 50
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    anyhow::ensure!(ok, "a slug is 1-50 characters of a-z, 0-9, '-' and '_': {slug:?}");
    Ok(())
}

pub async fn create_organization(store: &dyn Store, slug: &str) -> anyhow::Result<Value> {
    check_slug(slug)?;
    let org = store.create_organization(slug).await?.ok_or_else(|| anyhow::anyhow!("organization {slug:?} exists"))?;
    Ok(json!({ "organization": org.slug, "id": org.id }))
}

/// A project with its first DSN key.
pub async fn create_project(store: &dyn Store, org: &str, slug: &str) -> anyhow::Result<Value> {
    check_slug(slug)?;
    let org = organization(store, org).await?;
    let project = store
        .create_project(org.id, slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("project {slug:?} exists in {}", org.slug))?;
    let key = store.create_key(project.id, "Default", &ids::public_key()).await?;
    Ok(
        json!({ "organization": org.slug, "project": project.slug, "project_id": project.id, "public_key": key.public_key }),
    )
}

pub async fn create_key(store: &dyn Store, org: &str, slug: &str, label: &str) -> anyhow::Result<Value> {
    let (org, project) = project(store, org, slug).await?;
    let key = store.create_key(project.id, label, &ids::public_key()).await?;
    Ok(
        json!({ "organization": org.slug, "project": project.slug, "project_id": project.id, "public_key": key.public_key }),
    )
}

/// A new API token for an organization; this output is the only place it is ever shown.
pub async fn create_token(store: &dyn Store, org: &str) -> anyhow::Result<Value> {
    let org = organization(store, org).await?;
    let token = ids::api_token();
    store.create_token(org.id, &token_digest(&token)).await?;
    Ok(json!({ "organization": org.slug, "token": token }))
}

/// Runs a retention sweep now, or as of an RFC 3339 instant.
pub async fn sweep(store: &dyn Store, as_of: Option<&str>) -> anyhow::Result<Value> {
    let now = match as_of {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)?.timestamp_millis(),
        None => chrono::Utc::now().timestamp_millis(),
    };
    let swept = store.sweep(now).await?;
    Ok(json!({ "events": swept.events, "issues": swept.issues, "envelopes": swept.envelopes }))
}

/// Replaces an organization's (or, with a project, the project's) quota list: Relay quota
/// objects as JSON.
pub async fn set_quotas(
    store: &dyn Store,
    org: &str,
    project_slug: Option<&str>,
    json_list: &str,
) -> anyhow::Result<Value> {
    let quotas: Vec<crate::store::Quota> = serde_json::from_str(json_list)?;
    let owner = match project_slug {
        Some(slug) => crate::store::QuotaOwner::Project(project(store, org, slug).await?.1.id),
        None => crate::store::QuotaOwner::Organization(organization(store, org).await?.id),
    };
    store.set_quotas(owner, &quotas).await?;
    Ok(json!({ "quotas": quotas }))
}

/// Replaces a project's inbound filters: Relay's `filterSettings` as JSON.
pub async fn set_filters(store: &dyn Store, org: &str, slug: &str, json_settings: &str) -> anyhow::Result<Value> {
    let settings: crate::store::FilterSettings = serde_json::from_str(json_settings)?;
    let (_, project) = project(store, org, slug).await?;
    let changes = ProjectChanges { filters: vec![FilterChange::Replace(settings.clone())], ..Default::default() };
    store.update_project(project.id, &changes).await?;
    Ok(json!({ "filterSettings": settings }))
}

/// Sets (or with `count` unset, clears) a DSN key's rate limit.
pub async fn set_key_rate_limit(
    store: &dyn Store,
    org: &str,
    slug: &str,
    public_key: &str,
    limit: Option<(u64, u64)>,
) -> anyhow::Result<Value> {
    let (_, project) = project(store, org, slug).await?;
    let keys = store.keys(project.id).await?;
    let key =
        keys.iter().find(|k| k.public_key == public_key).ok_or_else(|| anyhow::anyhow!("no key {public_key:?}"))?;
    store.update_key(key.id, &KeyChanges { rate_limit: Some(limit), ..Default::default() }).await?;
    Ok(
        json!({ "public_key": key.public_key, "rateLimit": limit.map(|(window, count)| json!({ "window": window, "count": count })) }),
    )
}

/// A DSN key as the key commands print it.
fn key_json(key: &crate::store::ProjectKey) -> Value {
    json!({ "id": key.id, "project_id": key.project_id, "public_key": key.public_key, "label": key.label, "isActive": key.is_active })
}

/// Enables or disables a DSN key (by numeric id or public key); ingest refuses a disabled one.
pub async fn set_key_active(store: &dyn Store, key: &str, active: bool) -> anyhow::Result<Value> {
    let found = store.find_key(KeyRef::parse(key)).await?.ok_or_else(|| anyhow::anyhow!("no key {key:?}"))?;
    let changes = KeyChanges { is_active: Some(active), ..Default::default() };
    let key = store.update_key(found.id, &changes).await?.ok_or_else(|| anyhow::anyhow!("no key {key:?}"))?;
    Ok(key_json(&key))
}

/// Deletes a DSN key (by numeric id or public key) for good.
pub async fn delete_key(store: &dyn Store, key: &str) -> anyhow::Result<Value> {
    let found = store.find_key(KeyRef::parse(key)).await?.ok_or_else(|| anyhow::anyhow!("no key {key:?}"))?;
    anyhow::ensure!(store.delete_key(found.id).await?, "no key {key:?}");
    Ok(json!({ "deleted": key_json(&found) }))
}

/// Sets the browser origins a project accepts (Sentry's `allowedDomains` patterns).
pub async fn set_allowed_domains(
    store: &dyn Store,
    org: &str,
    slug: &str,
    domains: &[String],
) -> anyhow::Result<Value> {
    let (_, project) = project(store, org, slug).await?;
    let changes = ProjectChanges { allowed_domains: Some(domains.to_vec()), ..Default::default() };
    store.update_project(project.id, &changes).await?;
    Ok(json!({ "project": project.slug, "allowedDomains": domains }))
}

/// A new edge identity, trusted from now on. The secret key is printed here only: give it to
/// the edge (`wrangler secret put RELAY_SECRET_KEY`, or the Spin variable `relay_secret_key`).
pub async fn create_edge(store: &dyn Store, name: &str) -> anyhow::Result<Value> {
    let (relay_id, key) = ids::edge_identity();
    let edge = TrustedEdge { relay_id, public_key: key.public().to_string(), name: name.to_string() };
    store.trust_edge(&edge).await?;
    Ok(
        json!({ "name": edge.name, "relay_id": edge.relay_id, "public_key": edge.public_key, "secret_key": key.to_string() }),
    )
}

/// Trusts an edge whose key was made elsewhere (for instance a Relay's `credentials.json`).
pub async fn trust_edge(store: &dyn Store, relay_id: &str, public_key: &str, name: &str) -> anyhow::Result<Value> {
    let key: picket::core::sign::PublicKey = public_key.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let edge = TrustedEdge { relay_id: relay_id.to_string(), public_key: key.to_string(), name: name.to_string() };
    store.trust_edge(&edge).await?;
    Ok(json!({ "name": edge.name, "relay_id": edge.relay_id, "public_key": edge.public_key }))
}

pub async fn list_edges(store: &dyn Store) -> anyhow::Result<Value> {
    let edges = store.trusted_edges().await?;
    let edges: Vec<Value> =
        edges.iter().map(|e| json!({ "name": e.name, "relay_id": e.relay_id, "public_key": e.public_key })).collect();
    Ok(json!({ "edges": edges }))
}
