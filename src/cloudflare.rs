//! The Cloudflare Workers shell: turns a Workers request into a core request, carries out what
//! the core asks (project-config fetch, quota counters in Durable Objects, forward and outcomes
//! in `waitUntil`), and sends the core's response. No decisions are made here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use worker::js_sys::{self, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::{
    console_error, console_warn, durable_object, event, Context, Date, DurableObject, Env, Fetch, Method, Request,
    RequestInit, Response, State,
};

use crate::core::config::{self, CachePolicy, ConfigCache, Lookup, ProjectState};
use crate::core::ingest::{Forward, ForwardOutcome};
use crate::core::limit::{try_consume, Check};
use crate::core::limits::Limits;
use crate::core::outcome::{outcomes_body, Outcome};
use crate::core::quota::{self, CachedLimits, Scoping};
use crate::core::{self as picket, EventId, Reject, Step};

thread_local! {
    /// Project states cached in this isolate.
    static CONFIGS: RefCell<ConfigCache> = RefCell::new(ConfigCache::new(CachePolicy::default()));
    /// Rate limits the origin answered with, applied here until they expire.
    static LIMITS: RefCell<CachedLimits> = RefCell::new(CachedLimits::default());
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let origin = env.var("ORIGIN_URL")?.to_string();
    let origin = origin.trim_end_matches('/').to_string();
    let limits = match Limits::from_settings(|name| env.var(name).ok().map(|v| v.to_string())) {
        Ok(limits) => limits,
        Err(e) => {
            console_error!("picket: bad limit settings: {e}");
            return respond(Reject::Misconfigured(e).response());
        }
    };
    if let Err(reject) = limits.admit(req.headers().get("content-length")?.as_deref()) {
        return respond(reject.response());
    }
    let url = req.url()?;
    let method = req.method().to_string();
    let headers: picket::Headers = req.headers().entries().collect();
    let client_ip = req.headers().get("cf-connecting-ip")?;
    let body = if matches!(req.method(), Method::Get | Method::Head) { Vec::new() } else { req.bytes().await? };
    let request = picket::Request {
        method: &method,
        path: url.path(),
        query: url.query().unwrap_or(""),
        headers: &headers,
        body: &body,
        client_ip: client_ip.as_deref(),
    };
    let prepared = match picket::prepare(&request, &limits, fresh_event_id()?) {
        Ok(Step::Respond(response)) => return respond(response),
        Ok(Step::NeedState(prepared)) => prepared,
        Err(reject) => return respond(reject.response()),
    };
    let key = prepared.public_key().to_string();
    let now = Date::now().as_millis();
    match CachePolicy::from_settings(|name| env.var(name).ok().map(|v| v.to_string())) {
        Ok(policy) => CONFIGS.with(|c| c.borrow_mut().set_policy(policy)),
        Err(e) => return respond(Reject::Misconfigured(e).response()),
    }
    let state = match CONFIGS.with(|c| c.borrow().lookup(&key, now)) {
        Lookup::Fresh(state) => state,
        Lookup::Stale(state) => {
            let (origin, key) = (origin.clone(), key.clone());
            ctx.wait_until(async move {
                if let Err(e) = fetch_state(&origin, &key).await {
                    console_warn!("picket: project config refresh failed: {e}");
                }
            });
            Some(state)
        }
        Lookup::Miss => match fetch_state(&origin, &key).await {
            Ok(state) => state,
            Err(e) => {
                console_error!("picket: project config fetch failed: {e}");
                return respond(Reject::ConfigUnavailable.response());
            }
        },
    };
    let now_secs = now / 1000;
    let judged = match LIMITS.with(|l| picket::judge(prepared, state.as_deref(), &l.borrow(), now_secs)) {
        Ok(judged) => judged,
        Err(refused) => {
            if let (Some(scoping), false) = (refused.scoping, refused.outcomes.is_empty()) {
                ctx.wait_until(send_outcomes(origin, refused.outcomes, scoping));
            }
            return respond(refused.reject.response());
        }
    };
    let mut allowed = Vec::with_capacity(judged.checks().len());
    for check in judged.checks() {
        allowed.push(match ask_counter(&env, check).await {
            Ok(answer) => answer,
            Err(e) => {
                // Counting failed: let the data through rather than lose it, and say so.
                console_error!("picket: quota counter {} unavailable: {e}; allowing", check.shard);
                true
            }
        });
    }
    let scoping = judged.scoping.clone();
    let done = judged.finish(&allowed);
    if !done.outcomes.is_empty() {
        ctx.wait_until(send_outcomes(origin.clone(), done.outcomes, scoping));
    }
    if let Some(fwd) = done.forward {
        ctx.wait_until(forward(origin, fwd));
    }
    respond(done.response)
}

/// Asks the Durable Object that owns `check.shard` to count `check.quantity`.
async fn ask_counter(env: &Env, check: &Check) -> worker::Result<bool> {
    let stub = env.durable_object("QUOTAS")?.id_from_name(&check.shard)?.get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(check)?.into()));
    let mut response = stub.fetch_with_request(Request::new_with_init("https://quota/consume", &init)?).await?;
    let answer: serde_json::Value = response.json().await?;
    Ok(answer["allowed"].as_bool().unwrap_or(true))
}

/// Reports dropped data to the origin's outcomes endpoint.
async fn send_outcomes(origin: String, outcomes: Vec<Outcome>, scoping: Scoping) {
    let timestamp: String = js_sys::Date::new_0().to_iso_string().into();
    let body = serde_json::to_vec(&outcomes_body(&outcomes, &scoping, &timestamp)).unwrap_or_default();
    let headers = [("content-type".to_string(), "application/json".to_string())];
    match post(&format!("{origin}/api/0/relays/outcomes/"), &headers, body).await {
        Ok((status, _, _)) if (200..300).contains(&status) => {}
        other => console_error!(
            "picket: {} outcomes not delivered to the origin ({:?})",
            outcomes.len(),
            other.map(|(s, _, _)| s).map_err(|e| e.to_string())
        ),
    }
}

/// Counts quota usage for one quota and scope value; the core's rule decides.
#[durable_object]
pub struct QuotaCounter {
    state: State,
    /// Used quantity per window end, mirrored in storage.
    used: RefCell<HashMap<u64, u64>>,
}

impl DurableObject for QuotaCounter {
    fn new(state: State, _env: Env) -> Self {
        QuotaCounter { state, used: RefCell::new(HashMap::new()) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let check: Check = req.json().await?;
        let key = format!("w{}", check.window_end);
        if !self.used.borrow().contains_key(&check.window_end) {
            let stored = self.state.storage().get::<u64>(&key).await?.unwrap_or(0);
            self.used.borrow_mut().entry(check.window_end).or_insert(stored);
        }
        // Read, decide and write without an await in between: one request at a time counts.
        let used = self.used.borrow().get(&check.window_end).copied().unwrap_or(0);
        let Some(total) = try_consume(used, check.quantity, check.limit) else {
            return Response::from_json(&json!({ "allowed": false, "used": used }));
        };
        {
            let mut map = self.used.borrow_mut();
            map.insert(check.window_end, total);
            map.retain(|end, _| *end >= check.window_end);
        }
        self.state.storage().put(&key, total).await?;
        Response::from_json(&json!({ "allowed": true, "used": total }))
    }
}

/// Asks the origin for the key's project state (with the other cached keys that are due, in one
/// request) and caches the answers.
async fn fetch_state(origin: &str, key: &str) -> Result<Option<Arc<ProjectState>>, String> {
    let url = format!("{origin}/api/0/relays/projectconfigs/?version=3");
    let keys = CONFIGS.with(|c| c.borrow().batch(key, Date::now().as_millis()));
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let (status, _, body) =
        post(&url, &[("content-type".into(), "application/json".into())], config::request_body(&keys))
            .await
            .map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("origin answered {status}"));
    }
    let result = config::parse_response(&keys, &body)?;
    let now = Date::now().as_millis();
    CONFIGS.with(|c| {
        let mut cache = c.borrow_mut();
        for (k, state) in result.resolved {
            cache.insert(&k, state, now);
        }
    });
    match CONFIGS.with(|c| c.borrow().lookup(key, now)) {
        Lookup::Fresh(state) => Ok(state),
        _ => Err("the origin has the project state pending".into()),
    }
}

/// Sends an accepted envelope to the origin after the SDK has its answer.
async fn forward(origin: String, fwd: Forward) {
    let id = fwd.event_id.map(|id| id.simple()).unwrap_or_default();
    let url = format!("{origin}{}", fwd.path());
    let answer = post(&url, &fwd.headers, fwd.body).await.ok();
    let status = answer.as_ref().map(|(status, _, _)| *status);
    if let Some((429, headers, _)) = &answer {
        // The origin is limiting this project: remember it and refuse here until it ends.
        let now = Date::now().as_millis() / 1000;
        let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let value = find("x-sentry-rate-limits").or_else(|| find("retry-after").map(|v| format!("{v}::organization")));
        if let Some(value) = value {
            LIMITS.with(|l| l.borrow_mut().learn(fwd.project_id, quota::parse_header(&value, now), now));
        }
    }
    match ForwardOutcome::from_status(status) {
        ForwardOutcome::Delivered => {}
        outcome => console_error!(
            "picket: forward of event {id} to the origin failed: {} ({}); envelope dropped",
            outcome.code(),
            status.map_or("no response".to_string(), |s| s.to_string())
        ),
    }
}

/// POSTs and returns the status, the response headers and the body.
async fn post(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> worker::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let h = worker::Headers::new();
    for (name, value) in headers {
        h.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(h).with_body(Some(Uint8Array::from(body.as_slice()).into()));
    let mut response = Fetch::Request(Request::new_with_init(url, &init)?).send().await?;
    let headers = response.headers().entries().collect();
    Ok((response.status_code(), headers, response.bytes().await?))
}

fn respond(r: picket::Response) -> worker::Result<Response> {
    let headers = worker::Headers::new();
    for (name, value) in &r.headers {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(r.body)?.with_status(r.status).with_headers(headers))
}

/// 16 bytes from the platform's CSPRNG (`crypto.getRandomValues`).
fn fresh_event_id() -> worker::Result<EventId> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    let get_random_values: js_sys::Function = Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
    let array = Uint8Array::new_with_length(16);
    get_random_values.call1(&crypto, &array)?;
    let mut bytes = [0u8; 16];
    array.copy_to(&mut bytes);
    Ok(EventId::from_bytes(bytes))
}
