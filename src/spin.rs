//! The Spin shell: implements [`Platform`] with Spin parts (variables, the `default` key-value
//! store for project configs, learned limits, quota tallies and envelopes the origin could not
//! take, outbound HTTP, work spawned after the response) and hands each request to the shared
//! [`edge`] flow. Spin makes a new instance per request, so nothing is kept in memory between
//! requests but the parsed settings, for a host that does reuse an instance (keyed by their raw
//! values); kept envelopes are retried after later requests (Spin has no queue to wake it).

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::de::DeserializeOwned;
use spin_sdk::experimental::wasi::keyvalue::{atomics, store as wasi_kv};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use spin_sdk::key_value::Store;

use crate::core::config::{CachePolicy, Entry, Lookup, Project};
use crate::core::limit::{Check, Tally};
use crate::core::quota::{CachedLimits, RateLimit};
use crate::core::{self as picket, tunnel, Reject};
use crate::edge::{self, ConfigCell, EdgeConfig, Platform, Redelivery, Reply};

/// The key-value store (label) Picket uses; declare it in `spin.toml`.
const STORE: &str = "default";
/// Set while envelopes are kept, so requests look for them only then.
const KEPT_MARKER: &str = "fwd-pending";
/// Kept envelopes one request retries after its own work.
const RETRIES_PER_REQUEST: usize = 10;
/// When the origin last could not take a kept envelope: the time (ms since the epoch, decimal)
/// before which no request lists or retries kept envelopes. Without it every request during an
/// outage listed the whole store and tried again, so each cost more as the backlog grew.
const RETRY_NOT_BEFORE: &str = "fwd-retry-not-before";

/// Compare-and-swap attempts per quota check before counting is given up (and the data let
/// through, logged). Each failure means another request counted in between.
const CAS_ATTEMPTS: usize = 64;

type Answer = (StatusCode, HeaderMap, Full<Bytes>);

#[spin_sdk::http_service]
async fn handle(req: Request) -> Answer {
    let spin = Spin::load().await;
    let (parts, mut body) = req.into_parts();
    let config = match edge::admit(&spin, parts.headers.get("content-length").and_then(|v| v.to_str().ok())) {
        Ok(config) => config,
        Err(response) => return answer(response),
    };
    let limits = &config.limits;
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => bytes.extend_from_slice(frame.data_ref().map_or(&[][..], |d| d.as_ref())),
            Err(e) => return answer(Reject::IncompleteBody(format!("{e:?}")).response()),
        }
        if let Err(reject) = limits.admit_read(bytes.len() as u64) {
            return answer(reject.response());
        }
    }
    let mut headers: picket::Headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    if headers.get("host").is_none() {
        // The tunnel compares DSN hosts with this edge's own, which the runtime may keep out of
        // the headers: the URI's authority, else the URL Spin names in `spin-full-url`.
        let own = parts.uri.authority().map(|a| a.as_str().to_string()).or_else(|| {
            let url = parts.headers.get("spin-full-url").and_then(|v| v.to_str().ok())?;
            Some(tunnel::url_authority(url)).filter(|a| !a.is_empty())
        });
        if let Some(own) = own {
            headers.push("host", own);
        }
    }
    // Spin names the peer in `spin-client-addr` (`ip:port`).
    let client_ip = parts
        .headers
        .get("spin-client-addr")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<std::net::SocketAddr>().ok())
        .map(|addr| addr.ip().to_string());
    let request = picket::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &bytes,
        client_ip: client_ip.as_deref(),
    };
    let response = edge::handle(&spin, &config, &request).await;
    spin_sdk::wasip3::spawn(retry_kept(spin));
    answer(response)
}

/// Retries envelopes earlier requests kept, oldest first, until the origin still cannot take
/// one; then no request looks again before the delay that retry gave ([`RETRY_NOT_BEFORE`]).
/// Two instances may retry the same one; the origin stores an event id once.
async fn retry_kept(spin: Spin) {
    let Ok(store) = Store::open(STORE).await else { return };
    if !matches!(store.exists(KEPT_MARKER).await, Ok(true)) {
        return;
    }
    let now = spin.now_ms();
    if let Ok(Some(at)) = store.get(RETRY_NOT_BEFORE).await {
        if std::str::from_utf8(&at).ok().and_then(|at| at.parse::<u64>().ok()).is_some_and(|at| now < at) {
            return;
        }
    }
    let mut keys = kept_keys(&store).await;
    if keys.is_empty() {
        // Clear the marker, then look once more: a concurrent keep sets it again.
        let _ = store.delete(KEPT_MARKER).await;
        if !kept_keys(&store).await.is_empty() {
            let _ = store.set(KEPT_MARKER, b"1").await;
        }
        return;
    }
    keys.truncate(RETRIES_PER_REQUEST);
    for key in keys {
        let Ok(Some(kept)) = store.get(&key).await else { continue };
        match edge::redeliver(&spin, &kept).await {
            Redelivery::Done => {
                let _ = store.delete(&key).await;
            }
            Redelivery::RetryIn(secs) => {
                let at = now.saturating_add(secs.saturating_mul(1000));
                let _ = store.set(RETRY_NOT_BEFORE, at.to_string().as_bytes()).await;
                return;
            }
        }
    }
}

async fn kept_keys(store: &Store) -> Vec<String> {
    let mut keys: Vec<String> = match store.get_keys().await.collect().await {
        Ok(keys) => keys.into_iter().filter(|k| k.starts_with("fwd/")).collect(),
        Err(_) => Vec::new(),
    };
    keys.sort();
    keys
}

thread_local! {
    /// The parsed settings of this instance, keyed by their raw values.
    static CONFIG: ConfigCell = ConfigCell::default();
}

/// One request's view of the Spin platform: its settings, parsed.
#[derive(Clone)]
struct Spin {
    config: Result<Arc<EdgeConfig>, String>,
}

impl Spin {
    /// Reads every setting from Spin variables (lower-case names; undefined and empty ones are
    /// unset) and parses them, unless this instance parsed the very same values already.
    async fn load() -> Spin {
        let mut values = Vec::new();
        for name in edge::settings() {
            let value = spin_sdk::variables::get(name.to_ascii_lowercase()).await.ok();
            values.push(value.filter(|v| !v.is_empty()));
        }
        Spin { config: CONFIG.with(|c| c.get(values)) }
    }
}

/// A JSON value from the store; absent, unreadable and malformed all read as `None`.
async fn get_json<T: DeserializeOwned>(key: &str) -> Option<T> {
    let store = Store::open(STORE).await.ok()?;
    serde_json::from_slice(&store.get(key).await.ok()??).ok()
}

async fn set_json(key: &str, value: &impl serde::Serialize) -> Result<(), String> {
    let store = Store::open(STORE).await.map_err(|e| format!("{e:?}"))?;
    store.set(key, serde_json::to_vec(value).map_err(|e| e.to_string())?).await.map_err(|e| format!("{e:?}"))
}

impl Platform for Spin {
    fn config(&self) -> Result<Arc<EdgeConfig>, String> {
        self.config.clone()
    }

    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }

    /// `wasi:random`, the host's CSPRNG.
    fn random_id(&self) -> Result<[u8; 16], String> {
        let bytes = spin_sdk::wasip3::random::random::get_random_bytes(16);
        bytes.try_into().map_err(|b: Vec<u8>| format!("the host gave {} random bytes", b.len()))
    }

    fn log(&self, line: &str) {
        eprintln!("{line}");
    }

    async fn post(&self, url: &str, headers: &[(String, String)], body: &[u8]) -> Result<Reply, String> {
        // A known length frames the body by itself: without it the host sends it chunked and
        // the origin waits for the closing chunk, which the guest's body task may write late.
        let mut request = Request::<()>::post(url).header("content-length", body.len());
        for (name, value) in headers.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("content-length")) {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::copy_from_slice(body))).map_err(|e| e.to_string())?;
        let response = spin_sdk::http::send(request).await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = response.into_body().bytes().await.map_err(|e| format!("{e:?}"))?;
        Ok((status, headers, body.to_vec()))
    }

    /// Read-decide-swap on the shard's tally with `wasi:keyvalue/atomics` compare-and-swap:
    /// a swap fails if anyone counted in between, and the check is decided again on the new
    /// value, so counts are exact under any concurrency.
    fn count(&self, check: &Check) -> impl Future<Output = Result<bool, String>> {
        let counted = (|| {
            let bucket = wasi_kv::open(STORE).map_err(|e| format!("{e:?}"))?;
            let key = format!("quota:{}", check.shard);
            let mut cas = atomics::Cas::new(&bucket, &key).map_err(|e| format!("{e:?}"))?;
            for _ in 0..CAS_ATTEMPTS {
                let stored = cas.current().map_err(|e| format!("{e:?}"))?;
                let stored: Option<Tally> = stored.and_then(|v| serde_json::from_slice(&v).ok());
                let Some(tally) = Tally::consume(stored, check) else {
                    return Ok(false);
                };
                let value = serde_json::to_vec(&tally).map_err(|e| e.to_string())?;
                match atomics::swap(cas, &value) {
                    Ok(()) => return Ok(true),
                    Err(atomics::CasError::CasFailed(newer)) => cas = newer,
                    Err(atomics::CasError::StoreError(e)) => return Err(format!("{e:?}")),
                }
            }
            Err(format!("{CAS_ATTEMPTS} compare-and-swap attempts lost to concurrent requests"))
        })();
        std::future::ready(counted)
    }

    /// The component-model task outlives the response: spawned work runs after it is sent.
    fn after_response(&self, work: impl Future<Output = ()> + 'static) {
        spin_sdk::wasip3::spawn(work);
    }

    async fn cached_state(&self, key: &str, policy: &CachePolicy, now_ms: u64) -> Lookup {
        let entry = get_json::<Entry>(&format!("config:{key}")).await;
        entry.map_or(Lookup::Miss, |entry| entry.lookup(policy, now_ms))
    }

    /// One key per fetch: an instance sees no other cached keys to refresh along with it.
    fn keys_to_fetch(&self, key: &str, _now_ms: u64) -> Vec<String> {
        vec![key.to_string()]
    }

    /// Keeps known projects only: caching unknown keys would let anyone fill the store.
    async fn remember_states(&self, states: Vec<(String, Option<Arc<Project>>)>, now_ms: u64) {
        for (key, state) in states {
            let Some(state) = state else { continue };
            let entry = Entry { state: Some(state), fetched_ms: now_ms };
            if let Err(e) = set_json(&format!("config:{key}"), &entry).await {
                self.log(&format!("picket: caching the config of {key} failed: {e}"));
            }
        }
    }

    async fn learned_limits(&self, project_id: Option<u64>) -> CachedLimits {
        match project_id {
            Some(id) => get_json(&format!("limits:{id}")).await.unwrap_or_default(),
            None => CachedLimits::default(),
        }
    }

    /// `wasi:clocks` 0.3's `wait-for`.
    async fn sleep(&self, ms: u64) {
        spin_sdk::wasip3::clocks::monotonic_clock::wait_for(ms.saturating_mul(1_000_000)).await
    }

    /// Into the store, for later requests to retry; the marker tells them to look.
    async fn spill(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        let store = Store::open(STORE).await.map_err(|e| format!("{e:?}"))?;
        store.set(key, bytes).await.map_err(|e| format!("{e:?}"))?;
        store.set(KEPT_MARKER, b"1").await.map_err(|e| format!("{e:?}"))
    }

    async fn learn_limits(&self, project_id: u64, limits: Vec<RateLimit>, now: u64) {
        let key = format!("limits:{project_id}");
        let mut cached: CachedLimits = get_json(&key).await.unwrap_or_default();
        cached.learn(project_id, limits, now);
        if let Err(e) = set_json(&key, &cached).await {
            self.log(&format!("picket: keeping the origin's limits failed: {e}"));
        }
    }
}

fn answer(r: picket::Response) -> Answer {
    let mut headers = HeaderMap::new();
    for (name, value) in &r.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, headers, Full::new(Bytes::from(r.body)))
}
