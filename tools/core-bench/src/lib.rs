//! The core's per-request work, compiled to wasm32-unknown-unknown and driven by `run.mjs` in
//! node: `prepare` + `judge` + `finish` on one request body, the forward's signature, and the
//! floor any ingest pays for the same bytes (gunzip, the envelope and item headers, one typed
//! serde_json parse of the event). No imports: node times calls into `bench_run`.

use std::cell::RefCell;
use std::io::Read;
use std::sync::Arc;

use picket::core::config::{Project, ProjectState};
use picket::core::quota::CachedLimits;
use picket::core::sign::{Identity, SecretKey};
use picket::core::{self as picket_core, EventId, Headers, Request, Step};
use picket::edge::EdgeConfig;
use serde::Deserialize;
use serde_json::json;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const NOW_MS: u64 = 1_795_244_400_000;

/// One bench set-up: the request body and how it is encoded, the project, the settings.
struct Bench {
    body: Vec<u8>,
    gzip: bool,
    project: Arc<Project>,
    config: Arc<EdgeConfig>,
    identity: Identity,
}

thread_local! {
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static BENCH: RefCell<Option<Bench>> = const { RefCell::new(None) };
}

/// Room for `len` input bytes, which the caller writes at the returned address.
#[no_mangle]
pub extern "C" fn bench_alloc(len: usize) -> *mut u8 {
    INPUT.with(|i| {
        let mut input = i.borrow_mut();
        *input = vec![0; len];
        input.as_mut_ptr()
    })
}

/// The settings the edge would read (a fixed test key; one origin).
fn setting(name: &str) -> Option<String> {
    match name {
        "ORIGIN_URL" => Some("http://127.0.0.1:8000".into()),
        "RELAY_ID" => Some("8a2c6f4e-7d1b-4c3a-9e5f-0b1d2c3e4f5a".into()),
        "RELAY_SECRET_KEY" => Some(SecretKey::from_seed([9; 32]).to_string()),
        _ => None,
    }
}

/// Takes the input written after [`bench_alloc`] as the request body (`gzip`: gzip-encoded),
/// with filters (1: all, 2: all but the two that parse the user agent) and a quota on or off.
/// Returns 0 when the set-up judges the body as accepted.
#[no_mangle]
pub extern "C" fn bench_setup(gzip: u32, filters: u32, quota: u32) -> u32 {
    let body = INPUT.with(|i| i.borrow().clone());
    let mut filter_settings = if filters != 0 {
        json!({
            "localhost": { "isEnabled": true },
            "browserExtensions": { "isEnabled": true },
            "webCrawlers": { "isEnabled": true },
            "legacyBrowsers": { "isEnabled": true, "options": ["default"] },
            "errorMessages": { "patterns": ["*ConnectionError*", "TypeError: can't access dead object", "*ResizeObserver loop*"] },
            "releases": { "releases": ["*-beta*", "0.9.*"] },
            "clientIps": { "blacklistedIps": ["10.0.0.0/8", "203.0.113.9"] },
            "ignoreTransactions": { "isEnabled": true, "patterns": ["*health*", "*/ping"] },
        })
    } else {
        json!({})
    };
    if filters == 2 {
        // Every filter but the two that parse the user agent.
        filter_settings["webCrawlers"]["isEnabled"] = json!(false);
        filter_settings["legacyBrowsers"]["isEnabled"] = json!(false);
    }
    let quotas = if quota != 0 {
        json!([{ "id": "q", "categories": ["error"], "scope": "project", "limit": 1_000_000_000u64, "window": 3600 }])
    } else {
        json!([])
    };
    let state: ProjectState = serde_json::from_value(json!({
        "projectId": 42, "organizationId": 1,
        "publicKeys": [{ "publicKey": KEY, "numericId": 1, "isEnabled": true }],
        "config": { "quotas": quotas, "filterSettings": filter_settings },
    }))
    .expect("a project state");
    let bench = Bench {
        body,
        gzip: gzip != 0,
        project: Arc::new(Project::new(state)),
        config: Arc::new(EdgeConfig::from_settings(setting).expect("settings")),
        identity: Identity::from_settings(setting).expect("identity"),
    };
    if filters == 1 {
        // The globs and the user-agent parser work in this build as on the host.
        use picket::core::filter::FilterReason;
        let f = &bench.project.filters;
        let ie8 =
            json!({ "request": { "headers": [["User-Agent", "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)"]] } });
        let message = json!({ "message": "requests.ConnectionError: timed out" });
        if f.check(&message, "event", None) != Some(FilterReason::ErrorMessage)
            || f.check(&ie8, "event", None) != Some(FilterReason::LegacyBrowsers)
        {
            return 2;
        }
    }
    let accepted = decide(&bench).is_some_and(|body| !body.is_empty());
    BENCH.with(|b| *b.borrow_mut() = Some(bench));
    u32::from(!accepted)
}

/// `prepare` + `judge` + `finish` (every quota check allowed): the forward's body.
fn decide(b: &Bench) -> Option<Vec<u8>> {
    let mut headers: Headers =
        [("x-sentry-auth", format!("Sentry sentry_key={KEY}, sentry_version=7"))].into_iter().collect();
    if b.gzip {
        headers.push("content-encoding", "gzip");
    }
    let request = Request {
        method: "POST",
        path: "/api/42/envelope/",
        query: "",
        headers: &headers,
        body: &b.body,
        client_ip: Some("192.0.2.1"),
    };
    let Ok(Step::NeedState(prepared)) = picket_core::prepare(&request, &b.config.limits, EventId::from_bytes([7; 16]))
    else {
        return None;
    };
    let judged =
        picket_core::judge_project(prepared, Some(&b.project), &CachedLimits::default(), NOW_MS / 1000).ok()?;
    let allowed = vec![true; judged.checks().len()];
    judged.finish(&allowed).forward.map(|f| f.body)
}

/// What any ingest pays: the body decoded, the envelope and item headers read, the event
/// parsed once into a typed struct (unknown fields skipped, still checked).
fn floor(b: &Bench) -> usize {
    #[derive(Deserialize)]
    struct EnvelopeHeader {
        event_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct ItemHeader {
        #[serde(rename = "type")]
        ty: String,
    }
    #[derive(Deserialize)]
    struct Event {
        event_id: Option<String>,
        level: Option<String>,
        release: Option<String>,
        environment: Option<String>,
    }
    let mut decoded = Vec::new();
    let body: &[u8] = if b.gzip {
        flate2::read::GzDecoder::new(&b.body[..]).read_to_end(&mut decoded).expect("gzip");
        &decoded
    } else {
        &b.body
    };
    let mut lines = body.split(|&c| c == b'\n');
    let header: EnvelopeHeader = serde_json::from_slice(lines.next().unwrap_or_default()).expect("header");
    let item: ItemHeader = serde_json::from_slice(lines.next().unwrap_or_default()).expect("item header");
    let event: Event = serde_json::from_slice(lines.next().unwrap_or_default()).expect("event");
    header.event_id.map_or(0, |s| s.len())
        + item.ty.len()
        + [event.event_id, event.level, event.release, event.environment].iter().flatten().count()
}

/// Runs `op` `n` times; returns how many runs did the whole of it (all of them, or the set-up
/// is wrong). 0: floor. 1: the core's decision. 2: signing a forward. 3: the edge's whole
/// per-request CPU work (decision and signature). 4: parsing the settings (done once per
/// isolate now). 5: compiling the project's filters (done once per cached config now).
#[no_mangle]
pub extern "C" fn bench_run(op: u32, n: u32) -> u32 {
    BENCH.with(|b| {
        let b = b.borrow();
        let Some(b) = b.as_ref() else { return 0 };
        let forward = decide(b).unwrap_or_default();
        let mut done = 0;
        for i in 0..n {
            let ok = match op {
                0 => floor(b) > 0,
                1 => decide(b).is_some(),
                2 => !b.identity.headers(&forward, NOW_MS, u64::from(i))[1].1.is_empty(),
                3 => decide(b).is_some_and(|body| !b.identity.headers(&body, NOW_MS, u64::from(i))[1].1.is_empty()),
                4 => EdgeConfig::from_settings(setting).is_ok(),
                5 => {
                    let filters = picket::core::filter::CompiledFilters::new(&b.project.config.filter_settings);
                    filters.check(&serde_json::Value::Null, "event", None).is_none()
                }
                _ => false,
            };
            done += u32::from(ok);
        }
        done
    })
}
