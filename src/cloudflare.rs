//! The Cloudflare Workers shell: implements [`Platform`] with Workers parts (wrangler vars, an
//! isolate-wide config cache, quota counters in Durable Objects, `fetch`, `waitUntil`) and hands
//! each request to the shared [`edge`] flow. No decisions are made here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use serde_json::json;
use worker::js_sys::{self, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::{
    durable_object, event, Context, Date, DurableObject, Env, Fetch, Method, Request, RequestInit, Response, State,
};

use crate::core::config::{CachePolicy, ConfigCache, Lookup, ProjectState};
use crate::core::limit::{try_consume, Check};
use crate::core::quota::{CachedLimits, RateLimit};
use crate::core::{self as picket};
use crate::edge::{self, Platform, Reply};

thread_local! {
    /// Project states cached in this isolate.
    static CONFIGS: RefCell<ConfigCache> = RefCell::new(ConfigCache::new(CachePolicy::default()));
    /// Rate limits the origin answered with, applied here until they expire.
    static LIMITS: RefCell<CachedLimits> = RefCell::new(CachedLimits::default());
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let platform = Workers { env, ctx: Rc::new(ctx) };
    let limits = match edge::admit(&platform, req.headers().get("content-length")?.as_deref()) {
        Ok(limits) => limits,
        Err(response) => return respond(response),
    };
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
    respond(edge::handle(&platform, &limits, &request).await)
}

/// One request's view of the Workers platform.
#[derive(Clone)]
struct Workers {
    env: Env,
    ctx: Rc<Context>,
}

impl Platform for Workers {
    fn setting(&self, name: &str) -> Option<String> {
        self.env.var(name).ok().map(|v| v.to_string())
    }

    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }

    /// `crypto.getRandomValues`.
    fn random_id(&self) -> Result<[u8; 16], String> {
        let random = || -> Result<[u8; 16], worker::wasm_bindgen::JsValue> {
            let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
            let get_random_values: js_sys::Function = Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
            let array = Uint8Array::new_with_length(16);
            get_random_values.call1(&crypto, &array)?;
            let mut bytes = [0u8; 16];
            array.copy_to(&mut bytes);
            Ok(bytes)
        };
        random().map_err(|e| format!("{e:?}"))
    }

    fn log(&self, line: &str) {
        worker::console_error!("{line}");
    }

    fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Reply, String>> {
        let (url, headers) = (url.to_string(), headers.to_vec());
        async move { post(&url, &headers, body).await.map_err(|e| e.to_string()) }
    }

    /// Asks the Durable Object that owns `check.shard` to count `check.quantity`.
    fn count(&self, check: &Check) -> impl Future<Output = Result<bool, String>> {
        let (env, check) = (self.env.clone(), check.clone());
        async move {
            let ask = async {
                let stub = env.durable_object("QUOTAS")?.id_from_name(&check.shard)?.get_stub()?;
                let mut init = RequestInit::new();
                init.with_method(Method::Post).with_body(Some(serde_json::to_string(&check)?.into()));
                let mut response =
                    stub.fetch_with_request(Request::new_with_init("https://quota/consume", &init)?).await?;
                let answer: serde_json::Value = response.json().await?;
                worker::Result::Ok(answer["allowed"].as_bool().unwrap_or(true))
            };
            ask.await.map_err(|e: worker::Error| e.to_string())
        }
    }

    fn after_response(&self, work: impl Future<Output = ()> + 'static) {
        self.ctx.wait_until(work);
    }

    fn cached_state(&self, key: &str, policy: &CachePolicy, now_ms: u64) -> impl Future<Output = Lookup> {
        let lookup = CONFIGS.with(|c| {
            let mut cache = c.borrow_mut();
            cache.set_policy(*policy);
            cache.lookup(key, now_ms)
        });
        std::future::ready(lookup)
    }

    fn keys_to_fetch(&self, key: &str, _policy: &CachePolicy, now_ms: u64) -> Vec<String> {
        CONFIGS.with(|c| c.borrow().batch(key, now_ms))
    }

    fn remember_states(
        &self,
        states: Vec<(String, Option<ProjectState>)>,
        _policy: &CachePolicy,
        now_ms: u64,
    ) -> impl Future<Output = ()> {
        CONFIGS.with(|c| {
            let mut cache = c.borrow_mut();
            for (key, state) in states {
                cache.insert(&key, state, now_ms);
            }
        });
        std::future::ready(())
    }

    fn learned_limits(&self, _project_id: Option<u64>) -> impl Future<Output = CachedLimits> {
        std::future::ready(LIMITS.with(|l| l.borrow().clone()))
    }

    fn learn_limits(&self, project_id: u64, limits: Vec<RateLimit>, now: u64) -> impl Future<Output = ()> {
        LIMITS.with(|l| l.borrow_mut().learn(project_id, limits, now));
        std::future::ready(())
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

/// POSTs and returns the status, the response headers and the body.
async fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> worker::Result<Reply> {
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
