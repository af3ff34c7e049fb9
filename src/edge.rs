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
use crate::core::sign::Identity;
use crate::core::spill::Spilled;
use crate::core::{self as picket, Reject, Request, Response, Step};

/// Every setting the edge reads, by its upper-case name (wrangler vars and secrets; Spin
/// variables take the lower-case form).
pub fn settings() -> impl Iterator<Item = &'static str> {
    std::iter::once("ORIGIN_URL").chain(Identity::SETTINGS).chain(Limits::SETTINGS).chain(CachePolicy::SETTINGS)
}

/// Where the edge sends, and who it says it is: every request to the origin is signed.
struct Upstream {
    origin: String,
    identity: Identity,
}

impl Upstream {
    fn from_settings<P: Platform>(p: &P) -> Result<Upstream, String> {
        let origin = p.setting("ORIGIN_URL").ok_or("ORIGIN_URL is not set")?;
        let identity = Identity::from_settings(|name| p.setting(name))?;
        Ok(Upstream { origin: origin.trim_end_matches('/').to_string(), identity })
    }

    /// POSTs `body` to `path` at the origin, signed.
    async fn post<P: Platform>(
        &self,
        p: &P,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut headers = headers.to_vec();
        let nonce = p.random_id().map(|id| u64::from_le_bytes(id[..8].try_into().expect("8 of 16 bytes")))?;
        headers.extend(self.identity.headers(&body, p.now_ms(), nonce));
        p.post(&format!("{}{path}", self.origin), &headers, body).await
    }
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
    /// Keeps an envelope the origin could not take under `key`, to be tried again.
    fn spill(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), String>>;
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
    let origin = Arc::new(Upstream::from_settings(p).map_err(misconfigured)?);
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
    origin: &Upstream,
    key: &str,
    policy: &CachePolicy,
) -> Result<Option<Arc<ProjectState>>, String> {
    let path = "/api/0/relays/projectconfigs/?version=3";
    let keys = p.keys_to_fetch(key, policy, p.now_ms());
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let (status, _, body) = origin.post(p, path, &headers, config::request_body(&keys)).await?;
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
async fn send_outcomes<P: Platform>(p: P, origin: Arc<Upstream>, outcomes: Vec<Outcome>, scoping: Scoping) {
    let timestamp = iso8601(p.now_ms());
    let body = serde_json::to_vec(&outcomes_body(&outcomes, &scoping, &timestamp)).unwrap_or_default();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    match origin.post(&p, "/api/0/relays/outcomes/", &headers, body).await {
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
async fn forward<P: Platform>(p: P, origin: Arc<Upstream>, fwd: Forward) {
    if deliver(&p, &origin, &fwd).await != ForwardOutcome::Unavailable {
        return;
    }
    let spilled = Spilled { forward: fwd, failed_ms: p.now_ms() };
    let random = p.random_id().map(|id| u64::from_le_bytes(id[8..].try_into().expect("8 of 16 bytes"))).unwrap_or(0);
    let key = spilled.key(random);
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
    let origin = match Upstream::from_settings(p) {
        Ok(origin) => origin,
        Err(e) => {
            p.log(&format!("picket: bad settings: {e}; retrying later"));
            return Redelivery::RetryIn(spilled.retry_delay_secs(p.now_ms()));
        }
    };
    match deliver(p, &origin, &spilled.forward).await {
        ForwardOutcome::Unavailable => Redelivery::RetryIn(spilled.retry_delay_secs(p.now_ms())),
        _ => Redelivery::Done,
    }
}

/// One delivery attempt, signed now; learns the origin's rate limits from a 429 and logs every
/// failure with its typed outcome.
async fn deliver<P: Platform>(p: &P, origin: &Upstream, fwd: &Forward) -> ForwardOutcome {
    let id = fwd.event_id.map(|id| id.simple()).unwrap_or_default();
    let answer = origin.post(p, &fwd.path(), &fwd.headers, fwd.body.clone()).await.ok();
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
    let outcome = ForwardOutcome::from_status(status);
    if outcome != ForwardOutcome::Delivered {
        let status = status.map_or("no response".to_string(), |s| s.to_string());
        let fate = if outcome == ForwardOutcome::Unavailable { "will retry" } else { "envelope dropped" };
        p.log(&format!("picket: forward of event {id} to the origin failed: {} ({status}); {fate}", outcome.code()));
    }
    outcome
}

/// RFC 3339 with milliseconds, UTC, for Unix milliseconds.
pub fn iso8601(ms: u64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::pin::{pin, Pin};
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    use serde_json::{json, Value};

    use super::*;
    use crate::core::config::ConfigCache;
    use crate::core::Headers;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    /// What the fake platform saw and holds.
    #[derive(Default)]
    struct World {
        settings: HashMap<&'static str, String>,
        quotas: Value,
        /// Status the origin answers forwards with, and its headers.
        forward_answer: (u16, Vec<(String, String)>),
        origin_down: bool,
        counter_down: bool,
        posts: Vec<String>,
        deferred: Vec<Pin<Box<dyn Future<Output = ()>>>>,
        configs: ConfigCache,
        limits: CachedLimits,
        logs: Vec<String>,
        spilled: Vec<(String, Vec<u8>)>,
    }

    /// A platform whose every wait is already over, so one poll finishes any future.
    #[derive(Clone)]
    struct Fake(Rc<RefCell<World>>);

    fn run<T>(future: impl Future<Output = T>) -> T {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(value) => value,
            Poll::Pending => panic!("the fake platform never waits"),
        }
    }

    impl Fake {
        fn new() -> Fake {
            let world = World { forward_answer: (200, Vec::new()), quotas: json!([]), ..World::default() };
            let fake = Fake(Rc::new(RefCell::new(world)));
            let mut world = fake.0.borrow_mut();
            world.settings.insert("ORIGIN_URL", "http://origin".into());
            world.settings.insert("RELAY_ID", "8a2c6f4e-7d1b-4c3a-9e5f-0b1d2c3e4f5a".into());
            world.settings.insert("RELAY_SECRET_KEY", crate::core::sign::SecretKey::from_seed([9; 32]).to_string());
            drop(world);
            fake
        }

        fn send(&self, id: &str) -> Response {
            let mut headers = Headers::new();
            headers.push("x-sentry-auth", format!("Sentry sentry_key={KEY}, sentry_version=7"));
            let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"m\"}}\n");
            let request = Request {
                method: "POST",
                path: "/api/42/envelope/",
                query: "",
                headers: &headers,
                body: body.as_bytes(),
                client_ip: Some("192.0.2.1"),
            };
            let limits = admit(self, None).expect("default limits");
            run(handle(self, &limits, &request))
        }

        /// Runs what was deferred until after the response.
        fn after(&self) {
            let deferred = std::mem::take(&mut self.0.borrow_mut().deferred);
            for work in deferred {
                run(work);
            }
        }

        fn posts(&self) -> Vec<String> {
            self.0.borrow().posts.clone()
        }
    }

    impl Platform for Fake {
        fn setting(&self, name: &str) -> Option<String> {
            self.0.borrow().settings.get(name).cloned()
        }

        fn now_ms(&self) -> u64 {
            1_795_244_400_000
        }

        fn random_id(&self) -> Result<[u8; 16], String> {
            Ok([7; 16])
        }

        fn log(&self, line: &str) {
            self.0.borrow_mut().logs.push(line.to_string());
        }

        async fn post(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<Reply, String> {
            // Every request to the origin carries the edge's id and a signature of its body.
            let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            let public = crate::core::sign::SecretKey::from_seed([9; 32]).public();
            assert_eq!(find("x-sentry-relay-id"), Some("8a2c6f4e-7d1b-4c3a-9e5f-0b1d2c3e4f5a"));
            let signature = find("x-sentry-relay-signature").expect("signed");
            assert_eq!(public.verify(&body, signature, self.now_ms(), 300), Ok(self.now_ms()), "{url}");
            let mut world = self.0.borrow_mut();
            world.posts.push(url.to_string());
            if world.origin_down {
                return Err("connection refused".into());
            }
            if url.contains("projectconfigs") {
                let state = json!({
                    "projectId": 42, "organizationId": 1,
                    "publicKeys": [{ "publicKey": KEY, "numericId": 1, "isEnabled": true }],
                    "config": { "quotas": world.quotas },
                });
                return Ok((200, Vec::new(), json!({ "configs": { KEY: state } }).to_string().into_bytes()));
            }
            let (status, headers) = world.forward_answer.clone();
            Ok((status, headers, b"{}".to_vec()))
        }

        async fn count(&self, _check: &Check) -> Result<bool, String> {
            if self.0.borrow().counter_down {
                return Err("no counter".into());
            }
            Ok(true)
        }

        fn after_response(&self, work: impl Future<Output = ()> + 'static) {
            self.0.borrow_mut().deferred.push(Box::pin(work));
        }

        async fn cached_state(&self, key: &str, policy: &CachePolicy, now_ms: u64) -> Lookup {
            let mut world = self.0.borrow_mut();
            world.configs.set_policy(*policy);
            world.configs.lookup(key, now_ms)
        }

        fn keys_to_fetch(&self, key: &str, _policy: &CachePolicy, now_ms: u64) -> Vec<String> {
            self.0.borrow().configs.batch(key, now_ms)
        }

        async fn remember_states(&self, states: Vec<(String, Option<ProjectState>)>, _: &CachePolicy, now_ms: u64) {
            for (key, state) in states {
                self.0.borrow_mut().configs.insert(&key, state, now_ms);
            }
        }

        async fn learned_limits(&self, _project_id: Option<u64>) -> CachedLimits {
            self.0.borrow().limits.clone()
        }

        async fn learn_limits(&self, project_id: u64, limits: Vec<RateLimit>, now: u64) {
            self.0.borrow_mut().limits.learn(project_id, limits, now);
        }

        async fn spill(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
            self.0.borrow_mut().spilled.push((key.to_string(), bytes));
            Ok(())
        }
    }

    #[test]
    fn a_miss_fetches_the_config_and_the_forward_waits_for_the_answer() {
        let fake = Fake::new();
        let answer = fake.send("a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0");
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &br#"{"id":"a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"}"#[..])
        );
        assert_eq!(fake.posts(), ["http://origin/api/0/relays/projectconfigs/?version=3"]);
        fake.after();
        assert_eq!(fake.posts()[1], "http://origin/api/42/envelope/");
        // The next request is judged from the cache.
        assert_eq!(fake.send("b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0").status, 200);
        assert_eq!(fake.posts().len(), 2);
    }

    #[test]
    fn an_origin_429_is_learned_and_refuses_the_next_event_here() {
        let fake = Fake::new();
        let limit = vec![("x-sentry-rate-limits".to_string(), "60:error:project:upstream".to_string())];
        fake.0.borrow_mut().forward_answer = (429, limit);
        assert_eq!(fake.send("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1").status, 200);
        fake.after();
        let refused = fake.send("b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");
        assert_eq!(refused.status, 429);
        assert!(refused.header("x-sentry-rate-limits").unwrap().ends_with(":error:project:upstream"));
        assert!(fake.0.borrow().logs.iter().any(|l| l.contains("upstream_rejected")), "the 429'd forward is logged");
    }

    #[test]
    fn a_forward_the_origin_cannot_take_is_kept_and_delivered_later() {
        let fake = Fake::new();
        fake.0.borrow_mut().forward_answer = (503, Vec::new());
        assert_eq!(fake.send("a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5").status, 200);
        fake.after();
        let (key, kept) = fake.0.borrow().spilled.first().cloned().expect("kept");
        assert_eq!(key, "fwd/1795244400000-a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5");
        assert_eq!(run(redeliver(&fake, &kept)), Redelivery::RetryIn(1), "still down");
        fake.0.borrow_mut().forward_answer = (200, Vec::new());
        assert_eq!(run(redeliver(&fake, &kept)), Redelivery::Done);
        let envelopes = fake.posts().iter().filter(|p| p.ends_with("/api/42/envelope/")).count();
        assert_eq!(envelopes, 3, "the first try and two retries");
        assert_eq!(run(redeliver(&fake, b"garbage")), Redelivery::Done, "unreadable: dropped, logged");
        assert!(fake.0.borrow().logs.iter().any(|l| l.contains("unreadable")));
    }

    #[test]
    fn an_unavailable_counter_lets_the_event_through_and_says_so() {
        let fake = Fake::new();
        fake.0.borrow_mut().quotas =
            json!([{ "id": "q", "categories": ["error"], "scope": "project", "limit": 1, "window": 60 }]);
        fake.0.borrow_mut().counter_down = true;
        assert_eq!(fake.send("a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2").status, 200);
        assert!(fake.0.borrow().logs.iter().any(|l| l.contains("quota counter q:project:42 unavailable")));
    }

    #[test]
    fn without_an_origin_or_a_cached_config_the_answer_is_503_not_a_guess() {
        let fake = Fake::new();
        fake.0.borrow_mut().origin_down = true;
        let answer = fake.send("a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3");
        assert_eq!((answer.status, answer.header("retry-after")), (503, Some("60")));
        assert!(fake.0.borrow().deferred.is_empty(), "nothing to forward");
    }

    #[test]
    fn a_missing_origin_url_is_a_500_naming_it() {
        let fake = Fake::new();
        fake.0.borrow_mut().settings.clear();
        let answer = fake.send("a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4");
        assert_eq!(answer.status, 500);
        assert!(String::from_utf8_lossy(&answer.body).contains("ORIGIN_URL is not set"));
    }

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
        assert_eq!(listed.len(), 9);
    }
}
