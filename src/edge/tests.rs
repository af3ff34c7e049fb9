//! The edge flow against a fake platform whose every wait is already over: what is fetched,
//! signed, answered, deferred, kept and retried.

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

/// A status and headers an origin answers with.
type Answer = (u16, Vec<(String, String)>);

/// What the fake platform saw and holds.
#[derive(Default)]
struct World {
    settings: HashMap<&'static str, String>,
    /// The config built from `settings`, as a shell keeps it.
    config: ConfigCell,
    quotas: Value,
    /// The project's `filterSettings`.
    filters: Value,
    /// Status the origin answers forwards with, and its headers.
    forward_answer: (u16, Vec<(String, String)>),
    origin_down: bool,
    /// Origins (base URLs) that refuse connections.
    down: Vec<&'static str>,
    /// Origins that answer every request with this status and headers.
    answering: HashMap<&'static str, Answer>,
    /// The signature header of every request, in order.
    signatures: Vec<String>,
    /// Counts up: each random id differs.
    randoms: u8,
    counter_down: bool,
    /// Whether the origin's project config says the key is disabled.
    key_disabled: bool,
    /// `X-Forwarded-For` of each forward.
    forwarded_for: Vec<Option<String>>,
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
        let world =
            World { forward_answer: (200, Vec::new()), quotas: json!([]), filters: json!({}), ..World::default() };
        let fake = Fake(Rc::new(RefCell::new(world)));
        let mut world = fake.0.borrow_mut();
        world.settings.insert("ORIGIN_URL", "http://origin".into());
        world.settings.insert("RELAY_ID", "8a2c6f4e-7d1b-4c3a-9e5f-0b1d2c3e4f5a".into());
        world.settings.insert("RELAY_SECRET_KEY", crate::core::sign::SecretKey::from_seed([9; 32]).to_string());
        drop(world);
        fake
    }

    fn send(&self, id: &str) -> Response {
        self.send_with(id, &[])
    }

    fn send_with(&self, id: &str, extra: &[(&str, &str)]) -> Response {
        let mut headers: Headers = extra.iter().copied().collect();
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
        match admit(self, None) {
            Ok(config) => run(handle(self, &config, &request)),
            Err(refused) => refused,
        }
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
    fn config(&self) -> Result<Arc<EdgeConfig>, String> {
        let world = self.0.borrow();
        world.config.get(settings().map(|name| world.settings.get(name).cloned()).collect())
    }

    fn now_ms(&self) -> u64 {
        1_795_244_400_000
    }

    fn random_id(&self) -> Result<[u8; 16], String> {
        let mut world = self.0.borrow_mut();
        world.randoms = world.randoms.wrapping_add(1);
        Ok([world.randoms; 16])
    }

    fn log(&self, line: &str) {
        self.0.borrow_mut().logs.push(line.to_string());
    }

    async fn post(&self, url: &str, headers: &[(String, String)], body: &[u8]) -> Result<Reply, String> {
        // Every request to the origin carries the edge's id and a signature of its body.
        let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let public = crate::core::sign::SecretKey::from_seed([9; 32]).public();
        assert_eq!(find("x-sentry-relay-id"), Some("8a2c6f4e-7d1b-4c3a-9e5f-0b1d2c3e4f5a"));
        let signature = find("x-sentry-relay-signature").expect("signed");
        assert_eq!(public.verify(body, signature, self.now_ms(), 300), Ok(self.now_ms()), "{url}");
        let mut world = self.0.borrow_mut();
        world.posts.push(url.to_string());
        world.signatures.push(signature.to_string());
        let origin = url.split("/api/").next().unwrap_or_default();
        if world.origin_down || world.down.contains(&origin) {
            return Err("connection refused".into());
        }
        if let Some((status, headers)) = world.answering.get(origin) {
            return Ok((*status, headers.clone(), b"{}".to_vec()));
        }
        if url.contains("projectconfigs") {
            let state = json!({
                "projectId": 42, "organizationId": 1,
                "publicKeys": [{ "publicKey": KEY, "numericId": 1, "isEnabled": !world.key_disabled }],
                "config": { "quotas": world.quotas, "filterSettings": world.filters },
            });
            return Ok((200, Vec::new(), json!({ "configs": { KEY: state } }).to_string().into_bytes()));
        }
        world.forwarded_for.push(find("x-forwarded-for").map(str::to_string));
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

    fn keys_to_fetch(&self, key: &str, now_ms: u64) -> Vec<String> {
        self.0.borrow().configs.batch(key, now_ms)
    }

    async fn remember_states(&self, states: Vec<(String, Option<Arc<Project>>)>, now_ms: u64) {
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

    /// Never over: the fake origin always answers at once.
    fn sleep(&self, _ms: u64) -> impl Future<Output = ()> {
        std::future::pending()
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
    assert_eq!((answer.status, answer.body.as_slice()), (200, &br#"{"id":"a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"}"#[..]));
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
    let logs = fake.0.borrow().logs.clone();
    assert!(logs.iter().any(|l| l.contains("upstream_unavailable (429); will retry")), "{logs:?}");
    assert_eq!(fake.0.borrow().spilled.len(), 1, "the 429'd forward is kept, not dropped");
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
fn a_clients_x_forwarded_for_is_believed_only_behind_trusted_proxies() {
    let fake = Fake::new();
    let claims = [("x-forwarded-for", "198.51.100.7, 203.0.113.5")];
    assert_eq!(fake.send_with("a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6", &claims).status, 200);
    fake.after();
    fake.0.borrow_mut().settings.insert("TRUSTED_PROXIES", "1".into());
    assert_eq!(fake.send_with("b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6", &claims).status, 200);
    fake.after();
    fake.0.borrow_mut().settings.insert("TRUSTED_PROXIES", "17".into());
    assert_eq!(fake.send_with("c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6", &claims).status, 500, "a bad setting is named");
    let seen = fake.0.borrow().forwarded_for.clone();
    assert_eq!(
        seen,
        [Some("192.0.2.1".to_string()), Some("203.0.113.5".to_string())],
        "the platform's address, then the proxy's word"
    );
}

#[test]
fn a_forward_refused_for_its_key_refreshes_the_config_at_once() {
    let fake = Fake::new();
    assert_eq!(fake.send("a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7").status, 200);
    fake.after();
    // The key is disabled at the origin; this edge's cached config does not know yet.
    fake.0.borrow_mut().key_disabled = true;
    fake.0.borrow_mut().forward_answer = (403, Vec::new());
    assert_eq!(fake.send("b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7").status, 200);
    fake.after();
    let configs = fake.posts().iter().filter(|p| p.contains("projectconfigs")).count();
    assert_eq!(configs, 2, "the refused forward fetched the key's config again");
    let refused = fake.send("c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7");
    assert_eq!(refused.status, 403, "{}", String::from_utf8_lossy(&refused.body));
    fake.after();
    let forwards = fake.posts().iter().filter(|p| p.ends_with("/envelope/")).count();
    assert_eq!(forwards, 2, "nothing forwarded for a disabled key");
    assert!(fake.posts().last().unwrap().ends_with("/relays/outcomes/"), "its drop is reported");
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
    for name in ["ORIGIN_URL", "MAX_EVENT_SIZE", "MAX_LOG_SIZE", "CONFIG_GRACE_SECS", "TRUSTED_PROXIES"] {
        assert!(listed.contains(&name), "{name}");
    }
    assert!(listed.contains(&"TUNNEL_PATH") && listed.contains(&"TUNNEL_DSN_HOSTS"));
    assert_eq!(listed.len(), 22);
}

/// POSTs an envelope carrying `dsn` to `path` with `Host: edge.example`.
fn tunnel_post(fake: &Fake, path: &str, dsn: &str) -> Response {
    let headers: Headers = [("host", "edge.example"), ("origin", "https://shop.example")].into_iter().collect();
    let body = format!("{{\"event_id\":\"{:032x}\",\"dsn\":\"{dsn}\"}}\n{{\"type\":\"event\"}}\n{{}}\n", 7);
    let request =
        Request { method: "POST", path, query: "", headers: &headers, body: body.as_bytes(), client_ip: None };
    match admit(fake, None) {
        Ok(config) => run(handle(fake, &config, &request)),
        Err(refused) => refused,
    }
}

#[test]
fn the_tunnel_forwards_to_the_dsns_project_at_the_origin_and_nowhere_else() {
    let fake = Fake::new();
    let r = tunnel_post(&fake, "/tunnel", &format!("https://{KEY}@edge.example/42"));
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some("*")));
    fake.after();
    assert_eq!(envelope_posts(&fake), ["http://origin/api/42/envelope/"]);
    // Another host: refused before any request leaves the edge, the DSN's host never asked.
    let fake = Fake::new();
    let r = tunnel_post(&fake, "/tunnel", &format!("https://{KEY}@internal.example:6379/42"));
    assert_eq!(r.status, 403);
    fake.after();
    assert!(fake.posts().is_empty(), "{:?}", fake.posts());
    // Unless it is listed; the path is a setting too.
    fake.0.borrow_mut().settings.insert("TUNNEL_DSN_HOSTS", "ingest.example".into());
    fake.0.borrow_mut().settings.insert("TUNNEL_PATH", "/monitoring".into());
    assert_eq!(tunnel_post(&fake, "/monitoring", &format!("https://{KEY}@ingest.example/42")).status, 200);
    assert_eq!(tunnel_post(&fake, "/tunnel", &format!("https://{KEY}@ingest.example/42")).status, 404);
    fake.after();
    assert_eq!(envelope_posts(&fake), ["http://origin/api/42/envelope/"]);
    // A bad path setting is the deployment's error, named.
    fake.0.borrow_mut().settings.insert("TUNNEL_PATH", "/api/tunnel".into());
    let r = tunnel_post(&fake, "/monitoring", &format!("https://{KEY}@ingest.example/42"));
    assert_eq!(r.status, 500);
    assert!(String::from_utf8_lossy(&r.body).contains("TUNNEL_PATH"));
}

/// The fake with `ORIGIN_URL` set to `origins`.
fn with_origins(origins: &str) -> Fake {
    let fake = Fake::new();
    fake.0.borrow_mut().settings.insert("ORIGIN_URL", origins.into());
    fake
}

/// The origins the envelope of `id` was posted to, in order.
fn envelope_posts(fake: &Fake) -> Vec<String> {
    fake.posts().into_iter().filter(|p| p.ends_with("/api/42/envelope/")).collect()
}

#[test]
fn configs_and_forwards_fail_over_past_refused_and_503_origins_and_nothing_is_kept() {
    let fake = with_origins("http://down, http://busy ,http://origin/");
    fake.0.borrow_mut().down.push("http://down");
    fake.0.borrow_mut().answering.insert("http://busy", (503, Vec::new()));
    for n in 0..12u8 {
        let id = format!("{:02x}", 0xc0 + n).repeat(16);
        assert_eq!(fake.send(&id).status, 200, "{id}");
        fake.after();
    }
    let envelopes = envelope_posts(&fake);
    let delivered = envelopes.iter().filter(|p| p.starts_with("http://origin/")).count();
    assert_eq!(delivered, 12, "every forward reached the healthy origin: {envelopes:?}");
    assert!(envelopes.iter().any(|p| p.starts_with("http://busy/")), "some forwards tried the busy one first");
    assert!(fake.0.borrow().spilled.is_empty(), "nothing kept while an origin could take it");
    assert!(fake.posts()[0].contains("projectconfigs"), "the config came from some origin");
    let logs = fake.0.borrow().logs.clone();
    assert!(logs.iter().any(|l| l.contains("to http://busy failed: upstream_unavailable (503); trying ")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("to http://down failed: upstream_unavailable (no response: ")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains("will retry")), "{logs:?}");
}

#[test]
fn each_origin_is_tried_once_per_attempt_signed_afresh_then_the_envelope_is_kept() {
    let fake = with_origins("http://one,http://two");
    assert_eq!(fake.send("d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1").status, 200, "config cached while up");
    fake.after();
    fake.0.borrow_mut().down = vec!["http://one", "http://two"];
    let before = fake.posts().len();
    assert_eq!(fake.send("d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2").status, 200);
    fake.after();
    let tried: Vec<String> = fake.posts()[before..].to_vec();
    assert_eq!(tried.len(), 2, "each origin once: {tried:?}");
    assert_ne!(tried[0], tried[1]);
    let signatures = fake.0.borrow().signatures.clone();
    let n = signatures.len();
    assert_ne!(signatures[n - 1], signatures[n - 2], "the same body, a fresh signature for each origin");
    let (_, kept) = fake.0.borrow().spilled.first().cloned().expect("kept when no origin could take it");
    // A retry tries both again, once each; when one is back it ends there.
    assert_eq!(run(redeliver(&fake, &kept)), Redelivery::RetryIn(1));
    assert_eq!(fake.posts().len(), before + 4);
    fake.0.borrow_mut().down = vec!["http://one"];
    assert_eq!(run(redeliver(&fake, &kept)), Redelivery::Done);
    assert!(fake.posts().last().unwrap().starts_with("http://two/"));
}

#[test]
fn a_2xx_or_a_final_4xx_from_one_origin_ends_the_attempt() {
    let fake = with_origins("http://a,http://b,http://c");
    assert_eq!(fake.send("e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1").status, 200);
    fake.after();
    assert_eq!(envelope_posts(&fake).len(), 1, "delivered at the first origin tried");
    fake.0.borrow_mut().forward_answer = (400, Vec::new());
    assert_eq!(fake.send("e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2").status, 200);
    fake.after();
    assert_eq!(envelope_posts(&fake).len(), 2, "a 400 is final: no other origin is asked");
    assert!(fake.0.borrow().spilled.is_empty());
    assert!(fake.0.borrow().logs.iter().any(|l| l.contains("upstream_rejected (400); envelope dropped")));
}

#[test]
fn a_429_from_one_origin_is_not_learned_when_another_takes_the_envelope() {
    let fake = with_origins("http://limiting,http://origin");
    let limit = vec![("x-sentry-rate-limits".to_string(), "60:error:project:upstream".to_string())];
    fake.0.borrow_mut().answering.insert("http://limiting", (429, limit));
    for n in 0..6u8 {
        let id = format!("{:02x}", 0xa0 + n).repeat(16);
        assert_eq!(fake.send(&id).status, 200, "{id}: a busy origin must not refuse what another takes");
        fake.after();
    }
    assert!(fake.0.borrow().spilled.is_empty());
    // Every origin limiting: learned and kept, as with one origin.
    let limit = vec![("x-sentry-rate-limits".to_string(), "60:error:project:upstream".to_string())];
    fake.0.borrow_mut().answering.insert("http://origin", (429, limit));
    assert_eq!(fake.send("a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9").status, 200);
    fake.after();
    assert_eq!(fake.0.borrow().spilled.len(), 1);
    assert_eq!(fake.send("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").status, 429);
}

#[test]
fn forwards_spread_across_healthy_origins() {
    let fake = with_origins("http://a,http://b");
    for n in 0..20u128 {
        let id = format!("{:032x}", 0xfa_0000 + n);
        assert_eq!(fake.send(&id).status, 200);
        fake.after();
    }
    let envelopes = envelope_posts(&fake);
    let at_a = envelopes.iter().filter(|p| p.starts_with("http://a/")).count();
    assert_eq!(envelopes.len(), 20, "each forward once: {envelopes:?}");
    assert!((4..=16).contains(&at_a), "{at_a} of 20 at a");
}

#[test]
fn an_origin_list_with_an_empty_entry_is_a_500_naming_the_setting() {
    for bad in ["http://a,,http://b", "http://a,", " , "] {
        let fake = with_origins(bad);
        let answer = fake.send("f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8f8");
        assert_eq!(answer.status, 500, "{bad:?}");
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(body.contains("ORIGIN_URL") && body.contains("empty"), "{bad:?}: {body}");
        assert!(fake.posts().is_empty(), "nothing sent anywhere");
    }
}

#[test]
fn the_settings_are_parsed_and_the_key_derived_once_until_a_value_changes() {
    let built = || super::config::BUILT.with(|n| n.get());
    let fake = Fake::new();
    let before = built();
    for n in 0..5u8 {
        assert_eq!(fake.send(&format!("{:02x}", 0x10 + n).repeat(16)).status, 200);
        fake.after();
    }
    assert_eq!(built() - before, 1, "one config for five requests, their forwards and outcomes");
    // A changed value is never served from the old config.
    fake.0.borrow_mut().settings.insert("TRUSTED_PROXIES", "1".into());
    assert_eq!(fake.send("20202020202020202020202020202020").status, 200);
    assert_eq!(fake.send("21212121212121212121212121212121").status, 200);
    assert_eq!(built() - before, 2);
    // A bad one is answered with the 500 naming it every time, never cached.
    fake.0.borrow_mut().settings.insert("RELAY_SECRET_KEY", "short".into());
    for _ in 0..2 {
        let answer = fake.send("22222222222222222222222222222222");
        assert_eq!(answer.status, 500);
        assert!(String::from_utf8_lossy(&answer.body).contains("bad secret key"));
    }
    assert_eq!(built() - before, 4);
    let good = crate::core::sign::SecretKey::from_seed([9; 32]).to_string();
    fake.0.borrow_mut().settings.insert("RELAY_SECRET_KEY", good);
    assert_eq!(fake.send("23232323232323232323232323232323").status, 200);
    assert!(fake.0.borrow().logs.iter().any(|l| l.contains("picket: bad settings: bad secret key")));
}

#[test]
fn a_projects_filters_are_compiled_once_when_its_state_is_cached() {
    let compiled = || crate::core::filter::COMPILED.with(|n| n.get());
    let fake = Fake::new();
    fake.0.borrow_mut().filters =
        json!({ "errorMessages": { "patterns": ["*boom*", "*timeout*"] }, "releases": { "releases": ["1.0-beta*"] } });
    let before = compiled();
    for n in 0..5u8 {
        assert_eq!(fake.send(&format!("{:02x}", 0x30 + n).repeat(16)).status, 200);
        fake.after();
    }
    assert_eq!(compiled() - before, 1, "compiled when fetched, not per request");
    assert_eq!(envelope_posts(&fake).len(), 5, "message \"m\" passes every filter");
}
