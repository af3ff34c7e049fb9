//! The Cloudflare Workers shell: turns a Workers request into a core request, carries out what
//! the core asks (project-config fetch, forward in `waitUntil`), and sends the core's response.
//! No decisions are made here.

use std::cell::RefCell;
use std::sync::Arc;

use worker::js_sys::{self, Reflect, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::{console_error, console_warn, event, Context, Date, Env, Fetch, Method, Request, RequestInit, Response};

use crate::core::config::{self, CachePolicy, ConfigCache, Lookup, ProjectState};
use crate::core::ingest::{Forward, ForwardOutcome};
use crate::core::limits::Limits;
use crate::core::{self as picket, EventId, Reject, Step};

thread_local! {
    /// Project states cached in this isolate.
    static CONFIGS: RefCell<ConfigCache> = RefCell::new(ConfigCache::new(CachePolicy::default()));
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
    match picket::judge(prepared, state.as_deref()) {
        Ok(accepted) => {
            ctx.wait_until(forward(origin, accepted.forward));
            respond(accepted.response)
        }
        Err(reject) => respond(reject.response()),
    }
}

/// Asks the origin for the key's project state and caches the answer.
async fn fetch_state(origin: &str, key: &str) -> Result<Option<Arc<ProjectState>>, String> {
    let url = format!("{origin}/api/0/relays/projectconfigs/?version=3");
    let (status, body) =
        post(&url, &[("content-type".into(), "application/json".into())], config::request_body(&[key]))
            .await
            .map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("origin answered {status}"));
    }
    let result = config::parse_response(&[key], &body)?;
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
    let status = post(&url, &fwd.headers, fwd.body).await.map(|(status, _)| status).ok();
    match ForwardOutcome::from_status(status) {
        ForwardOutcome::Delivered => {}
        outcome => console_error!(
            "picket: forward of event {id} to the origin failed: {} ({}); envelope dropped",
            outcome.code(),
            status.map_or("no response".to_string(), |s| s.to_string())
        ),
    }
}

async fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> worker::Result<(u16, Vec<u8>)> {
    let h = worker::Headers::new();
    for (name, value) in headers {
        h.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(h).with_body(Some(Uint8Array::from(body.as_slice()).into()));
    let mut response = Fetch::Request(Request::new_with_init(url, &init)?).send().await?;
    Ok((response.status_code(), response.bytes().await?))
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
