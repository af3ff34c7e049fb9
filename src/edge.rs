//! The edge's request flow, shared by every wasm shell: a shell implements [`Platform`] (its
//! settings, clock, randomness, caches, quota counters, outbound HTTP and work after the
//! response) and calls [`admit`] then [`handle`]; every decision stays in the sans-IO core.

use std::future::Future;
use std::sync::Arc;

use crate::core::config::{self, CachePolicy, Lookup, ProjectState};
use crate::core::ingest::{Forward, ForwardOutcome};
use crate::core::limit::Check;
use crate::core::limits::Limits;
use crate::core::outcome::{outcomes_body, Outcome};
use crate::core::quota::{self, CachedLimits, RateLimit, Scoping};
use crate::core::{self as picket, Reject, Request, Response, Step};

/// Every setting the edge reads, by its upper-case name (wrangler vars; Spin variables take
/// the lower-case form).
pub fn settings() -> impl Iterator<Item = &'static str> {
    std::iter::once("ORIGIN_URL").chain(Limits::SETTINGS).chain(CachePolicy::SETTINGS)
}

/// An upstream answer: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// What a shell provides. Futures need not be `Send`: both platforms run one thread per
/// request.
pub trait Platform: Clone + 'static {
    /// A setting by its upper-case name, `None` when unset.
    fn setting(&self, name: &str) -> Option<String>;
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// 16 bytes from the platform's CSPRNG.
    fn random_id(&self) -> Result<[u8; 16], String>;
    /// Writes one line to the platform's error log.
    fn log(&self, line: &str);
    /// POSTs `body` and returns the upstream's answer.
    fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Reply, String>>;
    /// Counts `check` on its shard: whether it fitted.
    fn count(&self, check: &Check) -> impl Future<Output = Result<bool, String>>;
    /// Runs `work` after the SDK has its answer.
    fn after_response(&self, work: impl Future<Output = ()> + 'static);
    /// The cached project state for `key`.
    fn cached_state(&self, key: &str, policy: &CachePolicy, now_ms: u64) -> impl Future<Output = Lookup>;
    /// The keys to fetch along with `key` (due refreshes of other cached keys, `key` first).
    fn keys_to_fetch(&self, key: &str, policy: &CachePolicy, now_ms: u64) -> Vec<String>;
    /// Caches the origin's answers.
    fn remember_states(
        &self,
        states: Vec<(String, Option<ProjectState>)>,
        policy: &CachePolicy,
        now_ms: u64,
    ) -> impl Future<Output = ()>;
    /// The limits learned from the origin's 429s that may apply to `project_id`.
    fn learned_limits(&self, project_id: Option<u64>) -> impl Future<Output = CachedLimits>;
    /// Remembers limits the origin answered with for `project_id`.
    fn learn_limits(&self, project_id: u64, limits: Vec<RateLimit>, now: u64) -> impl Future<Output = ()>;
}

/// Reads the size limits and refuses a body whose declared length is over them.
pub fn admit<P: Platform>(platform: &P, content_length: Option<&str>) -> Result<Limits, Response> {
    let limits = Limits::from_settings(|name| platform.setting(name)).map_err(|e| {
        platform.log(&format!("picket: bad limit settings: {e}"));
        Reject::Misconfigured(e).response()
    })?;
    limits.admit(content_length).map_err(|reject| reject.response())?;
    Ok(limits)
}

/// Judges one request and answers it; the forward and outcomes run after the response.
pub async fn handle<P: Platform>(platform: &P, limits: &Limits, request: &Request<'_>) -> Response {
    match judge_and_answer(platform, limits, request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn judge_and_answer<P: Platform>(p: &P, limits: &Limits, request: &Request<'_>) -> Result<Response, Response> {
    let misconfigured = |e: String| {
        p.log(&format!("picket: bad settings: {e}"));
        Reject::Misconfigured(e).response()
    };
    let origin = p.setting("ORIGIN_URL").ok_or_else(|| misconfigured("ORIGIN_URL is not set".into()))?;
    let origin = origin.trim_end_matches('/').to_string();
    let policy = CachePolicy::from_settings(|name| p.setting(name)).map_err(misconfigured)?;
    let id = p.random_id().map_err(|e| misconfigured(format!("no randomness: {e}")))?;
    let prepared = match picket::prepare(request, limits, picket::EventId::from_bytes(id)) {
        Ok(Step::Respond(response)) => return Ok(response),
        Ok(Step::NeedState(prepared)) => prepared,
        Err(reject) => return Err(reject.response()),
    };
    let key = prepared.public_key().to_string();
    let now = p.now_ms();
    let state = match p.cached_state(&key, &policy, now).await {
        Lookup::Fresh(state) => state,
        Lookup::Stale(state) => {
            let (platform, origin, key) = (p.clone(), origin.clone(), key.clone());
            p.after_response(async move {
                if let Err(e) = fetch_state(&platform, &origin, &key, &policy).await {
                    platform.log(&format!("picket: project config refresh failed: {e}"));
                }
            });
            Some(state)
        }
        Lookup::Miss => fetch_state(p, &origin, &key, &policy).await.map_err(|e| {
            p.log(&format!("picket: project config fetch failed: {e}"));
            Reject::ConfigUnavailable.response()
        })?,
    };
    let learned = p.learned_limits(state.as_ref().map(|s| s.project_id)).await;
    let judged = match picket::judge(prepared, state.as_deref(), &learned, now / 1000) {
        Ok(judged) => judged,
        Err(refused) => {
            if let (Some(scoping), false) = (refused.scoping, refused.outcomes.is_empty()) {
                p.after_response(send_outcomes(p.clone(), origin, refused.outcomes, scoping));
            }
            return Err(refused.reject.response());
        }
    };
    let mut allowed = Vec::with_capacity(judged.checks().len());
    for check in judged.checks() {
        allowed.push(p.count(check).await.unwrap_or_else(|e| {
            // Counting failed: let the data through rather than lose it, and say so.
            p.log(&format!("picket: quota counter {} unavailable: {e}; allowing", check.shard));
            true
        }));
    }
    let scoping = judged.scoping.clone();
    let done = judged.finish(&allowed);
    if !done.outcomes.is_empty() {
        p.after_response(send_outcomes(p.clone(), origin.clone(), done.outcomes, scoping));
    }
    if let Some(fwd) = done.forward {
        p.after_response(forward(p.clone(), origin, fwd));
    }
    Ok(done.response)
}

/// Asks the origin for the key's project state (with the other keys that are due, in one
/// request) and caches the answers.
async fn fetch_state<P: Platform>(
    p: &P,
    origin: &str,
    key: &str,
    policy: &CachePolicy,
) -> Result<Option<Arc<ProjectState>>, String> {
    let url = format!("{origin}/api/0/relays/projectconfigs/?version=3");
    let keys = p.keys_to_fetch(key, policy, p.now_ms());
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let (status, _, body) = p.post(&url, &headers, config::request_body(&keys)).await?;
    if !(200..300).contains(&status) {
        return Err(format!("origin answered {status}"));
    }
    let result = config::parse_response(&keys, &body)?;
    let now = p.now_ms();
    let mine = result.resolved.iter().find(|(k, _)| k == key).map(|(_, state)| state.clone().map(Arc::new));
    p.remember_states(result.resolved, policy, now).await;
    mine.ok_or_else(|| "the origin has the project state pending".to_string())
}

/// Reports dropped data to the origin's outcomes endpoint.
async fn send_outcomes<P: Platform>(p: P, origin: String, outcomes: Vec<Outcome>, scoping: Scoping) {
    let timestamp = iso8601(p.now_ms());
    let body = serde_json::to_vec(&outcomes_body(&outcomes, &scoping, &timestamp)).unwrap_or_default();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    match p.post(&format!("{origin}/api/0/relays/outcomes/"), &headers, body).await {
        Ok((status, _, _)) if (200..300).contains(&status) => {}
        other => p.log(&format!(
            "picket: {} outcomes not delivered to the origin ({:?})",
            outcomes.len(),
            other.map(|(status, _, _)| status)
        )),
    }
}

/// Sends an accepted envelope to the origin; learns the origin's rate limits from a 429.
async fn forward<P: Platform>(p: P, origin: String, fwd: Forward) {
    let id = fwd.event_id.map(|id| id.simple()).unwrap_or_default();
    let url = format!("{origin}{}", fwd.path());
    let answer = p.post(&url, &fwd.headers, fwd.body).await.ok();
    let status = answer.as_ref().map(|(status, _, _)| *status);
    if let Some((429, headers, _)) = &answer {
        // The origin is limiting this project: remember it and refuse here until it ends.
        let now = p.now_ms() / 1000;
        let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let value = find("x-sentry-rate-limits").or_else(|| find("retry-after").map(|v| format!("{v}::organization")));
        if let Some(value) = value {
            p.learn_limits(fwd.project_id, quota::parse_header(&value, now), now).await;
        }
    }
    match ForwardOutcome::from_status(status) {
        ForwardOutcome::Delivered => {}
        outcome => p.log(&format!(
            "picket: forward of event {id} to the origin failed: {} ({}); envelope dropped",
            outcome.code(),
            status.map_or("no response".to_string(), |s| s.to_string())
        )),
    }
}

/// RFC 3339 with milliseconds, UTC, for Unix milliseconds.
pub fn iso8601(ms: u64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_244_400_123), "2026-11-21T07:00:00.123Z");
    }

    #[test]
    fn every_setting_the_core_reads_is_listed() {
        let listed: Vec<&str> = settings().collect();
        for name in ["ORIGIN_URL", "MAX_EVENT_SIZE", "CONFIG_GRACE_SECS"] {
            assert!(listed.contains(&name), "{name}");
        }
        assert_eq!(listed.len(), 7);
    }
}
