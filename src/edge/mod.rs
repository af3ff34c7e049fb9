//! The edge's request flow, shared by every wasm shell: a shell implements [`Platform`] (its
//! parsed settings, clock, randomness, caches, quota counters, outbound HTTP and work after the
//! response) and calls [`admit`] then [`handle`]; every decision stays in the sans-IO core.
//! Only per-request work happens per request: the settings are parsed and the signing key
//! derived once per isolate or instance ([`EdgeConfig`]), a project's filters compiled once
//! when its state enters the cache ([`Project`]).

use std::future::Future;
use std::sync::Arc;

pub use config::{settings, ConfigCell, EdgeConfig, DEFAULT_UPSTREAM_TIMEOUT_SECS};

use crate::core::config::{self as project_config, CachePolicy, Lookup, Project};
use crate::core::ingest::{Forward, ForwardOutcome};
use crate::core::limit::Check;
use crate::core::origins::{self, Origins};
use crate::core::outcome::{outcomes_body, Outcome};
use crate::core::quota::{self, CachedLimits, RateLimit, Scoping};
use crate::core::sign::Identity;
use crate::core::spill::Spilled;
use crate::core::tunnel;
use crate::core::{self as picket, Reject, Request, Response, Step};

/// Where the edge sends, and who it says it is: every request to an origin is signed, afresh
/// for each origin it goes to.
#[derive(Debug)]
struct Upstream {
    origins: Origins,
    identity: Identity,
    timeout_ms: u64,
}

/// One origin's answer within an attempt: the origin, and its reply or why there was none.
type Tried = (String, Result<Reply, String>);

impl Upstream {
    /// One attempt: POSTs `body` to `path` at each origin in the order `spread` gives, until
    /// one answers other than "unavailable, later" ([`origins::try_next`]) or all have been
    /// tried once. Every try is logged as `what` when it moves on, and returned, the deciding
    /// one last (never empty).
    async fn post<P: Platform>(
        &self,
        p: &P,
        what: &str,
        spread: u64,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Vec<Tried> {
        let mut tried: Vec<Tried> = Vec::with_capacity(self.origins.len());
        for origin in self.origins.order(spread) {
            if let Some((previous, answer)) = tried.last() {
                let status = answer.as_ref().ok().map(|(status, _, _)| *status);
                p.log(&format!(
                    "picket: {what} to {previous} failed: {} ({}); trying {origin}",
                    ForwardOutcome::from_status(status).code(),
                    status_text(answer)
                ));
            }
            let answer = self.post_to(p, origin, path, headers, body).await;
            let status = answer.as_ref().ok().map(|(status, _, _)| *status);
            tried.push((origin.to_string(), answer));
            if !origins::try_next(status) {
                break;
            }
        }
        tried
    }

    /// POSTs `body` to `path` at one origin, signed now with a fresh nonce, within the timeout.
    async fn post_to<P: Platform>(
        &self,
        p: &P,
        origin: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut headers = headers.to_vec();
        headers.extend(self.identity.headers(body, p.now_ms(), random_u64(p)?));
        let url = format!("{origin}{path}");
        let post = std::pin::pin!(p.post(&url, &headers, body));
        let late = std::pin::pin!(p.sleep(self.timeout_ms));
        match futures_util::future::select(post, late).await {
            futures_util::future::Either::Left((answer, _)) => answer,
            futures_util::future::Either::Right(_) => Err(format!("no answer within {} ms", self.timeout_ms)),
        }
    }
}

/// The deciding answer of an attempt (its last try).
fn decided(tried: Vec<Tried>) -> Result<Reply, String> {
    tried.into_iter().next_back().map_or_else(|| Err("no origin to try".to_string()), |(_, answer)| answer)
}

/// An answer's status for a log line, or that there was none.
fn status_text(answer: &Result<Reply, String>) -> String {
    match answer {
        Ok((status, _, _)) => status.to_string(),
        Err(why) => format!("no response: {why}"),
    }
}

/// Eight bytes of the platform's randomness as a number.
fn random_u64<P: Platform>(p: &P) -> Result<u64, String> {
    p.random_id().map(|id| u64::from_le_bytes(id[..8].try_into().expect("8 of 16 bytes")))
}

/// An upstream answer: status, headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// What a shell provides. Futures need not be `Send`: both platforms run one thread per
/// request.
pub trait Platform: Clone + 'static {
    /// The settings, parsed: once per isolate or instance ([`ConfigCell`]), never per request
    /// unless a value changed. `Err` names the setting that does not parse.
    fn config(&self) -> Result<Arc<EdgeConfig>, String>;
    /// Unix time in milliseconds.
    fn now_ms(&self) -> u64;
    /// 16 bytes from the platform's CSPRNG.
    fn random_id(&self) -> Result<[u8; 16], String>;
    /// Writes one line to the platform's error log.
    fn log(&self, line: &str);
    /// POSTs `body` and returns the upstream's answer.
    fn post(&self, url: &str, headers: &[(String, String)], body: &[u8])
        -> impl Future<Output = Result<Reply, String>>;
    /// Counts `check` on its shard: whether it fitted.
    fn count(&self, check: &Check) -> impl Future<Output = Result<bool, String>>;
    /// Runs `work` after the SDK has its answer.
    fn after_response(&self, work: impl Future<Output = ()> + 'static);
    /// The cached project state for `key`.
    fn cached_state(&self, key: &str, policy: &CachePolicy, now_ms: u64) -> impl Future<Output = Lookup>;
    /// The keys to fetch along with `key` (due refreshes of other cached keys, `key` first).
    fn keys_to_fetch(&self, key: &str, now_ms: u64) -> Vec<String>;
    /// Caches the origin's answers.
    fn remember_states(&self, states: Vec<(String, Option<Arc<Project>>)>, now_ms: u64) -> impl Future<Output = ()>;
    /// The limits learned from the origin's 429s that may apply to `project_id`.
    fn learned_limits(&self, project_id: Option<u64>) -> impl Future<Output = CachedLimits>;
    /// Remembers limits the origin answered with for `project_id`.
    fn learn_limits(&self, project_id: u64, limits: Vec<RateLimit>, now: u64) -> impl Future<Output = ()>;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// Keeps an envelope the origin could not take under `key`, to be tried again.
    fn spill(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), String>>;
}

/// The parsed settings, and the body refused when its declared length is over the limits.
pub fn admit<P: Platform>(platform: &P, content_length: Option<&str>) -> Result<Arc<EdgeConfig>, Response> {
    let config = platform.config().map_err(|e| {
        platform.log(&format!("picket: bad settings: {e}"));
        Reject::Misconfigured(e).response()
    })?;
    config.limits.admit(content_length).map_err(|reject| reject.response())?;
    Ok(config)
}

/// Judges one request and answers it; the forward and outcomes run after the response.
pub async fn handle<P: Platform>(platform: &P, config: &Arc<EdgeConfig>, request: &Request<'_>) -> Response {
    match judge_and_answer(platform, config, request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn judge_and_answer<P: Platform>(
    p: &P,
    config: &Arc<EdgeConfig>,
    request: &Request<'_>,
) -> Result<Response, Response> {
    let id = p.random_id().map_err(|e| {
        let e = format!("no randomness: {e}");
        p.log(&format!("picket: bad settings: {e}"));
        Reject::Misconfigured(e).response()
    })?;
    // The shell's `client_ip` is the platform's word; a client's X-Forwarded-For counts only
    // behind proxies the deployment names.
    let client_ip = picket::http::client_address(request.client_ip, request.headers, config.trusted_proxies);
    let request = &Request { client_ip: client_ip.as_deref(), ..*request };
    let prepared = match tunnel::prepare(request, &config.limits, &config.tunnel, picket::EventId::from_bytes(id)) {
        Ok(Step::Respond(response)) => return Ok(response),
        Ok(Step::NeedState(prepared)) => prepared,
        Err(reject) => return Err(reject.response()),
    };
    let key = prepared.public_key().to_string();
    let now = p.now_ms();
    let state = match p.cached_state(&key, &config.policy, now).await {
        Lookup::Fresh(state) => state,
        Lookup::Stale(state) => {
            let (platform, config, key) = (p.clone(), config.clone(), key.clone());
            p.after_response(async move {
                if let Err(e) = fetch_state(&platform, &config.upstream, &key).await {
                    platform.log(&format!("picket: project config refresh failed: {e}"));
                }
            });
            Some(state)
        }
        Lookup::Miss => fetch_state(p, &config.upstream, &key).await.map_err(|e| {
            p.log(&format!("picket: project config fetch failed: {e}"));
            Reject::ConfigUnavailable.response()
        })?,
    };
    let learned = p.learned_limits(state.as_ref().map(|s| s.project_id)).await;
    let judged = match picket::judge_project(prepared, state.as_deref(), &learned, now / 1000) {
        Ok(judged) => judged,
        Err(refused) => {
            if let (Some(scoping), false) = (refused.scoping, refused.outcomes.is_empty()) {
                p.after_response(send_outcomes(p.clone(), config.clone(), refused.outcomes, scoping));
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
        p.after_response(send_outcomes(p.clone(), config.clone(), done.outcomes, scoping));
    }
    if let Some(fwd) = done.forward {
        p.after_response(forward(p.clone(), config.clone(), fwd));
    }
    Ok(done.response)
}

/// Asks an origin for the key's project state (with the other keys that are due, in one
/// request; the next origin when one cannot answer now) and caches the answers.
async fn fetch_state<P: Platform>(p: &P, origin: &Upstream, key: &str) -> Result<Option<Arc<Project>>, String> {
    let path = "/api/0/relays/projectconfigs/?version=3";
    let keys = p.keys_to_fetch(key, p.now_ms());
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let spread = random_u64(p).unwrap_or(0);
    let body = project_config::request_body(&keys);
    let tried = origin.post(p, "project config fetch", spread, path, &headers, &body).await;
    let (status, _, body) = decided(tried)?;
    if !(200..300).contains(&status) {
        return Err(format!("origin answered {status}"));
    }
    let result = project_config::parse_response(&keys, &body)?;
    let now = p.now_ms();
    // Each state's filters are compiled here, once, and cached with it.
    let resolved: Vec<(String, Option<Arc<Project>>)> =
        result.resolved.into_iter().map(|(k, state)| (k, state.map(|s| Arc::new(Project::new(s))))).collect();
    let mine = resolved.iter().find(|(k, _)| k == key).map(|(_, state)| state.clone());
    p.remember_states(resolved, now).await;
    mine.ok_or_else(|| "the origin has the project state pending".to_string())
}

/// Reports dropped data to an origin's outcomes endpoint (the next origin when one cannot
/// take them now).
async fn send_outcomes<P: Platform>(p: P, config: Arc<EdgeConfig>, outcomes: Vec<Outcome>, scoping: Scoping) {
    let timestamp = iso8601(p.now_ms());
    let body = serde_json::to_vec(&outcomes_body(&outcomes, &scoping, &timestamp)).unwrap_or_default();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let spread = random_u64(&p).unwrap_or(0);
    let tried = config.upstream.post(&p, "outcomes report", spread, "/api/0/relays/outcomes/", &headers, &body).await;
    match decided(tried) {
        Ok((status, _, _)) if (200..300).contains(&status) => {}
        other => p.log(&format!(
            "picket: {} outcomes not delivered to the origin ({:?})",
            outcomes.len(),
            other.map(|(status, _, _)| status)
        )),
    }
}

/// Sends an accepted envelope to the origin; what it could not take now is kept and tried
/// again ([`redeliver`]); what it refused is logged with its reason.
async fn forward<P: Platform>(p: P, config: Arc<EdgeConfig>, fwd: Forward) {
    if deliver(&p, &config.upstream, &fwd).await != ForwardOutcome::Unavailable {
        return;
    }
    let spilled = Spilled { forward: fwd, failed_ms: p.now_ms() };
    let key = spilled.key(random_u64(&p).unwrap_or(0));
    match p.spill(&key, spilled.encode()).await {
        Ok(()) => p.log(&format!("picket: kept {key} to retry")),
        Err(e) => p.log(&format!("picket: keeping {key} failed: {e}; envelope dropped")),
    }
}

/// What became of a kept envelope's retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redelivery {
    /// Delivered, refused for good (logged), or unreadable (logged): forget it.
    Done,
    /// The origin still cannot take it: try again after this many seconds.
    RetryIn(u64),
}

/// Tries a kept envelope (as [`Platform::spill`] stored it) again.
pub async fn redeliver<P: Platform>(p: &P, stored: &[u8]) -> Redelivery {
    let spilled = match Spilled::decode(stored) {
        Ok(spilled) => spilled,
        Err(e) => {
            p.log(&format!("picket: a kept envelope is unreadable ({e}); dropped"));
            return Redelivery::Done;
        }
    };
    let config = match p.config() {
        Ok(config) => config,
        Err(e) => {
            p.log(&format!("picket: bad settings: {e}; retrying later"));
            return Redelivery::RetryIn(spilled.retry_delay_secs(p.now_ms()));
        }
    };
    match deliver(p, &config.upstream, &spilled.forward).await {
        ForwardOutcome::Unavailable => Redelivery::RetryIn(spilled.retry_delay_secs(p.now_ms())),
        _ => Redelivery::Done,
    }
}

/// One delivery attempt: each origin at most once, from the one the event id picks, each
/// request signed afresh, until one takes or refuses it. When none took it, learns the rate
/// limits any of them answered with a 429; logs every failure with its typed outcome.
async fn deliver<P: Platform>(p: &P, origin: &Upstream, fwd: &Forward) -> ForwardOutcome {
    let id = fwd.event_id.map(|id| id.simple()).unwrap_or_default();
    let what = format!("forward of event {id}");
    let spread = origins::spread(fwd.event_id, random_u64(p).unwrap_or(0));
    let tried = origin.post(p, &what, spread, &fwd.path(), &fwd.headers, &fwd.body).await;
    let (last_origin, last) = tried.last().expect("an attempt tries at least one origin");
    let status = last.as_ref().ok().map(|(status, _, _)| *status);
    let outcome = ForwardOutcome::from_status(status);
    if outcome == ForwardOutcome::Unavailable {
        // An origin limiting this project: remember it and refuse here until it ends. Only when
        // no origin took the envelope: one busy origin must not stop what another accepts.
        for (_, answer) in &tried {
            if let Ok((429, headers, _)) = answer {
                let now = p.now_ms() / 1000;
                let find =
                    |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
                let value =
                    find("x-sentry-rate-limits").or_else(|| find("retry-after").map(|v| format!("{v}::organization")));
                if let Some(value) = value {
                    p.learn_limits(fwd.project_id, quota::parse_header(&value, now), now).await;
                }
            }
        }
    }
    if let (Some(401 | 403), Some(key)) = (status, fwd.public_key()) {
        // The origin refused the key or its project (disabled, revoked, moved): learn its state
        // now rather than when the cached one expires, so later requests are refused here.
        if let Err(e) = fetch_state(p, origin, &key).await {
            p.log(&format!("picket: project config refresh after a refused forward failed: {e}"));
        }
    }
    if outcome != ForwardOutcome::Delivered {
        let fate = if outcome == ForwardOutcome::Unavailable { "will retry" } else { "envelope dropped" };
        p.log(&format!("picket: {what} to {last_origin} failed: {} ({}); {fate}", outcome.code(), status_text(last)));
    }
    outcome
}

/// RFC 3339 with milliseconds, UTC, for Unix milliseconds.
pub fn iso8601(ms: u64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

mod config;
#[cfg(test)]
mod tests;
