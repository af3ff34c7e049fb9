//! Project state as Relay's `projectconfigs` v3 API carries it, the request/response bodies
//! of that API, and the edge's cache of it (fresh 300 s, stale-while-refresh 120 s, misses
//! 60 s), which holds each state as a [`Project`]: the state with its filters compiled once.
//! Time comes in as `now_ms`; the cache never reads a clock.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::filter::{CompiledFilters, FilterSettings};
use super::quota::Quota;

/// One project's state, in Relay's camelCase shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectState {
    pub project_id: u64,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub public_keys: Vec<PublicKeyConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<u64>,
    #[serde(default)]
    pub config: ProjectConfig,
}

/// A DSN key of the project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyConfig {
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric_id: Option<u64>,
    #[serde(default = "enabled")]
    pub is_enabled: bool,
}

fn enabled() -> bool {
    true
}

/// The project's `config` object; keys Picket does not use yet are kept as they came.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfig {
    /// Browser origins allowed to send (Sentry's default: `["*"]`; empty allows none).
    #[serde(default = "any_domain")]
    pub allowed_domains: Vec<String>,
    /// Relay quota objects that apply to this project's data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<Quota>,
    /// Inbound filters.
    #[serde(default)]
    pub filter_settings: FilterSettings,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

fn any_domain() -> Vec<String> {
    vec!["*".to_string()]
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            allowed_domains: any_domain(),
            quotas: Vec::new(),
            filter_settings: FilterSettings::default(),
            other: Map::new(),
        }
    }
}

impl ProjectState {
    /// The key's entry, if the key belongs to this project.
    pub fn key(&self, public_key: &str) -> Option<&PublicKeyConfig> {
        self.public_keys.iter().find(|k| k.public_key.eq_ignore_ascii_case(public_key))
    }
}

/// A project state as the edge caches it: the state, and what is derived from it once when it
/// enters the cache (its inbound filters, compiled) rather than on every request. Serializes as
/// the state alone; deserializing compiles again.
#[derive(Clone, Debug)]
pub struct Project {
    pub state: ProjectState,
    pub filters: CompiledFilters,
}

impl Project {
    pub fn new(state: ProjectState) -> Project {
        let filters = CompiledFilters::new(&state.config.filter_settings);
        Project { state, filters }
    }
}

impl std::ops::Deref for Project {
    type Target = ProjectState;
    fn deref(&self) -> &ProjectState {
        &self.state
    }
}

/// The filters follow from the state.
impl PartialEq for Project {
    fn eq(&self, other: &Project) -> bool {
        self.state == other.state
    }
}

impl Serialize for Project {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.state.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Project {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Project, D::Error> {
        ProjectState::deserialize(deserializer).map(Project::new)
    }
}

/// The body of `POST /api/0/relays/projectconfigs/?version=3`.
pub fn request_body(public_keys: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "publicKeys": public_keys })).expect("JSON always serializes")
}

/// Parses a `projectconfigs` request body into its keys.
pub fn parse_request(body: &[u8]) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        public_keys: Vec<String>,
    }
    serde_json::from_slice::<Body>(body).map(|b| b.public_keys).map_err(|e| e.to_string())
}

/// Builds the response: `{"configs": {key: state}, "pending": []}`; unknown keys are omitted.
pub fn response_body(configs: &[(String, ProjectState)]) -> Value {
    let configs: Map<String, Value> =
        configs.iter().map(|(k, s)| (k.clone(), serde_json::to_value(s).expect("state serializes"))).collect();
    json!({ "configs": configs, "pending": [] })
}

/// What a `projectconfigs` answer says about each requested key.
#[derive(Debug, Default, PartialEq)]
pub struct FetchResult {
    /// Keys with a definite answer: a state, or `None` for "no such key".
    pub resolved: Vec<(String, Option<ProjectState>)>,
    /// Keys the upstream is still computing; ask again later.
    pub pending: Vec<String>,
}

/// Interprets the response to a request for `requested` keys.
pub fn parse_response(requested: &[&str], body: &[u8]) -> Result<FetchResult, String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        configs: HashMap<String, Option<Value>>,
        #[serde(default)]
        pending: Vec<String>,
    }
    let body: Body = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut result = FetchResult { pending: body.pending, ..Default::default() };
    for key in requested {
        if result.pending.iter().any(|p| p == key) {
            continue;
        }
        // A state that does not parse is treated as missing rather than trusted halfway.
        let state =
            body.configs.get(*key).cloned().flatten().and_then(|v| serde_json::from_value::<ProjectState>(v).ok());
        result.resolved.push((key.to_string(), state));
    }
    Ok(result)
}

/// How long cached answers live, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    pub expiry_ms: u64,
    pub grace_ms: u64,
    pub miss_expiry_ms: u64,
    pub max_entries: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy { expiry_ms: 300_000, grace_ms: 120_000, miss_expiry_ms: 60_000, max_entries: 10_000 }
    }
}

/// At most this many keys per `projectconfigs` request, as Relay batches them.
pub const BATCH_SIZE: usize = 100;

impl CachePolicy {
    /// The settings [`CachePolicy::from_settings`] reads.
    pub const SETTINGS: [&'static str; 3] = ["CONFIG_EXPIRY_SECS", "CONFIG_GRACE_SECS", "CONFIG_MISS_EXPIRY_SECS"];

    /// Reads `CONFIG_EXPIRY_SECS`, `CONFIG_GRACE_SECS` and `CONFIG_MISS_EXPIRY_SECS` through
    /// `get`; unset ones keep Relay's defaults (300, 120, 60).
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<CachePolicy, String> {
        let mut policy = CachePolicy::default();
        let slots = [&mut policy.expiry_ms, &mut policy.grace_ms, &mut policy.miss_expiry_ms];
        for (name, slot) in Self::SETTINGS.into_iter().zip(slots) {
            if let Some(secs) = super::limits::setting::<u64>(&get, name, "whole seconds", |_| true)? {
                *slot = secs * 1000;
            }
        }
        Ok(policy)
    }
}

/// The answer of a cache lookup.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// Fresh: `Some` state, or `None` for a key known not to exist.
    Fresh(Option<Arc<Project>>),
    /// Expired but within grace: serve it, and refresh in the background.
    Stale(Arc<Project>),
    /// Nothing usable: fetch before deciding.
    Miss,
}

/// One cached answer: what the origin said about a key, and when. Serializable so shells
/// without memory between requests (Spin) can keep it in their key-value store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub state: Option<Arc<Project>>,
    pub fetched_ms: u64,
}

impl Entry {
    /// What this entry is worth at `now_ms` under `policy`.
    pub fn lookup(&self, policy: &CachePolicy, now_ms: u64) -> Lookup {
        let age = now_ms.saturating_sub(self.fetched_ms);
        match &self.state {
            Some(state) if age < policy.expiry_ms => Lookup::Fresh(Some(state.clone())),
            Some(state) if age < policy.expiry_ms + policy.grace_ms => Lookup::Stale(state.clone()),
            None if age < policy.miss_expiry_ms => Lookup::Fresh(None),
            _ => Lookup::Miss,
        }
    }
}

/// Project states by public key.
#[derive(Debug, Default)]
pub struct ConfigCache {
    policy: CachePolicy,
    entries: HashMap<String, Entry>,
}

impl ConfigCache {
    pub fn new(policy: CachePolicy) -> Self {
        ConfigCache { policy, entries: HashMap::new() }
    }

    /// Applies a (re)configured policy to the entries already cached.
    pub fn set_policy(&mut self, policy: CachePolicy) {
        self.policy = policy;
    }

    /// The keys to fetch along with `primary`: cached ones that are stale, or within the last
    /// fifth of their life, oldest first — so one request refreshes many (at most [`BATCH_SIZE`]).
    pub fn batch(&self, primary: &str, now_ms: u64) -> Vec<String> {
        let mut due: Vec<(&String, u64)> = self
            .entries
            .iter()
            .filter(|(k, _)| k.as_str() != primary)
            .filter_map(|(k, e)| {
                let life = if e.state.is_some() { self.policy.expiry_ms } else { self.policy.miss_expiry_ms };
                let age = now_ms.saturating_sub(e.fetched_ms);
                (age.saturating_mul(5) >= life.saturating_mul(4)).then_some((k, e.fetched_ms))
            })
            .collect();
        due.sort_by_key(|(_, fetched)| *fetched);
        std::iter::once(primary.to_string()).chain(due.into_iter().map(|(k, _)| k.clone())).take(BATCH_SIZE).collect()
    }

    pub fn lookup(&self, public_key: &str, now_ms: u64) -> Lookup {
        self.entries.get(public_key).map_or(Lookup::Miss, |entry| entry.lookup(&self.policy, now_ms))
    }

    /// Records an answer, evicting the oldest entry when full.
    pub fn insert(&mut self, public_key: &str, state: Option<Arc<Project>>, now_ms: u64) {
        if !self.entries.contains_key(public_key) && self.entries.len() >= self.policy.max_entries {
            let oldest = self.entries.iter().min_by_key(|(_, e)| e.fetched_ms).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(public_key.to_string(), Entry { state, fetched_ms: now_ms });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn project() -> Option<Arc<Project>> {
        Some(Arc::new(Project::new(state())))
    }

    fn state() -> ProjectState {
        ProjectState {
            project_id: 42,
            disabled: false,
            public_keys: vec![PublicKeyConfig { public_key: KEY.into(), numeric_id: Some(1), is_enabled: true }],
            slug: Some("web".into()),
            organization_id: Some(1),
            config: ProjectConfig::default(),
        }
    }

    #[test]
    fn response_round_trips_and_unknown_keys_resolve_to_none() {
        let body = serde_json::to_vec(&response_body(&[(KEY.into(), state())])).unwrap();
        let other = "ffffffffffffffffffffffffffffffff";
        let r = parse_response(&[KEY, other], &body).unwrap();
        assert_eq!(r.resolved, vec![(KEY.to_string(), Some(state())), (other.to_string(), None)]);
        assert_eq!(parse_request(&request_body(&[KEY])).unwrap(), vec![KEY.to_string()]);
    }

    #[test]
    fn pending_keys_are_not_resolved() {
        let r = parse_response(&[KEY], br#"{"configs":{},"pending":["0123456789abcdef0123456789abcdef"]}"#).unwrap();
        assert!(r.resolved.is_empty());
        assert_eq!(r.pending, vec![KEY.to_string()]);
    }

    #[test]
    fn cache_serves_fresh_then_stale_then_misses() {
        let mut c = ConfigCache::new(CachePolicy::default());
        assert_eq!(c.lookup(KEY, 0), Lookup::Miss);
        c.insert(KEY, project(), 1_000);
        assert!(matches!(c.lookup(KEY, 300_999), Lookup::Fresh(Some(_))));
        assert!(matches!(c.lookup(KEY, 301_000), Lookup::Stale(_)));
        assert!(matches!(c.lookup(KEY, 420_999), Lookup::Stale(_)));
        assert_eq!(c.lookup(KEY, 421_000), Lookup::Miss);
    }

    #[test]
    fn misses_are_remembered_for_a_minute() {
        let mut c = ConfigCache::new(CachePolicy::default());
        c.insert(KEY, None, 0);
        assert_eq!(c.lookup(KEY, 59_999), Lookup::Fresh(None));
        assert_eq!(c.lookup(KEY, 60_000), Lookup::Miss);
    }

    #[test]
    fn fetches_batch_the_keys_that_are_due() {
        let mut c = ConfigCache::new(CachePolicy::default());
        c.insert("fresh", project(), 1_000_000);
        c.insert("aging", project(), 1_000_000 - 250_000);
        c.insert("stale", project(), 1_000_000 - 310_000);
        c.insert("old-miss", None, 1_000_000 - 55_000);
        assert_eq!(c.batch("new", 1_000_000), vec!["new", "stale", "aging", "old-miss"]);
        for i in 0..200 {
            c.insert(&format!("k{i}"), None, 0);
        }
        assert_eq!(c.batch("new", 1_000_000).len(), BATCH_SIZE);
    }

    #[test]
    fn the_policy_comes_from_settings() {
        let p = CachePolicy::from_settings(|n| (n == "CONFIG_EXPIRY_SECS").then(|| "5".into())).unwrap();
        assert_eq!((p.expiry_ms, p.grace_ms, p.miss_expiry_ms), (5_000, 120_000, 60_000));
        assert!(CachePolicy::from_settings(|_| Some("soon".into())).is_err());
    }

    #[test]
    fn a_cached_project_serializes_as_its_state_and_compiles_its_filters_on_the_way_back() {
        let project = Project::new(state());
        let text = serde_json::to_string(&project).unwrap();
        assert_eq!(text, serde_json::to_string(&state()).unwrap());
        assert_eq!(serde_json::from_str::<Project>(&text).unwrap(), project);
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut c = ConfigCache::new(CachePolicy { max_entries: 2, ..Default::default() });
        c.insert("a", None, 1);
        c.insert("b", None, 2);
        c.insert("c", None, 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c.lookup("a", 3), Lookup::Miss);
    }
}
