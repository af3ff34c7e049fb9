//! The Cloudflare Workers shell: implements [`Platform`] with Workers parts (wrangler vars, an
//! isolate-wide config cache, quota counters in Durable Objects, `fetch`, `waitUntil`, and for
//! envelopes the origin could not take an R2 bucket plus a queue with a dead-letter queue and a
//! cron sweeper) and hands each request to the shared [`edge`] flow. No decisions are made here.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::json;
use worker::js_sys::{self, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{
    durable_object, event, Context, Date, DurableObject, Env, Fetch, MessageBatch, MessageExt, Method,
    QueueRetryOptionsBuilder, Request, RequestInit, Response, ScheduleContext, ScheduledEvent, State,
};

use crate::core::config::{CachePolicy, ConfigCache, Lookup, Project};
use crate::core::limit::{Check, Tally};
use crate::core::quota::{CachedLimits, RateLimit};
use crate::core::{self as picket};
use crate::edge::{self, ConfigCell, EdgeConfig, Platform, Redelivery, Reply};

/// The R2 bucket holding kept envelopes, and the queues that retry them (wrangler.toml).
const BUCKET: &str = "FORWARDS";
const QUEUE: &str = "FWD";
const DEAD_LETTERS: &str = "fwd-dlq";
/// The cron sweeper re-queues kept envelopes older than this (lost messages, dead letters).
const SWEEP_AFTER_MS: u64 = 10 * 60 * 1000;

/// A queue message: which kept envelope to retry.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    key: String,
}

/// Retries kept envelopes; a dead letter stays in R2 for the sweeper. Never returns `Err`: the
/// runtime would retry the whole batch, acknowledged messages too.
#[event(queue)]
async fn queue(batch: MessageBatch<Kept>, env: Env, ctx: Context) -> worker::Result<()> {
    let platform = Workers { env, ctx: Rc::new(ctx) };
    let dead = batch.queue() == DEAD_LETTERS;
    for message in batch.iter() {
        let Ok(message) = message else { continue };
        let key = message.body().key.clone();
        if dead {
            platform.log(&format!("picket: {key} ran out of queue retries; kept in R2 for the sweeper"));
            message.ack();
            continue;
        }
        match retry_kept(&platform, &key).await {
            Ok(Some(delay)) => {
                let options = QueueRetryOptionsBuilder::new().with_delay_seconds(delay as u32).build();
                message.retry_with_options(&options);
            }
            Ok(None) => message.ack(),
            Err(e) => {
                platform.log(&format!("picket: retrying {key} failed: {e}; will retry"));
                message.retry();
            }
        }
    }
    Ok(())
}

/// One retry of a kept envelope: `Some(delay)` to try again, `None` when it is done with.
async fn retry_kept(platform: &Workers, key: &str) -> worker::Result<Option<u64>> {
    let bucket = platform.env.bucket(BUCKET)?;
    let Some(object) = bucket.get(key).execute().await? else {
        return Ok(None); // delivered by an earlier copy of this message
    };
    let Some(body) = object.body() else { return Ok(None) };
    match edge::redeliver(platform, &body.bytes().await?).await {
        Redelivery::Done => {
            bucket.delete(key).await?;
            Ok(None)
        }
        Redelivery::RetryIn(delay) => Ok(Some(delay)),
    }
}

/// Re-queues kept envelopes that have waited long: messages a restart lost, and dead letters.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let (Ok(bucket), Ok(queue)) = (env.bucket(BUCKET), env.queue(QUEUE)) else { return };
    let cutoff = Date::now().as_millis().saturating_sub(SWEEP_AFTER_MS);
    let mut cursor = None;
    loop {
        let mut list = bucket.list().prefix("fwd/");
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let Ok(page) = list.execute().await else { return };
        for object in page.objects() {
            if object.uploaded().as_millis() < cutoff {
                let _ = queue.send(Kept { key: object.key() }).await;
            }
        }
        match (page.truncated(), page.cursor()) {
            (true, Some(c)) => cursor = Some(c),
            _ => return,
        }
    }
}

thread_local! {
    /// The parsed settings of this isolate, keyed by their raw values.
    static CONFIG: ConfigCell = ConfigCell::default();
    /// The `env` object [`CONFIG`] was last read from: while requests bring that same object,
    /// its bindings are the same and nothing is read again.
    static CONFIG_ENV: RefCell<Option<JsValue>> = const { RefCell::new(None) };
    /// Project states cached in this isolate.
    static CONFIGS: RefCell<ConfigCache> = RefCell::new(ConfigCache::new(CachePolicy::default()));
    /// Rate limits the origin answered with, applied here until they expire.
    static LIMITS: RefCell<CachedLimits> = RefCell::new(CachedLimits::default());
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    console_error_panic_hook::set_once();
    let platform = Workers { env, ctx: Rc::new(ctx) };
    let config = match edge::admit(&platform, req.headers().get("content-length")?.as_deref()) {
        Ok(config) => config,
        Err(response) => return respond(response),
    };
    let url = req.url()?;
    let method = req.method().to_string();
    let mut headers: picket::Headers = req.headers().entries().collect();
    if headers.get("host").is_none() {
        // The tunnel compares DSN hosts with this edge's own: the URL's when no Host came.
        if let Some(host) = url.host_str() {
            headers.push("host", url.port().map_or_else(|| host.to_string(), |port| format!("{host}:{port}")));
        }
    }
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
    respond(edge::handle(&platform, &config, &request).await)
}

/// One request's view of the Workers platform.
#[derive(Clone)]
struct Workers {
    env: Env,
    ctx: Rc<Context>,
}

impl Platform for Workers {
    /// Parsed once per isolate. A Worker's vars and secrets are fixed for the life of its
    /// isolate (a new deployment or a restarted workerd runs new isolates, which start with
    /// nothing cached); still, the config is rebuilt whenever the raw values differ from the
    /// ones it was built from, so even another `env` in the same isolate cannot be served stale
    /// settings. Reading the values is skipped only for the very `env` object they were read
    /// from. A setting that does not parse is never cached: every request names it in a 500.
    fn config(&self) -> Result<Arc<EdgeConfig>, String> {
        let env: &JsValue = self.env.as_ref();
        let same_env = CONFIG_ENV.with(|e| e.borrow().as_ref().is_some_and(|seen| js_sys::Object::is(seen, env)));
        if let (true, Some(config)) = (same_env, CONFIG.with(ConfigCell::last)) {
            return Ok(config);
        }
        let values = edge::settings().map(|name| self.env.var(name).ok().map(|v| v.to_string())).collect();
        let config = CONFIG.with(|c| c.get(values))?;
        CONFIG_ENV.with(|e| *e.borrow_mut() = Some(env.clone()));
        Ok(config)
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

    async fn post(&self, url: &str, headers: &[(String, String)], body: &[u8]) -> Result<Reply, String> {
        post(url, headers, body).await.map_err(|e| e.to_string())
    }

    /// Asks the Durable Object that owns `check.shard` to count `check.quantity`.
    async fn count(&self, check: &Check) -> Result<bool, String> {
        let ask = async {
            let stub = self.env.durable_object("QUOTAS")?.id_from_name(&check.shard)?.get_stub()?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(serde_json::to_string(check)?.into()));
            let mut response = stub.fetch_with_request(Request::new_with_init("https://quota/consume", &init)?).await?;
            let answer: serde_json::Value = response.json().await?;
            worker::Result::Ok(answer["allowed"].as_bool().unwrap_or(true))
        };
        ask.await.map_err(|e: worker::Error| e.to_string())
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

    fn keys_to_fetch(&self, key: &str, now_ms: u64) -> Vec<String> {
        CONFIGS.with(|c| c.borrow().batch(key, now_ms))
    }

    fn remember_states(&self, states: Vec<(String, Option<Arc<Project>>)>, now_ms: u64) -> impl Future<Output = ()> {
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

    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        worker::Delay::from(std::time::Duration::from_millis(ms))
    }

    /// The body into R2 first, then a message into the queue: a message never points at
    /// nothing, and a body whose message was lost is found by the sweeper.
    fn spill(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), String>> {
        let (env, key) = (self.env.clone(), key.to_string());
        async move {
            let keep = async {
                env.bucket(BUCKET)?.put(key.clone(), bytes).execute().await?;
                env.queue(QUEUE)?.send(Kept { key: key.clone() }).await
            };
            keep.await.map_err(|e: worker::Error| e.to_string())
        }
    }
}

/// Counts quota usage for one quota and scope value; the core's rule decides. It keeps one
/// tally (the current window and its use), so storage holds one key whatever the age.
#[durable_object]
pub struct QuotaCounter {
    state: State,
    /// The stored tally, once read; `None` inside means nothing counted yet.
    tally: RefCell<Option<Option<Tally>>>,
}

impl DurableObject for QuotaCounter {
    fn new(state: State, _env: Env) -> Self {
        QuotaCounter { state, tally: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let check: Check = req.json().await?;
        if self.tally.borrow().is_none() {
            let stored = self.state.storage().get::<Tally>(TALLY).await?;
            self.tally.borrow_mut().get_or_insert(stored);
        }
        // Read, decide and write without an await in between: one request at a time counts.
        let current = self.tally.borrow().flatten();
        let Some(next) = Tally::consume(current, &check) else {
            return Response::from_json(&json!({ "allowed": false, "used": current.map_or(0, |t| t.used) }));
        };
        *self.tally.borrow_mut() = Some(Some(next));
        self.state.storage().put(TALLY, next).await?;
        Response::from_json(&json!({ "allowed": true, "used": next.used }))
    }
}

/// The Durable Object storage key of a counter's tally.
const TALLY: &str = "tally";

/// POSTs and returns the status, the response headers and the body.
async fn post(url: &str, headers: &[(String, String)], body: &[u8]) -> worker::Result<Reply> {
    let h = worker::Headers::new();
    for (name, value) in headers {
        h.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(h).with_body(Some(Uint8Array::from(body).into()));
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
